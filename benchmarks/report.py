"""Turn a results dict into targets (met / missed) and Markdown tables; check its freshness.

Used by ``benchmarks.run`` to write ``results/latest.md`` and by the book's Performance page
(``appendix/performance.py``) to render ``results/latest.json``: one formatter for both.

Every result records, per section, the code it measured (a hash of each file ``CODE`` names),
the git commit and the date (``provenance``); ``staleness`` compares those hashes with the
files as they are now. This module is not itself in ``CODE``: how results are shown or
checked does not change what was measured.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

READING_TARGET = 20.0  # reading one epoch: at least this many times faster than the DataLoader
TRAINING_TARGET = 10.0  # each chapter's training: this many times faster, at the same accuracy
FLOOR_TARGET = 3.0  # the chapter-4 MLP's fit: at most this many times its matrix-product floor
MET, MISSED, NOT_MEASURED = "met", "missed", "not measured"


def seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def spread(stats: dict[str, float] | None, fmt=seconds) -> str:
    """``median (min–max)``; just the value when there was one repetition."""
    if not stats:
        return "–"
    if stats["n"] == 1:
        return fmt(stats["median"])
    return f"{fmt(stats['median'])} ({fmt(stats['min'])} – {fmt(stats['max'])})"


def epochs(n: int) -> str:
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def acc(value: float) -> str:
    return f"{value:.4f}"


def rate(value: float) -> str:
    return f"{value:,.0f} img/s"


def threads(n: int) -> str:
    return f"{n} thread" if n == 1 else f"{n} threads"


def ratio(value: float) -> str:
    return f"{value:.1f}x"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# --- targets ------------------------------------------------------------------------------


def targets(results: dict[str, Any]) -> list[dict[str, str]]:
    """Each target of the course, with what this run measured and whether it was met."""
    sections, tiny = results.get("sections", {}), results.get("settings", {}).get("tiny", False)
    out = []

    def add(target: str, measured: str, ok: bool | None) -> None:
        status = NOT_MEASURED if ok is None or tiny else (MET if ok else MISSED)
        if tiny and ok is not None:
            measured += " (--tiny run: not comparable)"
        out.append({"target": target, "measured": measured, "status": status})

    reading = sections.get("reading")
    name = f"reading one epoch ≥ {READING_TARGET:.0f}x faster than the best DataLoader setting"
    if reading:
        add(name, ratio(reading["speedup"]), reading["speedup"] >= READING_TARGET)
    else:
        add(name, "–", None)
    training = sections.get("training")
    for model in training["models"] if training else []:
        same = "same accuracy" if model["same_accuracy"] else "accuracy differs"
        measured = f"{ratio(model['speedup'])}, {same} ({model['acc_diff']:+.4f})"
        ok = model["speedup"] >= TRAINING_TARGET and model["same_accuracy"]
        if model.get("chapter_epochs", model.get("epochs")) != model.get("epochs") and not tiny:
            measured += f" ({model['epochs']} epochs, not the chapter's {model['chapter_epochs']})"
            ok = None
        add(f"training {model['chapter']} ≥ {TRAINING_TARGET:.0f}x faster, same accuracy",
            measured, ok)  # fmt: skip
        if "floor" in model:  # the chapter-4 MLP: its floor and its thread count
            for target in mlp_targets(model):
                add(*target)
    if not training:
        add(f"each chapter's training ≥ {TRAINING_TARGET:.0f}x faster, same accuracy", "–", None)
    chapters = sections.get("chapters")
    for row in chapters["rows"] if chapters else []:
        name = f"chapter {row['chapter']} executes in < {row['limit_s']} s"
        if "error" in row:
            add(name, f"fails: {row['error'][:80]}", False)
        else:
            add(name, seconds(row["seconds"]["median"]), row["seconds"]["median"] < row["limit_s"])
    if not chapters or not chapters["rows"]:
        add("every chapter executes in < 30 s (chapter 04: < 60 s)", "–", None)
    book = sections.get("book")
    name = "whole book, cold build < 3 min"
    if book and "cold" in book:
        add(name, seconds(book["cold"]["median"]), book["cold"]["median"] < book["limit_s"])
    elif book and "error" in book:
        add(name, f"build fails: {book['error'][:80]}", False)
    else:
        add(name, "–", None)
    return out


def mlp_targets(model: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """``(target, measured, met)`` of the MLP's floor ratio and of chapter 4's thread count."""
    measured = (f"{ratio(model['floor_ratio_best'])} the lowest floor "
                f"({ratio(model['floor_ratio'])} the floor with its "
                f"{threads(model['floor']['threads'])})")  # fmt: skip
    floor = (f"training {model['chapter']} within {FLOOR_TARGET:.0f}x of the matrix-product "
             "floor", measured, model["floor_ratio_best"] <= FLOOR_TARGET)  # fmt: skip
    t = model["threads"]
    worst: dict[int, float] = {}  # each thread count's mean in its worse machine state
    for row in t["rows"]:
        worst[row["threads"]] = max(worst.get(row["threads"], 0.0), row["mean_step_seconds"])
    means = ", ".join(f"{n}: {us(v)}" for n, v in sorted(worst.items()))
    choice = (f"chapter 4's {threads(t['chapter_threads'])}: the lower mean step in its worse "
              "state (quiet, one core busy)", f"worse state's mean by threads {means}",
              t["chosen"] == t["chapter_threads"])  # fmt: skip
    return [floor, choice]


# --- tables, one per section (the book page shows them under its own headings) -------------


def repetitions(settings: dict[str, Any]) -> str:
    book = settings.get("book_repeat", settings["slow_repeat"])
    return (f"{settings['repeat']} (chapter executions: {settings['slow_repeat']}, book builds: "
            f"{book})" + (", --tiny settings" if settings["tiny"] else ""))  # fmt: skip


def machine_table(results: dict[str, Any]) -> str:
    """The machine and software; when and on which code: ``provenance_table``."""
    m = results["machine"]
    rows = [
        ["CPU", f"{m['cpu']}, {m['cores']} cores (torch uses {m['torch_threads']} threads)"],
        ["GPU", m["gpu"] + f" (CUDA {m['cuda']})" if m["gpu"] else "none"],
        ["Software", f"Python {m['python']}, torch {m['torch']}, torchvision {m['torchvision']}"],
        ["OS", m["os"]],
    ]  # fmt: skip
    if "settings" in results:
        rows.append(["Repetitions", repetitions(results["settings"])])
    return table(["", ""], rows)


def reading_table(results: dict[str, Any]) -> str:
    r = results["sections"]["reading"]
    rows = [[row["name"], spread(row["seconds"]), rate(row["img_per_s"])] for row in r["rows"]]
    text = table(["Path (one epoch, batch " + str(r["batch_size"]) + ")", "Time", "Speed"], rows)
    return (
        f"{text}\n\nSpeed-up of helpers over the best DataLoader setting ({r['best_classic']}): "
        f"**{ratio(r['speedup'])}**. Loading the files into memory, once per process: "
        f"{spread(r['course_load_once'])}."
    )


def training_table(results: dict[str, Any]) -> str:
    t = results["sections"]["training"]
    rows = []
    for m in t["models"]:
        for path in ("classic", "course"):
            p = m[path]
            workers = t.get("workers_classic", 4)
            label = f"DataLoader, {workers} workers" if path == "classic" else "helpers"
            if path == "course" and m["chapter"] == "04_keras_mlp":
                label = "helpers.KerasModel"
            model = f"{m['model']}, batch {m['batch_size']}, {epochs(m['epochs'])}"
            if m.get("optimizer"):
                model += f", {m['optimizer']}"
            rows.append([
                m["chapter"], model,
                label, spread(p["seconds"]), rate(p["img_per_s"]),
                spread(p["test_acc"], acc), ratio(m["speedup"]) if path == "course" else "",
            ])  # fmt: skip
    header = ["Chapter", "Model", "Path", "Time", "Speed", "Test accuracy", "Speed-up"]
    return (
        f"{table(header, rows)}\n\nEach time covers `train_ch3` (or `fit`) including its test "
        f"evaluation after every epoch; speed counts training images only. Accuracies count as "
        f"the same when their medians are within {t['acc_tolerance']:.2f}. The classic path runs "
        f"with torch's default number of threads, as d2l does; `KerasModel.fit` with one, as "
        f"chapter 4 does (see below)."
    )


def mlp_table(results: dict[str, Any]) -> str:
    """Chapter 4's fit at batch 32: step time by thread count, and the matrix-product floor."""
    model = next(m for m in results["sections"]["training"]["models"] if "floor" in m)
    t, f = model["threads"], model["floor"]
    rows = [[r["condition"], str(r["threads"]), f"{r['images']:,}", spread(r["step_seconds"], us),
             us(r["mean_step_seconds"])] for r in t["rows"]]  # fmt: skip
    header = ["Machine", "Threads", "Images per round", "`fit` step", f"Mean of {t['rounds']}"]
    floor_rows = [[str(r["threads"]), spread(r["train_step"], us), spread(r["eval_step"], us)]
                  for r in f["products"]["rows"]]  # fmt: skip
    floor_header = ["Threads", "5 products of a training step", "2 of an evaluation step"]
    course = model["course"]["seconds"]["median"]
    return (
        f"{table(header, rows)}\n\nEach round times one `fit` at batch {t['batch_size']} (no "
        f"evaluation) and divides by its steps; {t['rounds']} rounds per machine state, "
        f"alternating the thread counts: median (min – max) of the rounds, and their mean. "
        f'"One core busy": another process spins on one core meanwhile. The thread count whose '
        f"worse state "
        f"has the lower mean: **{t['chosen']}** (chapter 4 uses {t['chapter_threads']}).\n\n"
        f"{table(floor_header, floor_rows)}\n\nThe floor: the median time of a step's matrix "
        f"products alone, on real batches in the layouts autograd uses. For the "
        f"{epochs(model['epochs'])} above ({f['train_steps']:,} training and "
        f"{f['eval_steps']:,} evaluation steps) it adds up to {seconds(f['seconds'])} at "
        f"{threads(f['threads'])} (the lowest floor: {seconds(f['seconds_best'])}); `fit` took "
        f"{seconds(course)}: **{ratio(model['floor_ratio'])}** the floor at its thread count, "
        f"**{ratio(model['floor_ratio_best'])}** the lowest floor."
    )


def us(value: float) -> str:
    """A short time: µs below a millisecond, ms above."""
    return f"{value * 1e6:.1f} µs" if value < 1e-3 else f"{value * 1e3:.2f} ms"


def anatomy_table(results: dict[str, Any]) -> str:
    """Where an epoch of the classic path goes, per image, against helpers' whole batch."""
    r = results["sections"]["reading"]
    a, b = r["anatomy"], r["batch_size"]
    rows = [
        ["`dataset[i]`: index, PIL image, `ToTensor`, label", us(a["getitem_per_image"]),
         us(a["getitem_per_image"] * b)],
        ["… of which `Image.fromarray`", us(a["pil_per_image"]), us(a["pil_per_image"] * b)],
        ["… of which `ToTensor`", us(a["to_tensor_per_image"]), us(a["to_tensor_per_image"] * b)],
        ["`default_collate` of a batch", us(a["collate_per_batch"] / b),
         us(a["collate_per_batch"])],
        ["helpers: index, `float`, divide (whole batch)", us(a["course_per_batch"] / b),
         us(a["course_per_batch"])],
    ]  # fmt: skip
    return table(["Step (one process)", "Per image", f"Per batch of {b}"], rows)


def chapter_status(row: dict[str, Any]) -> str:
    if "error" in row:
        return MISSED
    return MET if row["seconds"]["median"] < row["limit_s"] else MISSED


def chapters_table(results: dict[str, Any], present: list[str] | None = None) -> str:
    """Each chapter's execution time against its budget; ``present``: the chapters there are
    now, so that one the run did not execute shows as not measured rather than vanishing."""
    c = results["sections"]["chapters"]
    rows = []
    for row in c["rows"]:
        time = f"fails: {row['error']}" if "error" in row else spread(row["seconds"])
        rows.append([row["chapter"], time, f"< {row['limit_s']} s", chapter_status(row)])
    measured = {row["chapter"] for row in c["rows"]}
    rows += [[name, "–", "–", NOT_MEASURED] for name in present or [] if name not in measured]
    if not rows:
        return "No chapter was found in `chapters/`."
    return table(["Chapter", "Execution time", "Budget", "Status"], rows)


def book_table(results: dict[str, Any]) -> str:
    b = results["sections"]["book"]
    rows = [
        ["cold (fresh copy, empty execution cache)", spread(b.get("cold"))],
        ["warm (`--all`: every page re-rendered, notebooks from the cache)", spread(b.get("warm"))],
    ]
    text = table(["`jupyter-book build`", "Time"], rows)
    if "measured_on" in b:  # merged in from a later run of `--only book` on the same machine
        text += f"\n\nMeasured in a separate run of `--only book`, {b['measured_on']}."
    return text + (f"\n\nThe build failed: `{b['error'][-300:]}`" if "error" in b else "")


def gpu_table(results: dict[str, Any]) -> str:
    g = results["sections"]["gpu"]
    if not g["available"]:
        return f"Not measured: {g['reason']}."
    rows = [
        [str(r["batch_size"]), r["precision"], spread(r["seconds"]), rate(r["img_per_s"]),
         spread(r["test_acc"], acc), spread(r.get("time_to_target")), r["reached_target"]]
        for r in g["rows"]
    ]  # fmt: skip
    n = g["rows"][0]["epochs"] if g["rows"] else 0
    header = ["Batch", "Precision", epochs(n), "Speed", "Test accuracy",
              f"Time to {g['target_acc']}", "Runs that reached it"]  # fmt: skip
    return (
        f"{table(header, rows)}\n\nOn {g['device']}, data resident on the GPU; the time to "
        f"{g['target_acc']} counts training and the test evaluation after each epoch "
        f"(at most {g['max_epochs']} epochs)."
    )


def page_targets(results: dict[str, Any], present: list[str] | None = None) -> list[dict]:
    """The stored targets, and one not measured for each chapter of ``present`` that the
    results do not include (a chapter added after the measurement)."""
    chapters = results.get("sections", {}).get("chapters")
    if not chapters or present is None:
        return results["targets"]
    measured = {row["chapter"] for row in chapters["rows"]}
    missing = [{"target": f"chapter {name} executes within its budget", "measured": "–",
                "status": NOT_MEASURED} for name in present if name not in measured]  # fmt: skip
    return results["targets"] + missing


def targets_table(results: dict[str, Any], present: list[str] | None = None) -> str:
    rows = [[t["target"], t["measured"], t["status"]] for t in page_targets(results, present)]
    return table(["Target", "Measured", "Status"], rows)


SECTIONS = {
    "reading": ("Reading one epoch", reading_table),
    "anatomy": ("Where the classic path spends its time", anatomy_table),
    "training": ("Training each chapter's model", training_table),
    "mlp": ("The chapter-4 MLP: threads and the floor", mlp_table),
    "chapters": ("Executing each chapter", chapters_table),
    "book": ("Building the book", book_table),
    "gpu": ("On a GPU", gpu_table),
}


def section_markdown(results: dict[str, Any], section: str) -> str:
    """The table of one section, or a line saying that this run did not measure it."""
    if section == "machine":
        return machine_table(results)
    if section == "provenance":
        return provenance_table(results)
    if section == "targets":
        return targets_table(results)
    inside = {"anatomy": "reading", "mlp": "training"}  # tables of another section's data
    data = results["sections"].get(inside.get(section, section))
    if data is None:
        return "Not measured in this run."
    if section == "mlp" and not any("floor" in m for m in data["models"]):
        return "Not measured in this run (the training section did not train chapter 4's MLP)."
    return SECTIONS[section][1](results)


def to_markdown(results: dict[str, Any]) -> str:
    parts = ["# Benchmark results", "## Machine", machine_table(results)]
    parts += ["## When, on which code", provenance_table(results)]
    for key, (title, _) in SECTIONS.items():
        parts += [f"## {title}", section_markdown(results, key)]
    parts += ["## Targets", targets_table(results)]
    return "\n\n".join(parts) + "\n"


# --- provenance: which code a result measured, and whether that code has changed since ------

# What each section's numbers depend on (globs under the repository root): the helpers
# package and the timing primitives always, the section's measuring module, and the pages a
# section executes. The orchestration (run.py) and this module are left out on purpose.
_ALWAYS = ("helpers/**/*.py", "benchmarks/measure.py")
CHAPTER_SOURCES = "chapters/[0-9][0-9]_*.py"
CODE: dict[str, tuple[str, ...]] = {
    "reading": (*_ALWAYS, "benchmarks/pipelines.py"),
    "training": (*_ALWAYS, "benchmarks/pipelines.py", "benchmarks/mlp.py"),
    "gpu": (*_ALWAYS, "benchmarks/pipelines.py", "benchmarks/gpu.py"),
    "chapters": (*_ALWAYS, "benchmarks/execution.py", CHAPTER_SOURCES),
    "book": (*_ALWAYS, "benchmarks/execution.py", CHAPTER_SOURCES, "appendix/*.py", "_config.yml",
             "_toc.yml"),
    # python -m benchmarks.gpu (gpu-targets-<device>.json), run on a lent GPU machine
    "gpu-targets": (*_ALWAYS, "benchmarks/pipelines.py", "benchmarks/gpu.py"),
}  # fmt: skip
REFRESH = "make bench"  # = .venv/bin/python -m benchmarks.run: every section
DEFAULT_REPEAT, DEFAULT_SLOW_REPEAT = 3, 3  # benchmarks.run's --repeat and --slow-repeat
OLDER_CODE = "measured on older code"


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def code_files(section: str, root: Path = ROOT) -> list[str]:
    """The files (relative, with /) whose code ``section``'s numbers depend on."""
    found = set()
    for pattern in CODE[section]:
        for path in root.glob(pattern):
            if path.is_file() and "__pycache__" not in path.parts:
                found.add(path.relative_to(root).as_posix())
    return sorted(found)


def file_hash(path: Path) -> str:
    """The first 16 hex digits of the SHA-256 of a file, line endings normalised to \\n."""
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()[:16]


def code_hashes(section: str, root: Path = ROOT) -> dict[str, str]:
    return {name: file_hash(root / name) for name in code_files(section, root)}


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              timeout=30)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def provenance(
    section: str,
    command: str,
    started: str,
    code: dict[str, str] | None = None,
    seconds: float | None = None,
    root: Path = ROOT,
) -> dict[str, Any]:
    """What a measurement of ``section`` ran on: command, dates, commit, load, code hashes.

    ``code`` is taken when the section starts (default: now); ``dirty`` says whether the
    working tree held uncommitted changes to those files, so that the commit alone is not
    the code that was measured.
    """
    code = code_hashes(section, root) if code is None else code
    commit = _git(root, "rev-parse", "HEAD")
    status = _git(root, "status", "--porcelain", "--", *code) if commit else None
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "command": command,
        "started": started,
        "finished": now(),
        "seconds": seconds,
        "commit": commit,
        "dirty": bool(status) if status is not None else None,
        "load_average": [round(x, 2) for x in load] if load else None,
        "code": code,
    }


def kind(results: dict[str, Any]) -> str | None:
    """``run`` (python -m benchmarks.run), ``gpu-targets`` (python -m benchmarks.gpu), or None."""
    if not isinstance(results, dict):
        return None
    if isinstance(results.get("sections"), dict) and "settings" in results:
        return "run"
    if isinstance(results.get("targets"), dict) and "gpu" in results:
        return "gpu-targets"
    return None


def measured_sections(results: dict[str, Any]) -> list[str]:
    found = kind(results)
    if found == "run":
        return [s for s in results["sections"] if s in CODE]
    return ["gpu-targets"] if found == "gpu-targets" else []


def changes(recorded: dict[str, str], current: dict[str, str]) -> list[str]:
    """Each file that changed, appeared or disappeared between two ``code_hashes``."""
    out = [f"{name} changed" for name in sorted(recorded.keys() & current.keys())
           if recorded[name] != current[name]]  # fmt: skip
    out += [f"{name} is new" for name in sorted(current.keys() - recorded.keys())]
    out += [f"{name} was removed" for name in sorted(recorded.keys() - current.keys())]
    return out


def staleness(results: dict[str, Any], root: Path = ROOT) -> dict[str, list[str]]:
    """For each measured section whose code is not the code now: why. Empty when fresh."""
    stale = {}
    for section in measured_sections(results):
        recorded = results.get("provenance", {}).get(section, {}).get("code")
        if recorded is None:
            stale[section] = ["no record of the code it measured (measured before the "
                              "benchmark recorded it)"]  # fmt: skip
        elif found := changes(recorded, code_hashes(section, root)):
            stale[section] = found
    return stale


def refresh_command(name: str, stale: dict[str, list[str]], results: dict[str, Any]) -> str:
    """How to measure the stale sections of ``results/<name>.json`` again (Markdown)."""
    if "gpu-targets" in stale:
        return "on a GPU machine with `bash tools/gpu_run.sh` (CONTRIBUTING.md, GPU outputs)"
    every = set(stale) == set(measured_sections(results))
    if name == "latest" and every:
        return f"with `{REFRESH}`"
    settings = results.get("settings", {})
    command = "python -m benchmarks.run --only " + ",".join(s for s in CODE if s in stale)
    if "training" in stale and settings.get("models"):
        command += " --models " + ",".join(settings["models"])
    if "training" in stale and settings.get("epochs"):
        command += f" --epochs {settings['epochs']}"
    # --merge keeps the other sections only when the repetitions are the same
    fast = not every or stale.keys() & {"reading", "training", "gpu"}
    if fast and settings.get("repeat", DEFAULT_REPEAT) != DEFAULT_REPEAT:
        command += f" --repeat {settings['repeat']}"
    slow = not every or "chapters" in stale
    if slow and settings.get("slow_repeat", DEFAULT_SLOW_REPEAT) != DEFAULT_SLOW_REPEAT:
        command += f" --slow-repeat {settings['slow_repeat']}"
    command += ("" if every else " --merge") + ("" if name == "latest" else f" --name {name}")
    if name.startswith("gpu-"):
        return f"on a GPU machine with `{command}`"
    return f"with `.venv/bin/{command}`"


def duration(value: float) -> str:
    return f"{value:.0f} s" if value < 100 else f"{value / 60:.0f} min"


def short_commit(p: dict[str, Any]) -> str:
    """``abc1234``, with a mark when the measured files differed from that commit."""
    if not p.get("commit"):
        return "not recorded"
    return f"`{p['commit'][:7]}`" + (" + uncommitted changes" if p.get("dirty") else "")


def _listed(items: list[str], most: int = 6) -> str:
    shown = "; ".join(items[:most])
    return shown + (f"; and {len(items) - most} more" if len(items) > most else "")


def provenance_table(results: dict[str, Any], stale: dict[str, list[str]] | None = None) -> str:
    """One row per run that measured some of the sections: when, on which commit, how long.

    With ``stale`` (from ``staleness``), a last column says whether that code changed since.
    """
    groups: dict[tuple, list[str]] = {}
    recorded = results.get("provenance", {})
    for section in measured_sections(results):
        p = recorded.get(section, {})
        key = (p.get("command"), p.get("started"), p.get("commit"), p.get("dirty"))
        groups.setdefault(key, []).append(section)
    rows = []
    for sections in groups.values():
        p = recorded.get(sections[0], {})
        spent = [recorded[s]["seconds"] for s in sections if recorded.get(s, {}).get("seconds")]
        load = p.get("load_average")
        row = [
            ", ".join(sections),
            p.get("started") or results.get("machine", {}).get("date", "–"),
            short_commit(p),
            f"`{p['command']}`" if p.get("command") else "not recorded",
            duration(sum(spent)) if spent else "–",
            ", ".join(f"{x:.1f}" for x in load) if load else "–",
        ]
        if stale is not None:
            reasons = [r for s in sections for r in stale.get(s, [])]
            row.append(f"**{OLDER_CODE}**: " + _listed(sorted(set(reasons))) if reasons
                       else "unchanged")  # fmt: skip
        rows.append(row)
    header = ["Sections", "Run started", "Commit", "Command", "Took", "Load (1, 5, 15 min)"]
    if stale is not None:
        header.append("Code it measured, now")
    return table(header, rows)


def freshness_note(name: str, results: dict[str, Any], stale: dict[str, list[str]]) -> str:
    """One paragraph: when and on which commit ``results`` was measured; loud if stale."""
    recorded = results.get("provenance", {})
    dates = sorted({p["finished"] for p in recorded.values() if p.get("finished")})
    commits = sorted({short_commit(p) for p in recorded.values() if p.get("commit")})
    when = (
        f"between {dates[0]} and {dates[-1]}" if len(dates) > 1
        else f"on {dates[0]}" if dates
        else f"on {results.get('machine', {}).get('date', 'an unrecorded date')}"
    )  # fmt: skip
    at = f"commit {', '.join(commits)}" if commits else "an unrecorded commit"
    text = f"`{name}.json` was measured {when}, at {at}."
    if not stale:
        return text + " The code it measured is unchanged since."
    reasons = sorted({r for rs in stale.values() for r in rs})
    return (
        f"**This result was {OLDER_CODE}.** {text} Since then, for "
        f"{', '.join(s for s in stale)}: {_listed(reasons)}. Refresh it "
        f"{refresh_command(name, stale, results)}."
    )


# --- the results of other machines, shown on the Performance page --------------------------

TARGET_NAMES = {
    "mlp_10_epochs_batch_32_seconds": "chapter-4 MLP, 10 epochs at batch 32 (CUDA graph): time",
    "mlp_10_epochs_batch_32_acc": "… its test accuracy",
    "time_to_088_seconds": "time to 0.88 test accuracy, best batch size",
    "cnn_gpu_over_cpu_batch_256": "LeNet-style CNN at batch 256: GPU over this machine's CPU",
}


def gpu_results(folder: Path) -> list[tuple[Path, str | None]]:
    """Every ``gpu-*.json`` in ``folder`` with its kind (``run``, ``gpu-targets`` or None).

    ``gpu-<device>.json`` comes from ``benchmarks.run --only reading,gpu``;
    ``gpu-targets-<device>.json`` from ``benchmarks.gpu``: the two have different layouts.
    """
    found = []
    for path in sorted(folder.glob("gpu-*.json")):
        try:
            found.append((path, kind(json.loads(path.read_text()))))
        except (OSError, ValueError):
            found.append((path, None))
    return found


def gpu_targets_table(results: dict[str, Any]) -> str:
    """The targets of a ``gpu-targets-<device>.json`` (python -m benchmarks.gpu)."""
    gpu = results.get("gpu", {})
    if not gpu.get("available"):
        return f"Not measured: {gpu.get('reason', 'no GPU')}."
    rows = []
    for key, t in results["targets"].items():
        value = t.get("value")
        shown = "–" if value is None else (seconds(value) if key.endswith("seconds")
                                             else acc(value) if key.endswith("acc")
                                             else ratio(value))  # fmt: skip
        rows.append([TARGET_NAMES.get(key, key), shown, t.get("target", "–"),
                     t.get("verdict", NOT_MEASURED)])  # fmt: skip
    return table(["Target", "Measured", "Target value", "Status"], rows) + (
        f"\n\nOn {gpu.get('device', 'a GPU')}"
        + (" (--tiny settings)." if results.get("tiny") else ".")  # fmt: skip
    )
