"""The chapter-4 MLP on a GPU, data resident there: batch size, bf16 autocast, time to 0.88.

``gpu()`` is the section of ``benchmarks.run``. ``targets()`` measures the GPU targets of
issue 10 (section 5) and ``python -m benchmarks.gpu`` writes them to
``benchmarks/results/gpu-targets-<device>.json``:

* the chapter-4 MLP, data resident on the GPU, 10 epochs at batch 32 with the training
  step recorded as a CUDA graph: seconds (target <= 2.5 s) and test accuracy (>= 0.875);
* the time to 0.88 test accuracy at the best batch size (target <= 2 s);
* a LeNet-style CNN at batch 256: GPU throughput over the same machine's CPU (>= 20x);
* the FLOP/s these achieve, against the float32 and bfloat16 matrix-product rates measured
  on the same device.

Without a GPU, the CPU parts run and every GPU part says it was not measured, and why.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

import helpers
from benchmarks.measure import log, machine, summarize
from benchmarks.pipelines import keras_mlp

BATCH_SIZES = (32, 256, 1024)
TARGET_ACC = 0.88
MAX_EPOCHS = 30  # give up on reaching TARGET_ACC after this many epochs


def _loaders(batch_size: int, device: torch.device, limit: tuple[int | None, int | None]):
    train, test = helpers.load_data_fashion_mnist(batch_size, device=device)
    if limit[0] is not None:
        train = helpers.TensorLoader(train.images[: limit[0]], train.labels[: limit[0]],
                                     batch_size, shuffle=True)  # fmt: skip
        test = helpers.TensorLoader(test.images[: limit[1]], test.labels[: limit[1]], batch_size)
    return train, test


def _train_epoch(net, optimizer, train_iter, bf16: bool) -> None:
    net.train()
    for X, y in train_iter:  # no .item() or float(): nothing waits for the GPU
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(net(X), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def _accuracy(net, test_iter, bf16: bool) -> float:
    net.eval()
    correct = total = 0
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
        for X, y in test_iter:
            correct = correct + (net(X).argmax(dim=1) == y).sum()
            total += len(y)
    return float(correct) / total


def _one_run(batch_size, bf16, device, epochs, max_epochs, limit) -> dict[str, Any]:
    train_iter, test_iter = _loaders(batch_size, device, limit)
    net = keras_mlp().to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    train_seconds = elapsed = 0.0
    acc_at_epochs = time_to_target = None
    for epoch in range(1, max_epochs + 1):
        torch.cuda.synchronize(device)
        start = time.perf_counter()
        _train_epoch(net, optimizer, train_iter, bf16)
        torch.cuda.synchronize(device)
        trained = time.perf_counter()
        acc = _accuracy(net, test_iter, bf16)  # float() waits for the GPU
        elapsed += time.perf_counter() - start
        if epoch <= epochs:
            train_seconds += trained - start
        if epoch == epochs:
            acc_at_epochs = acc
        if time_to_target is None and acc >= TARGET_ACC:
            time_to_target = (elapsed, epoch)
        if epoch >= epochs and time_to_target is not None:
            break
    return {"train_seconds": train_seconds, "acc": acc_at_epochs, "to_target": time_to_target}


def gpu(repeat: int, tiny: bool) -> dict[str, Any]:
    """Every batch size with and without bf16 autocast, ``repeat`` seeds each."""
    if not torch.cuda.is_available():
        return {"available": False, "reason": "no CUDA GPU visible (torch.cuda.is_available())"}
    device = torch.device("cuda")
    limit = (2000, 1000) if tiny else (None, None)
    epochs, max_epochs = (1, 1) if tiny else (10, MAX_EPOCHS)
    n_train = limit[0] or 60000
    # Warm-up: CUDA context, cuBLAS handles and autocast kernels, outside every timing.
    _one_run(256, True, device, 1, 1, (2000, 1000))
    _one_run(256, False, device, 1, 1, (2000, 1000))
    rows = []
    for batch_size in BATCH_SIZES:
        for bf16 in (False, True):
            runs = []
            for seed in range(repeat):
                torch.manual_seed(seed)
                runs.append(_one_run(batch_size, bf16, device, epochs, max_epochs, limit))
            seconds = summarize([r["train_seconds"] for r in runs])
            reached = [r["to_target"] for r in runs if r["to_target"] is not None]
            row = {
                "batch_size": batch_size,
                "precision": "bf16 autocast" if bf16 else "fp32",
                "epochs": epochs,
                "seconds": seconds,
                "img_per_s": epochs * n_train / seconds["median"],
                "test_acc": summarize([r["acc"] for r in runs]),
                "reached_target": f"{len(reached)}/{len(runs)}",
            }
            if reached:
                row["time_to_target"] = summarize([t for t, _ in reached])
                row["epochs_to_target"] = summarize([e for _, e in reached])
            rows.append(row)
            log(f"gpu: batch {batch_size} {row['precision']}: {seconds['median']:.3f} s")
    return {
        "available": True,
        "device": torch.cuda.get_device_name(device),
        "target_acc": TARGET_ACC,
        "max_epochs": max_epochs,
        "train_images": n_train,
        "rows": rows,
    }


# -- Targets of issue 10, section 5 ------------------------------------------------------------

TARGETS = {
    "mlp_10_epochs_batch_32_seconds": ("<=", 2.5),
    "mlp_10_epochs_batch_32_acc": (">=", 0.875),
    "time_to_088_seconds": ("<=", 2.0),
    "cnn_gpu_over_cpu_batch_256": (">=", 20.0),
}
TO_TARGET_BATCHES = (64, 128, 256, 512)


def lenet() -> nn.Module:
    """The chapter-5 LeNet-style CNN (ReLU, max pooling)."""
    return nn.Sequential(
        nn.Unflatten(1, (1, 28)),
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip


def train_flops(net: nn.Module) -> int:
    """Floating-point operations of one training step per image, as PyTorch runs it.

    ``FlopCounterMode`` counts the matrix products and convolutions that the forward and
    backward passes of one image really run: three per layer, except that the first
    layer's input gradient is never computed (the images need none). Counting three for
    every layer, as ``6 * multiply-adds``, overstates an MLP's count by about 1.5x.
    """
    device = next(net.parameters()).device
    X = torch.zeros(1, 28, 28, device=device)
    with FlopCounterMode(display=False) as counter:
        net(X).sum().backward()
    net.zero_grad(set_to_none=True)
    return counter.get_total_flops()


class Step:
    """One Adam training step on fixed buffers; recorded as a CUDA graph on a GPU."""

    def __init__(self, net: nn.Module, X0: torch.Tensor, y0: torch.Tensor, lr: float = 1e-3):
        self.net, self.X, self.y = net, X0.clone(), y0.clone()
        self.cuda = X0.device.type == "cuda"
        self.opt = torch.optim.Adam(net.parameters(), lr=lr, capturable=self.cuda)
        self.graph = None
        if self.cuda:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):
                    self.opt.zero_grad(set_to_none=True)
                    self._step()
            torch.cuda.current_stream().wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            self.opt.zero_grad(set_to_none=True)
            with torch.cuda.graph(self.graph):
                self._step()

    def _step(self) -> None:
        F.cross_entropy(self.net(self.X), self.y).backward()
        self.opt.step()

    def __call__(self, X: torch.Tensor, y: torch.Tensor) -> None:
        self.X.copy_(X)
        self.y.copy_(y)
        if self.graph is None:
            self.opt.zero_grad(set_to_none=True)
            self._step()
        else:
            self.graph.replay()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _accuracy_of(net: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (net(X).argmax(dim=1) == y).float().mean().item()


def train_mlp(data, batch: int, epochs: int, target: float | None = None) -> dict[str, Any]:
    """Train the chapter-4 MLP with ``Step``; seconds of training, accuracy per epoch.

    ``time_to_target`` counts training and the per-epoch test evaluation until the test
    accuracy first reaches ``target``; the recording of the graph counts too.
    """
    X, y, Xt, yt = data
    device = X.device
    net = keras_mlp().to(device)
    full = len(X) // batch * batch
    _sync(device)
    start = time.perf_counter()
    step = Step(net, X[:batch], y[:batch])
    train_seconds, accs, to_target = 0.0, [], None
    for epoch in range(1, epochs + 1):
        perm = torch.randperm(len(X), device=device)[:full]
        Xs, ys = X[perm], y[perm]
        for i in range(0, full, batch):
            step(Xs[i : i + batch], ys[i : i + batch])
        _sync(device)
        train_seconds = time.perf_counter() - start
        accs.append(_accuracy_of(net, Xt, yt))
        if target is not None and to_target is None and accs[-1] >= target:
            to_target = {"seconds": time.perf_counter() - start, "epochs": epoch}
            break
    return {"batch_size": batch, "epochs": len(accs), "train_seconds": train_seconds,
            "accuracies": accs, "time_to_target": to_target}  # fmt: skip


def step_throughput(make, device: torch.device, batch: int, steps: int, X, y) -> float:
    """Images per second of eager training steps of ``make()`` (warm-up excluded)."""
    torch.manual_seed(0)
    net = make().to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def run(n):
        for i in range(n):
            s = (i * batch) % (len(X) - batch)
            loss = F.cross_entropy(net(X[s : s + batch]), y[s : s + batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    run(3)
    _sync(device)
    start = time.perf_counter()
    run(steps)
    _sync(device)
    return steps * batch / (time.perf_counter() - start)


def matmul_rate(device: torch.device, dtype: torch.dtype, size: int) -> float:
    """Measured FLOP/s of a ``size``-cubed matrix product (random data, median of 10)."""
    A = torch.randn(size, size, device=device, dtype=dtype)
    B = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        A @ B
    times = []
    for _ in range(10):
        _sync(device)
        start = time.perf_counter()
        A @ B
        _sync(device)
        times.append(time.perf_counter() - start)
    return 2 * size**3 / summarize(times)["median"]


def _load(device: torch.device, limit: tuple[int, int] | None):
    X, y, Xt, yt = helpers.load_fashion_mnist_tensors()
    if limit is not None:
        X, y, Xt, yt = X[: limit[0]], y[: limit[0]], Xt[: limit[1]], yt[: limit[1]]
    # Bytes to the device, converted there.
    return (X.to(device).float() / 255, y.to(device), Xt.to(device).float() / 255, yt.to(device))


def verdicts(measured: dict[str, float | None]) -> dict[str, dict[str, Any]]:
    """Compare each measured value with its target: met, missed, or not measured."""
    out = {}
    for key, (op, bound) in TARGETS.items():
        value = measured.get(key)
        met = None if value is None else (value <= bound if op == "<=" else value >= bound)
        verdict = "not measured" if met is None else "met" if met else "missed"
        out[key] = {"value": value, "target": f"{op} {bound}", "verdict": verdict}
    return out


def targets(tiny: bool = False, repeat: int = 1) -> dict[str, Any]:
    """Measure the section-5 targets: GPU parts where a GPU is visible, CPU parts always."""
    cpu = torch.device("cpu")
    limit = (2000, 1000) if tiny else None
    cpu_steps = 2 if tiny else 30
    X, y, _, _ = _load(cpu, limit)
    cnn_flops = train_flops(lenet())
    mlp_flops = train_flops(keras_mlp())
    results: dict[str, Any] = {
        "cpu": {
            "threads": torch.get_num_threads(),
            "cnn_batch_256_img_per_s": step_throughput(lenet, cpu, 256, cpu_steps, X, y),
            "mlp_batch_32_img_per_s": step_throughput(keras_mlp, cpu, 32, 10 * cpu_steps, X, y),
        },
        "train_flops_per_image": {"mlp": mlp_flops, "cnn": cnn_flops},
    }
    measured: dict[str, float | None] = {}
    if not torch.cuda.is_available():
        reason = "no CUDA GPU visible (torch.cuda.is_available() is False)"
        results["gpu"] = {"available": False, "reason": reason}
        results["targets"] = verdicts(measured)
        return results
    device = torch.device("cuda")
    data = _load(device, limit)
    epochs = 1 if tiny else 10
    train_mlp(data, 32, 1)  # warm-up: CUDA context, cuBLAS, graph machinery
    runs = []
    for seed in range(repeat):
        torch.manual_seed(seed)
        runs.append(train_mlp(data, 32, epochs))
    best = min(runs, key=lambda r: r["train_seconds"])
    to_target = []
    for batch in TO_TARGET_BATCHES:
        torch.manual_seed(0)
        to_target.append(train_mlp(data, batch, 2 if tiny else MAX_EPOCHS, TARGET_ACC))
    reached = [r for r in to_target if r["time_to_target"]]
    fastest = min(reached, key=lambda r: r["time_to_target"]["seconds"]) if reached else None
    gpu_cnn = step_throughput(lenet, device, 256, 20 if tiny else 200, *data[:2])
    n_train = len(data[0]) // 32 * 32
    mlp_rate = epochs * n_train / best["train_seconds"]
    peaks = {str(dt): matmul_rate(device, dt, 1024 if tiny else 8192)
             for dt in (torch.float32, torch.bfloat16)}  # fmt: skip
    measured = {
        "mlp_10_epochs_batch_32_seconds": None if tiny else best["train_seconds"],
        "mlp_10_epochs_batch_32_acc": None if tiny else best["accuracies"][-1],
        "time_to_088_seconds": fastest["time_to_target"]["seconds"] if fastest else None,
        "cnn_gpu_over_cpu_batch_256": gpu_cnn / results["cpu"]["cnn_batch_256_img_per_s"],
    }
    results["gpu"] = {
        "available": True,
        "device": torch.cuda.get_device_name(device),
        "capability": list(torch.cuda.get_device_capability(device)),
        "mlp_batch_32": {"runs": runs, "img_per_s": mlp_rate},
        "time_to_target": {
            "target": TARGET_ACC,
            "runs": to_target,
            "best_batch": fastest["batch_size"] if fastest else None,
        },  # fmt: skip
        "cnn_batch_256_img_per_s": gpu_cnn,
        "matmul_flop_per_s": peaks,
        "achieved_flop_per_s": {
            "mlp_batch_32_graph": mlp_flops * mlp_rate,
            "cnn_batch_256": cnn_flops * gpu_cnn,
        },
    }
    results["targets"] = verdicts(measured)
    return results


def slug(name: str) -> str:
    """A file-name form of a device name: 'NVIDIA H200' -> 'nvidia-h200'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def main(argv: list[str] | None = None) -> int:
    """Measure the targets; write ``gpu-targets-<device>.json`` into ``--out``."""
    parser = argparse.ArgumentParser(description="Issue 10's GPU targets (section 5).")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--tiny", action="store_true", help="2,000 images, a few steps")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    from benchmarks import report  # what the results measured: hashes, commit, date

    started, code, t0 = report.now(), report.code_hashes("gpu-targets"), time.perf_counter()
    results = {"machine": machine(), "tiny": args.tiny, **targets(args.tiny, args.repeat)}
    command = "python -m benchmarks.gpu " + " ".join(argv if argv is not None else sys.argv[1:])
    results["provenance"] = {
        "gpu-targets": report.provenance(
            "gpu-targets", command, started, code, time.perf_counter() - t0
        )
    }
    name = results["gpu"].get("device", "no-gpu")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"gpu-targets-{slug(name)}.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    for key, v in results["targets"].items():
        value = "-" if v["value"] is None else f"{v['value']:.3f}"
        print(f"{key:34} {value:>10}  target {v['target']:8} {v['verdict']}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
