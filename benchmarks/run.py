"""Measure the course's data path and training loops against the classic d2l path.

    python -m benchmarks.run                      # everything (make bench), several minutes
    python -m benchmarks.run --only reading,gpu   # some sections
    python -m benchmarks.run --tiny --out /tmp/b  # the quick setting the tests use
    python -m benchmarks.run --only training --models 04_keras_mlp --name cpu-mlp
                                                  # one training row, into results/cpu-mlp.*
    python -m benchmarks.run --only chapters,book --merge
                                                  # measure two sections again, keep the rest

Each ratio compares two paths measured in the same run, minutes apart, on one machine.
Writes ``latest.json`` and ``latest.md`` into ``--out``; each section records the code it
measured, the git commit and the dates (``provenance``), which
``tests/test_benchmark_freshness.py`` checks against the code as it is now.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import execution, gpu, pipelines, report  # noqa: E402
from benchmarks.measure import log, machine  # noqa: E402

HERE = Path(__file__).resolve().parent
SECTIONS = ("reading", "training", "gpu", "chapters", "book")
TINY_SECTIONS = ("reading", "training", "gpu")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=None,
                        help=f"comma-separated sections among {','.join(SECTIONS)} (default: all;"
                             f" with --tiny: {','.join(TINY_SECTIONS)})")  # fmt: skip
    parser.add_argument("--models", default=None,
                        help=f"training: comma-separated chapters among "
                             f"{','.join(pipelines.MODELS)} (default: all)")  # fmt: skip
    parser.add_argument("--epochs", type=int, default=None,
                        help="training: epochs of every model (default: chapter's)")  # fmt: skip
    parser.add_argument(
        "--name", default="latest", help="output file names: NAME.json and NAME.md (default latest)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=report.DEFAULT_REPEAT,
        help="repetitions of each reading/training/GPU measurement (default 3)",
    )
    parser.add_argument(
        "--slow-repeat",
        type=int,
        default=report.DEFAULT_SLOW_REPEAT,
        help="repetitions of each chapter execution (default 3)",
    )
    parser.add_argument(
        "--book-repeat",
        type=int,
        default=1,
        help="repetitions of the book builds, cold and warm (default 1)",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the sections of the existing NAME.json that this run does not measure"
        " (same machine and settings only)",
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="2,000 training images, 1 epoch, repeat 1; chapters: the first only",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default benchmarks/results; --tiny: benchmarks/out)",
    )
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    args.command = " ".join(["python -m benchmarks.run", *map(shlex.quote, given)])
    only = args.only.split(",") if args.only else list(TINY_SECTIONS if args.tiny else SECTIONS)
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose among {list(SECTIONS)}")
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be at least 1")
    if min(args.repeat, args.slow_repeat, args.book_repeat) < 1:
        parser.error("--repeat, --slow-repeat and --book-repeat must be at least 1")
    args.only = [s for s in SECTIONS if s in only]
    models = args.models.split(",") if args.models else list(pipelines.MODELS)
    unknown = sorted(set(models) - set(pipelines.MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}; choose among {list(pipelines.MODELS)}")
    args.models = [m for m in pipelines.MODELS if m in models]
    if args.tiny:
        args.repeat = args.slow_repeat = args.book_repeat = 1
    if args.out is None:
        args.out = HERE / ("out" if args.tiny else "results")
    return args


def run(args: argparse.Namespace) -> dict:
    """Measure each selected section; write the results so far after each one."""
    results = {
        "machine": machine(),
        "settings": {
            "repeat": args.repeat,
            "slow_repeat": args.slow_repeat,
            "book_repeat": args.book_repeat,
            "tiny": args.tiny,
            "sections": args.only,
            "models": args.models,
            "epochs": args.epochs,
        },  # fmt: skip
        "provenance": {},
        "sections": {},
    }
    started = results["machine"]["date"]  # when this run started
    if args.merge:
        results = merged(results, args.out / f"{args.name}.json")
    cores = results["machine"]["cores"]
    log(f"benchmark on {results['machine']['cpu']} ({cores} cores), "
        f"sections {args.only}, repeat {args.repeat}, slow repeat {args.slow_repeat}")  # fmt: skip
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > 0.5 * cores:
        log(f"warning: load average {load:.1f} on {cores} cores: other programs are running, "
            f"and the ratios are only as fair as the machine is quiet")  # fmt: skip
    measure = {
        "reading": lambda: pipelines.reading(args.repeat, limit=2000 if args.tiny else None),
        "training": lambda: pipelines.training(args.repeat, args.tiny, args.models, args.epochs),
        "chapters": lambda: execution.chapters(args.slow_repeat, only_first=args.tiny),
        "book": lambda: execution.book(args.book_repeat),
        "gpu": lambda: gpu.gpu(args.repeat, args.tiny),
    }
    for section in args.only:
        code = report.code_hashes(section)  # the code as this section starts to run it
        start = time.perf_counter()
        results["sections"][section] = measure[section]()
        seconds = time.perf_counter() - start
        results["provenance"][section] = report.provenance(
            section, args.command, started, code, seconds
        )
        results["targets"] = report.targets(results)
        write(results, args.out, args.name)  # a run stopped later still leaves what it measured
    return results


# What must agree for two runs' sections to sit in one file.
SAME_MACHINE = ("cpu", "cores", "torch_threads", "python", "torch", "torchvision", "gpu")
SAME_SETTINGS = ("repeat", "slow_repeat", "tiny")


def merged(fresh: dict, path: Path) -> dict:
    """``fresh`` (nothing measured yet) on top of the results in ``path``, for ``--merge``.

    The sections this run measures replace those of ``path``; the others stay, each with
    its own provenance. Refused when the machine, the software or the repetitions differ.
    """
    if not path.is_file():
        return fresh
    old = json.loads(path.read_text())
    if report.kind(old) != "run":
        raise SystemExit(f"--merge: {path} is not a result of benchmarks.run")
    differ = [k for k in SAME_MACHINE if old["machine"].get(k) != fresh["machine"][k]]
    differ += [k for k in SAME_SETTINGS if old["settings"].get(k) != fresh["settings"][k]]
    if differ:
        raise SystemExit(
            f"--merge: {path} was measured with other {', '.join(differ)}; measure every "
            f"section again without --merge (make bench)"
        )
    settings = dict(fresh["settings"])
    measuring = settings["sections"]
    settings["sections"] = [s for s in SECTIONS if s in old["sections"] or s in measuring]
    if "training" not in measuring:
        settings["models"] = old["settings"].get("models")
        settings["epochs"] = old["settings"].get("epochs")
    if "book" not in measuring:
        settings["book_repeat"] = old["settings"].get("book_repeat", old["settings"]["slow_repeat"])
    return {
        "machine": fresh["machine"],
        "settings": settings,
        "provenance": old.get("provenance", {}),
        "sections": old["sections"],
    }


def write(results: dict, out: Path, name: str = "latest") -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    json_path.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    md_path.write_text(report.to_markdown(results))
    return json_path, md_path


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    results = run(args)
    json_path, md_path = write(results, args.out, args.name)
    print(md_path.read_text())
    log(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
