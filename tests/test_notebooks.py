"""The golden notebooks agree with the chapter sources, and nbval really catches changes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tools import notebooks

ROOT = Path(__file__).resolve().parent.parent
SOURCES = notebooks.chapter_sources()
EXPECTED = ["01_dataset", "02_softmax_scratch", "03_softmax_concise", "04_keras_mlp", "05_gpu"]


def test_every_chapter_is_present():
    assert [s.stem for s in SOURCES] == EXPECTED


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.stem)
def test_golden_notebook_matches_its_source(source):
    assert notebooks.problems(source) == []


def test_setup_cell_installs_from_the_repository_in_config():
    url, branch = notebooks.repository()
    cell = notebooks.setup_cell_source()
    assert f"git+{url}@{branch}" in cell
    assert "{repository_url}" not in cell and "{branch}" not in cell
    code = "\n".join(line for line in cell.splitlines() if not line.lstrip().startswith("#"))
    assert "torch" not in code, "the set-up cell must not install or pin torch"


def test_check_reports_a_notebook_whose_code_drifted(tmp_path, monkeypatch):
    source = SOURCES[0]
    shutil.copy(source, tmp_path / source.name)
    golden = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    golden.cells[-1].source += "\n# edited by hand"
    nbformat.write(golden, tmp_path / source.with_suffix(".ipynb").name)
    found = notebooks.problems(tmp_path / source.name)
    assert any("cells differ" in p for p in found)


def _strict_cells(path: Path) -> int:
    """Count code cells whose outputs nbval compares (has outputs, not ignored/skipped)."""
    count = 0
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code" or not cell.outputs:
            continue
        if re.search(r"#\s*NBVAL_(IGNORE_OUTPUT|SKIP)", cell.source):
            continue
        tags = cell.metadata.get("tags", [])
        if "nbval-ignore-output" in tags or "nbval-skip" in tags:
            continue
        count += 1
    return count


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.stem)
def test_most_outputs_are_compared_strictly(source):
    """Ignored cells are the exception: three quarters are compared as text (GPU chapter: 40%)."""
    golden = source.with_suffix(".ipynb")
    with_outputs = sum(
        1 for c in nbformat.read(golden, as_version=4).cells if c.cell_type == "code" and c.outputs
    )
    # The GPU chapter is about what differs between devices (names, timings, memory): many of
    # its cells print device-dependent values, and hidden cells assert on them instead.
    share = 0.4 if source.stem == "05_gpu" else 0.75
    assert _strict_cells(golden) >= share * with_outputs


def _first_cells(path: Path, upto: re.Pattern[str], tmp_path: Path) -> tuple[Path, int]:
    """Copy a golden notebook, cut after the first cell whose output matches ``upto``."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        text = "".join(
            o.get("text", "") + o.get("data", {}).get("text/plain", "")
            for o in cell.get("outputs", [])
        )
        if cell.cell_type == "code" and upto.search(text):
            nb.cells = nb.cells[: i + 1]
            out = tmp_path / path.name
            nbformat.write(nb, out)
            return out, i
    raise AssertionError(f"no output in {path.name} matches {upto.pattern}")


def _nbval(notebook: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest", "--nbval", "-p", "no:xdist", "-q", str(notebook),
           "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml")]  # fmt: skip
    return subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )


LABELS = re.compile(r"ankle boot")


@pytest.mark.slow
def test_nbval_passes_on_an_unchanged_chapter_and_fails_on_a_changed_output(tmp_path):
    notebook, index = _first_cells(ROOT / "chapters" / "01_dataset.ipynb", LABELS, tmp_path)
    control = _nbval(notebook)
    assert control.returncode == 0, control.stdout[-3000:]
    nb = nbformat.read(notebook, as_version=4)
    for output in nb.cells[index].outputs:  # the golden output now says something else
        if "text" in output:
            output["text"] = output["text"].replace("ankle boot", "boot")
        if "text/plain" in output.get("data", {}):
            output["data"]["text/plain"] = output["data"]["text/plain"].replace(
                "ankle boot", "boot"
            )
    nbformat.write(nb, notebook)
    mutated = _nbval(notebook)
    assert mutated.returncode == 1, mutated.stdout[-3000:]
    assert "Cell outputs differ" in mutated.stdout


@pytest.mark.slow
def test_nbval_fails_when_a_helpers_function_changes(tmp_path):
    notebook, _ = _first_cells(ROOT / "chapters" / "01_dataset.ipynb", LABELS, tmp_path)
    shadow = tmp_path / "shadow"
    shutil.copytree(ROOT / "helpers", shadow / "helpers")
    data_py = shadow / "helpers" / "data.py"
    data_py.write_text(data_py.read_text().replace('"ankle boot"', '"boot"'))
    # The shadow copy comes first; whatever PYTHONPATH already held (packages) stays after it.
    path = os.pathsep.join(filter(None, [str(shadow), os.environ.get("PYTHONPATH")]))
    mutated = _nbval(notebook, env={"PYTHONPATH": path})
    assert mutated.returncode == 1, mutated.stdout[-3000:]
    assert "Cell outputs differ" in mutated.stdout
