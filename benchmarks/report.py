"""Turn a results dict into targets (met / missed) and Markdown tables.

Used by ``benchmarks.run`` to write ``results/latest.md`` and by the book's Performance page
(``appendix/performance.py``) to render ``results/latest.json``: one formatter for both.
"""

from __future__ import annotations

from typing import Any

READING_TARGET = 20.0  # reading one epoch: at least this many times faster than the DataLoader
TRAINING_TARGET = 10.0  # each chapter's training: this many times faster, at the same accuracy
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


# --- tables, one per section (the book page shows them under its own headings) -------------


def machine_table(results: dict[str, Any]) -> str:
    m, s = results["machine"], results["settings"]
    rows = [
        ["CPU", f"{m['cpu']}, {m['cores']} cores (torch uses {m['torch_threads']} threads)"],
        ["GPU", m["gpu"] + f" (CUDA {m['cuda']})" if m["gpu"] else "none"],
        ["Software", f"Python {m['python']}, torch {m['torch']}, torchvision {m['torchvision']}"],
        ["OS", m["os"]],
        ["Date", m["date"]],
        ["Repetitions", f"{s['repeat']} (chapters and book build: {s['slow_repeat']})"
                        + (", --tiny settings" if s["tiny"] else "")],
    ]  # fmt: skip
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
            label = "DataLoader, 4 workers" if path == "classic" else "helpers"
            if path == "course" and m["chapter"] == "04_keras_mlp":
                label = "helpers.KerasModel"
            rows.append([
                m["chapter"], f"{m['model']}, batch {m['batch_size']}, {epochs(m['epochs'])}",
                label, spread(p["seconds"]), rate(p["img_per_s"]),
                spread(p["test_acc"], acc), ratio(m["speedup"]) if path == "course" else "",
            ])  # fmt: skip
    header = ["Chapter", "Model", "Path", "Time", "Speed", "Test accuracy", "Speed-up"]
    return (
        f"{table(header, rows)}\n\nEach time covers `train_ch3` (or `fit`) including its test "
        f"evaluation after every epoch; speed counts training images only. Accuracies count as "
        f"the same when their medians are within {t['acc_tolerance']:.2f}."
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


def chapters_table(results: dict[str, Any]) -> str:
    c = results["sections"]["chapters"]
    rows = []
    for row in c["rows"]:
        time = f"fails: {row['error']}" if "error" in row else spread(row["seconds"])
        rows.append([row["chapter"], time, f"< {row['limit_s']} s"])
    if not rows:
        return "No chapter was found in `chapters/`."
    return table(["Chapter", "Execution time", "Target"], rows)


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


def targets_table(results: dict[str, Any]) -> str:
    rows = [[t["target"], t["measured"], t["status"]] for t in results["targets"]]
    return table(["Target", "Measured", "Status"], rows)


SECTIONS = {
    "reading": ("Reading one epoch", reading_table),
    "anatomy": ("Where the classic path spends its time", anatomy_table),
    "training": ("Training each chapter's model", training_table),
    "chapters": ("Executing each chapter", chapters_table),
    "book": ("Building the book", book_table),
    "gpu": ("On a GPU", gpu_table),
}


def section_markdown(results: dict[str, Any], section: str) -> str:
    """The table of one section, or a line saying that this run did not measure it."""
    if section == "machine":
        return machine_table(results)
    if section == "targets":
        return targets_table(results)
    if (section == "anatomy" and "reading" not in results["sections"]) or (
        section != "anatomy" and section not in results["sections"]
    ):
        return "Not measured in this run."
    return SECTIONS[section][1](results)


def to_markdown(results: dict[str, Any]) -> str:
    parts = ["# Benchmark results", "## Machine", machine_table(results)]
    for key, (title, _) in SECTIONS.items():
        parts += [f"## {title}", section_markdown(results, key)]
    parts += ["## Targets", targets_table(results)]
    return "\n\n".join(parts) + "\n"
