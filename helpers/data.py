"""Fashion-MNIST on disk and in memory: find it, verify it, load it as tensors.

The search order for the four IDX files (torchvision's layout, ``FashionMNIST/raw/``):

1. ``root=`` or the ``FASHION_MNIST_ROOT`` environment variable, else the project cache
   (``data/`` in a checkout, ``~/.cache/fashion-mnist`` for an installed package);
2. the copy from Debian's ``dataset-fashion-mnist`` package, decompressed into that root;
3. torchvision's download (Colab, or any machine with internet).

Introduced in the chapter "The Fashion-MNIST dataset" (``chapters/01_dataset.py``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import shutil
from pathlib import Path

import torch

SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
TEXT_LABELS = (
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
)  # fmt: skip

# MD5 of each decompressed file, and what its IDX header must say.
FILES = {
    "train-images-idx3-ubyte": ("f4a8712d7a061bf5bd6d2ca38dc4d50a", 2051, (60000, 28, 28)),
    "train-labels-idx1-ubyte": ("9018921c3c673c538a1fc5bad174d6f9", 2049, (60000,)),
    "t10k-images-idx3-ubyte": ("8181f5470baa50b63fa0f6fddb340f0a", 2051, (10000, 28, 28)),
    "t10k-labels-idx1-ubyte": ("15d484375f8d13e6eb1aabb0c3f46965", 2049, (10000,)),
}
STAMP = ".verified.json"  # remembers the checksums already verified (size, mtime, md5)


class DataNotFoundError(FileNotFoundError):
    """Raised when Fashion-MNIST is in none of the places the data layer knows."""


class CorruptDataError(ValueError):
    """Raised when a Fashion-MNIST file is truncated or does not match its checksum."""


def default_root() -> Path:
    """Return the root from ``FASHION_MNIST_ROOT``, else the project's cache folder."""
    if os.environ.get("FASHION_MNIST_ROOT"):
        return Path(os.environ["FASHION_MNIST_ROOT"]).expanduser()
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file():
        return checkout / "data"
    return Path.home() / ".cache" / "fashion-mnist"


def _raw_dir(root: str | Path | None) -> Path:
    root = default_root() if root is None else Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise ValueError(f"root must be a folder, but {str(root)!r} is a file")
    return root / "FashionMNIST" / "raw"


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_file(path: Path, stamps: dict) -> str | None:
    """Return None if ``path`` is the right file, else what is wrong with it."""
    md5, magic, shape = FILES[path.name]
    if not path.is_file():
        return "missing"
    size = 4 + 4 * len(shape) + math.prod(shape)  # magic, one int32 per dimension, pixels
    stat = path.stat()
    if stat.st_size != size:
        return f"{stat.st_size} bytes, expected {size} (truncated or not Fashion-MNIST)"
    with path.open("rb") as f:
        found = int.from_bytes(f.read(4), "big")
    if found != magic:
        return f"IDX magic number {found}, expected {magic}"
    key = [stat.st_size, stat.st_mtime_ns]
    if stamps.get(path.name) == key:
        return None  # verified before and unchanged since
    if _md5(path) != md5:
        return "MD5 checksum mismatch (corrupt file)"
    stamps[path.name] = key
    return None


def _problems(raw: Path) -> dict[str, str]:
    """Check the four files in ``raw``; remember the good ones; return the bad ones."""
    stamp_file = raw / STAMP
    try:
        stamps = json.loads(stamp_file.read_text()) if stamp_file.is_file() else {}
    except (OSError, ValueError):
        stamps = {}
    problems = {}
    for name in FILES:
        problem = _check_file(raw / name, stamps)
        if problem:
            problems[name] = problem
            stamps.pop(name, None)
    if raw.is_dir():
        stamp_file.write_text(json.dumps(stamps, indent=1))
    return problems


def _copy_from_system(raw: Path, system_dir: Path, names: list[str]) -> bool:
    """Decompress the Debian copy of ``names`` into ``raw``; False if it is not there."""
    sources = [system_dir / f"{name}.gz" for name in names]
    if not all(src.is_file() for src in sources):
        return False
    raw.mkdir(parents=True, exist_ok=True)
    for src in sources:
        tmp = raw / (src.stem + ".part")
        with gzip.open(src, "rb") as fin, tmp.open("wb") as fout:
            shutil.copyfileobj(fin, fout)
        tmp.replace(raw / src.stem)
    return True


def _download(raw: Path) -> bool:
    """Download with torchvision into ``raw``'s root; False if that fails (no internet)."""
    from torchvision.datasets import FashionMNIST

    try:
        FashionMNIST(root=str(raw.parent.parent), train=True, download=True)
        FashionMNIST(root=str(raw.parent.parent), train=False, download=True)
    except Exception:  # noqa: BLE001 - any failure means "no download here"
        return False
    return True


def ensure_fashion_mnist(
    root: str | Path | None = None,
    system_dir: str | Path = SYSTEM_DIR,
    download: bool = True,
) -> Path:
    """Make sure verified Fashion-MNIST files are in ``root``; return the raw folder."""
    raw = _raw_dir(root)
    problems = _problems(raw)
    if not problems:
        return raw
    bad = [name for name, why in problems.items() if why != "missing"]
    if _copy_from_system(raw, Path(system_dir), list(problems)):
        problems = _problems(raw)
    if problems and download and _download(raw):
        problems = _problems(raw)
    if not problems:
        return raw
    if bad or any(why != "missing" for why in problems.values()):
        details = "; ".join(f"{name}: {why}" for name, why in problems.items())
        raise CorruptDataError(f"Fashion-MNIST in {raw} is damaged ({details}). {_HOW_TO}")
    raise DataNotFoundError(f"Fashion-MNIST was not found in {raw}. {_HOW_TO}")


_HOW_TO = (
    "Get it in one of three ways: (1) `sudo apt-get install dataset-fashion-mnist` "
    f"(Debian/Ubuntu; files in {SYSTEM_DIR}); (2) put the four IDX files in "
    "ROOT/FashionMNIST/raw/ and pass root=ROOT or set FASHION_MNIST_ROOT=ROOT; "
    "(3) run once with internet access so that torchvision can download it."
)


def read_idx(path: str | Path) -> torch.Tensor:
    """Read an uncompressed IDX file (uint8 data) into a tensor."""
    data = Path(path).read_bytes()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    payload = bytearray(data[4 + 4 * ndim :])
    return torch.frombuffer(payload, dtype=torch.uint8).reshape(dims)


_TENSORS: dict[Path, tuple[torch.Tensor, ...]] = {}


def load_fashion_mnist_tensors(
    root: str | Path | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(X_train, y_train, X_test, y_test)``: uint8 images ``[N,28,28]``, int64 labels."""
    raw = ensure_fashion_mnist(root)
    if raw not in _TENSORS:
        _TENSORS[raw] = (
            read_idx(raw / "train-images-idx3-ubyte"),
            read_idx(raw / "train-labels-idx1-ubyte").long(),
            read_idx(raw / "t10k-images-idx3-ubyte"),
            read_idx(raw / "t10k-labels-idx1-ubyte").long(),
        )
    return _TENSORS[raw]


def fashion_mnist_dataset(train: bool = True, transform=None, root: str | Path | None = None):
    """Return torchvision's ``FashionMNIST`` Dataset, reading the verified local files."""
    from torchvision.datasets import FashionMNIST

    raw = ensure_fashion_mnist(root)
    return FashionMNIST(root=str(raw.parent.parent), train=train, transform=transform)


def get_fashion_mnist_labels(labels) -> list[str]:
    """Return the text labels of numeric labels (d2l 0.17's function; 1.x moved it)."""
    return [TEXT_LABELS[int(i)] for i in labels]
