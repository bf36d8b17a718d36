"""The benchmark runs, writes what the Performance page reads, and judges targets correctly.

Nothing here asserts on speed: the tiny run only has to work and write sane numbers.
"""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import report, run
from benchmarks.measure import summarize

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "benchmarks" / "results" / "latest.json"
CHAPTERS_IN_ORDER = ("02_softmax_scratch", "03_softmax_concise", "04_keras_mlp")
CHAPTERS = set(CHAPTERS_IN_ORDER)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Run ``python -m benchmarks.run --tiny`` once; return (out folder, stdout)."""
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--tiny", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout


def _check_stats(stats, positive=True):
    assert set(stats) == {"median", "min", "max", "n"}
    assert stats["n"] >= 1
    assert stats["min"] <= stats["median"] <= stats["max"]
    if positive:
        assert stats["min"] > 0


def test_tiny_run_writes_valid_json(tiny):
    out, _ = tiny
    results = json.loads((out / "latest.json").read_text())
    assert set(results) == {"machine", "settings", "provenance", "sections", "targets"}
    assert results["settings"]["tiny"] is True
    assert results["settings"]["sections"] == ["reading", "training", "gpu"]
    machine = results["machine"]
    assert machine["cpu"] and machine["cores"] >= 1 and machine["torch"] and machine["date"]

    # Each section records the code it measured, the commit, the dates and the command.
    assert list(results["provenance"]) == ["reading", "training", "gpu"]
    for section, p in results["provenance"].items():
        assert p["code"] == report.code_hashes(section)  # nothing changed during the run
        assert p["command"] == f"python -m benchmarks.run --tiny --out {out}"
        assert p["started"] == machine["date"] and p["finished"] >= p["started"]
        assert p["seconds"] > 0 and len(p["load_average"]) == 3
        if shutil.which("git") and (ROOT / ".git").exists():
            assert len(p["commit"]) == 40 and isinstance(p["dirty"], bool)
    assert report.staleness(results) == {}

    reading = results["sections"]["reading"]
    names = [row["name"] for row in reading["rows"]]
    assert names == [
        "DataLoader + ToTensor, 0 workers",
        "DataLoader + ToTensor, 2 workers",
        "DataLoader + ToTensor, 4 workers",
        "helpers.load_data_fashion_mnist (in memory)",
    ]
    for row in reading["rows"]:
        _check_stats(row["seconds"])
        assert row["img_per_s"] > 0
    assert reading["images"] == 2000 and reading["speedup"] > 0
    assert all(value > 0 for value in reading["anatomy"].values())

    training = results["sections"]["training"]
    assert {m["chapter"] for m in training["models"]} == CHAPTERS
    for model in training["models"]:
        assert model["epochs"] == 1 and model["train_images"] == 2000
        for path in ("classic", "course"):
            _check_stats(model[path]["seconds"])
            _check_stats(model[path]["test_acc"])
            # One epoch on 2,000 images: far from trained, but clearly better than chance.
            assert 0.3 < model[path]["test_acc"]["median"] <= 1
        assert model["speedup"] > 0

    gpu = results["sections"]["gpu"]
    if gpu["available"]:
        assert len(gpu["rows"]) == 6 and all(r["img_per_s"] > 0 for r in gpu["rows"])
    else:
        assert "no CUDA GPU" in gpu["reason"]


def test_tiny_run_measures_no_target(tiny):
    """Tiny settings are not the targets' settings: nothing may count as met or missed."""
    out, _ = tiny
    results = json.loads((out / "latest.json").read_text())
    assert results["targets"]
    assert {t["status"] for t in results["targets"]} == {report.NOT_MEASURED}


def test_tiny_run_writes_and_prints_the_markdown(tiny):
    out, stdout = tiny
    markdown = (out / "latest.md").read_text()
    results = json.loads((out / "latest.json").read_text())
    assert markdown == report.to_markdown(results)
    assert stdout.strip() == markdown.strip()
    for heading in (
        "## Machine",
        "## Reading one epoch",
        "## Training each chapter's model",
        "## On a GPU",
        "## Targets",
    ):
        assert heading in markdown
    assert "| helpers.load_data_fashion_mnist (in memory) |" in markdown
    assert report.ratio(results["sections"]["reading"]["speedup"]) in markdown


def test_tiny_run_never_writes_over_the_committed_results():
    assert run.parse(["--tiny"]).out == ROOT / "benchmarks" / "out"
    assert run.parse([]).out == ROOT / "benchmarks" / "results"


def test_options_select_sections_and_reject_unknown_ones():
    assert run.parse(["--only", "gpu,reading"]).only == ["reading", "gpu"]
    args = run.parse([])
    assert (args.repeat, args.slow_repeat, args.book_repeat, args.merge) == (3, 3, 1, False)
    assert args.command == "python -m benchmarks.run"
    args = run.parse(["--only", "chapters", "--merge"])
    assert args.merge and args.command == "python -m benchmarks.run --only chapters --merge"
    with pytest.raises(SystemExit):
        run.parse(["--only", "reading,typo"])
    with pytest.raises(SystemExit):
        run.parse(["--repeat", "0"])


def test_options_select_one_training_row_its_epochs_and_the_file_name(tmp_path):
    args = run.parse(["--only", "training", "--models", "04_keras_mlp", "--epochs", "2",
                      "--name", "cpu-mlp", "--out", str(tmp_path)])  # fmt: skip
    assert (args.models, args.epochs, args.name) == (["04_keras_mlp"], 2, "cpu-mlp")
    assert run.parse([]).models == list(CHAPTERS_IN_ORDER) and run.parse([]).name == "latest"
    for bad in (["--models", "04_keras_mlp,typo"], ["--epochs", "0"]):
        with pytest.raises(SystemExit):
            run.parse(bad)
    results = json.loads(COMMITTED.read_text())
    json_path, md_path = run.write(results, tmp_path, "cpu-mlp")
    assert (json_path.name, md_path.name) == ("cpu-mlp.json", "cpu-mlp.md")
    assert json.loads(json_path.read_text()) == results
    assert md_path.read_text() == report.to_markdown(results)


def test_merge_replaces_the_measured_sections_and_keeps_the_others(tmp_path):
    old = json.loads(COMMITTED.read_text())
    old["provenance"] = {"book": {"commit": "b" * 40, "code": {}}}
    path = tmp_path / "latest.json"
    path.write_text(json.dumps(old))
    args = run.parse(["--only", "chapters", "--merge", "--slow-repeat",
                      str(old["settings"]["slow_repeat"]), "--out", str(tmp_path)])  # fmt: skip
    fresh = {"machine": old["machine"], "provenance": {}, "sections": {},
             "settings": {**old["settings"], "sections": args.only}}  # fmt: skip
    merged = run.merged(fresh, path)
    assert merged["sections"] == old["sections"]  # run() replaces "chapters" as it measures
    assert merged["provenance"] == old["provenance"]
    assert merged["settings"]["sections"] == old["settings"]["sections"]
    assert run.merged(fresh, tmp_path / "none.json") is fresh
    for key, value in (("cpu", "another CPU"), ("torch", "0.1"), ("repeat", 5)):
        other = copy.deepcopy(fresh)
        (other["machine"] if key != "repeat" else other["settings"])[key] = value
        with pytest.raises(SystemExit, match=f"other {key}"):
            run.merged(other, path)


def test_chapters_show_their_budget_and_status_and_missing_chapters():
    results = _results(20.0, 10.0, 0.0, 45.0, 100.0)
    text = report.chapters_table(results, present=["01_dataset", "04_keras_mlp", "06_new"])
    assert "| 01_dataset | 45.0 s | < 30 s | missed |" in text
    assert "| 04_keras_mlp | 45.0 s | < 60 s | met |" in text
    assert "| 05_gpu | fails: CellExecutionError: boom | < 30 s | missed |" in text
    assert "| 06_new | – | – | not measured |" in text
    results["targets"] = report.targets(results)
    shown = report.page_targets(results, present=["01_dataset", "06_new"])
    assert shown[-1] == {"target": "chapter 06_new executes within its budget",
                         "measured": "–", "status": report.NOT_MEASURED}  # fmt: skip
    assert len(shown) == len(results["targets"]) + 1


def test_a_training_row_with_other_epochs_than_the_chapter_is_not_judged():
    results = _results(20.0, 30.0, 0.0, 10.0, 100.0)
    results["sections"]["training"]["models"][0].update(epochs=1, chapter_epochs=10)
    target = report.targets(results)[1]
    assert target["status"] == report.NOT_MEASURED
    assert "1 epochs, not the chapter's 10" in target["measured"]


def test_summarize():
    assert summarize([3.0, 1.0, 2.0, 10.0]) == {"median": 2.5, "min": 1.0, "max": 10.0, "n": 4}
    with pytest.raises(ValueError):
        summarize([])


def _results(reading_speedup, training_speedup, acc_diff, chapter_seconds, book_seconds):
    one = lambda value: {"median": value, "min": value, "max": value, "n": 1}  # noqa: E731
    chapters = [
        {"chapter": "01_dataset", "limit_s": 30, "seconds": one(chapter_seconds)},
        {"chapter": "04_keras_mlp", "limit_s": 60, "seconds": one(chapter_seconds)},
        {"chapter": "05_gpu", "limit_s": 30, "error": "CellExecutionError: boom"},
    ]
    model = {
        "chapter": "02_softmax_scratch",
        "speedup": training_speedup,
        "acc_diff": acc_diff,
        "same_accuracy": abs(acc_diff) <= 0.01,
    }
    return {
        "settings": {"tiny": False},
        "sections": {
            "reading": {"speedup": reading_speedup},
            "training": {"models": [model]},
            "chapters": {"rows": chapters},
            "book": {"limit_s": 180, "cold": one(book_seconds)},
        },
    }


def test_targets_are_met_only_when_every_condition_holds():
    statuses = [t["status"] for t in report.targets(_results(20.0, 10.0, 0.004, 29.9, 179.0))]
    # reading, training, chapter 01, chapter 04, chapter 05 (fails), book
    assert statuses == ["met", "met", "met", "met", "missed", "met"]
    statuses = [t["status"] for t in report.targets(_results(19.9, 30.0, -0.02, 45.0, 180.0))]
    # fast training at a lower accuracy is missed; 45 s is within chapter 04's 60 s only
    assert statuses == ["missed", "missed", "missed", "met", "missed", "missed"]


def test_targets_not_run_are_not_measured():
    results = {"settings": {"tiny": False}, "sections": {}}
    assert {t["status"] for t in report.targets(results)} == {report.NOT_MEASURED}


def test_performance_page_renders_any_results_file(tiny, tmp_path):
    """Execute the page against the tiny results, twice (in two kernels at the same time): it
    works and its text is stable."""
    import jupytext
    from nbclient import NotebookClient

    out, _ = tiny
    # The code the results measured (the page checks them against it) and the benchmark.
    names = {name for section in report.CODE for name in report.code_files(section)}
    names |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "benchmarks").glob("*.py")}
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    shutil.copy(out / "latest.json", tmp_path / "benchmarks" / "results" / "latest.json")
    (tmp_path / "appendix").mkdir(exist_ok=True)
    notebooks = [jupytext.read(ROOT / "appendix" / "performance.py") for _ in range(2)]
    resources = {"metadata": {"path": str(tmp_path / "appendix")}}
    clients = [NotebookClient(nb, timeout=300, kernel_name="python3", resources=resources)
               for nb in notebooks]  # fmt: skip

    async def both():  # two kernels at once: the runs are independent
        await asyncio.gather(*(client.async_execute() for client in clients))

    asyncio.run(both())
    texts = [
        [
            o.get("text", "") + o.get("data", {}).get("text/markdown", "")
            for cell in notebook.cells
            if cell.cell_type == "code"
            for o in cell.outputs
        ]
        for notebook in notebooks
    ]
    assert texts[0] == texts[1]
    page = "\n".join(texts[0])
    results = json.loads((out / "latest.json").read_text())
    finished = results["provenance"]["gpu"]["finished"]
    assert "`latest.json` was measured " in page and finished in page
    assert "The code it measured is unchanged since." in page
    assert f"| reading, training, gpu | {results['machine']['date']} |" in page
    assert "| helpers.load_data_fashion_mnist (in memory) |" in page
    assert "Not measured in this run." in page  # the tiny run has no chapters or book section
    assert f"did not measure {len(results['targets'])}." in page


@pytest.mark.skipif(not COMMITTED.is_file(), reason="no committed results yet")
def test_committed_results_are_a_full_run_and_match_their_markdown():
    results = json.loads(COMMITTED.read_text())
    assert results["settings"]["tiny"] is False
    assert results["targets"] == report.targets(results)
    assert COMMITTED.with_suffix(".md").read_text() == report.to_markdown(results)
