"""GPU-executed notebooks: build them on a GPU machine, check they are fresh, read them.

A chapter about GPUs executed on a machine without one shows only the CPU fall-back. So
``python -m tools.notebooks build-gpu 05_gpu`` (``make gpu-notebooks``), run on a machine
with a CUDA GPU, executes ``chapters/05_gpu.py`` there and writes ``gpu_runs/05_gpu.ipynb``
with its provenance in the notebook's metadata (``course_gpu_run``): the GPU, the driver,
CUDA and PyTorch versions, the date and the SHA-256 of the chapter source it ran. The book
renders that notebook instead of executing the chapter when the source's SHA-256 still
matches (``_ext/course_site.py``); otherwise the page shows the CPU execution with a note
that the GPU outputs are pending. ``check-gpu`` (and ``tests/test_gpu_runs.py``) fails when
a stored GPU run no longer matches its chapter.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import jupytext
import nbformat

# tools.notebooks imports this module (its build-gpu/check-gpu commands); this module
# never imports tools.notebooks: it executes chapters with tools.kernel.
from tools.kernel import execute

ROOT = Path(__file__).resolve().parent.parent
GPU_RUNS = "gpu_runs"
# Chapters that are about the GPU: Colab opens them on a GPU runtime, and their page is
# rendered from a stored GPU run when there is a fresh one.
GPU_CHAPTERS = ("05_gpu",)
KEY = "course_gpu_run"  # the notebook metadata key that holds the provenance
PROVENANCE = ("gpu", "driver", "cuda", "torch", "date", "source_sha256")
REFRESH = (
    "refresh the GPU outputs on a machine with a CUDA GPU: `make gpu-notebooks` (or "
    "`python -m tools.notebooks build-gpu {name}`), then commit {run}; see CONTRIBUTING.md, "
    '"GPU outputs". Or delete {run} to publish the CPU outputs with a "pending" note.'
)


def source_sha256(text: str) -> str:
    """Return the SHA-256 of a chapter source's text (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def run_path(name: str, root: Path = ROOT) -> Path:
    """Return where the GPU run of chapter ``name`` (e.g. ``05_gpu``) is stored."""
    return root / GPU_RUNS / f"{name}.ipynb"


def mark_for_colab_gpu(notebook: nbformat.NotebookNode) -> None:
    """Ask Colab for a GPU runtime when it opens ``notebook`` (the free T4)."""
    notebook.metadata["accelerator"] = "GPU"
    notebook.metadata["colab"] = {"provenance": [], "gpuType": "T4"}


def _driver_version() -> str:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return "unknown (no nvidia-smi)"
    done = subprocess.run(
        [smi, "--query-gpu=driver_version", "--format=csv,noheader"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()
    return lines[0].strip() if done.returncode == 0 and lines else "unknown"


def provenance(text: str) -> dict[str, str]:
    """Describe this machine's GPU and software, for a run of the chapter ``text``."""
    import torch

    return {
        "gpu": torch.cuda.get_device_name(0),
        "driver": _driver_version(),
        "cuda": str(torch.version.cuda),
        "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "source_sha256": source_sha256(text),
    }


def build_gpu(source: Path, root: Path = ROOT, timeout: int = 1800) -> Path:
    """Execute a chapter on this machine's GPU and write ``gpu_runs/NAME.ipynb``."""
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError(
            f"build-gpu executes {source.name} on a CUDA GPU, but PyTorch sees none "
            f"(torch {torch.__version__}, CUDA build {torch.version.cuda}). Run it on a GPU "
            "machine; `make notebooks` builds the CPU golden outputs."
        )
    text = source.read_text(encoding="utf-8")
    os.environ["COURSE_REQUIRE_GPU"] = "1"  # the kernel inherits it: no silent CPU fall-back
    notebook = execute(source, timeout)
    notebook.metadata.pop("jupytext", None)
    mark_for_colab_gpu(notebook)
    notebook.metadata[KEY] = provenance(text)
    target = run_path(source.stem, root)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return target


def _cells(notebook: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in notebook.cells]


def problems(name: str, root: Path = ROOT) -> list[str]:
    """List why the stored GPU run of chapter ``name`` cannot be published (none: fresh)."""
    run = run_path(name, root)
    if not run.is_file():
        return [f"{run.relative_to(root)}: missing"]
    source = root / "chapters" / f"{name}.py"
    rel = run.relative_to(root).as_posix()
    how = REFRESH.format(name=name, run=rel)
    if not source.is_file():
        return [f"{rel}: its chapter {source.name} does not exist; delete {rel}"]
    notebook = nbformat.read(run, as_version=4)
    meta = dict(notebook.metadata.get(KEY, {}))
    missing = [k for k in PROVENANCE if not meta.get(k)]
    if missing:
        return [f"{rel}: provenance {missing} missing from its metadata; {how}"]
    text = source.read_text(encoding="utf-8")
    found = []
    if meta["source_sha256"] != source_sha256(text):
        found.append(
            f"{rel}: chapters/{source.name} changed after its GPU outputs were produced "
            f"({meta['date']}, {meta['gpu']}); {how}"
        )
    elif _cells(notebook) != _cells(jupytext.reads(text, fmt="py:percent")):
        found.append(f"{rel}: its cells differ from chapters/{source.name}; {how}")
    unrun = [
        i for i, c in enumerate(notebook.cells)
        if c.cell_type == "code" and not c.get("execution_count")
    ]  # fmt: skip
    if unrun:
        found.append(f"{rel}: code cells {unrun} were never executed; {how}")
    return found


def fresh_run(name: str, root: Path = ROOT) -> nbformat.NotebookNode | None:
    """Return the stored GPU run of chapter ``name`` if it matches its source, else None."""
    if not run_path(name, root).is_file() or problems(name, root):
        return None
    return nbformat.read(run_path(name, root), as_version=4)


def provenance_note(meta: dict[str, str], name: str) -> str:
    """Return the MyST note that says where a page's GPU outputs came from."""
    return (
        "```{admonition} Where these outputs come from\n:class: note\n"
        f"The outputs on this page were produced on an **{meta['gpu']}** GPU "
        f"(driver {meta['driver']}, CUDA {meta['cuda']}, PyTorch {meta['torch']}) "
        f"on {meta['date']}, by `make gpu-notebooks`, and are stored in "
        f"`{GPU_RUNS}/{name}.ipynb`. On your machine the same code picks whatever "
        "device it finds, so names and timings will differ.\n```"
    )


def pending_note(name: str) -> str:
    """Return the MyST note for a GPU chapter shown with its CPU outputs."""
    return (
        "```{admonition} GPU outputs pending\n:class: warning\n"
        "This page was executed on a machine without a GPU, so the outputs below are the "
        "CPU fall-back of every cell. The outputs of a GPU run of this version of the "
        f"chapter are pending (`make gpu-notebooks` on a GPU machine writes "
        f"`{GPU_RUNS}/{name}.ipynb`). Run the notebook on a GPU (Colab: Runtime, Change "
        "runtime type, T4 GPU) to see them now.\n```"
    )


def _chapter_named(text: str, root: Path) -> str | None:
    for source in sorted((root / "chapters").glob("[0-9][0-9]_*.py")):
        if source.read_text(encoding="utf-8") == text:
            return source.stem
    return None


def read_chapter(text: str, fmt: str = "py:percent", root: Path = ROOT):
    """Read a chapter source for the book: its fresh GPU run if any, with a note on top.

    myst-nb calls this for every ``.py`` page (``nb_custom_formats`` in ``_config.yml``).
    A GPU chapter with a fresh stored GPU run is returned with those outputs and with
    execution turned off; a GPU chapter without one gets a "GPU outputs pending" note.
    Every other page is plain ``jupytext.reads``.
    """
    notebook = jupytext.reads(text, fmt=fmt)
    name = _chapter_named(text, root)
    if name not in GPU_CHAPTERS:
        return notebook
    run = fresh_run(name, root)
    if run is not None:
        run.metadata["mystnb"] = {"execution_mode": "off"}
        run.metadata.setdefault("kernelspec", notebook.metadata.get("kernelspec"))
        note = provenance_note(dict(run.metadata[KEY]), name)
        notebook = run
    else:
        note = pending_note(name)
    first_text = next(
        i for i, c in enumerate(notebook.cells) if c.cell_type == "markdown"
    )  # fmt: skip
    notebook.cells.insert(first_text + 1, nbformat.v4.new_markdown_cell(note))
    return notebook
