"""Figures for the course: image grids, training curves, predictions, confusion matrices.

d2l 1.0.3's ``show_images`` fails on a 1x1 grid and draws grey images in colour, so the
course has its own (grey, any grid, fewer titles than images). Introduced in chapter 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from helpers.data import TEXT_LABELS

CORRECT, WRONG = "tab:blue", "tab:red"


def show_images(
    imgs: torch.Tensor | Sequence,
    num_rows: int,
    num_cols: int,
    titles: Sequence[str] | None = None,
    scale: float = 1.5,
) -> np.ndarray:
    """Plot a grid of images with optional titles; return the axes."""
    figsize = (num_cols * scale, num_rows * scale)
    _, axes = plt.subplots(num_rows, num_cols, figsize=figsize, squeeze=False)
    axes = axes.flatten()
    for i, (ax, img) in enumerate(zip(axes, imgs, strict=False)):
        img = img.detach().cpu().numpy() if torch.is_tensor(img) else np.asarray(img)
        ax.imshow(img, cmap="gray_r" if img.ndim == 2 else None)
        ax.axis("off")
        if titles is not None and i < len(titles):
            ax.set_title(titles[i], fontsize=9)
    for ax in axes[len(imgs) :]:
        ax.axis("off")
    plt.tight_layout()
    return axes


def ascii_art(image: torch.Tensor, chars: str = " .:-=+*#%@") -> str:
    """Return a 2-D image as text, one character per pixel, darker pixels denser."""
    image = image.detach().cpu().float().squeeze()
    if image.ndim != 2:
        raise ValueError(f"ascii_art needs one 2-D image, got shape {tuple(image.shape)}")
    scaled = (image - image.min()) / max(float(image.max() - image.min()), 1e-12)
    idx = (scaled * (len(chars) - 1)).round().long()
    return "\n".join("".join(chars[i] * 2 for i in row) for row in idx.tolist())


def plot_history(
    history: dict[str, list[float]], xlabel: str = "epoch", ax: plt.Axes | None = None
) -> plt.Axes:
    """Plot every curve of a history dict (e.g. loss and accuracies) against the epoch."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3))
    for name, values in history.items():
        ax.plot(range(1, len(values) + 1), values, marker=".", label=name)
    ax.set_xlabel(xlabel)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax


def plot_image(probs: torch.Tensor, true_label: int, img: torch.Tensor, ax=None) -> None:
    """Show one image titled "predicted NN% (true)": blue when right, red when wrong."""
    ax = ax or plt.gca()
    pred = int(probs.argmax())
    ax.imshow(img.detach().cpu().squeeze().numpy(), cmap=plt.cm.binary)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(
        f"{TEXT_LABELS[pred]} {100 * float(probs.max()):2.0f}% ({TEXT_LABELS[true_label]})",
        color=CORRECT if pred == true_label else WRONG,
    )


def plot_value_array(probs: torch.Tensor, true_label: int, ax=None) -> None:
    """Bar chart of the ten class probabilities: predicted bar red, true bar blue."""
    ax = ax or plt.gca()
    bars = ax.bar(range(10), probs.detach().cpu().numpy(), color="#777777")
    ax.set_ylim(0, 1)
    ax.set_xticks(range(10))
    ax.set_yticks([])
    bars[int(probs.argmax())].set_color(WRONG)
    bars[true_label].set_color(CORRECT)


def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int = 10):
    """Return the ``[true, predicted]`` count matrix as an int64 tensor."""
    flat = y_true.long().cpu() * num_classes + y_pred.long().cpu()
    return torch.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes)


def plot_confusion_matrix(matrix: torch.Tensor, labels: Sequence[str] = TEXT_LABELS):
    """Draw a confusion matrix with its counts written in the cells; return the axes."""
    _, ax = plt.subplots(figsize=(6.5, 5.5))
    ax.imshow(matrix.numpy(), cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = int(matrix.max())
    for (i, j), count in np.ndenumerate(matrix.numpy()):
        ax.text(j, i, count, ha="center", va="center", fontsize=7,
                color="white" if count > top / 2 else "black")  # fmt: skip
    plt.tight_layout()
    return ax
