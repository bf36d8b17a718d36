"""A small Keras-style wrapper around a PyTorch module: compile, fit, evaluate, predict.

Not a framework: each method is a plain loop a reader can follow, written out in
"A Keras-style MLP" (chapter 4) to show what ``model.compile`` / ``model.fit`` do.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}


def categorical_crossentropy(logits: torch.Tensor, one_hot: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of logits against one-hot (or probability) label rows."""
    return -(one_hot * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


LOSSES = {
    "sparse_categorical_crossentropy": nn.CrossEntropyLoss(),  # integer labels
    "categorical_crossentropy": categorical_crossentropy,  # one-hot labels
}


class History:
    """What ``fit`` returns: ``history`` maps each metric to its value per epoch."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch_seconds: list[float] = []

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch_seconds)}, keys={list(self.history)})"


class KerasModel:
    """Wrap ``net`` (taking inputs of ``input_shape``) with Keras's training methods."""

    def __init__(self, net: nn.Module, input_shape: Sequence[int] = (28, 28)) -> None:
        self.net, self.input_shape = net, tuple(input_shape)
        self.optimizer: torch.optim.Optimizer | None = None
        self.autocast: torch.dtype | None = None

    def compile(
        self, optimizer="adam", loss="sparse_categorical_crossentropy", metrics=(), autocast=None
    ):
        """Choose the optimizer, loss and metrics, by name or as objects.

        ``autocast`` (e.g. ``torch.bfloat16``) runs each forward pass and loss under
        ``torch.autocast`` (chapter 5). Only those: a context left open around the whole loop
        keeps reusing its cached low-precision copies of the weights, so nothing is learned.
        """
        if isinstance(optimizer, str):
            if optimizer.lower() not in OPTIMIZERS:
                raise ValueError(f"unknown optimizer {optimizer!r}; use one of {list(OPTIMIZERS)}")
            lr = 0.01 if optimizer.lower() == "sgd" else 0.001  # Keras's defaults
            optimizer = OPTIMIZERS[optimizer.lower()](self.net.parameters(), lr=lr)
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a name or a torch optimizer, got {optimizer!r}")
        if isinstance(loss, str):
            if loss not in LOSSES:
                raise ValueError(f"unknown loss {loss!r}; use one of {list(LOSSES)} or a callable")
            loss = LOSSES[loss]
        if not callable(loss):
            raise TypeError(f"loss must be a name or a callable, got {loss!r}")
        unknown = [m for m in metrics if m != "accuracy"]
        if unknown:
            raise ValueError(f"unknown metrics {unknown}; only 'accuracy' is supported")
        self.optimizer, self.loss, self.metrics = optimizer, loss, list(metrics)
        self.autocast = autocast

    def _batches(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool):
        if len(x) != len(y):
            raise ValueError(f"x and y differ in length: {len(x)} inputs, {len(y)} labels")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        device = next(self.net.parameters()).device
        order = torch.randperm(len(x), device=x.device) if shuffle else None
        for start in range(0, len(x), batch_size):
            idx = slice(start, start + batch_size) if order is None else order[start:][:batch_size]
            yield x[idx].to(device), y[idx].to(device)

    def _step_metrics(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        labels = y.argmax(dim=1) if y.ndim == 2 else y
        return (logits.argmax(dim=1) == labels).sum()

    def _run(self, x, y, batch_size: int, train: bool) -> tuple[float, float]:
        if self.optimizer is None:
            raise RuntimeError("call compile(...) before fit/evaluate")
        self.net.train(train)
        device = next(self.net.parameters()).device
        # Sums stay on the device: one host sync per epoch, not one per step.
        total_loss = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        with torch.set_grad_enabled(train):
            for X, Y in self._batches(x, y, batch_size, shuffle=train):
                with torch.autocast(device.type, self.autocast, enabled=bool(self.autocast)):
                    logits = self.net(X)
                    loss = self.loss(logits, Y)
                if train:
                    self.optimizer.zero_grad()
                    loss.backward()
                    self.optimizer.step()
                total_loss += loss.detach() * len(Y)
                correct += self._step_metrics(logits.detach(), Y)
        return float(total_loss) / len(y), float(correct) / len(y)

    def _line(self, loss: float, acc: float, prefix: str = "") -> str:
        text = f"{prefix}loss: {loss:.4f}"
        return text + (f" - {prefix}accuracy: {acc:.4f}" if "accuracy" in self.metrics else "")

    def fit(self, x, y, epochs: int = 1, batch_size: int = 32, validation_data=None, verbose=1):
        """Train for ``epochs``, printing one Keras-like line per epoch; return a History."""
        history = History()
        steps = -(-len(x) // batch_size) if isinstance(batch_size, int) and batch_size > 0 else 0
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            results = {"loss": None, "accuracy": None}
            results["loss"], results["accuracy"] = self._run(x, y, batch_size, train=True)
            line = self._line(results["loss"], results["accuracy"])
            if validation_data is not None:
                val = self._run(*validation_data, batch_size, train=False)
                results["val_loss"], results["val_accuracy"] = val
                line += " - " + self._line(*val, prefix="val_")
            seconds = time.perf_counter() - start
            history.epoch_seconds.append(seconds)
            for key, value in results.items():
                if "accuracy" in key and "accuracy" not in self.metrics:
                    continue
                history.history.setdefault(key, []).append(value)
            if verbose:
                print(f"Epoch {epoch}/{epochs} - {steps}/{steps} - {seconds:.1f}s - {line}")
        return history

    def evaluate(self, x, y, batch_size: int = 32, verbose=1) -> tuple[float, float]:
        """Return ``(loss, accuracy)`` on ``x, y`` without training."""
        loss, acc = self._run(x, y, batch_size, train=False)
        if verbose:
            print(
                f"{-(-len(x) // batch_size)}/{-(-len(x) // batch_size)} - {self._line(loss, acc)}"
            )
        return loss, acc

    def predict(self, x: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        """Return the class probabilities (softmax of the outputs), one row per input."""
        self.net.eval()
        device = next(self.net.parameters()).device
        with torch.no_grad():
            rows = [F.softmax(self.net(x[i : i + batch_size].to(device)), dim=1)
                    for i in range(0, len(x), batch_size)]  # fmt: skip
        return torch.cat(rows)

    def layers(self) -> list[tuple[str, tuple[int, ...], int]]:
        """Return ``(layer type, output shape, parameter count)`` for each top-level layer."""
        rows = []
        device = next(self.net.parameters()).device
        X = torch.zeros((1, *self.input_shape), device=device)
        with torch.no_grad():
            for layer in self.net.children():
                X = layer(X)
                params = sum(p.numel() for p in layer.parameters())
                rows.append((type(layer).__name__, (None, *X.shape[1:]), params))
        return rows

    def summary(self) -> None:
        """Print the layers, their output shapes and parameter counts, as Keras does."""
        print(self._summary_text())

    def _summary_text(self) -> str:
        rows = [f"{'Layer (type)':<16}{'Output Shape':<18}{'Param #':>10}", "=" * 44]
        for name, shape, params in self.layers():
            rows.append(f"{name:<16}{str(shape):<18}{params:>10,}")
        total = sum(p.numel() for p in self.net.parameters())
        trainable = sum(p.numel() for p in self.net.parameters() if p.requires_grad)
        rows += ["=" * 44, f"Total params: {total:,}", f"Trainable params: {trainable:,}"]
        return "\n".join(rows)

    def __repr__(self) -> str:
        return f"KerasModel(input_shape={self.input_shape})\n{self._summary_text()}"
