"""Minibatches of Fashion-MNIST straight from tensors in memory (or on the GPU).

torchvision's ``Dataset`` + ``ToTensor`` + ``DataLoader`` turns every image into a PIL
image and back, one at a time; here the whole dataset is one uint8 tensor and a batch
is one indexing operation. Introduced in "The Fashion-MNIST dataset" (chapter 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
from torch.nn import functional as F

from helpers.data import load_fashion_mnist_tensors


class TensorLoader:
    """Iterate over ``(X, y)`` minibatches of uint8 images, as float32 in [0, 1].

    With ``world_size > 1`` each ``rank`` gets its own share of every epoch, like
    ``DistributedSampler``: one permutation drawn from ``seed + epoch`` (the same on every
    rank), padded by repeating indices, then every ``world_size``-th index from ``rank``.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        resize: tuple[int, int] | None = None,
        *,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
    ) -> None:
        for name, value in (("world_size", world_size), ("rank", rank), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        if world_size < 1 or rank >= world_size:
            raise ValueError(
                f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}"
            )
        self.images, self.labels = images, labels
        self.batch_size, self.shuffle, self.resize = batch_size, shuffle, resize
        self.rank, self.world_size, self.seed = rank, world_size, seed
        self.epoch: int | None = None  # None until set_epoch: the global generator shuffles

    def set_epoch(self, epoch: int) -> None:
        """Draw the next shuffles from ``seed + epoch``, the same on every rank."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
        self.epoch = epoch

    def _num_samples(self) -> int:
        return -(-len(self.labels) // self.world_size)  # this rank's share, padded

    def __len__(self) -> int:
        return -(-self._num_samples() // self.batch_size)  # ceiling division

    def _shard(self) -> torch.Tensor:
        """Return this rank's indices for the epoch given to ``set_epoch`` (0 if none)."""
        n = len(self.labels)
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + (self.epoch or 0))
            order = torch.randperm(n, generator=generator)
        else:
            order = torch.arange(n)
        total = self._num_samples() * self.world_size
        if n:
            order = order.repeat(-(-total // n))[:total]  # pad by repeating from the start
        return order[self.rank :: self.world_size].to(self.labels.device)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        if self.world_size > 1 or self.epoch is not None:
            order = self._shard()  # data parallel: this rank's share of the epoch
            n = len(order)
        else:
            # A new order every epoch, drawn from torch's global generator (so seeds work).
            order = torch.randperm(n).to(self.labels.device) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            if order is None:
                X = self.images[start : start + self.batch_size]
                y = self.labels[start : start + self.batch_size]
            else:
                idx = order[start : start + self.batch_size]
                X, y = self.images[idx], self.labels[idx]
            X = X.unsqueeze(1).float().div_(255)
            if self.resize is not None:
                X = F.interpolate(X, size=self.resize, mode="bilinear", antialias=True)
            yield X, y


def _check_batch_size(batch_size: object) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    return batch_size


def _check_resize(resize: object) -> tuple[int, int] | None:
    if resize is None:
        return None
    pair = (resize, resize) if isinstance(resize, int) else resize
    if (
        not isinstance(pair, tuple | list)
        or len(pair) != 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in pair)
    ):
        raise ValueError(f"resize must be a positive int or a pair of them, got {resize!r}")
    return (pair[0], pair[1])


def _check_device(device: object) -> torch.device:
    try:
        device = torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must name a torch device, got {device!r}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} was asked for, but no CUDA GPU is visible")
    return device


def load_data_fashion_mnist(
    batch_size: int,
    resize: int | tuple[int, int] | None = None,
    device: str | torch.device | None = None,
    root: str | Path | None = None,
) -> tuple[TensorLoader, TensorLoader]:
    """Return ``(train_iter, test_iter)`` over Fashion-MNIST, d2l's interface, in memory."""
    batch_size = _check_batch_size(batch_size)
    size = _check_resize(resize)
    device = _check_device(device)
    X_train, y_train, X_test, y_test = load_fashion_mnist_tensors(root)
    on = [t.to(device) for t in (X_train, y_train, X_test, y_test)]
    train_iter = TensorLoader(on[0], on[1], batch_size, shuffle=True, resize=size)
    test_iter = TensorLoader(on[2], on[3], batch_size, shuffle=False, resize=size)
    return train_iter, test_iter
