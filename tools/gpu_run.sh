#!/usr/bin/env bash
# The GPU run of issue 10, in ONE call on the device machine (see CONTRIBUTING.md, "GPU
# outputs"). Prepare its carry first, here: `bash tools/gpu_carry.sh`. Then, with the
# device tool: run(command="bash tools/gpu_run.sh", carry=[".whl", ".gpudata"],
# timeout_s=600). It writes under $OUT:
#   05_gpu.ipynb                  the GPU-executed chapter (goes to gpu_runs/)
#   gpu-targets-<device>.json     benchmarks.gpu: the section-5 targets (to benchmarks/results/)
#   nbval.xml, gpu_run.log        the nbval suite over every chapter on the GPU; the full log
# Afterwards, here: `bash tools/gpu_collect.sh <the folder the files came back to>`.
set -uo pipefail
: "${OUT:?OUT is not set: this script runs through the device tool}"
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
exec > >(tee -a "$OUT/gpu_run.log") 2>&1
step() { echo; echo "=== $(date -u +%H:%M:%S) $*"; }
# Time budget: the device tool runs one command for at most 600 s (timeout_s=600). The
# timeouts below add to 40 + 15 + 10 + 20 + 160 + 15 + 150 + 170 = 580 s, under 600 s even
# if every step runs to its limit, and `cap` shortens each to what is left of BUDGET
# (580 s, counted by bash's SECONDS from the start), so the log and $OUT are complete
# before the device tool's limit. A step that runs out of time says so in the log
# ("exit codes" 124); narrow its rerun with BENCH_REPEAT=1 or NBVAL_PATHS (below).
BUDGET=580
cap() { local left=$((BUDGET - SECONDS)); echo $((left < $1 ? (left > 1 ? left : 1) : $1)); }

step "install the carried wheels"
timeout "$(cap 40)" python3 -m pip install -q --no-index --no-deps --no-compile \
    --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="$PWD:/tmp/site" PATH="/tmp/site/bin:$PATH"
timeout "$(cap 15)" python3 -c "import torch, d2l, jupytext, nbclient, nbval, ipykernel; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'GPU', torch.cuda.is_available())" || exit 1
timeout "$(cap 10)" nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv

step "Fashion-MNIST from .gpudata"
mkdir -p data/FashionMNIST/raw
for f in .gpudata/*.gz; do gunzip -c "$f" > "data/FashionMNIST/raw/$(basename "$f" .gz)"; done
timeout "$(cap 20)" python3 -c "import helpers; print('verified:', helpers.ensure_fashion_mnist(download=False))" || exit 1

step "1/3 chapter 5 on the GPU -> gpu_runs/05_gpu.ipynb"
timeout "$(cap 160)" python3 -m tools.notebooks build-gpu 05_gpu
build=$?
[ -f gpu_runs/05_gpu.ipynb ] && cp gpu_runs/05_gpu.ipynb "$OUT/"
timeout "$(cap 15)" python3 -m tools.notebooks check-gpu 05_gpu

step "2/3 GPU benchmarks (section 5 targets)"
# BENCH_REPEAT=1 shortens a rerun (3 seeds by default).
timeout "$(cap 150)" python3 -m benchmarks.gpu --repeat "${BENCH_REPEAT:-3}" --out "$OUT"
bench=$?

step "3/3 nbval: every chapter's golden outputs against a GPU execution"
# NBVAL_PATHS narrows it for a rerun, e.g. NBVAL_PATHS=chapters/05_gpu.ipynb.
COURSE_REQUIRE_GPU=1 timeout "$(cap 170)" python3 -m pytest --nbval -p no:xdist -q \
    ${NBVAL_PATHS:-chapters} --junitxml="$OUT/nbval.xml"
nbval=$?

step "exit codes: build-gpu $build, benchmarks $bench, nbval $nbval"
[ "$build" -eq 0 ] && [ "$bench" -eq 0 ] && [ "$nbval" -eq 0 ]
