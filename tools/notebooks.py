"""Generate and check the executed notebooks that sit beside the chapter sources.

Each ``chapters/NN_name.py`` (jupytext, percent format) is the source of truth. Running
``python -m tools.notebooks build`` executes it in a fresh kernel and writes
``chapters/NN_name.ipynb`` with its outputs. Those notebooks serve three purposes: they
are what "Open in Colab" opens, the ".ipynb" download, and nbval's golden outputs.
``python -m tools.notebooks check`` fails when a notebook no longer matches its source
or when a chapter's Colab set-up cell disagrees with the repository in ``_config.yml``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import yaml

# The imports run one way: this module uses gpu_runs and kernel, neither imports it.
# ``execute`` (tools/kernel.py) is also used from here: notebooks.execute(source).
from tools import gpu_runs
from tools.kernel import execute

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
SETUP_TEMPLATE = ROOT / "tools" / "colab_cell.txt"
# Colab opens these notebooks on a GPU runtime (tools/gpu_runs.py).
GPU_CHAPTERS = set(gpu_runs.GPU_CHAPTERS)


def chapter_sources() -> list[Path]:
    """Return the chapter sources, in reading order."""
    return sorted(CHAPTERS.glob("[0-9][0-9]_*.py"))


def repository() -> tuple[str, str]:
    """Return the repository URL and branch named in ``_config.yml``."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def setup_cell_source() -> str:
    """Return the Colab set-up cell every chapter must start with."""
    url, branch = repository()
    text = SETUP_TEMPLATE.read_text().rstrip("\n")
    return text.replace("{repository_url}", url).replace("{branch}", branch)


def cells_of(notebook: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """Return ``(cell type, source)`` pairs: what must agree between .py and .ipynb."""
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def problems(source: Path) -> list[str]:
    """List what is wrong with a chapter source and its generated notebook."""
    found = []
    notebook = jupytext.read(source)
    first = notebook.cells[0] if notebook.cells else None
    if first is None or first.source.strip() != setup_cell_source():
        found.append(f"{source.name}: first cell is not the Colab set-up cell (make notebooks)")
    elif "remove-cell" not in first.metadata.get("tags", []):
        found.append(f"{source.name}: the Colab set-up cell must be tagged remove-cell")
    target = source.with_suffix(".ipynb")
    if not target.exists():
        return [*found, f"{target.name}: missing (run `make notebooks`)"]
    golden = nbformat.read(target, as_version=4)
    if cells_of(golden) != cells_of(notebook):
        found.append(f"{target.name}: cells differ from {source.name} (run `make notebooks`)")
    unrun = [
        i
        for i, c in enumerate(golden.cells)
        if c.cell_type == "code" and not c.get("execution_count")
    ]
    if unrun:
        found.append(f"{target.name}: code cells {unrun} were never executed")
    return found


def _is_setup_cell(cell: nbformat.NotebookNode | None) -> bool:
    return cell is not None and cell.cell_type == "code" and "importlib.util" in cell.source


def fix_setup_cell(source: Path) -> None:
    """Rewrite a chapter's first cell to the current Colab set-up cell (and its golden's).

    Where ``helpers`` is installed (wherever golden notebooks are built) the set-up cell
    does nothing and prints nothing, so the golden notebook only needs its source updated;
    a golden without the set-up cell is left alone (``check`` reports it: rebuild it).
    """
    notebook = jupytext.read(source)
    cell = nbformat.v4.new_code_cell(setup_cell_source(), metadata={"tags": ["remove-cell"]})
    if _is_setup_cell(notebook.cells[0] if notebook.cells else None):
        notebook.cells[0] = cell
    else:
        notebook.cells.insert(0, cell)
    jupytext.write(notebook, source, fmt="py:percent")
    target = source.with_suffix(".ipynb")
    if target.exists():
        golden = nbformat.read(target, as_version=4)
        first = golden.cells[0] if golden.cells else None
        if _is_setup_cell(first) and not first.outputs and first.source != cell.source:
            first.source = cell.source
            nbformat.write(golden, target)


# Golden notebooks are measurements: a chapter executed beside a build or a test run prints
# timings and speed-ups that contradict its prose (chapter 1's in-memory loader came out
# 1.6x faster instead of 53x). So ``build`` refuses to run while other processes keep more
# than this many cores busy, unless told ``--allow-busy``.
BUSY_CORES = 0.5


class BusyMachineError(RuntimeError):
    """The machine is too busy to produce golden outputs."""


def busy_cores(seconds: float = 2.0) -> float:
    """How many cores other processes kept busy over ``seconds`` (from ``/proc/stat``)."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]), idle

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    share = 1 - (idle1 - idle0) / max(1, total1 - total0)
    return round(share * (os.cpu_count() or 1), 2)


def check_quiet(allow_busy: bool = False) -> dict:
    """Measure the load; raise ``BusyMachineError`` when busy, unless ``allow_busy``."""
    busy = busy_cores()
    load = {
        "busy_cores_before": busy,
        "loadavg_1min": round(os.getloadavg()[0], 2),
        "cores": os.cpu_count(),
        "quiet": busy <= BUSY_CORES,
    }
    if not load["quiet"] and not allow_busy:
        raise BusyMachineError(
            f"other processes keep {busy} of {load['cores']} cores busy (limit {BUSY_CORES}): "
            "golden notebooks made now would store a busy machine's timings. Stop the other "
            "work and retry, or run `make notebooks ALLOW_BUSY=1` (recorded in the notebook)."
        )
    return load


def build(source: Path, timeout: int = 900, allow_busy: bool = False) -> Path:
    """Execute a chapter in a fresh kernel (cwd ``chapters/``) and write its notebook."""
    load = check_quiet(allow_busy)
    started = time.perf_counter()
    notebook = execute(source, timeout)
    load["seconds"] = round(time.perf_counter() - started, 1)
    notebook.metadata.pop("jupytext", None)
    notebook.metadata["course_execution"] = load
    if source.stem in GPU_CHAPTERS:
        gpu_runs.mark_for_colab_gpu(notebook)
    target = source.with_suffix(".ipynb")
    nbformat.write(notebook, target)
    return target


def main(argv: list[str] | None = None) -> int:
    """Command line: ``build [NAMES]``, ``check``, ``fix-setup``, ``build-gpu``, ``check-gpu``.

    ``build-gpu [NAMES]`` executes GPU chapters on this machine's GPU into ``gpu_runs/``;
    ``check-gpu`` fails when a stored GPU run no longer matches its chapter.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "command", choices=["build", "check", "fix-setup", "build-gpu", "check-gpu"]
    )
    parser.add_argument("names", nargs="*", help="chapter stems, e.g. 01_dataset (default: all)")
    parser.add_argument(
        "--allow-busy", action="store_true", help="build even when the machine is busy"
    )
    args = parser.parse_args(argv)
    sources = [s for s in chapter_sources() if not args.names or s.stem in args.names]
    if args.command in ("build-gpu", "check-gpu"):
        return _gpu_command(args.command, [s for s in sources if s.stem in GPU_CHAPTERS])
    if args.command == "check":
        found = [p for s in sources for p in problems(s)]
        print("\n".join(found) or f"{len(sources)} chapters and notebooks agree")
        return 1 if found else 0
    for source in sources:
        if args.command == "fix-setup":
            fix_setup_cell(source)
        else:
            print(f"executing {source.name} ...", flush=True)
            try:
                target = build(source, allow_busy=args.allow_busy)
            except BusyMachineError as err:
                print(f"error: {err}", file=sys.stderr)
                return 3
            seconds = nbformat.read(target, as_version=4).metadata["course_execution"]["seconds"]
            print(f"wrote {target.relative_to(ROOT)} (executed in {seconds} s)")
    return 0


def _gpu_command(command: str, sources: list[Path]) -> int:
    if command == "check-gpu":
        stored = [s for s in sources if gpu_runs.run_path(s.stem).is_file()]
        found = [p for s in stored for p in gpu_runs.problems(s.stem)]
        pending = [s.stem for s in sources if s not in stored]
        print("\n".join(found) or f"{len(stored)} GPU runs match their chapters")
        if pending:
            print(f"GPU outputs pending (no run in {gpu_runs.GPU_RUNS}/): {', '.join(pending)}")
        return 1 if found else 0
    for source in sources:
        print(f"executing {source.name} on the GPU ...", flush=True)
        try:
            print(f"wrote {gpu_runs.build_gpu(source).relative_to(ROOT)}")
        except RuntimeError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
