"""The chapter-4 MLP on a GPU, data resident there: batch size, bf16 autocast, time to 0.88."""

from __future__ import annotations

import time
from typing import Any

import torch
from torch.nn import functional as F

import helpers
from benchmarks.measure import log, summarize
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
