"""Choosing a device and timing work on it honestly (chapter 5, "Using the GPU").

``try_gpu`` is d2l's own. d2l 1.0.3's ``try_all_gpus`` returns ``[]`` on a machine with no
GPU although its docstring promises ``[cpu()]``, so the course has its own version.
d2l is imported on the first call of ``try_gpu``, not with this module: importing d2l
takes seconds (matplotlib, pandas), and worker processes that import ``helpers.device``
must start fast.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import torch

REQUIRE_GPU_VARIABLE = "COURSE_REQUIRE_GPU"


def try_gpu(i: int = 0) -> torch.device:
    """Return ``cuda:i`` if that GPU exists, else the CPU (d2l's ``try_gpu``)."""
    from d2l import torch as d2l  # lazy: d2l takes seconds to import

    return d2l.try_gpu(i)


def try_all_gpus() -> list[torch.device]:
    """Return every visible GPU, or ``[cpu]`` when there is none."""
    gpus = [torch.device(f"cuda:{i}") for i in range(torch.cuda.device_count())]
    return gpus or [torch.device("cpu")]


def gpu_required() -> bool:
    """Say whether ``COURSE_REQUIRE_GPU`` asks for a GPU (any value but '', '0', 'false')."""
    return os.environ.get(REQUIRE_GPU_VARIABLE, "").strip().lower() not in ("", "0", "false")


def check_gpu_requirement() -> None:
    """Raise ``RuntimeError`` when a GPU is required but none is visible."""
    if gpu_required() and not torch.cuda.is_available():
        raise RuntimeError(
            f"{REQUIRE_GPU_VARIABLE} is set, but PyTorch sees no CUDA GPU "
            f"(torch {torch.__version__}, CUDA build {torch.version.cuda}): "
            "check the runner's driver and that a CUDA build of torch is installed."
        )


def synchronize(device: torch.device | str) -> None:
    """Wait until queued work on ``device`` has finished (a no-op on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_it(fn: Callable[[], object], device: torch.device | str = "cpu") -> float:
    """Return the seconds ``fn()`` takes, synchronizing ``device`` before and after."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start
