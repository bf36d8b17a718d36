"""d2l 1.0.3 in this environment: what helpers reuses from it, what it replaces, and why.

These tests pin down d2l's behaviour that the course relies on or works around, so that a
d2l upgrade that changes any of it fails here rather than in a chapter.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

import helpers
from helpers import TensorLoader, get_fashion_mnist_labels, load_data_fashion_mnist
from helpers import training as ht


def test_d2l_torch_imports_and_is_1_0_3():
    import d2l
    from d2l import torch as d2l_torch

    assert d2l.__version__ == "1.0.3"
    assert callable(d2l_torch.try_gpu) and callable(d2l_torch.accuracy)


def test_d2l_1_x_lacks_the_classic_training_api_that_helpers_supplies():
    from d2l import torch as d2l

    for name in ("train_ch3", "train_epoch_ch3", "predict_ch3", "evaluate_accuracy"):
        assert not hasattr(d2l, name), f"d2l has {name} again: helpers' copy may be dropped"
        assert callable(getattr(helpers, name))


def test_accumulator_and_timer_behave_like_d2ls():
    from d2l import torch as d2l

    ours, theirs = ht.Accumulator(2), d2l.Accumulator(2)
    for metric in (ours, theirs):
        metric.add(3, 4.5)
        metric.add(torch.tensor(1.0), 0.5)
    assert [ours[0], ours[1]] == [theirs[0], theirs[1]] == [4.0, 5.0]
    ours.reset()
    assert [ours[0], ours[1]] == [0.0, 0.0]
    with pytest.raises(ValueError):
        ours.add(1, 2, 3)  # one value per sum, never silently dropped
    timer = ht.Timer()
    assert timer.stop() >= 0.0 and len(timer.times) == 1
    timer.start()
    timer.stop()
    assert timer.sum() == pytest.approx(sum(timer.times))
    assert timer.avg() == pytest.approx(timer.sum() / 2)
    assert helpers.Accumulator is ht.Accumulator and helpers.Timer is ht.Timer


def test_labels_agree_with_d2ls_two_label_functions(fashion_tensors):
    from d2l import torch as d2l

    y = fashion_tensors[3][:100]
    assert get_fashion_mnist_labels(y) == d2l.get_fashion_mnist_labels(y)
    assert list(helpers.TEXT_LABELS) == d2l.FashionMNIST.text_labels(None, range(10))


def test_sgd_and_accuracy_agree_with_d2l():
    from d2l import torch as d2l

    torch.manual_seed(0)
    X, y = torch.randn(40, 6), torch.randint(0, 4, (40,))
    init = torch.randn(6, 4)
    ours, theirs = init.clone().requires_grad_(), init.clone().requires_grad_()
    for w, step in ((ours, ht.sgd), (theirs, d2l.sgd)):
        nn.functional.cross_entropy(X @ w, y, reduction="sum").backward()
        step([w], 0.05, len(y))
    assert torch.equal(ours, theirs) and not torch.equal(ours.detach(), init)
    logits = X @ ours.detach()
    assert ht.accuracy(logits, y) == d2l.accuracy(logits, y)


def test_evaluate_accuracy_agrees_with_d2ls_gpu_version(fashion_tensors):
    from d2l import torch as d2l

    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    test_iter = TensorLoader(fashion_tensors[2][:2000], fashion_tensors[3][:2000], 256)
    assert ht.evaluate_accuracy(net, test_iter) == pytest.approx(
        d2l.evaluate_accuracy_gpu(net, test_iter)
    )


def test_d2ls_loader_reads_the_same_batches_from_the_project_data(real_raw, tmp_path, monkeypatch):
    """d2l reads root="../data": from a folder beside the project's data it finds the same files."""
    from d2l import torch as d2l

    (tmp_path / "data").symlink_to(real_raw.parent.parent, target_is_directory=True)
    (tmp_path / "chapters").mkdir()
    monkeypatch.chdir(tmp_path / "chapters")
    monkeypatch.setattr(d2l, "get_dataloader_workers", lambda: 0)  # no worker processes
    d2l_train, d2l_test = d2l.load_data_fashion_mnist(100)
    train_iter, test_iter = load_data_fashion_mnist(100)
    assert len(d2l_train) == len(train_iter) and len(d2l_test) == len(test_iter)
    X_d2l, y_d2l = next(iter(d2l_test))
    X, y = next(iter(test_iter))
    assert torch.equal(y, y_d2l)
    assert torch.allclose(X, X_d2l, rtol=0, atol=1e-7)


def test_d2ls_show_images_fails_on_a_single_image_where_helpers_works(close_figures):
    """The reason helpers has its own show_images (d2l's first definition is a stub that
    raises NotImplementedError; a later one overrides it but needs a grid of axes)."""
    from d2l import torch as d2l

    img = torch.rand(1, 28, 28)
    axes = d2l.show_images(torch.rand(2, 28, 28), 1, 2, titles=["a", "b"])
    assert [ax.get_title() for ax in axes] == ["a", "b"]  # the working definition won
    with pytest.raises(AttributeError):
        d2l.show_images(img, 1, 1)
    plt.close("all")
    axes = helpers.show_images(img, 1, 1, titles=["one"])
    assert [ax.get_title() for ax in axes] == ["one"]
