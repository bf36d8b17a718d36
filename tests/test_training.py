"""helpers.training: d2l's classic training API, checked against d2l and hand-written loops."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch
from d2l import torch as d2l
from torch import nn

from helpers import (
    TEXT_LABELS,
    TensorLoader,
    accuracy,
    evaluate_accuracy,
    predict_ch3,
    sgd,
    train_ch3,
    train_epoch_ch3,
)

N_TRAIN, N_TEST, B = 5000, 1000, 256


@pytest.fixture(scope="module")
def small_iters(fashion_tensors):
    """Loaders over the first 5000 training and 1000 test images of the real data."""
    X_train, y_train, X_test, y_test = fashion_tensors
    train = TensorLoader(X_train[:N_TRAIN], y_train[:N_TRAIN], B, shuffle=True)
    test = TensorLoader(X_test[:N_TEST], y_test[:N_TEST], B, shuffle=False)
    return train, test


def softmax_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


def test_accuracy_counts_correct_predictions_like_d2l():
    torch.manual_seed(0)
    y_hat = torch.randn(50, 10)
    y = torch.randint(0, 10, (50,))
    expected = sum(int(row.argmax()) == int(label) for row, label in zip(y_hat, y, strict=True))
    assert accuracy(y_hat, y) == float(expected)
    assert accuracy(y_hat, y) == d2l.accuracy(y_hat, y)
    # already-decided class indices are compared directly
    assert accuracy(y, y) == 50.0
    assert accuracy(torch.zeros(50, dtype=torch.int64), y) == float((y == 0).sum())


def test_evaluate_accuracy_matches_a_hand_written_loop(small_iters):
    net = softmax_net()
    correct = total = 0
    with torch.no_grad():
        for X, y in small_iters[1]:
            correct += int((net(X).argmax(dim=1) == y).sum())
            total += len(y)
    assert total == N_TEST
    assert evaluate_accuracy(net, small_iters[1]) == pytest.approx(correct / total)


def test_evaluate_accuracy_puts_a_module_in_eval_mode(small_iters):
    net = softmax_net()
    net.train()
    evaluate_accuracy(net, small_iters[1])
    assert not net.training


def test_sgd_equals_torch_optim_sgd_on_summed_loss():
    torch.manual_seed(0)
    X, y = torch.randn(32, 5), torch.randint(0, 3, (32,))
    w0, b0 = torch.randn(5, 3), torch.randn(3)
    ours = [w0.clone().requires_grad_(), b0.clone().requires_grad_()]
    ref = [w0.clone().requires_grad_(), b0.clone().requires_grad_()]
    opt = torch.optim.SGD(ref, lr=0.1)
    loss = nn.CrossEntropyLoss(reduction="none")
    for _ in range(3):
        loss(X @ ours[0] + ours[1], y).sum().backward()
        sgd(ours, lr=0.1, batch_size=len(y))
        opt.zero_grad()
        loss(X @ ref[0] + ref[1], y).mean().backward()
        opt.step()
    for a, b in zip(ours, ref, strict=True):
        assert torch.allclose(a, b, atol=1e-6)
        assert not torch.equal(a.detach(), w0 if a.ndim == 2 else b0)  # it did move
    assert all(float(p.grad.abs().sum()) == 0.0 for p in ours)  # gradients zeroed


def test_train_epoch_with_a_torch_optimizer_lowers_the_loss(small_iters):
    net = softmax_net()
    loss = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    first_loss, first_acc = train_epoch_ch3(net, small_iters[0], loss, opt)
    second_loss, second_acc = train_epoch_ch3(net, small_iters[0], loss, opt)
    assert net.training
    assert 0.0 <= first_acc <= 1.0 and 0.0 <= second_acc <= 1.0
    assert second_loss < first_loss
    assert second_acc > 0.6


def test_train_epoch_reports_the_mean_loss_over_examples(fashion_tensors):
    X_train, y_train, _, _ = fashion_tensors
    loader = TensorLoader(X_train[:1000], y_train[:1000], 300)  # uneven last batch
    net = softmax_net()
    opt = torch.optim.SGD(net.parameters(), lr=0.0)  # no change: loss is a fixed number
    with torch.no_grad():
        X = X_train[:1000].unsqueeze(1).float() / 255
        expected_loss = float(nn.functional.cross_entropy(net(X), y_train[:1000]))
        expected_acc = float((net(X).argmax(1) == y_train[:1000]).float().mean())
    got_loss, got_acc = train_epoch_ch3(net, loader, nn.CrossEntropyLoss(), opt)
    assert got_loss == pytest.approx(expected_loss, rel=1e-5)
    assert got_acc == pytest.approx(expected_acc)
    got_loss_none, _ = train_epoch_ch3(net, loader, nn.CrossEntropyLoss(reduction="none"), opt)
    assert got_loss_none == pytest.approx(expected_loss, rel=1e-5)


def test_train_epoch_with_a_custom_updater_from_scratch(small_iters):
    torch.manual_seed(0)
    W = torch.normal(0, 0.01, size=(784, 10), requires_grad=True)
    b = torch.zeros(10, requires_grad=True)

    def net(X):
        return X.reshape(-1, 784) @ W + b

    calls = []

    def updater(batch_size):
        calls.append(batch_size)
        sgd([W, b], lr=0.1, batch_size=batch_size)

    loss = nn.CrossEntropyLoss(reduction="none")
    first_loss, _ = train_epoch_ch3(net, small_iters[0], loss, updater)
    second_loss, second_acc = train_epoch_ch3(net, small_iters[0], loss, updater)
    assert sum(calls) == 2 * N_TRAIN and len(calls) == 2 * len(small_iters[0])
    assert second_loss < first_loss
    assert second_acc > 0.6


@pytest.mark.parametrize("plot", [False, True], ids=["no-plot", "plot"])
def test_train_ch3_reaches_70_percent_on_a_real_slice(small_iters, plot, close_figures):
    net = softmax_net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    before = set(plt.get_fignums())
    history = train_ch3(net, *small_iters, nn.CrossEntropyLoss(), 3, opt, plot=plot)
    assert list(history) == ["train loss", "train acc", "test acc"]
    assert all(len(v) == 3 for v in history.values())
    assert history["train loss"][-1] < history["train loss"][0]
    assert history["test acc"][-1] > 0.7
    assert history["test acc"][-1] == pytest.approx(evaluate_accuracy(net, small_iters[1]))
    new = set(plt.get_fignums()) - before
    if plot:
        assert len(new) == 1
        ax = plt.figure(new.pop()).axes[0]
        assert [line.get_label() for line in ax.get_lines()] == list(history)
        assert ax.get_xlabel() == "epoch"
    else:
        assert not new


def test_predict_ch3_titles_are_true_then_predicted_label(small_iters, close_figures):
    net = softmax_net()
    n = 6
    titles = predict_ch3(net, small_iters[1], n=n)
    X, y = next(iter(small_iters[1]))
    with torch.no_grad():
        preds = net(X).argmax(dim=1)
    assert titles == [
        f"{TEXT_LABELS[int(t)]}\n{TEXT_LABELS[int(p)]}"
        for t, p in zip(y[:n], preds[:n], strict=True)
    ]
    axes = plt.gcf().axes
    assert [ax.get_title() for ax in axes] == titles
