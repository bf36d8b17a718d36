"""helpers.device: device choice, the GPU requirement switch, and honest timing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from d2l import torch as d2l

from helpers import check_gpu_requirement, synchronize, time_it, try_all_gpus, try_gpu
from helpers.device import REQUIRE_GPU_VARIABLE, gpu_required

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without a GPU")
gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@no_gpu
def test_try_gpu_falls_back_to_the_cpu():
    assert try_gpu() == torch.device("cpu")
    assert try_gpu(3) == torch.device("cpu")


@no_gpu
def test_try_all_gpus_returns_the_cpu_where_d2l_returns_nothing():
    assert try_all_gpus() == [torch.device("cpu")]
    # d2l 1.0.3 returns [] here although its docstring says [cpu()]; when d2l fixes it,
    # this fails so the course's own version can be dropped.
    assert d2l.try_all_gpus() == []


@gpu
def test_try_all_gpus_lists_every_gpu():
    assert try_all_gpus() == [torch.device(f"cuda:{i}") for i in range(torch.cuda.device_count())]
    assert try_gpu() == torch.device("cuda:0")


@pytest.mark.parametrize(
    ("value", "required"),
    [(None, False), ("", False), ("0", False), ("false", False), (" FALSE ", False),
     ("1", True), ("true", True), ("yes", True), ("cuda", True)],
)  # fmt: skip
def test_gpu_required_reads_the_environment_variable(monkeypatch, value, required):
    if value is None:
        monkeypatch.delenv(REQUIRE_GPU_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(REQUIRE_GPU_VARIABLE, value)
    assert REQUIRE_GPU_VARIABLE == "COURSE_REQUIRE_GPU"
    assert gpu_required() is required


@no_gpu
def test_check_gpu_requirement_raises_when_a_gpu_is_required_and_missing(monkeypatch):
    monkeypatch.setenv(REQUIRE_GPU_VARIABLE, "1")
    with pytest.raises(RuntimeError, match="COURSE_REQUIRE_GPU"):
        check_gpu_requirement()


@pytest.mark.parametrize("value", [None, "0"])
def test_check_gpu_requirement_passes_when_no_gpu_is_required(monkeypatch, value):
    if value is None:
        monkeypatch.delenv(REQUIRE_GPU_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(REQUIRE_GPU_VARIABLE, value)
    assert check_gpu_requirement() is None


def test_check_gpu_requirement_passes_when_a_gpu_is_seen(monkeypatch):
    monkeypatch.setenv(REQUIRE_GPU_VARIABLE, "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert check_gpu_requirement() is None


def test_synchronize_is_a_no_op_on_the_cpu(monkeypatch):
    def fail(*args):
        raise AssertionError("cuda synchronize called for the CPU")

    monkeypatch.setattr(torch.cuda, "synchronize", fail)
    assert synchronize("cpu") is None
    assert synchronize(torch.device("cpu")) is None


def test_synchronize_waits_on_a_cuda_device(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(device))
    synchronize("cuda:0")
    assert calls == ["cuda:0"]


def test_time_it_calls_fn_once_and_returns_its_duration():
    calls = []

    def work():
        calls.append(1)
        time.sleep(0.05)

    seconds = time_it(work)
    assert calls == [1]
    assert isinstance(seconds, float)
    assert 0.05 <= seconds < 5.0


def test_time_it_synchronizes_before_and_after(monkeypatch):
    events = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: events.append("sync"))
    time_it(lambda: events.append("fn"), device="cuda")
    assert events == ["sync", "fn", "sync"]


def test_importing_helpers_device_does_not_import_d2l():
    # Worker processes import this module and must start fast; d2l takes seconds.
    code = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('device', 'helpers/device.py')\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print('d2l' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_try_gpu_agrees_with_d2l():
    assert try_gpu() == d2l.try_gpu()
    assert try_gpu(5) == d2l.try_gpu(5)
