#!/usr/bin/env bash
# Prepare, on this machine, what the GPU run (tools/gpu_run.sh) carries to the device
# machine, which has no network: the Python wheels it lacks (.whl/, from
# tools/gpu_wheels.txt) and Fashion-MNIST as the four .gz files (.gpudata/). Both folders
# are git-ignored; the device tool sends them when its `carry` names them.
# Usage (repository root): bash tools/gpu_carry.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PIP=(python3 -m pip)
[ -x .venv/bin/python ] && PIP=(.venv/bin/python -m pip)
rm -rf .whl .gpudata
mkdir -p .whl .gpudata
grep -v '^#' tools/gpu_wheels.txt | grep . > .whl/requirements.txt
"${PIP[@]}" download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 -d .whl -r .whl/requirements.txt
rm .whl/requirements.txt
system=/usr/share/datasets/fashion-mnist
raw=data/FashionMNIST/raw
for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
            t10k-labels-idx1-ubyte; do
    if [ -f "$system/$name.gz" ]; then
        cp "$system/$name.gz" .gpudata/
    elif [ -f "$raw/$name" ]; then
        gzip -c "$raw/$name" > ".gpudata/$name.gz"
    else
        echo "error: Fashion-MNIST's $name is neither in $system nor in $raw (make data)" >&2
        exit 1
    fi
done
echo "wheels: $(ls .whl | wc -l) files, $(du -sh .whl | cut -f1); data: $(du -sh .gpudata | cut -f1)"
echo "working tree that travels: $(git ls-files -co --exclude-standard | xargs du -cb 2>/dev/null | tail -1 | cut -f1) bytes"
