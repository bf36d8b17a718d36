"""Fault injection for the data layer: each test is a way the data could go silently wrong.

Every test here failed on commit d16629f (before the data layer hashed every file on every
call, wrote through private temporary names, and checked ``TensorLoader``'s arguments).
The real download is never attempted: torchvision's ``FashionMNIST`` is replaced by a fake
that writes files the way torchvision does, from the local real data.
"""

from __future__ import annotations

import gzip
import hashlib
import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision

import helpers.data as hd
from helpers import CorruptDataError, TensorLoader, ensure_fashion_mnist, load_fashion_mnist_tensors

ROOT = Path(__file__).resolve().parent.parent
SMALL = "t10k-labels-idx1-ubyte"  # 10,008 bytes: label i is byte 8 + i
IMAGES = ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte")


@pytest.fixture(autouse=True)
def no_download(monkeypatch):
    """No test here may reach the network: torchvision's class fails unless a test fakes it."""

    class Offline:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("no network in the tests")

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", Offline)


@pytest.fixture
def empty_dir(tmp_path):
    """A system folder with nothing in it (the Debian package not installed)."""
    path = tmp_path / "no-system-copy"
    path.mkdir()
    return path


def make_root(path: Path, real_raw: Path, copy_images: bool = False) -> Path:
    """A root with the four good files: labels copied, images linked (or copied)."""
    raw = path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in hd.FILES:
        if name in IMAGES and not copy_images:
            (raw / name).symlink_to(real_raw / name)
        else:
            shutil.copy2(real_raw / name, raw / name)
    return path


def flip_byte_keep_mtime(path: Path, offset: int) -> None:
    """Change one byte and put the modification time back, to the nanosecond."""
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_size == stat.st_size


def no_sources(monkeypatch):
    """Hide the system copy and the download from calls that use the defaults."""
    monkeypatch.setattr(hd, "_copy_from_system", lambda *args: False)
    monkeypatch.setattr(hd, "_download", lambda raw: False)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def leftovers(raw: Path) -> set[str]:
    """Anything in ``raw`` that is not one of the four data files (temp files, stamps...)."""
    return {p.name for p in raw.iterdir()} - set(hd.FILES) if raw.is_dir() else set()


# ---- 1. a file changed after verification ----------------------------------------------------


def test_flipped_label_with_its_mtime_restored_is_rejected(tmp_path, real_raw, monkeypatch):
    root = make_root(tmp_path / "root", real_raw)
    assert int(load_fashion_mnist_tensors(root)[3][4992]) == 1  # verified once, label 1
    flip_byte_keep_mtime(root / "FashionMNIST" / "raw" / SMALL, 8 + 4992)  # now reads 0
    no_sources(monkeypatch)
    with pytest.raises(CorruptDataError, match=f"{SMALL}: MD5 checksum mismatch"):
        load_fashion_mnist_tensors(root)


def test_flipped_label_with_its_mtime_restored_is_repaired(tmp_path, real_raw, system_dir):
    root = make_root(tmp_path / "root", real_raw)
    ensure_fashion_mnist(root, system_dir=system_dir, download=False)
    path = root / "FashionMNIST" / "raw" / SMALL
    flip_byte_keep_mtime(path, 8 + 4992)
    ensure_fashion_mnist(root, system_dir=system_dir, download=False)
    assert md5(path) == hd.FILES[SMALL][0]


def test_copy_with_kept_times_and_one_flipped_image_byte_is_rejected(tmp_path, real_raw):
    original = make_root(tmp_path / "original", real_raw, copy_images=True)
    ensure_fashion_mnist(original, system_dir=tmp_path, download=False)
    copy = tmp_path / "copy"
    shutil.copytree(original, copy, symlinks=True)  # `cp -a`: contents, times, any stamp
    flip_byte_keep_mtime(copy / "FashionMNIST" / "raw" / IMAGES[1], 16 + 784 * 3 + 400)
    with pytest.raises(CorruptDataError, match=f"{IMAGES[1]}: MD5 checksum mismatch"):
        ensure_fashion_mnist(copy, system_dir=tmp_path, download=False)


# ---- 2. concurrent first use -----------------------------------------------------------------


def _first_use(root: Path, system_dir: Path, barrier) -> None:
    barrier.wait()  # all processes start decompressing at the same moment
    ensure_fashion_mnist(root, system_dir=system_dir, download=False)


@pytest.mark.parametrize("trial", range(10))
def test_four_concurrent_first_users_all_succeed(tmp_path, system_dir, trial):
    fork = multiprocessing.get_context("fork")
    barrier = fork.Barrier(4)
    root = tmp_path / "empty-root"
    procs = [fork.Process(target=_first_use, args=(root, system_dir, barrier)) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0, 0, 0, 0]
    raw = root / "FashionMNIST" / "raw"
    assert {name: md5(raw / name) for name in hd.FILES} == {
        name: digest for name, (digest, _, _) in hd.FILES.items()
    }
    assert leftovers(raw) == set()


# ---- 3. a read-only folder of verified files -------------------------------------------------

_READ_ONLY_PROBE = """
import sys
from pathlib import Path
import helpers.data as hd
root = Path(sys.argv[1])
raw = root / "FashionMNIST" / "raw"
for probe in (raw / "probe", raw / "t10k-labels-idx1-ubyte"):
    try:  # the sandbox must be real: neither a new file nor an old one can be written
        probe.open("ab").close()
    except PermissionError:
        continue
    sys.exit(f"{probe} can be written: this check would mean nothing")
hd.ensure_fashion_mnist(root, system_dir=Path(sys.argv[2]), download=False)
print(int(hd.load_fashion_mnist_tensors(root)[3][4992]))
"""


def test_read_only_folder_of_verified_files_loads(tmp_path, real_raw):
    root = make_root(tmp_path / "shared", real_raw)
    ensure_fashion_mnist(root, system_dir=tmp_path, download=False)  # verified while writable
    raw = root / "FashionMNIST" / "raw"
    before = {p.name: p.lstat().st_mtime_ns for p in raw.iterdir()}
    command = [sys.executable, "-c", _READ_ONLY_PROBE, str(root), str(tmp_path)]
    if os.geteuid() == 0:  # root writes anywhere: drop the capabilities that allow it
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot make a folder read-only")
        command = ["setpriv", "--bounding-set=-dac_override,-fowner", *command]
    files = [path for path in raw.iterdir() if not path.is_symlink()]
    for path in files:
        path.chmod(0o444)  # like a read-only mount: no file and no folder can be written
    for path in (raw, raw.parent, root):
        path.chmod(0o555)
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    finally:
        for path in (raw, raw.parent, root):
            path.chmod(0o755)
        for path in files:
            path.chmod(0o644)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "1"
    assert {p.name: p.lstat().st_mtime_ns for p in raw.iterdir()} == before  # nothing written


# ---- 4. a damaged .gz in the system copy -----------------------------------------------------


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _flipped(data: bytes) -> bytes:
    return data[:2000] + bytes([data[2000] ^ 0xFF]) + data[2001:]


def _not_gzip(data: bytes) -> bytes:
    return b"<html>404 Not Found</html>"


def _wrong_content(data: bytes) -> bytes:  # a valid .gz of the wrong bytes
    inner = bytearray(gzip.decompress(data))
    inner[5000] ^= 0x01
    return gzip.compress(bytes(inner))


@pytest.mark.parametrize("damage", [_truncated, _flipped, _not_gzip, _wrong_content])
def test_damaged_system_gz_is_named_and_leaves_nothing(tmp_path, system_dir, damage):
    system = tmp_path / "system"
    system.mkdir()
    for name in hd.FILES:
        (system / f"{name}.gz").symlink_to(system_dir / f"{name}.gz")
    bad = system / f"{SMALL}.gz"
    bad.unlink()
    bad.write_bytes(damage((system_dir / f"{SMALL}.gz").read_bytes()))
    root = tmp_path / "root"
    with pytest.raises(CorruptDataError) as info:
        ensure_fashion_mnist(root, system_dir=system, download=False)
    assert SMALL in str(info.value) and str(bad) in str(info.value)
    assert "--reinstall dataset-fashion-mnist" in str(info.value)
    raw = root / "FashionMNIST" / "raw"
    assert leftovers(raw) == set() and not (raw / SMALL).exists()


# ---- 5. downloaded files are verified like the others ----------------------------------------


def fake_torchvision(monkeypatch, real_raw, damage: str | None = None):
    """torchvision's FashionMNIST(download=True): skip if the four files exist, else write them."""
    calls = []

    class FakeFashionMNIST:
        def __init__(self, root, train=True, download=False):
            raw = Path(root) / "FashionMNIST" / "raw"
            calls.append(raw)
            if all((raw / name).is_file() for name in hd.FILES):
                return  # torchvision checks that the files exist, nothing more
            raw.mkdir(parents=True, exist_ok=True)
            for name in hd.FILES:
                shutil.copyfile(real_raw / name, raw / name)
            if damage:
                data = bytearray((raw / damage).read_bytes())
                data[5000] ^= 0x01
                (raw / damage).write_bytes(bytes(data))

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", FakeFashionMNIST)
    return calls


def test_download_replaces_a_damaged_file(monkeypatch, tmp_path, real_raw, empty_dir):
    root = make_root(tmp_path / "root", real_raw)
    path = root / "FashionMNIST" / "raw" / SMALL
    flip_byte_keep_mtime(path, 5000)
    calls = fake_torchvision(monkeypatch, real_raw)
    ensure_fashion_mnist(root, system_dir=empty_dir)
    assert calls and md5(path) == hd.FILES[SMALL][0]
    assert leftovers(path.parent) == set()


def test_damaged_download_is_rejected_with_advice_that_fits(
    monkeypatch, tmp_path, real_raw, empty_dir
):
    fake_torchvision(monkeypatch, real_raw, damage=SMALL)
    root = tmp_path / "root"
    with pytest.raises(CorruptDataError) as info:
        ensure_fashion_mnist(root, system_dir=empty_dir)
    message = str(info.value)
    assert SMALL in message and "download" in message and "MD5" in message
    assert "try again" in message  # a damaged download: retrying can help ...
    raw = root / "FashionMNIST" / "raw"
    assert not (raw / SMALL).exists() and leftovers(raw) == set()  # ... nothing damaged is kept


# ---- 6. what one caller does to the tensors, the next caller does not see --------------------


def test_changing_loaded_tensors_does_not_change_the_next_load(real_raw):
    root = real_raw.parent.parent
    X_train, y_train, X_test, y_test = load_fashion_mnist_tensors(root)
    truth = int(y_test[0]), int(X_train[0, 14, 14])
    y_test[0] = 7 if truth[0] != 7 else 3
    X_train[0, 14, 14] += 1
    again = load_fashion_mnist_tensors(root)
    assert (int(again[3][0]), int(again[0][0, 14, 14])) == truth


# ---- 7. TensorLoader checks its arguments before any work ------------------------------------

_IMAGES = torch.zeros(50, 28, 28, dtype=torch.uint8)
_LABELS = torch.zeros(50, dtype=torch.int64)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": -32}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"labels": torch.zeros(100, dtype=torch.int64)}, "50 images but 100 labels"),
        ({"labels": torch.zeros(50, 1, dtype=torch.int64)}, "labels"),
        ({"images": _IMAGES.float() / 255}, "uint8"),
        ({"images": _IMAGES.numpy()}, "images"),
        ({"images": _IMAGES[:, 0]}, "images"),
        ({"resize": 10**6}, "resize"),
        ({"resize": (28, 5000)}, "resize"),
        ({"resize": (0, 28)}, "resize"),
        ({"shuffle": "yes"}, "shuffle"),
    ],
)
def test_tensor_loader_rejects_bad_arguments_at_construction(kwargs, name):
    args = {"images": _IMAGES, "labels": _LABELS, "batch_size": 16, **kwargs}
    with pytest.raises((ValueError, TypeError), match=name):
        TensorLoader(**args)


# ---- 8. the test fixture never downloads -----------------------------------------------------

_TRAP = """
import os
import helpers.data as hd

def _network(*args, **kwargs):
    with open(os.environ["DOWNLOAD_TRAP"], "a") as f:
        f.write("download attempted\\n")
    return False

hd._download = _network
hd._copy_from_system = lambda *args: False  # the Debian package is not installed
"""


def test_real_raw_fixture_never_downloads_and_says_how_to_install(tmp_path):
    (tmp_path / "download_trap.py").write_text(_TRAP)
    trap = tmp_path / "trap.log"
    env = {
        **os.environ,
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}",
        "FASHION_MNIST_ROOT": str(tmp_path / "no-data-here"),
        "DOWNLOAD_TRAP": str(trap),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "download_trap", "-q",
         "-p", "no:xdist", "tests/test_data.py::test_read_idx_reads_the_real_label_file"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert not trap.exists(), "the fixture tried to download"
    assert done.returncode != 0  # no data, no green run
    assert "apt-get install dataset-fashion-mnist" in done.stdout
