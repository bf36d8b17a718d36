"""Timing primitives: repeat a measurement, summarise it, describe the machine."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
import torchvision


def summarize(values: list[float]) -> dict[str, float | int]:
    """Return the median, min and max of ``values`` and how many there were."""
    if not values:
        raise ValueError("nothing to summarize: no repetition ran")
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """Return ``(seconds, result)`` of one call ``fn(*args)`` (wall-clock time)."""
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def log(message: str) -> None:
    """Progress goes to stderr, so that stdout holds only the final table."""
    print(message, file=sys.stderr, flush=True)


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it (``platform`` gives only the arch)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """What the numbers depend on: CPU, cores, library versions, GPU, date."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": cpu_model(),
        "cores": cores,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "os": f"{platform.system()} {platform.release()}",
        "gpu": gpu,
        "cuda": torch.version.cuda if gpu else None,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
