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

MAX_SIZE = 4096  # the largest resize side: 60,000 images of 4096 x 4096 floats are already 4 TB


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
        resize: int | tuple[int, int] | None = None,
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
        _check_tensors(images, labels)
        if not isinstance(shuffle, bool):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
        self.images, self.labels = images, labels
        self.batch_size, self.shuffle = _check_batch_size(batch_size), shuffle
        self.resize = _check_resize(resize)
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
            order = self._shard()  # data parallel: this rank's share
            n = len(order)
        else:
            # A new order each epoch (torch's global generator: seeds work).
            order = None
            if self.shuffle:
                order = torch.randperm(n).to(self.labels.device)
        for start in range(0, n, self.batch_size):
            if order is None:
                X = self.images[start : start + self.batch_size]
                y = self.labels[start : start + self.batch_size]
            else:
                idx = order[start : start + self.batch_size]
                X, y = self.images[idx], self.labels[idx]
            X = X.unsqueeze(1).float().div_(255)
            if size := self.resize:  # bilinear with antialiasing, as PIL
                X = F.interpolate(X, size, mode="bilinear", antialias=True)
            yield X, y


def _check_tensors(images: object, labels: object) -> None:
    if not isinstance(images, torch.Tensor) or images.dim() != 3:
        raise TypeError(f"images must be a tensor [N, H, W], got {_describe(images)}")
    if images.dtype != torch.uint8:
        raise TypeError(
            f"images must be uint8 (0..255; batches are divided by 255), got {images.dtype}"
        )
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1:
        raise TypeError(f"labels must be a tensor [N], got {_describe(labels)}")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels: they must pair up")
    if images.device != labels.device:
        raise ValueError(f"images on {images.device} but labels on {labels.device}")


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return type(value).__name__


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
        or not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 < s <= MAX_SIZE for s in pair
        )
    ):
        raise ValueError(
            f"resize must be an int in 1..{MAX_SIZE} or a pair of them, got {resize!r}"
        )
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
    return _train_and_held_out(load_fashion_mnist_tensors(root), batch_size, size, device)


def _train_and_held_out(
    tensors: tuple[torch.Tensor, ...], batch_size: int, size, device: torch.device
) -> tuple[TensorLoader, TensorLoader]:
    """``(X, y, X_held_out, y_held_out)`` on ``device`` as a shuffled and an ordered loader."""
    X, y, X_held, y_held = (t.to(device) for t in tensors)
    return (
        TensorLoader(X, y, batch_size, shuffle=True, resize=size),
        TensorLoader(X_held, y_held, batch_size, shuffle=False, resize=size),
    )


def split_train_valid(
    images: torch.Tensor, labels: torch.Tensor, valid_size: int = 10_000, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split training tensors into ``(X_train, y_train, X_valid, y_valid)``: a seeded draw."""
    _check_tensors(images, labels)
    n = len(labels)
    if isinstance(valid_size, bool) or not isinstance(valid_size, int) or not 0 < valid_size < n:
        raise ValueError(f"valid_size must be an int between 1 and {n - 1}, got {valid_size!r}")
    # A fixed permutation (its own generator): every chapter holds out the same images.
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    train, valid = order[valid_size:].to(labels.device), order[:valid_size].to(labels.device)
    return images[train], labels[train], images[valid], labels[valid]


def load_data_fashion_mnist_valid(
    batch_size: int,
    valid_size: int = 10_000,
    resize: int | tuple[int, int] | None = None,
    device: str | torch.device | None = None,
    root: str | Path | None = None,
) -> tuple[TensorLoader, TensorLoader]:
    """Return ``(train_iter, valid_iter)``: the training set split for choosing settings."""
    batch_size = _check_batch_size(batch_size)
    size = _check_resize(resize)
    device = _check_device(device)
    X_train, y_train, _, _ = load_fashion_mnist_tensors(root)
    split = split_train_valid(X_train, y_train, valid_size)
    return _train_and_held_out(split, batch_size, size, device)
