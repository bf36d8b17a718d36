"""Wall time of executing each chapter, and of building the whole book, cold and warm."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.measure import log, summarize, timed
from tools import notebooks

ROOT = Path(__file__).resolve().parent.parent
CHAPTER_LIMIT_S = 30
CHAPTER_LIMITS_S = {"04_keras_mlp": 60}
BOOK_LIMIT_S = 180
# What a fresh clone would not have, or what the build must not see (caches, the venv).
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv*", "_build", ".jupyter_cache", ".ruff_cache", ".pytest_cache", "data",
    "__pycache__", "*.egg-info", ".whl", ".gpudata", ".gl", "out", ".ipynb_checkpoints",
)  # fmt: skip


def execute_chapter(source: Path, timeout: int = 900) -> float:
    """Execute ``source`` as ``make notebooks`` does, writing nothing; return seconds.

    Kernel start-up is included, as in a book build.
    """
    seconds, _ = timed(notebooks.execute, source, timeout)
    return seconds


def chapters(repeat: int, only_first: bool = False) -> dict[str, Any]:
    """Execute every chapter ``repeat`` times (or only the first chapter, for ``--tiny``)."""
    sources = notebooks.chapter_sources()
    sources = sources[:1] if only_first else sources
    rows = []
    for source in sources:
        row: dict[str, Any] = {
            "chapter": source.stem,
            "limit_s": CHAPTER_LIMITS_S.get(source.stem, CHAPTER_LIMIT_S),
        }
        try:
            row["seconds"] = summarize([execute_chapter(source) for _ in range(repeat)])
            log(f"chapter {source.stem}: {row['seconds']['median']:.3f} s")
        except Exception as err:  # noqa: BLE001 - a failing chapter is a result, not a crash
            row["error"] = f"{type(err).__name__}: {_first_line(err)}"
            log(f"chapter {source.stem} FAILED: {row['error']}")
        rows.append(row)
    return {"repeat": repeat, "rows": rows}


def _first_line(err: BaseException) -> str:
    lines = [line for line in str(err).splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _jupyter_book() -> str:
    beside = Path(sys.executable).parent / "jupyter-book"
    return str(beside) if beside.exists() else "jupyter-book"


def build_book(copy: Path, *extra: str) -> float:
    """Run ``jupyter-book build`` on ``copy`` as ``make book`` does; return seconds."""
    command = [_jupyter_book(), "build", str(copy), "-W", "--keep-going", *extra]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    # cwd is the copy: _config.yml's execution cache path is relative to the working folder,
    # and from anywhere else a "cold" build would reuse that folder's filled cache.
    seconds, done = timed(
        lambda: subprocess.run(
            command, cwd=copy, capture_output=True, text=True, env=env, timeout=3600
        )
    )
    if done.returncode != 0 or not (copy / "_build" / "html" / "index.html").is_file():
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
        raise RuntimeError(f"jupyter-book build exited {done.returncode}: " + " | ".join(tail))
    return seconds


def book(repeat: int) -> dict[str, Any]:
    """Build a fresh copy of the repository (cold), then rebuild all pages (warm cache)."""
    cold, warm = [], []
    result: dict[str, Any] = {"repeat": repeat, "limit_s": BOOK_LIMIT_S}
    try:
        for _ in range(repeat):
            with tempfile.TemporaryDirectory(prefix="bench-book-") as tmp:
                copy = Path(tmp) / "book"
                shutil.copytree(ROOT, copy, ignore=NOT_COPIED, symlinks=True)
                cold.append(build_book(copy))
                log(f"book: cold build {cold[-1]:.3f} s")
                # Every page re-rendered by Sphinx; notebooks come from the execution cache.
                warm.append(build_book(copy, "--all"))
                log(f"book: warm build {warm[-1]:.3f} s")
    except Exception as err:  # noqa: BLE001 - a failing build is a result, not a crash
        result["error"] = f"{type(err).__name__}: {str(err)[-1500:]}"
        log(f"book FAILED: {result['error']}")
    if cold:
        result["cold"] = summarize(cold)
    if warm:
        result["warm"] = summarize(warm)
    return result
