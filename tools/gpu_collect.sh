#!/usr/bin/env bash
# After the GPU run (tools/gpu_run.sh): put what came back from the device machine where
# the repository keeps it, and check it. Usage: bash tools/gpu_collect.sh FOLDER
set -euo pipefail
from="${1:?usage: bash tools/gpu_collect.sh FOLDER, the folder the GPU files came back to}"
cd "$(dirname "$0")/.."
[ -f "$from/05_gpu.ipynb" ] || { echo "error: $from/05_gpu.ipynb missing: the GPU build failed (see $from/gpu_run.log)" >&2; exit 1; }
mkdir -p gpu_runs
cp "$from/05_gpu.ipynb" gpu_runs/
cp "$from"/gpu-targets-*.json benchmarks/results/ 2>/dev/null || echo "warning: no gpu-targets-*.json in $from (benchmarks failed?)" >&2
PY=python3; [ -x .venv/bin/python ] && PY=.venv/bin/python
PYTHONPATH="$PWD" "$PY" -m tools.notebooks check-gpu
echo "next: git add gpu_runs benchmarks/results && git commit, then make book"
