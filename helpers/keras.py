"""A small Keras-style wrapper around a PyTorch module: compile, fit, evaluate, predict.

Not a framework: each method is a plain loop a reader can follow, written out in
"A Keras-style MLP" (chapter 4) to show what ``model.compile`` / ``model.fit`` do.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}
# Adam's update of all the parameters as one fused kernel, not a loop of small ones per
# parameter: on a CPU at batch 32 that loop took half of each step.
FUSED = {"adam"}
# What compile(autocast=...) accepts: float16 trains through a GradScaler (see _grad_scaler).
AUTOCAST = (None, torch.bfloat16, torch.float16)
NO_AUTOCAST = contextlib.nullcontext()  # what a step enters without autocast: nothing


def categorical_crossentropy(logits: torch.Tensor, one_hot: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of logits against one-hot (or probability) label rows."""
    return -(one_hot * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


LOSSES = {
    "sparse_categorical_crossentropy": nn.CrossEntropyLoss(),  # integer labels
    "categorical_crossentropy": categorical_crossentropy,  # one-hot labels
}


class NonFiniteError(FloatingPointError):
    """A loss or an output that is NaN or infinite; ``epoch`` and ``step`` say where it was."""

    def __init__(self, message: str, epoch: int | None = None, step: int | None = None):
        super().__init__(message)
        self.epoch, self.step = epoch, step


def _positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _tensor(name: str, value) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)  # shares the memory: no copy
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor or a numpy array, got {type(value)}")
    return value


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
        self.scaler: torch.amp.GradScaler | None = None  # float16 autocast only
        self.scaler_device: str | None = None

    def compile(
        self, optimizer="adam", loss="sparse_categorical_crossentropy", metrics=(), autocast=None
    ):
        """Choose the optimizer, loss and metrics, by name or as objects.

        ``autocast`` (``torch.bfloat16`` or ``torch.float16``) runs each forward pass and loss
        under ``torch.autocast`` (chapter 5). Only those: a context left open around the whole
        loop keeps reusing its cached low-precision copies of the weights, so nothing is
        learned. float16 also trains through a ``torch.amp.GradScaler``: without it, gradients
        below about 3e-8 would round to zero in float16.
        """
        if autocast not in AUTOCAST:
            raise ValueError(
                f"autocast must be None, torch.bfloat16 or torch.float16, got {autocast!r}; "
                "float16 trains with a torch.amp.GradScaler, bfloat16 needs none"
            )
        if isinstance(optimizer, str):
            if optimizer.lower() not in OPTIMIZERS:
                raise ValueError(f"unknown optimizer {optimizer!r}; use one of {list(OPTIMIZERS)}")
            name = optimizer.lower()
            lr = 0.01 if name == "sgd" else 0.001  # Keras's defaults
            fused = {"fused": True} if name in FUSED else {}
            optimizer = OPTIMIZERS[name](self.net.parameters(), lr=lr, **fused)
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a name or a torch optimizer, got {optimizer!r}")
        if isinstance(loss, str):
            if loss not in LOSSES:
                raise ValueError(f"unknown loss {loss!r}; use one of {list(LOSSES)} or a callable")
            loss = LOSSES[loss]
        if not callable(loss):
            raise TypeError(f"loss must be a name or a callable, got {loss!r}")
        if getattr(loss, "reduction", "mean") == "none":
            raise ValueError("loss must give one number per batch, not reduction='none'")
        if isinstance(metrics, str):
            raise TypeError(f"metrics must be a list, e.g. [{metrics!r}], not a string")
        unknown = [m for m in metrics if m != "accuracy"]
        if unknown:
            raise ValueError(f"unknown metrics {unknown}; only 'accuracy' is supported")
        self.optimizer, self.loss, self.metrics = optimizer, loss, list(metrics)
        self.autocast = autocast
        self.scaler = self.scaler_device = None  # made by _grad_scaler on a float16 pass

    def _data(self, x, y, name: str = "") -> tuple[torch.Tensor, torch.Tensor]:
        """Check ``x, y`` once, before any work, and against the loss; numpy arrays work."""
        if self.optimizer is None:
            raise RuntimeError("call compile(...) before fit/evaluate")
        where = f"{name}: " if name else ""
        x, y = self._inputs(x, where), _tensor(f"{where}y", y)
        if len(x) != len(y):
            raise ValueError(f"{where}x and y differ in length: {len(x)} inputs, {len(y)} labels")
        got = f"got y of shape {tuple(y.shape)} and dtype {y.dtype}"
        if self.loss is categorical_crossentropy:
            self.net.eval()
            with torch.no_grad():
                classes = self.net(x[:1].to(self._device())).shape[1]
            if y.ndim != 2 or y.shape[1] != classes or not y.is_floating_point():
                raise ValueError(
                    f"{where}categorical_crossentropy needs one-hot rows, floats of shape "
                    f"[N, {classes}] ({classes} classes); {got}. For integer labels use "
                    "'sparse_categorical_crossentropy'"
                )
        if isinstance(self.loss, nn.CrossEntropyLoss) and y.is_floating_point() != (y.ndim == 2):
            raise ValueError(
                f"{where}sparse_categorical_crossentropy needs integer labels of shape [N]; "
                f"{got}. For one-hot rows (as floats) use 'categorical_crossentropy'"
            )
        return x, (y if y.is_floating_point() else y.long())

    def _inputs(self, x, where: str = "") -> torch.Tensor:
        x = _tensor(f"{where}x", x)
        if len(x) == 0:
            raise ValueError(f"{where}x is empty: there is nothing to compute on")
        if not x.is_floating_point():
            raise TypeError(f"{where}x must hold floats (images: x / 255), got {x.dtype}")
        return x.to(next(self.net.parameters()).dtype)  # numpy's float64 -> float32, as Keras

    def _device(self) -> torch.device:
        return next(self.net.parameters()).device

    def _batches(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool):
        device = self._device()
        order = torch.randperm(len(x), device=x.device) if shuffle else None
        for start in range(0, len(x), batch_size):
            if order is None:
                X, Y = x[start : start + batch_size], y[start : start + batch_size]
            else:  # index_select: half the cost of x[idx] for a batch of 32 rows
                idx = order[start : start + batch_size]
                X, Y = x.index_select(0, idx), y.index_select(0, idx)
            yield X.to(device), Y.to(device)

    def _pass_results(self, losses, guesses, labels) -> tuple[torch.Tensor, ...]:
        """The losses stacked, the count of right guesses and the batch sizes of a pass."""
        sizes = torch.tensor([len(Y) for Y in labels], device=losses[0].device)
        losses, labels = torch.stack(losses), torch.cat(labels)
        if labels.ndim == 2:  # one-hot rows
            labels = labels.argmax(dim=1)
        return losses, (torch.cat(guesses) == labels).sum(), sizes

    def _autocast(self, device: torch.device):
        """A step's autocast context (compile's ``autocast``), or one that does nothing."""
        if self.autocast is None:
            return NO_AUTOCAST
        return torch.autocast(device.type, self.autocast)

    def _grad_scaler(self, device: torch.device) -> torch.amp.GradScaler | None:
        """float16 autocast's loss scaler for ``device`` (None without float16).

        It multiplies the loss before ``backward`` so that small gradients survive float16,
        divides them again before the step, and skips a step whose gradients overflowed. A
        fused Adam reads its inf check on the device: no wait for the host at each step.
        """
        if self.autocast != torch.float16:
            return None
        if self.scaler is None or self.scaler_device != device.type:
            self.scaler, self.scaler_device = torch.amp.GradScaler(device.type), device.type
        return self.scaler

    def _run(self, x, y, batch_size: int, train: bool, shuffle: bool = True):
        self.net.train(train)
        device = self._device()
        scaler = self._grad_scaler(device) if train else None
        # Each step keeps its loss, its guesses (argmax) and its labels, all on
        # the device; they are compared and summed once, after the pass. The
        # host waits once per pass, not once per step, and a step's metrics
        # cost one small operation: the argmax.
        losses, guesses, labels = [], [], []
        batches = self._batches(x, y, batch_size, shuffle=train and shuffle)
        with torch.set_grad_enabled(train):
            for X, Y in batches:
                with self._autocast(device):
                    logits = self.net(X)
                    loss = self.loss(logits, Y)
                if train:
                    self.optimizer.zero_grad()
                    if scaler is None:
                        loss.backward()
                        self.optimizer.step()
                    else:  # float16: through the loss scaler (chapter 5)
                        scaler.scale(loss).backward()
                        scaler.step(self.optimizer)
                        scaler.update()
                losses.append(loss.detach())
                guesses.append(logits.detach().argmax(dim=1))
                labels.append(Y)
        losses, correct, sizes = self._pass_results(losses, guesses, labels)
        bad = ~torch.isfinite(losses)
        if bad.any():  # NaN or inf: say at which step it first happened
            step = int(bad.nonzero()[0]) + 1
            loss = float(losses[step - 1])
            message = f"step {step} of {len(losses)}: the loss is {loss}"
            raise NonFiniteError(message, step=step)
        return float((losses * sizes).sum()) / len(y), float(correct) / len(y)

    def _line(self, loss: float, acc: float, prefix: str = "") -> str:
        text = f"{prefix}loss: {loss:.4f}"
        return text + (f" - {prefix}accuracy: {acc:.4f}" if "accuracy" in self.metrics else "")

    def fit(
        self, x, y, epochs=1, batch_size=32, validation_data=None, verbose=1, shuffle=True
    ) -> History:
        """Train for ``epochs``, printing one Keras-like line per epoch; return a History.

        With ``validation_data``, the epoch's validation results follow on a second,
        indented line, so that each printed line fits in 79 characters.

        A NaN or infinite loss stops training with a ``NonFiniteError`` naming the epoch and
        the step, and puts back the weights (and optimizer state) of that epoch's start.
        """
        _positive_int("epochs", epochs)
        _positive_int("batch_size", batch_size)
        x, y = self._data(x, y)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (x_val, y_val)")
            validation_data = self._data(*validation_data, name="validation_data")
        history = History()
        steps = -(-len(x) // batch_size)
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            saved = copy.deepcopy((self.net.state_dict(), self.optimizer.state_dict()))
            results = {}
            try:
                where = ""
                results["loss"], results["accuracy"] = self._run(
                    x, y, batch_size, train=True, shuffle=shuffle
                )
                line = self._line(results["loss"], results["accuracy"])
                if validation_data is not None:
                    where = "validation_data, "
                    val = self._run(*validation_data, batch_size, train=False)
                    results["val_loss"], results["val_accuracy"] = val
                    line += "\n    " + self._line(*val, prefix="val_")
            except NonFiniteError as error:
                self.net.load_state_dict(saved[0])
                self.optimizer.load_state_dict(saved[1])
                raise NonFiniteError(
                    f"fit stopped: {where}epoch {epoch} of {epochs}, {error}. Check the data "
                    "for NaN or inf (torch.isfinite(x).all()), or lower the learning rate. "
                    f"The weights are back to those of the start of epoch {epoch}.",
                    epoch, error.step,
                ) from None  # fmt: skip
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
        _positive_int("batch_size", batch_size)
        x, y = self._data(x, y)
        try:
            loss, acc = self._run(x, y, batch_size, train=False)
        except NonFiniteError as error:
            message = f"evaluate: {error}: the outputs are not finite (NaN or inf in x or weights)"
            raise NonFiniteError(message, step=error.step) from None
        if verbose:
            steps = -(-len(x) // batch_size)
            print(f"{steps}/{steps} - {self._line(loss, acc)}")
        return loss, acc

    def predict(self, x, batch_size: int = 32) -> torch.Tensor:
        """Return the class probabilities (softmax of the outputs), one row per input."""
        _positive_int("batch_size", batch_size)
        x = self._inputs(x)
        self.net.eval()
        device = self._device()
        with torch.no_grad():
            rows = [F.softmax(self.net(x[i : i + batch_size].to(device)), dim=1)
                    for i in range(0, len(x), batch_size)]  # fmt: skip
        probs = torch.cat(rows)
        bad = ~torch.isfinite(probs).all(dim=1)
        if bad.any():
            raise NonFiniteError(f"predict: the outputs of {int(bad.sum())} of {len(x)} inputs "
                                 f"are not finite, the first at row {int(bad.nonzero()[0])} "
                                 "(NaN or inf in x, or in the weights)")  # fmt: skip
        return probs

    def layers(self) -> list[tuple[str, tuple[int, ...], int]]:
        """Return ``(layer type, output shape, parameter count)`` for each top-level layer."""
        rows = []
        device = self._device()
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
