"""The chapter-4 MLP at batch 32 on a CPU: how many threads, and how far from the floor.

Two measurements that the training section's ratio alone cannot give:

* ``threads``: ``KerasModel.fit`` with 1 thread and with torch's default, in alternating
  rounds, on the quiet machine and while another process keeps one core busy. At batch 32
  each product is small: a second thread saves little when the machine is quiet and costs
  much when it is not. The count whose worse condition is faster is chosen.
* ``floor``: the five matrix products of one training step (two forward, three backward,
  in the layouts autograd uses for ``nn.Linear``) on real batches, and the two forward
  products of an evaluation batch. No step can be faster; the ratio of ``fit``'s time to
  this floor is what the rest of the step (autograd, Adam, batching, Python) costs.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Any

import torch

import helpers
from benchmarks.measure import log, summarize

BATCH = 32
# Chapter 4 calls torch.set_num_threads(MLP_THREADS) before fit: the course path of the
# training section runs with it too (the classic path keeps torch's default, as d2l does).
MLP_THREADS = 1


def thread_counts() -> list[int]:
    """1 and the machine's default (at most 2 values): the choice chapter 4 makes."""
    default = torch.get_num_threads()
    return sorted({1, default})


class threads_set:  # noqa: N801 (a context manager used like a function)
    """``with threads_set(n):`` runs the block with ``n`` torch threads, then restores."""

    def __init__(self, n: int) -> None:
        self.n, self.saved = n, torch.get_num_threads()

    def __enter__(self) -> None:
        torch.set_num_threads(self.n)

    def __exit__(self, *exc) -> None:
        torch.set_num_threads(self.saved)


def _data(limit: int | None):
    X_train, y_train, X_test, y_test = helpers.load_fashion_mnist_tensors()
    x = X_train[:limit].float() / 255
    return x, y_train[:limit], X_test.float() / 255


def _one_epoch(x: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    """Seconds per step of one epoch of chapter 4's fit (no validation pass)."""
    from benchmarks.pipelines import keras_mlp

    torch.manual_seed(seed)
    model = helpers.KerasModel(keras_mlp(), input_shape=(28, 28))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0)
    return (time.perf_counter() - start) / -(-len(x) // BATCH)


class busy_core:  # noqa: N801 (a context manager used like a function)
    """``with busy_core():`` runs the block while another process keeps one core busy."""

    def __enter__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.5)  # let it start spinning

    def __exit__(self, *exc) -> None:
        self.process.kill()
        self.process.wait()


def _rounds(x, y, rounds: int, counts: list[int], condition: str) -> dict[int, list[float]]:
    per_step: dict[int, list[float]] = {n: [] for n in counts}
    for r in range(rounds):
        for n in counts if r % 2 == 0 else counts[::-1]:
            with threads_set(n):
                per_step[n].append(_one_epoch(x, y, seed=r))
            log(f"mlp threads {n}, {condition}, round {r + 1}: "
                f"{per_step[n][-1] * 1e6:.0f} µs/step")  # fmt: skip
    return per_step


def threads(rounds: int, limit: int | None = None) -> dict[str, Any]:
    """Seconds per ``fit`` step at each thread count, in alternating rounds, on the quiet
    machine (one epoch per round) and while another process keeps one core busy (a third
    of an epoch per round); ``chosen``: the count whose worse condition has the lower mean.
    """
    x, y, _ = _data(limit)
    counts = thread_counts()
    quiet = _rounds(x, y, rounds, counts, "quiet")
    part = len(x) // 3
    with busy_core():
        busy = _rounds(x[:part], y[:part], rounds, counts, "one core busy")
    rows = []
    for condition, images, per_step in (("quiet", len(x), quiet), ("one core busy", part, busy)):
        for n in counts:
            # The mean, not the median: a reader pays for the slow rounds too.
            rows.append({"condition": condition, "images": images, "threads": n,
                         "step_seconds": summarize(per_step[n]),
                         "mean_step_seconds": statistics.mean(per_step[n])})  # fmt: skip
    worst = {n: max(r["mean_step_seconds"] for r in rows if r["threads"] == n) for n in counts}
    return {"batch_size": BATCH, "rounds": rounds, "rows": rows,
            "chosen": min(counts, key=worst.get), "chapter_threads": MLP_THREADS}  # fmt: skip


def _products(x: torch.Tensor, steps: int, train: bool) -> float:
    """Median seconds of one step's products (train: 5, evaluation: 2) over ``steps``."""
    torch.manual_seed(0)
    W1, b1 = torch.randn(128, 784) * 0.03, torch.zeros(128)
    W2, b2 = torch.randn(10, 128) * 0.03, torch.zeros(10)
    G1, G2 = torch.randn(BATCH, 128), torch.randn(BATCH, 10)
    order = torch.randperm(len(x))
    times = []
    for i in range(steps):
        start = i * BATCH % (len(x) - BATCH)
        X = x.index_select(0, order[start : start + BATCH]).reshape(BATCH, 784)
        t0 = time.perf_counter()
        H = torch.addmm(b1, X, W1.t())  # forward, layer 1
        torch.addmm(b2, H, W2.t())  # forward, layer 2
        if train:
            G2.mm(W2)  # gradient of H
            G2.t().mm(H)  # gradient of W2
            G1.t().mm(X)  # gradient of W1 (X needs none)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def floor(repeat: int, limit: int | None = None) -> dict[str, Any]:
    """The products' median seconds per training and per evaluation step, per thread count."""
    x, _, x_test = _data(limit)
    steps = min(len(x) // BATCH, 1875)
    rows = []
    for n in thread_counts():
        with threads_set(n):
            _products(x, 50, train=True)  # warm-up
            train = [_products(x, steps, train=True) for _ in range(repeat)]
            evaluate = [_products(x_test, steps // 6, train=False) for _ in range(repeat)]
        row = {"threads": n, "train_step": summarize(train), "eval_step": summarize(evaluate)}
        rows.append(row)
        log(f"mlp floor, {n} threads: {rows[-1]['train_step']['median'] * 1e6:.0f} µs/step")
    return {"batch_size": BATCH, "rows": rows}


def floor_seconds(floor_result: dict[str, Any], threads_used: int, train_steps: int,
                  eval_steps: int) -> float:  # fmt: skip
    """The floor of a whole fit: its steps times the products' median at ``threads_used``."""
    row = next(r for r in floor_result["rows"] if r["threads"] == threads_used)
    return train_steps * row["train_step"]["median"] + eval_steps * row["eval_step"]["median"]


def limits(repeat: int, tiny: bool, epochs: int, n_train: int, n_test: int) -> dict[str, Any]:
    """The thread measurement and the floor of a ``fit`` of ``epochs`` (training section)."""
    limit = 2000 if tiny else None
    result = {"threads": threads(1 if tiny else max(repeat, 6), limit)}
    products = floor(repeat, limit)
    train_steps, eval_steps = epochs * -(-n_train // BATCH), epochs * -(-n_test // BATCH)
    seconds = {row["threads"]: floor_seconds(products, row["threads"], train_steps, eval_steps)
               for row in products["rows"]}  # fmt: skip
    result["floor"] = {
        "products": products, "train_steps": train_steps, "eval_steps": eval_steps,
        "threads": MLP_THREADS, "seconds": seconds[MLP_THREADS],
        "seconds_best": min(seconds.values()),
    }  # fmt: skip
    return result
