"""helpers.plotting: what each figure shows (titles, labels, colours, counts), on the real data."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgba

from helpers import (
    TEXT_LABELS,
    ascii_art,
    confusion_matrix,
    plot_confusion_matrix,
    plot_history,
    plot_image,
    plot_value_array,
    show_images,
)

pytestmark = pytest.mark.usefixtures("close_figures")


def test_show_images_sets_titles_and_hides_unused_axes(fashion_tensors):
    X, y = fashion_tensors[0][:5], fashion_tensors[1][:5]
    titles = [TEXT_LABELS[int(i)] for i in y]
    axes = show_images(X, 2, 3, titles=titles)
    assert axes.shape == (6,)
    assert [ax.get_title() for ax in axes[:5]] == titles
    assert axes[5].get_title() == "" and not axes[5].images
    assert all(len(ax.images) == 1 for ax in axes[:5])
    assert np.array_equal(axes[0].images[0].get_array(), X[0].numpy())
    assert all(not ax.axison for ax in axes)


def test_show_images_accepts_arrays_and_fewer_titles(fashion_tensors):
    imgs = [fashion_tensors[2][i].numpy() for i in range(3)]
    axes = show_images(imgs, 1, 3, titles=["only one"])
    assert [ax.get_title() for ax in axes] == ["only one", "", ""]
    assert all(len(ax.images) == 1 for ax in axes)


def test_ascii_art_is_28_lines_of_56_chars_and_darkest_pixels_dense(fashion_tensors):
    image = fashion_tensors[0][0]
    text = ascii_art(image)
    lines = text.split("\n")
    assert len(lines) == 28 and all(len(line) == 56 for line in lines)
    row, col = divmod(int(image.argmax()), 28)
    assert lines[row][2 * col : 2 * col + 2] == "@@"
    row, col = divmod(int(image.argmin()), 28)
    assert lines[row][2 * col : 2 * col + 2] == "  "
    assert ascii_art(image.unsqueeze(0).float() / 255) == text  # [1, 28, 28] and scale-free


def test_ascii_art_rejects_a_batch(fashion_tensors):
    with pytest.raises(ValueError, match="2-D"):
        ascii_art(fashion_tensors[0][:2])


def test_plot_history_draws_one_labelled_line_per_metric():
    history = {
        "train loss": [0.9, 0.6, 0.5],
        "train acc": [0.6, 0.7, 0.8],
        "test acc": [0.5, 0.7, 0.75],
    }
    ax = plot_history(history, xlabel="epoch")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == list(history)
    for line, values in zip(lines, history.values(), strict=True):
        assert list(line.get_xdata()) == [1, 2, 3]
        assert list(line.get_ydata()) == values
    assert ax.get_xlabel() == "epoch"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(history)


def test_plot_history_draws_on_a_given_axes():
    _, ax = plt.subplots()
    assert plot_history({"loss": [1.0, 0.5]}, xlabel="step", ax=ax) is ax
    assert ax.get_xlabel() == "step" and len(ax.get_lines()) == 1


def probs_for(pred: int, p: float) -> torch.Tensor:
    probs = torch.full((10,), (1 - p) / 9)
    probs[pred] = p
    return probs


def test_plot_image_right_prediction_is_blue_with_its_percentage(fashion_tensors):
    img, label = fashion_tensors[2][0], int(fashion_tensors[3][0])
    _, ax = plt.subplots()
    plot_image(probs_for(label, 0.87), label, img, ax=ax)
    xlabel = ax.xaxis.get_label()
    assert xlabel.get_text() == f"{TEXT_LABELS[label]} 87% ({TEXT_LABELS[label]})"
    assert to_rgba(xlabel.get_color()) == to_rgba("tab:blue")
    assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    assert ax.images[0].get_array().shape == (28, 28)


def test_plot_image_wrong_prediction_is_red_and_names_both_classes(fashion_tensors):
    img, label = fashion_tensors[2][0], int(fashion_tensors[3][0])
    wrong = (label + 1) % 10
    plt.figure()
    plot_image(probs_for(wrong, 0.6), label, img)  # draws on the current axes
    xlabel = plt.gca().xaxis.get_label()
    assert xlabel.get_text() == f"{TEXT_LABELS[wrong]} 60% ({TEXT_LABELS[label]})"
    assert to_rgba(xlabel.get_color()) == to_rgba("tab:red")


@pytest.mark.parametrize(("pred", "true"), [(3, 7), (4, 4)], ids=["wrong", "right"])
def test_plot_value_array_colours_predicted_red_true_blue_others_grey(pred, true):
    _, ax = plt.subplots()
    probs = probs_for(pred, 0.7)
    plot_value_array(probs, true, ax=ax)
    bars = ax.patches
    assert len(bars) == 10
    assert [b.get_height() for b in bars] == pytest.approx(probs.tolist())
    for i, bar in enumerate(bars):
        if i == true:
            expected = "tab:blue"
        elif i == pred:
            expected = "tab:red"
        else:
            expected = "#777777"
        assert to_rgba(bar.get_facecolor()) == to_rgba(expected), i
    assert ax.get_ylim() == (0, 1)


def test_confusion_matrix_matches_a_hand_count(fashion_tensors):
    y_true = fashion_tensors[3][:2000]
    y_pred = torch.roll(y_true, 1)  # real labels, shifted: plenty of mistakes
    matrix = confusion_matrix(y_true, y_pred)
    expected = torch.zeros(10, 10, dtype=torch.int64)
    for t, p in zip(y_true.tolist(), y_pred.tolist(), strict=True):
        expected[t, p] += 1
    assert matrix.dtype == torch.int64 and matrix.shape == (10, 10)
    assert torch.equal(matrix, expected)
    assert int(matrix.sum()) == 2000
    assert torch.equal(matrix.sum(dim=1), torch.bincount(y_true, minlength=10))
    assert torch.equal(
        confusion_matrix(y_true, y_true), torch.diag(torch.bincount(y_true, minlength=10))
    )


def test_plot_confusion_matrix_writes_every_count_and_the_labels(fashion_tensors):
    y_true = fashion_tensors[3][:500]
    matrix = confusion_matrix(y_true, torch.roll(y_true, 3))
    ax = plot_confusion_matrix(matrix)
    texts = {
        (round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts
    }
    assert len(ax.texts) == 100
    assert texts == {(i, j): str(int(matrix[i, j])) for i in range(10) for j in range(10)}
    assert [t.get_text() for t in ax.get_xticklabels()] == list(TEXT_LABELS)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(TEXT_LABELS)
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    top = max(ax.texts, key=lambda t: int(t.get_text()))
    assert to_rgba(top.get_color()) == to_rgba("white")
