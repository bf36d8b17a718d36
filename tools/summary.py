"""The few lines ``make test`` ends with: tests passed, coverage, the slowest five, step times.

The Makefile writes what this reads, under ``_build/reports/``:

* ``steps.tsv``: one line per step that ran, ``RUN<TAB>STEP<TAB>START<TAB>END`` (seconds
  since the epoch), where RUN identifies one ``make`` invocation; a step missing from this
  invocation was up to date (the venv, usually);
* ``junit.xml``: pytest's results (``--junitxml``), with each test's time, set-up included;
* ``coverage.json``: the coverage of ``helpers`` (``--cov-report=json:...``).

``python -m tools.summary --run RUN`` prints the summary of that invocation.
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "_build" / "reports"
STEPS = ("venv", "book", "zh", "pdf", "lint", "tests")


def duration(seconds: float) -> str:
    """Format a duration the way people read it: ``0.4 s``, ``12.3 s``, ``4 min 05 s``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def step_times(path: Path, run: str) -> dict[str, float]:
    """Return ``{step: seconds}`` for the steps that invocation ``run`` recorded."""
    times: dict[str, float] = {}
    if not path.is_file():
        return times
    for line in path.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) == 4 and fields[0] == run:
            try:
                seconds = float(fields[3]) - float(fields[2])
            except ValueError:
                continue
            times[fields[1]] = times.get(fields[1], 0.0) + seconds
    return times


def read_junit(path: Path) -> tuple[dict[str, int], list[tuple[float, str]]] | None:
    """Return the counts (passed, failed, errors, skipped) and ``(seconds, test)`` pairs."""
    if not path.is_file():
        return None
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    timed = []
    for suite in suites:
        for case in suite.iter("testcase"):
            outcome = "passed"
            for child, name in (("failure", "failed"), ("error", "errors"), ("skipped", "skipped")):
                if case.find(child) is not None:
                    outcome = name
                    break
            counts[outcome] += 1
            where = case.get("classname", "").removeprefix("tests.")
            test = f"{where}::{case.get('name', '')}" if where else case.get("name", "")
            timed.append((float(case.get("time") or 0.0), test))
    timed.sort(key=lambda pair: -pair[0])
    return counts, timed


def coverage_total(path: Path) -> float | None:
    """Return the total coverage in percent from coverage.py's JSON report."""
    if not path.is_file():
        return None
    return float(json.loads(path.read_text())["totals"]["percent_covered"])


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def summary(run: str, reports: Path = REPORTS, slowest: int = 5) -> str:
    """Return the summary of the ``make`` invocation ``run`` (lines <= 79 characters)."""
    lines = ["", "=" * 30 + " make test: summary " + "=" * 29]
    results = read_junit(reports / "junit.xml")
    if results is None:
        lines.append("tests:    no report (pytest did not finish)")
    else:
        counts, timed = results
        lines.append("tests:    " + ", ".join(f"{n} {what}" for what, n in counts.items() if n))
        for i, (seconds, test) in enumerate(timed[:slowest]):
            label = "slowest:  " if i == 0 else " " * 10
            lines.append(f"{label}{duration(seconds):>10}  {shorten(test, 57)}")
    cover = coverage_total(reports / "coverage.json")
    lines.append("coverage: " + (f"{cover:.1f}% of helpers" if cover is not None else "no report"))
    times = step_times(reports / "steps.tsv", run)
    for i, step in enumerate([*STEPS, *sorted(set(times) - set(STEPS))]):
        label = "steps:    " if i == 0 else " " * 10
        took = duration(times[step]) if step in times else "up to date (did not run)"
        lines.append(f"{label}{step:<6}{took}")
    if times:
        lines.append(f"{' ' * 10}{'total':<6}{duration(sum(times.values()))}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="the make invocation's id (RUN)")
    parser.add_argument("--reports", type=Path, default=REPORTS, help="where the reports are")
    args = parser.parse_args(argv)
    print(summary(args.run, args.reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
