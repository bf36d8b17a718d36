"""Benchmark results cannot go stale: each records the code it measured, checked here.

Every section of a ``benchmarks/results/*.json`` records a hash of each file its numbers
depend on (``benchmarks.report.CODE``: the helpers package, the benchmark's measuring
modules, the chapters it executes), the git commit and the dates. This machine's results
must match the files as they are now, or this test fails with the command that measures
them again. Results from a lent GPU machine cannot be measured at every change: they must
instead be marked "measured on older code" on the Performance page, which shows each file
with its own date and commit.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from benchmarks import report

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
THIS_MACHINE = sorted(p for p in RESULTS.glob("*.json") if not p.name.startswith("gpu-"))
GPU_FILES = sorted(RESULTS.glob("gpu-*.json"))


def freshness_failure(path: Path, root: Path = ROOT) -> str | None:
    """Why the results in ``path`` no longer describe the code under ``root``; None if they do."""
    results = json.loads(path.read_text())
    if report.kind(results) is None:
        return f"{path.name} is not a result of benchmarks.run or benchmarks.gpu"
    stale = report.staleness(results, root)
    if not stale:
        return None
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    lines = [f"{shown} was measured on other code than the code now:"]
    lines += [f"  {section}: {reason}" for section, reasons in stale.items() for reason in reasons]
    command = report.refresh_command(path.stem, stale, results).replace("`", "")
    lines.append(f"Measure it again, {command}, on a quiet machine, and commit the results")
    if path.stem != "latest":
        lines[-1] += f" (or delete {path.name} and its .md if nothing needs them)"
    return "\n".join(lines)


@pytest.mark.parametrize("path", THIS_MACHINE, ids=lambda p: p.name)
def test_this_machines_results_measured_the_code_as_it_is(path):
    failure = freshness_failure(path)
    assert failure is None, failure


def test_this_machine_has_results():
    assert RESULTS / "latest.json" in THIS_MACHINE


@pytest.mark.parametrize("path", GPU_FILES, ids=lambda p: p.name)
def test_gpu_results_say_when_they_were_measured_on_older_code(path):
    results = json.loads(path.read_text())
    assert report.kind(results) is not None, f"{path.name}: the page could not show it"
    note = report.freshness_note(path.stem, results, report.staleness(results))
    assert f"`{path.name}` was measured " in note and " commit" in note
    if report.staleness(results):
        assert report.OLDER_CODE in note
    else:
        assert "unchanged since" in note


# --- the check itself fails on a planted change ------------------------------------------


def copy_code(to: Path) -> None:
    """Every file some section measures, and the benchmark package, into ``to``."""
    names = {name for section in report.CODE for name in report.code_files(section)}
    names |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "benchmarks").glob("*.py")}
    for name in names:
        (to / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, to / name)


def measured_at(root: Path, results: dict) -> dict:
    """``results`` as if every section had just been measured on the code under ``root``."""
    results = copy.deepcopy(results)
    results["provenance"] = {
        section: report.provenance(section, "python -m benchmarks.run", report.now(), root=root)
        for section in report.measured_sections(results)
    }
    return results


@pytest.fixture
def planted(tmp_path):
    """A copy of the code, with ``results/latest.json`` just measured on it."""
    copy_code(tmp_path)
    (tmp_path / "benchmarks" / "results").mkdir()
    results = measured_at(tmp_path, json.loads((RESULTS / "latest.json").read_text()))
    results["settings"].update(repeat=3, slow_repeat=3, book_repeat=1)  # make bench's
    path = tmp_path / "benchmarks" / "results" / "latest.json"
    path.write_text(json.dumps(results, indent=1))
    return tmp_path, path


def test_results_measured_on_the_code_as_it_is_are_fresh(planted):
    root, path = planted
    assert freshness_failure(path, root) is None
    results = json.loads(path.read_text())
    assert "unchanged since" in report.freshness_note("latest", results, {})
    for p in results["provenance"].values():
        assert p["code"] and p["finished"] and p["command"] == "python -m benchmarks.run"
    assert "helpers/loaders.py" in results["provenance"]["training"]["code"]
    assert "chapters/04_keras_mlp.py" in results["provenance"]["chapters"]["code"]
    assert "chapters/04_keras_mlp.py" not in results["provenance"]["training"]["code"]


def test_a_changed_helpers_file_makes_every_section_stale(planted):
    root, path = planted
    with open(root / "helpers" / "loaders.py", "a") as f:
        f.write("\n# a planted change\n")
    failure = freshness_failure(path, root)
    assert failure is not None
    sections = json.loads(path.read_text())["sections"]
    for section in sections:
        assert f"  {section}: helpers/loaders.py changed" in failure
    assert "Measure it again, with make bench, on a quiet machine" in failure


def test_a_changed_or_new_chapter_makes_only_its_sections_stale(planted):
    root, path = planted
    (root / "chapters" / "07_new.py").write_text("# %%\nprint('a new chapter')\n")
    with open(root / "chapters" / "01_dataset.py", "a") as f:
        f.write("\n# %%\n1 + 1\n")
    results = json.loads(path.read_text())
    stale = report.staleness(results, root)
    assert set(stale) == {"chapters", "book"}  # reading and training do not run chapters
    assert stale["chapters"] == ["chapters/01_dataset.py changed", "chapters/07_new.py is new"]
    command = report.refresh_command("latest", stale, results)
    assert command == "with `.venv/bin/python -m benchmarks.run --only chapters,book --merge`"
    assert "--only chapters,book --merge" in freshness_failure(path, root)


def test_a_removed_file_and_a_crlf_checkout(planted):
    root, path = planted
    source = root / "benchmarks" / "pipelines.py"
    source.write_bytes(source.read_bytes().replace(b"\n", b"\r\n"))  # a Windows checkout
    assert freshness_failure(path, root) is None
    (root / "benchmarks" / "execution.py").unlink()
    stale = report.staleness(json.loads(path.read_text()), root)
    assert set(stale) == {"chapters", "book"}
    assert stale["book"] == ["benchmarks/execution.py was removed"]


def test_results_without_a_record_of_their_code_are_stale():
    old = {"machine": {"date": "2026-11-23 08:22 UTC"}, "settings": {"tiny": False},
           "sections": {"reading": {}, "book": {}}}  # fmt: skip
    stale = report.staleness(old)
    assert set(stale) == {"reading", "book"}
    note = report.freshness_note("latest", old, stale)
    assert note.startswith(f"**This result was {report.OLDER_CODE}.**")
    assert "2026-11-23 08:22 UTC" in note and "an unrecorded commit" in note
    assert report.refresh_command("latest", stale, old) == "with `make bench`"
    targets = {"machine": old["machine"], "gpu": {}, "targets": {}}
    assert report.staleness(targets) == {"gpu-targets": stale["reading"]}
    assert "tools/gpu_run.sh" in report.refresh_command("gpu-targets-x", {"gpu-targets": []}, {})


def test_a_partial_run_is_refreshed_with_its_own_settings():
    results = {"settings": {"repeat": 1, "slow_repeat": 1, "models": ["04_keras_mlp"],
                            "epochs": None, "tiny": False},
               "sections": {"training": {}}}  # fmt: skip
    command = report.refresh_command("cpu-mlp", {"training": ["x changed"]}, results)
    assert command == (
        "with `.venv/bin/python -m benchmarks.run --only training --models 04_keras_mlp "
        "--repeat 1 --name cpu-mlp`"
    )
    command = report.refresh_command("gpu-h100", {"gpu": ["x changed"]}, {
        "settings": {"repeat": 3}, "sections": {"reading": {}, "gpu": {}}})  # fmt: skip
    assert command == (
        "on a GPU machine with `python -m benchmarks.run --only gpu --merge --name gpu-h100`"
    )


# --- the Performance page: which GPU files it shows, and how it marks older code ---------


def gpu_targets_file() -> dict:
    """A ``gpu-targets-<device>.json`` as ``python -m benchmarks.gpu`` writes it."""
    from benchmarks import gpu

    h100 = json.loads((RESULTS / "gpu-h100.json").read_text())
    measured = {"mlp_10_epochs_batch_32_seconds": 2.1, "mlp_10_epochs_batch_32_acc": 0.879,
                "time_to_088_seconds": 2.6, "cnn_gpu_over_cpu_batch_256": 31.0}  # fmt: skip
    return {"machine": h100["machine"], "tiny": False, "cpu": {"threads": 16},
            "train_flops_per_image": {"mlp": 1, "cnn": 2},
            "gpu": {"available": True, "device": "NVIDIA H100 80GB HBM3"},
            "targets": gpu.verdicts(measured)}  # fmt: skip


def test_the_page_tells_the_two_kinds_of_gpu_files_apart(tmp_path):
    shutil.copy(RESULTS / "gpu-h100.json", tmp_path / "gpu-h100.json")
    (tmp_path / "gpu-targets-nvidia-h100.json").write_text(json.dumps(gpu_targets_file()))
    (tmp_path / "gpu-notes.json").write_text("[1, 2]")
    (tmp_path / "latest.json").write_text("{}")  # not a gpu-* file
    found = [(p.name, kind) for p, kind in report.gpu_results(tmp_path)]
    assert found == [("gpu-h100.json", "run"), ("gpu-notes.json", None),
                     ("gpu-targets-nvidia-h100.json", "gpu-targets")]  # fmt: skip
    targets = gpu_targets_file()
    table = report.gpu_targets_table(targets)
    assert "| time to 0.88 test accuracy, best batch size | 2.600 s | <= 2.0 | missed |" in table
    assert "| LeNet-style CNN at batch 256: GPU over this machine's CPU | 31.0x |" in table
    assert "Repetitions" not in report.machine_table(targets)  # it has no settings
    targets["gpu"] = {"available": False, "reason": "no CUDA GPU visible"}
    assert report.gpu_targets_table(targets) == "Not measured: no CUDA GPU visible."


def test_the_page_marks_results_measured_on_older_code(planted):
    """Execute the page on a planted change: it says so, names the file, gives the command,
    and still shows both kinds of GPU file, each marked."""
    import jupytext
    from nbclient import NotebookClient

    root, path = planted
    folder = path.parent
    shutil.copy(RESULTS / "gpu-h100.json", folder / "gpu-h100.json")
    (folder / "gpu-targets-nvidia-h100.json").write_text(json.dumps(gpu_targets_file()))
    with open(root / "helpers" / "training.py", "a") as f:
        f.write("\n# a planted change\n")
    notebook = jupytext.read(ROOT / "appendix" / "performance.py")
    resources = {"metadata": {"path": str(root / "appendix")}}
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources=resources).execute()
    page = "\n".join(
        o.get("text", "") + o.get("data", {}).get("text/markdown", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for o in cell.outputs
    )
    assert f"**This result was {report.OLDER_CODE}.** `latest.json` was measured on" in page
    assert "helpers/training.py changed" in page and "Refresh it with `make bench`" in page
    assert "**From `gpu-h100.json`.** **This result was measured on older code.**" in page
    assert "**From `gpu-targets-nvidia-h100.json`.** **This result was measured" in page
    assert "| time to 0.88 test accuracy, best batch size | 2.600 s |" in page
