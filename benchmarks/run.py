"""Measure the course's data path and training loops against the classic d2l path.

    python -m benchmarks.run                      # everything (make bench), several minutes
    python -m benchmarks.run --only reading,gpu   # some sections
    python -m benchmarks.run --tiny --out /tmp/b  # the quick setting the tests use
    python -m benchmarks.run --only training --models 04_keras_mlp --name cpu-mlp
                                                  # one training row, into results/cpu-mlp.*

Everything is measured in one process and one run, so that the ratios compare like with
like on one machine. Writes ``latest.json`` and ``latest.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
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
        default=3,
        help="repetitions of each reading/training/GPU measurement (default 3)",
    )
    parser.add_argument(
        "--slow-repeat",
        type=int,
        default=1,
        help="repetitions of each chapter execution and book build (default 1)",
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
    only = args.only.split(",") if args.only else list(TINY_SECTIONS if args.tiny else SECTIONS)
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose among {list(SECTIONS)}")
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be at least 1")
    if args.repeat < 1 or args.slow_repeat < 1:
        parser.error("--repeat and --slow-repeat must be at least 1")
    args.only = [s for s in SECTIONS if s in only]
    models = args.models.split(",") if args.models else list(pipelines.MODELS)
    unknown = sorted(set(models) - set(pipelines.MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}; choose among {list(pipelines.MODELS)}")
    args.models = [m for m in pipelines.MODELS if m in models]
    if args.tiny:
        args.repeat = args.slow_repeat = 1
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
            "tiny": args.tiny,
            "sections": args.only,
            "models": args.models,
            "epochs": args.epochs,
        },  # fmt: skip
        "sections": {},
    }
    log(f"benchmark on {results['machine']['cpu']} ({results['machine']['cores']} cores), "
        f"sections {args.only}, repeat {args.repeat}, slow repeat {args.slow_repeat}")  # fmt: skip
    measure = {
        "reading": lambda: pipelines.reading(args.repeat, limit=2000 if args.tiny else None),
        "training": lambda: pipelines.training(args.repeat, args.tiny, args.models, args.epochs),
        "chapters": lambda: execution.chapters(args.slow_repeat, only_first=args.tiny),
        "book": lambda: execution.book(args.slow_repeat),
        "gpu": lambda: gpu.gpu(args.repeat, args.tiny),
    }
    for section in args.only:
        results["sections"][section] = measure[section]()
        results["targets"] = report.targets(results)
        write(results, args.out, args.name)  # a run stopped later still leaves what it measured
    return results


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
