"""helpers.data: where the files are looked for, how they are verified, what is loaded.

Temporary roots hold symlinks to the real image files (never written to) and copies of the
small label files (which the tests damage). The real download is never attempted: an
autouse fixture replaces it with a recorder that fails, as it would without internet.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
import torchvision
from d2l import torch as d2l
from torchvision.transforms import ToTensor

import helpers.data as hd
from helpers import (
    TEXT_LABELS,
    CorruptDataError,
    DataNotFoundError,
    ensure_fashion_mnist,
    fashion_mnist_dataset,
    get_fashion_mnist_labels,
    load_fashion_mnist_tensors,
)

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte")
LABELS = ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte")
SMALL = "t10k-labels-idx1-ubyte"  # the file the tests damage (10,008 bytes)


@pytest.fixture(autouse=True)
def downloads(monkeypatch):
    """Replace torchvision's download by a recorder that fails; return the calls list."""
    calls = []

    def no_internet(raw):
        calls.append(raw)
        return False

    monkeypatch.setattr(hd, "_download", no_internet)
    return calls


@pytest.fixture
def empty_dir(tmp_path):
    """A folder with nothing in it (a system copy that is not installed)."""
    path = tmp_path / "nothing-here"
    path.mkdir()
    return path


def fill_raw(raw: Path, real_raw: Path) -> Path:
    """Put the four files in ``raw``: images as symlinks, labels as copies."""
    raw.mkdir(parents=True, exist_ok=True)
    for name in IMAGES:
        (raw / name).symlink_to(real_raw / name)
    for name in LABELS:
        shutil.copyfile(real_raw / name, raw / name)
    return raw


@pytest.fixture
def fake_root(tmp_path, real_raw):
    """A root whose FashionMNIST/raw holds good files, with no checksum stamp yet."""
    root = tmp_path / "root"
    fill_raw(root / "FashionMNIST" / "raw", real_raw)
    return root


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


# ---- where the data is looked for ------------------------------------------------------


def test_default_root_is_the_checkout_data_folder_without_the_variable(monkeypatch):
    monkeypatch.delenv("FASHION_MNIST_ROOT", raising=False)
    assert hd.default_root() == ROOT / "data"


def test_default_root_follows_the_variable_and_expands_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("FASHION_MNIST_ROOT", "~/fm")
    assert hd.default_root() == tmp_path / "fm"


def test_default_root_of_an_installed_package_is_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("FASHION_MNIST_ROOT", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    site = tmp_path / "site-packages" / "helpers"  # no pyproject.toml above it
    monkeypatch.setattr(hd, "__file__", str(site / "data.py"))
    assert hd.default_root() == tmp_path / "home" / ".cache" / "fashion-mnist"


def test_explicit_root_is_used_and_verified(fake_root, empty_dir, downloads):
    raw = ensure_fashion_mnist(root=fake_root, system_dir=empty_dir)
    assert raw == fake_root / "FashionMNIST" / "raw"
    assert {p.name for p in raw.iterdir()} == set(hd.FILES)  # nothing written beside them
    assert downloads == []


def test_explicit_root_wins_over_the_variable(monkeypatch, fake_root, tmp_path, empty_dir):
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("FASHION_MNIST_ROOT", str(elsewhere))
    assert ensure_fashion_mnist(root=fake_root, system_dir=empty_dir).parent.parent == fake_root
    assert not elsewhere.exists()


def test_variable_is_used_when_no_root_is_given(monkeypatch, fake_root, empty_dir, downloads):
    monkeypatch.setenv("FASHION_MNIST_ROOT", str(fake_root))
    assert ensure_fashion_mnist(system_dir=empty_dir) == fake_root / "FashionMNIST" / "raw"
    assert downloads == []


def test_project_cache_is_used_without_root_or_variable(monkeypatch, real_raw, empty_dir):
    monkeypatch.delenv("FASHION_MNIST_ROOT", raising=False)
    if real_raw != ROOT / "data" / "FashionMNIST" / "raw":
        pytest.skip("this run keeps the data outside the checkout (FASHION_MNIST_ROOT)")
    assert ensure_fashion_mnist(system_dir=empty_dir, download=False) == real_raw


def test_system_copy_is_decompressed_into_an_empty_root(tmp_path, system_dir, downloads):
    raw = ensure_fashion_mnist(root=tmp_path / "new", system_dir=system_dir)
    assert raw == tmp_path / "new" / "FashionMNIST" / "raw"
    for name, (digest, _, _) in hd.FILES.items():
        assert (raw / name).is_file() and not (raw / name).is_symlink()
        assert md5(raw / name) == digest
    assert {p.name for p in raw.iterdir()} == set(hd.FILES)  # no temporary file left
    assert downloads == []


def test_download_is_the_last_resort(monkeypatch, tmp_path, empty_dir, real_raw):
    calls = []

    def fake_download(raw):
        calls.append(raw)
        fill_raw(raw, real_raw)
        return True

    monkeypatch.setattr(hd, "_download", fake_download)
    raw = ensure_fashion_mnist(root=tmp_path / "r", system_dir=empty_dir)
    assert raw == tmp_path / "r" / "FashionMNIST" / "raw"
    assert len(calls) == 1 and calls[0].is_relative_to(raw)  # into a fresh folder inside raw
    assert {p.name for p in raw.iterdir()} == set(hd.FILES)  # verified, moved in, cleaned up


def test_download_false_never_downloads(tmp_path, empty_dir, downloads):
    with pytest.raises(DataNotFoundError):
        ensure_fashion_mnist(root=tmp_path / "r", system_dir=empty_dir, download=False)
    assert downloads == []


def test_no_source_raises_data_not_found_naming_three_ways(tmp_path, empty_dir, downloads):
    with pytest.raises(DataNotFoundError) as info:
        ensure_fashion_mnist(root=tmp_path / "r", system_dir=empty_dir)
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert str(tmp_path / "r" / "FashionMNIST" / "raw") in message
    assert "apt-get install dataset-fashion-mnist" in message  # (1) the Debian package
    assert "FASHION_MNIST_ROOT" in message and "root=" in message  # (2) your own copy
    assert "internet" in message and "torchvision" in message  # (3) the download
    assert len(downloads) == 1  # the download was tried before giving up


def test_torchvision_download_is_called_for_both_splits(monkeypatch, tmp_path):
    calls = []

    class FakeFashionMNIST:
        def __init__(self, root, train, download):
            calls.append((root, train, download))

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", FakeFashionMNIST)
    raw = tmp_path / "r" / "FashionMNIST" / "raw"
    assert _real_download(raw) is True
    assert calls == [(str(tmp_path / "r"), True, True), (str(tmp_path / "r"), False, True)]


def test_torchvision_download_failure_returns_false(monkeypatch, tmp_path):
    class OfflineFashionMNIST:
        def __init__(self, root, train, download):
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", OfflineFashionMNIST)
    assert _real_download(tmp_path / "r" / "FashionMNIST" / "raw") is False


_real_download = hd._download  # kept before the autouse fixture replaces it


# ---- damaged files ------------------------------------------------------------------------


def test_flipped_byte_is_reported_without_a_source(fake_root, empty_dir):
    flip_byte(fake_root / "FashionMNIST" / "raw" / SMALL, 5000)
    with pytest.raises(CorruptDataError, match=f"{SMALL}: MD5 checksum mismatch") as info:
        ensure_fashion_mnist(root=fake_root, system_dir=empty_dir)
    assert "apt-get install dataset-fashion-mnist" in str(info.value)


def test_flipped_byte_is_refetched_from_the_system_copy(fake_root, system_dir, tmp_path):
    raw = fake_root / "FashionMNIST" / "raw"
    flip_byte(raw / SMALL, 5000)
    only_that_file = tmp_path / "system-one-file"  # proves only the bad file is fetched
    only_that_file.mkdir()
    (only_that_file / f"{SMALL}.gz").symlink_to(system_dir / f"{SMALL}.gz")
    assert ensure_fashion_mnist(root=fake_root, system_dir=only_that_file) == raw
    assert md5(raw / SMALL) == hd.FILES[SMALL][0]


def test_truncated_file_is_reported_with_its_size(fake_root, empty_dir):
    path = fake_root / "FashionMNIST" / "raw" / SMALL
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CorruptDataError, match="5000 bytes, expected 10008"):
        ensure_fashion_mnist(root=fake_root, system_dir=empty_dir)


def test_truncated_file_is_refetched_from_the_system_copy(fake_root, system_dir):
    path = fake_root / "FashionMNIST" / "raw" / SMALL
    path.write_bytes(path.read_bytes()[:5000])
    ensure_fashion_mnist(root=fake_root, system_dir=system_dir)
    assert path.stat().st_size == 10008 and md5(path) == hd.FILES[SMALL][0]


def test_wrong_magic_number_is_reported(fake_root, empty_dir):
    path = fake_root / "FashionMNIST" / "raw" / SMALL
    data = bytearray(path.read_bytes())
    data[:4] = (2051).to_bytes(4, "big")  # an image file's magic on a label file
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptDataError, match="magic number 2051, expected 2049"):
        ensure_fashion_mnist(root=fake_root, system_dir=empty_dir)


def test_one_missing_file_among_good_ones_is_not_found(fake_root, empty_dir):
    (fake_root / "FashionMNIST" / "raw" / SMALL).unlink()
    with pytest.raises(DataNotFoundError):
        ensure_fashion_mnist(root=fake_root, system_dir=empty_dir)


def test_truncation_after_verification_is_still_caught(fake_root, empty_dir):
    ensure_fashion_mnist(root=fake_root, system_dir=empty_dir)  # stamps all four files
    path = fake_root / "FashionMNIST" / "raw" / SMALL
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(CorruptDataError, match="10007 bytes"):
        ensure_fashion_mnist(root=fake_root, system_dir=empty_dir)


def test_root_that_is_a_file_is_a_value_error_naming_it(tmp_path):
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="root must be a folder") as info:
        ensure_fashion_mnist(root=a_file)
    assert str(a_file) in str(info.value)


# ---- every call checks every byte -------------------------------------------------------------


@pytest.fixture
def hashed(monkeypatch):
    """Record how many bytes the data layer hashes."""
    sizes = []
    real_md5 = hashlib.md5

    def counting_md5(data=b"", **kwargs):
        sizes.append(len(data))
        return real_md5(data, **kwargs)

    monkeypatch.setattr(hd.hashlib, "md5", counting_md5)
    return sizes


def test_every_call_hashes_all_four_files(fake_root, empty_dir, hashed):
    for _ in range(2):
        ensure_fashion_mnist(root=fake_root, system_dir=empty_dir)
    assert sum(hashed) == 2 * (47040016 + 60008 + 7840016 + 10008)


def test_same_size_edit_after_verification_is_caught(fake_root, empty_dir):
    ensure_fashion_mnist(root=fake_root, system_dir=empty_dir)
    path = fake_root / "FashionMNIST" / "raw" / SMALL
    stat = path.stat()
    flip_byte(path, 5000)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the same size and time as before
    with pytest.raises(CorruptDataError, match="MD5"):
        ensure_fashion_mnist(root=fake_root, system_dir=empty_dir)


def test_a_stamp_from_the_old_data_layer_is_ignored(fake_root, empty_dir):
    raw = fake_root / "FashionMNIST" / "raw"
    stat = (raw / SMALL).stat()
    (raw / ".verified.json").write_text(json.dumps({SMALL: [stat.st_size, stat.st_mtime_ns]}))
    flip_byte(raw / SMALL, 5000)
    os.utime(raw / SMALL, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(CorruptDataError, match="MD5"):
        ensure_fashion_mnist(root=fake_root, system_dir=empty_dir)


# ---- what is loaded ---------------------------------------------------------------------------


def test_tensors_have_the_documented_shapes_dtypes_and_labels(fashion_tensors):
    X_train, y_train, X_test, y_test = fashion_tensors
    assert X_train.shape == (60000, 28, 28) and X_test.shape == (10000, 28, 28)
    assert X_train.dtype == X_test.dtype == torch.uint8
    assert y_train.dtype == y_test.dtype == torch.int64
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert int(y_train.min()) == 0 and int(y_train.max()) == 9
    assert torch.bincount(y_train).tolist() == [6000] * 10  # Fashion-MNIST is balanced
    assert torch.bincount(y_test).tolist() == [1000] * 10
    assert int(X_train.max()) == 255 and int(X_train.min()) == 0


@pytest.mark.parametrize("train", [True, False], ids=["train", "test"])
def test_tensors_equal_what_torchvision_reads(fashion_tensors, real_raw, train):
    X_train, y_train, X_test, y_test = fashion_tensors
    ref = torchvision.datasets.FashionMNIST(root=str(real_raw.parent.parent), train=train)
    assert torch.equal(ref.data, X_train if train else X_test)
    assert torch.equal(ref.targets, y_train if train else y_test)


def test_every_load_returns_new_tensors(fashion_tensors, real_raw):
    again = load_fashion_mnist_tensors(real_raw.parent.parent)
    assert all(
        a is not b and torch.equal(a, b) for a, b in zip(again, fashion_tensors, strict=True)
    )
    assert all(a.data_ptr() != b.data_ptr() for a, b in zip(again, fashion_tensors, strict=True))


def test_load_repairs_a_damaged_file_from_the_system_copy(fake_root, system_dir, monkeypatch):
    path = fake_root / "FashionMNIST" / "raw" / SMALL
    flip_byte(path, 8 + 4992)
    real_ensure = hd.ensure_fashion_mnist
    monkeypatch.setattr(hd, "ensure_fashion_mnist", lambda root: real_ensure(root, system_dir))
    assert int(load_fashion_mnist_tensors(fake_root)[3][4992]) == 1
    assert md5(path) == hd.FILES[SMALL][0]


def test_file_changed_between_repair_and_read_is_reported(fake_root, monkeypatch):
    flip_byte(fake_root / "FashionMNIST" / "raw" / SMALL, 5000)
    monkeypatch.setattr(
        hd, "ensure_fashion_mnist", lambda root: Path(root) / "FashionMNIST" / "raw"
    )
    with pytest.raises(CorruptDataError, match=f"{SMALL} in .* changed while being read"):
        load_fashion_mnist_tensors(fake_root)


def test_load_tensors_from_an_explicit_root(fake_root, fashion_tensors):
    loaded = load_fashion_mnist_tensors(fake_root)
    assert all(torch.equal(a, b) for a, b in zip(loaded, fashion_tensors, strict=True))


def test_read_idx_reads_a_hand_made_file(tmp_path):
    values = torch.arange(24, dtype=torch.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (2, 3, 4))
    (tmp_path / "tiny-idx3-ubyte").write_bytes(header + bytes(values.flatten().tolist()))
    read = hd.read_idx(tmp_path / "tiny-idx3-ubyte")
    assert read.dtype == torch.uint8 and torch.equal(read, values)


def test_read_idx_reads_the_real_label_file(real_raw, fashion_tensors):
    labels = hd.read_idx(real_raw / SMALL)
    assert labels.shape == (10000,) and labels.dtype == torch.uint8
    assert torch.equal(labels.long(), fashion_tensors[3])


def test_dataset_is_torchvisions_on_the_verified_files(real_raw, fashion_tensors):
    test_set = fashion_mnist_dataset(train=False, transform=ToTensor(), root=real_raw.parent.parent)
    assert isinstance(test_set, torchvision.datasets.FashionMNIST) and len(test_set) == 10000
    image, label = test_set[7]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert torch.equal(image[0], fashion_tensors[2][7].float() / 255)
    assert label == int(fashion_tensors[3][7])
    assert len(fashion_mnist_dataset(train=True, root=real_raw.parent.parent)) == 60000


def test_text_labels_match_d2l(fashion_tensors):
    assert list(TEXT_LABELS) == d2l.get_fashion_mnist_labels(range(10))
    y = fashion_tensors[3][:50]
    assert get_fashion_mnist_labels(y) == d2l.get_fashion_mnist_labels(y)
    assert get_fashion_mnist_labels([0, 9]) == ["t-shirt", "ankle boot"]
