"""The classic d2l training API (``train_ch3`` and friends) that d2l 1.x dropped.

Learners' notes written for d2l 0.x call ``d2l.train_ch3``, ``d2l.evaluate_accuracy`` and
``d2l.predict_ch3``; d2l 1.0.3 replaced them with its ``Trainer`` class. They live here,
written out in "Softmax regression from scratch" (chapter 2). ``Accumulator`` and ``Timer``
behave like d2l's own, which still exist, but are written here: importing d2l costs seconds
(it loads pandas and more), which every data-parallel worker of chapter 6 would pay.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import torch
from torch import nn

from helpers.data import get_fashion_mnist_labels
from helpers.plotting import plot_history, show_images

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


class Accumulator:
    """Keep ``n`` running sums, as d2l's ``Accumulator`` does."""

    def __init__(self, n: int) -> None:
        self.data = [0.0] * n

    def add(self, *args: float) -> None:
        """Add one value to each sum."""
        self.data = [a + float(b) for a, b in zip(self.data, args, strict=True)]

    def reset(self) -> None:
        """Set every sum back to zero."""
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx: int) -> float:
        return self.data[idx]


class Timer:
    """Record several running times, as d2l's ``Timer`` does; starts on creation."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.start()

    def start(self) -> None:
        """Start (or restart) the clock."""
        self.tik = time.perf_counter()

    def stop(self) -> float:
        """Stop the clock, record the time since ``start`` and return it."""
        self.times.append(time.perf_counter() - self.tik)
        return self.times[-1]

    def avg(self) -> float:
        """Return the average recorded time."""
        return sum(self.times) / len(self.times)

    def sum(self) -> float:
        """Return the sum of the recorded times."""
        return sum(self.times)


def sgd(params: Iterable[torch.Tensor], lr: float, batch_size: int) -> None:
    """Minibatch stochastic gradient descent on summed losses (chapter 2)."""
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


def accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> float:
    """Return the number of correct predictions (not the fraction), as d2l does."""
    if y_hat.ndim > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(dim=1)
    return float((y_hat.type(y.dtype) == y).sum())


def evaluate_accuracy(net: Callable[[torch.Tensor], torch.Tensor], data_iter: Batches) -> float:
    """Return the accuracy of ``net`` over every batch of ``data_iter``."""
    if isinstance(net, nn.Module):
        net.eval()
    metric = Accumulator(2)  # correct predictions, predictions
    with torch.no_grad():
        for X, y in data_iter:
            metric.add(accuracy(net(X), y), y.numel())
    return metric[0] / metric[1]


def train_epoch_ch3(
    net: Callable[[torch.Tensor], torch.Tensor],
    train_iter: Batches,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    updater: torch.optim.Optimizer | Callable[[int], None],
) -> tuple[float, float]:
    """Train one epoch; return the average training loss and training accuracy."""
    if isinstance(net, nn.Module):
        net.train()
    metric = Accumulator(3)  # summed loss, correct predictions, examples
    for X, y in train_iter:
        y_hat = net(X)
        l = loss(y_hat, y)  # noqa: E741 - d2l's name for the loss value
        if isinstance(updater, torch.optim.Optimizer):
            updater.zero_grad()
            l.mean().backward()
            updater.step()
        else:
            l.sum().backward()
            updater(X.shape[0])
        l = l.detach()  # noqa: E741 - only read from here on (float() of a graph warns)
        metric.add(float(l.sum()) if l.ndim else float(l) * len(y), accuracy(y_hat, y), y.numel())
    return metric[0] / metric[2], metric[1] / metric[2]


def train_ch3(
    net: Callable[[torch.Tensor], torch.Tensor],
    train_iter: Batches,
    test_iter: Batches,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    num_epochs: int,
    updater: torch.optim.Optimizer | Callable[[int], None],
    plot: bool = True,
) -> dict[str, list[float]]:
    """Train for ``num_epochs``; return (and plot) loss and accuracies per epoch."""
    history: dict[str, list[float]] = {"train loss": [], "train acc": [], "test acc": []}
    for _ in range(num_epochs):
        train_loss, train_acc = train_epoch_ch3(net, train_iter, loss, updater)
        history["train loss"].append(train_loss)
        history["train acc"].append(train_acc)
        history["test acc"].append(evaluate_accuracy(net, test_iter))
    if plot:
        plot_history(history, xlabel="epoch")
    return history


def predict_ch3(
    net: Callable[[torch.Tensor], torch.Tensor], test_iter: Batches, n: int = 6
) -> list[str]:
    """Show the first ``n`` test images titled "true / predicted"; return the titles."""
    X, y = next(iter(test_iter))
    with torch.no_grad():
        preds = get_fashion_mnist_labels(net(X).argmax(dim=1))
    trues = get_fashion_mnist_labels(y)
    titles = [f"{true}\n{pred}" for true, pred in zip(trues, preds, strict=True)][:n]
    show_images(X[:n, 0].cpu(), 1, n, titles=titles)
    return titles
