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
import math
import os
import shutil
import tempfile
import zlib
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


def _check(path: Path, name: str | None = None) -> tuple[str | None, bytearray]:
    """Return what is wrong with file ``name`` at ``path`` (None: nothing), and its bytes."""
    md5, magic, shape = FILES[name or path.name]
    if not path.is_file():
        return "missing", bytearray()
    size = 4 + 4 * len(shape) + math.prod(shape)  # magic, one int32 per dimension, pixels
    found = path.stat().st_size
    if found != size:
        return f"{found} bytes, expected {size} (truncated or not Fashion-MNIST)", bytearray()
    data = bytearray(size)  # read once, hashed, and (when loading) the tensor's own memory
    with path.open("rb") as f:
        f.readinto(data)
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        return f"IDX magic number {found}, expected {magic}", bytearray()
    if hashlib.md5(data).hexdigest() != md5:
        return "MD5 checksum mismatch (corrupt file)", bytearray()
    return None, data


def _problems(raw: Path) -> dict[str, str]:
    """Check the four files in ``raw`` (every byte, every time); return the bad ones."""
    return {name: why for name in FILES if (why := _check(raw / name)[0])}


def _move_in(part: Path, raw: Path, name: str, source: str, advice: str) -> None:
    """Verify the new file ``part``, then rename it to ``raw / name`` in one atomic step."""
    problem = _check(part, name)[0]
    if problem:
        raise CorruptDataError(f"{name} from {source} is damaged ({problem}). {advice}")
    part.chmod(0o644)
    os.replace(part, raw / name)  # readers see the old file or the new one, never half of one


_REINSTALL = "Reinstall it: `sudo apt-get install --reinstall dataset-fashion-mnist`."


def _copy_from_system(raw: Path, system_dir: Path, names: list[str]) -> bool:
    """Decompress the Debian copy of ``names`` into ``raw``; False if it is not there."""
    sources = [system_dir / f"{name}.gz" for name in names]
    if not all(src.is_file() for src in sources):
        return False
    raw.mkdir(parents=True, exist_ok=True)
    for src in sources:
        # A name of this process's own, so that concurrent first users never share a file.
        fd, part = tempfile.mkstemp(prefix=f".{src.stem}.", suffix=".part", dir=raw)
        try:
            with os.fdopen(fd, "wb") as fout, gzip.open(src, "rb") as fin:
                shutil.copyfileobj(fin, fout)
            _move_in(Path(part), raw, src.stem, f"the system copy {src}", _REINSTALL)
        except (EOFError, zlib.error, gzip.BadGzipFile) as err:
            raise CorruptDataError(
                f"{src.name} in the system copy {src} is damaged ({err}). {_REINSTALL}"
            ) from err
        finally:
            Path(part).unlink(missing_ok=True)
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


def _download_into(raw: Path, names: list[str]) -> bool:
    """Download into a fresh folder, verify ``names`` there, move them to ``raw``."""
    raw.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=raw) as tmp:
        fresh = Path(tmp) / "FashionMNIST" / "raw"  # empty: torchvision cannot skip a file
        if not _download(fresh):
            return False
        advice = (
            "The download or its mirror is at fault: try again later, or get the files "
            f"another way. {_HOW_TO}"
        )
        for name in names:
            _move_in(fresh / name, raw, name, "torchvision's download", advice)
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
        return raw  # nothing written: a read-only folder of good files is fine
    if _copy_from_system(raw, Path(system_dir), list(problems)):
        problems = _problems(raw)
    if problems and download and _download_into(raw, list(problems)):
        problems = _problems(raw)
    if not problems:
        return raw
    if any(why != "missing" for why in problems.values()):
        details = "; ".join(f"{name}: {why}" for name, why in problems.items())
        raise CorruptDataError(
            f"Fashion-MNIST in {raw} is damaged ({details}), and no good copy was found to "
            f"replace it (any source below replaces it on the next call). {_HOW_TO}"
        )
    raise DataNotFoundError(f"Fashion-MNIST was not found in {raw}. {_HOW_TO}")


_HOW_TO = (
    "Get it in one of three ways: (1) `sudo apt-get install dataset-fashion-mnist` "
    f"(Debian/Ubuntu; files in {SYSTEM_DIR}); (2) put the four IDX files in "
    "ROOT/FashionMNIST/raw/ and pass root=ROOT or set FASHION_MNIST_ROOT=ROOT; "
    "(3) run once with internet access so that torchvision can download it."
)


def _parse_idx(data: bytearray) -> torch.Tensor:
    """Turn the bytes of an IDX file (uint8 data) into a tensor that uses their memory."""
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return torch.frombuffer(data, dtype=torch.uint8, offset=4 + 4 * ndim).reshape(dims)


def read_idx(path: str | Path) -> torch.Tensor:
    """Read an uncompressed IDX file (uint8 data) into a tensor."""
    return _parse_idx(bytearray(Path(path).read_bytes()))


def load_fashion_mnist_tensors(
    root: str | Path | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(X_train, y_train, X_test, y_test)``: uint8 images ``[N,28,28]``, int64 labels."""
    raw = _raw_dir(root)
    checked = {name: _check(raw / name) for name in FILES}  # the bytes that are hashed are parsed
    if any(why for why, _ in checked.values()):
        raw = ensure_fashion_mnist(root)  # fetch or repair, or say why that is impossible
        checked = {name: _check(raw / name) for name in FILES}
        changed = [name for name, (why, _) in checked.items() if why]
        if changed:
            raise CorruptDataError(f"{', '.join(changed)} in {raw} changed while being read")
    # New tensors on every call: what one caller changes in them, no other caller sees.
    X_train, y_train, X_test, y_test = (_parse_idx(data) for _, data in checked.values())
    return X_train, y_train.long(), X_test, y_test.long()


def fashion_mnist_dataset(train: bool = True, transform=None, root: str | Path | None = None):
    """Return torchvision's ``FashionMNIST`` Dataset, reading the verified local files."""
    from torchvision.datasets import FashionMNIST

    raw = ensure_fashion_mnist(root)
    return FashionMNIST(root=str(raw.parent.parent), train=train, transform=transform)


def get_fashion_mnist_labels(labels) -> list[str]:
    """Return text labels for numeric ones (d2l 0.17's; still in d2l 1.0.3)."""
    return [TEXT_LABELS[int(i)] for i in labels]
