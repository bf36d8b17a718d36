"""Repository-wide pytest hooks.

Under pytest-xdist, each worker (and each chapter kernel it starts) gets its share of the
CPU cores. nbval compares text outputs but never images. This hook makes a re-executed chapter
fail when one of its cells draws a different number of figures (PNG outputs) than its
golden notebook, including cells whose text output is not compared.
"""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Share the CPU cores among pytest-xdist workers, and the kernels they start.

    Two workers on two cores, each running a chapter whose torch uses every core, spend
    most of their time waiting on each other's threads (a 3 s cell took 170 s). Kernels
    inherit this variable from the worker that starts them.
    """
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers and "OMP_NUM_THREADS" not in os.environ:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        os.environ["OMP_NUM_THREADS"] = str(max(1, cores // int(workers)))


def _images(outputs) -> int:
    return sum(1 for out in outputs or [] if "image/png" in out.get("data", {}))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    cell = getattr(item, "cell", None)
    test_outputs = getattr(item, "test_outputs", None)
    if call.when != "call" or not report.passed or cell is None or test_outputs is None:
        return
    expected, got = _images(cell.outputs), _images(test_outputs)
    if expected != got:
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid}: the golden notebook has {expected} figure(s) in this cell, "
            f"the re-executed chapter drew {got}"
        )
