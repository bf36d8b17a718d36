"""GPU runs (tools/gpu_runs.py): the stored GPU outputs of a chapter are published only
while they match the chapter's source.

The GPU runs built here are synthetic test fixtures, written to ``tmp_path`` and named so:
no test writes into ``gpu_runs/``, and none is ever published.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import jupytext
import nbformat
import pytest
import torch
import yaml

from tools import gpu_runs, notebooks

ROOT = Path(__file__).resolve().parent.parent
FAKE_GPU = "SYNTHETIC TEST FIXTURE, not a GPU"


@pytest.mark.parametrize("name", gpu_runs.GPU_CHAPTERS)
def test_committed_gpu_run_matches_its_chapter(name):
    """Fails when chapters/NAME.py changed after gpu_runs/NAME.ipynb was produced."""
    if not gpu_runs.run_path(name).is_file():
        pytest.skip(f"GPU outputs pending: no {gpu_runs.GPU_RUNS}/{name}.ipynb committed yet")
    assert gpu_runs.problems(name) == []


def _tree(tmp_path: Path, name: str = "05_gpu") -> Path:
    (tmp_path / "chapters").mkdir()
    shutil.copy(ROOT / "chapters" / f"{name}.py", tmp_path / "chapters")
    shutil.copy(ROOT / "chapters" / "01_dataset.py", tmp_path / "chapters")
    return tmp_path / "chapters" / f"{name}.py"


def _synthetic_run(source: Path, root: Path) -> Path:
    """A notebook shaped like a GPU run of ``source``, with made-up outputs (test only)."""
    text = source.read_text()
    notebook = jupytext.reads(text, fmt="py:percent")
    for n, cell in enumerate(c for c in notebook.cells if c.cell_type == "code"):
        cell.execution_count = n + 1
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=FAKE_GPU)]
    notebook.metadata[gpu_runs.KEY] = {
        "gpu": FAKE_GPU, "driver": "0.0", "cuda": "0.0", "torch": "0.0",
        "date": "1970-01-01 00:00 UTC", "source_sha256": gpu_runs.source_sha256(text),
    }  # fmt: skip
    path = gpu_runs.run_path(source.stem, root)
    path.parent.mkdir()
    nbformat.write(notebook, path)
    return path


def test_a_fresh_run_is_rendered_with_its_provenance_and_without_execution(tmp_path):
    source = _tree(tmp_path)
    _synthetic_run(source, tmp_path)
    assert gpu_runs.problems("05_gpu", tmp_path) == []
    page = gpu_runs.read_chapter(source.read_text(), root=tmp_path)
    assert page.metadata["mystnb"] == {"execution_mode": "off"}
    note = page.cells[2].source  # after the Colab cell and the title's cell
    assert "Where these outputs come from" in note and FAKE_GPU in note
    assert "1970-01-01" in note and "CUDA 0.0" in note
    assert page.cells[3].outputs[0].text == FAKE_GPU


def test_a_changed_source_makes_the_run_stale_and_says_how_to_refresh(tmp_path):
    source = _tree(tmp_path)
    _synthetic_run(source, tmp_path)
    source.write_text(source.read_text() + "\n# %%\nprint('a new cell')\n")
    (problem,) = gpu_runs.problems("05_gpu", tmp_path)
    assert "changed after its GPU outputs were produced" in problem
    assert "make gpu-notebooks" in problem and "build-gpu 05_gpu" in problem
    assert gpu_runs.fresh_run("05_gpu", tmp_path) is None
    page = gpu_runs.read_chapter(source.read_text(), root=tmp_path)
    assert "mystnb" not in page.metadata  # executed as usual, on whatever the machine has
    assert "GPU outputs pending" in page.cells[2].source
    assert all(FAKE_GPU not in str(c.get("outputs", "")) for c in page.cells)


def test_a_run_without_provenance_is_refused(tmp_path):
    source = _tree(tmp_path)
    run = _synthetic_run(source, tmp_path)
    notebook = nbformat.read(run, as_version=4)
    del notebook.metadata[gpu_runs.KEY]["driver"]
    nbformat.write(notebook, run)
    (problem,) = gpu_runs.problems("05_gpu", tmp_path)
    assert "provenance ['driver'] missing" in problem


def test_an_unexecuted_run_is_refused(tmp_path):
    source = _tree(tmp_path)
    run = _synthetic_run(source, tmp_path)
    notebook = nbformat.read(run, as_version=4)
    notebook.cells[0].execution_count = None
    nbformat.write(notebook, run)
    (problem,) = gpu_runs.problems("05_gpu", tmp_path)
    assert "code cells [0] were never executed" in problem


def test_without_a_run_the_gpu_chapter_says_its_gpu_outputs_are_pending(tmp_path):
    source = _tree(tmp_path)
    page = gpu_runs.read_chapter(source.read_text(), root=tmp_path)
    assert "GPU outputs pending" in page.cells[2].source
    assert page.cells[1].source.startswith("(chap-gpu)=")


def test_other_chapters_are_read_as_plain_jupytext(tmp_path):
    _tree(tmp_path)
    text = (tmp_path / "chapters" / "01_dataset.py").read_text()
    page = gpu_runs.read_chapter(text, root=tmp_path)
    plain = jupytext.reads(text, fmt="py:percent")
    assert notebooks.cells_of(page) == notebooks.cells_of(plain)
    assert page.metadata == plain.metadata


def test_the_book_reads_chapters_through_the_gpu_run_reader():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    reader, options = config["sphinx"]["config"]["nb_custom_formats"][".py"]
    assert reader == "course_site.read_chapter"
    assert options == {"fmt": "py:percent"}


def test_check_gpu_fails_on_a_stale_run(tmp_path, monkeypatch, capsys):
    source = _tree(tmp_path)
    _synthetic_run(source, tmp_path)
    monkeypatch.setattr(gpu_runs, "ROOT", tmp_path)
    monkeypatch.setattr(notebooks, "ROOT", tmp_path)
    monkeypatch.setattr(notebooks, "CHAPTERS", tmp_path / "chapters")
    monkeypatch.setattr(gpu_runs.run_path, "__defaults__", (tmp_path,))
    monkeypatch.setattr(gpu_runs.problems, "__defaults__", (tmp_path,))
    assert notebooks.main(["check-gpu"]) == 0
    source.write_text(source.read_text().replace("Using the GPU", "Using a GPU", 1))
    assert notebooks.main(["check-gpu"]) == 1
    assert "make gpu-notebooks" in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without a GPU")
def test_build_gpu_refuses_to_run_without_a_gpu(tmp_path, capsys):
    source = _tree(tmp_path)
    with pytest.raises(RuntimeError, match="PyTorch sees none"):
        gpu_runs.build_gpu(source, root=tmp_path)
    assert not gpu_runs.run_path("05_gpu", tmp_path).exists()
    assert notebooks.main(["build-gpu", "05_gpu"]) == 2
    assert "CUDA GPU" in capsys.readouterr().err


def test_colab_opens_the_gpu_chapter_on_a_gpu_runtime():
    golden = nbformat.read(ROOT / "chapters" / "05_gpu.ipynb", as_version=4)
    assert golden.metadata["accelerator"] == "GPU"
    assert golden.metadata["colab"]["gpuType"] == "T4"


def test_gpu_runs_does_not_import_notebooks():
    """The tools depend one way (notebooks -> gpu_runs -> kernel): each reads on its own."""
    import ast

    tree = ast.parse((ROOT / "tools" / "gpu_runs.py").read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert not any("notebooks" in name for name in names), names
