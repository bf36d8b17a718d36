"""Shared fixtures for the unit tests of ``helpers``: the real data, loaded once, and figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display in CI; set in-process only, so subprocesses are unaffected

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def real_raw():
    """The verified raw folder of the real Fashion-MNIST (the project's default root).

    Never downloads: the tests run offline, on data installed beforehand.
    """
    from helpers.data import (
        SYSTEM_DIR,
        CorruptDataError,
        DataNotFoundError,
        default_root,
        ensure_fashion_mnist,
    )

    try:
        return ensure_fashion_mnist(download=False)
    except (DataNotFoundError, CorruptDataError) as err:
        found = f" ({err})" if isinstance(err, CorruptDataError) else ""
        pytest.fail(
            f"The tests need the real Fashion-MNIST, and they never download it. None was "
            f"usable in {default_root()} or {SYSTEM_DIR}{found}. Install it with "
            "`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or put the four "
            "IDX files in ROOT/FashionMNIST/raw/ and set FASHION_MNIST_ROOT=ROOT.",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def system_dir(real_raw, tmp_path_factory):
    """Debian's folder of .gz files, or (where the package is absent) a gzipped copy."""
    import gzip
    import shutil

    import helpers.data as hd

    if all((hd.SYSTEM_DIR / f"{name}.gz").is_file() for name in hd.FILES):
        return hd.SYSTEM_DIR
    folder = tmp_path_factory.mktemp("system")
    for name in hd.FILES:
        with (real_raw / name).open("rb") as fin, gzip.open(folder / f"{name}.gz", "wb", 1) as f:
            shutil.copyfileobj(fin, f)
    return folder


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


# The slowest modules first (their summed test times in a clean-clone run, most first).
# `make test` runs pytest-xdist with `--dist loadscope --no-loadscope-reorder`: each module
# goes whole to one worker, in this order, so a long module never starts last while the
# other worker has nothing left. Only the order changes; a module not listed runs after.
SLOWEST_FIRST = (
    "chapters/04_keras_mlp.ipynb",
    "tests/test_site_browser_zh.py",
    "tests/test_site_browser.py",
    "tests/test_data_parallel.py",
    "chapters/06_data_parallel.ipynb",
    "tests/test_colab.py",
    "tests/test_faults_data.py",
)


def pytest_collection_modifyitems(config, items):
    """Put the modules of ``SLOWEST_FIRST`` first, in its order; keep each module's order."""

    def rank(item) -> int:
        module = item.nodeid.split("::", 1)[0]
        return SLOWEST_FIRST.index(module) if module in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)  # a stable sort: the tests of a module keep their order
