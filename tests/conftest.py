"""Shared fixtures for the unit tests of ``helpers``: the real data, loaded once, and figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display in CI; set in-process only, so subprocesses are unaffected

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def real_raw():
    """The verified raw folder of the real Fashion-MNIST (the project's default root)."""
    from helpers.data import ensure_fashion_mnist

    return ensure_fashion_mnist()


@pytest.fixture(scope="session")
def fashion_tensors(real_raw):
    """``(X_train, y_train, X_test, y_test)`` of the real data, read once per process."""
    from helpers.data import load_fashion_mnist_tensors

    return load_fashion_mnist_tensors(real_raw.parent.parent)


@pytest.fixture
def close_figures():
    """Close every matplotlib figure a test opened."""
    yield
    plt.close("all")
