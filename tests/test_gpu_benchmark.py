"""benchmarks/gpu.py: issue 10's GPU targets. The GPU parts run only where a GPU is
visible; here they must say "not measured" rather than report a number."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from benchmarks import gpu

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without a GPU")


def test_train_flops_counts_dense_and_conv_layers():
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    assert gpu.train_flops(mlp) == 6 * (784 * 128 + 128 * 10)
    conv = nn.Sequential(nn.Unflatten(1, (1, 28)), nn.Conv2d(1, 6, 5, padding=2))
    assert gpu.train_flops(conv) == 6 * (6 * 28 * 28 * 25)
    assert gpu.train_flops(gpu.lenet()) == 2_499_120


def test_verdicts_compare_with_the_targets():
    v = gpu.verdicts({"mlp_10_epochs_batch_32_seconds": 2.4, "time_to_088_seconds": 2.1,
                      "cnn_gpu_over_cpu_batch_256": 20.0})  # fmt: skip
    assert v["mlp_10_epochs_batch_32_seconds"]["verdict"] == "met"
    assert v["time_to_088_seconds"]["verdict"] == "missed"
    assert v["cnn_gpu_over_cpu_batch_256"]["verdict"] == "met"
    assert v["mlp_10_epochs_batch_32_acc"] == {
        "value": None, "target": ">= 0.875", "verdict": "not measured"}  # fmt: skip


def test_the_eager_step_trains_the_mlp_on_the_cpu():
    torch.manual_seed(0)
    data = gpu._load(torch.device("cpu"), (6000, 2000))
    run = gpu.train_mlp(data, 256, 2, target=0.99)
    assert run["epochs"] == 2 and run["time_to_target"] is None
    assert 0.7 < run["accuracies"][-1] < 0.95
    assert run["accuracies"][-1] > run["accuracies"][0] - 0.02


def test_slug_names_a_results_file():
    assert gpu.slug("NVIDIA H200") == "nvidia-h200"
    assert gpu.slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"


@no_gpu
def test_without_a_gpu_the_gpu_targets_are_not_measured(tmp_path, capsys):
    assert gpu.main(["--tiny", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "gpu-targets-no-gpu.json").read_text())
    assert results["gpu"]["available"] is False
    assert "no CUDA GPU visible" in results["gpu"]["reason"]
    assert {v["verdict"] for v in results["targets"].values()} == {"not measured"}
    assert results["cpu"]["cnn_batch_256_img_per_s"] > 0
    assert "not measured" in capsys.readouterr().out


@needs_gpu
def test_the_gpu_targets_are_measured_on_a_gpu(tmp_path):
    assert gpu.main(["--tiny", "--repeat", "1", "--out", str(tmp_path)]) == 0
    (path,) = tmp_path.glob("gpu-targets-*.json")
    results = json.loads(path.read_text())
    assert results["gpu"]["available"] is True
    assert results["targets"]["cnn_gpu_over_cpu_batch_256"]["value"] > 0
    assert results["gpu"]["matmul_flop_per_s"]["torch.bfloat16"] > 0
