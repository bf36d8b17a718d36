"""Repository-wide pytest hooks.

Under pytest-xdist, each worker (and each chapter kernel it starts) gets its share of the
CPU cores. nbval compares text outputs but never images. One hook makes a re-executed chapter
fail when one of its cells draws a different number of figures (PNG outputs) than its
golden notebook, including cells whose text output is not compared. Another makes nbval
compare the numbers in text outputs within a tolerance (``tools/nbval_numbers.py``): integers
and text exactly, decimals up to floating-point noise, so that no digit needs masking; in a
cell tagged ``nbval-trained`` (results of training) every number within 0.5 %.
"""

from __future__ import annotations

import copy
import os

import pytest

from tools.nbval_numbers import TRAINED_TAG, outputs_agree


def pytest_configure(config: pytest.Config) -> None:
    """Share the CPU cores among pytest-xdist workers, and the kernels they start.

    Two workers on two cores, each running a chapter whose torch uses every core, spend
    most of their time waiting on each other's threads (a 3 s cell took 170 s). Kernels
    inherit this variable from the worker that starts them.
    """
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers and "OMP_NUM_THREADS" not in os.environ:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        os.environ["OMP_NUM_THREADS"] = str(max(1, cores // int(workers)))


def _images(outputs) -> int:
    return sum(1 for out in outputs or [] if "image/png" in out.get("data", {}))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    cell = getattr(item, "cell", None)
    test_outputs = getattr(item, "test_outputs", None)
    if call.when != "call" or not report.passed or cell is None or test_outputs is None:
        return
    expected, got = _images(cell.outputs), _images(test_outputs)
    if expected != got:
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid}: the golden notebook has {expected} figure(s) in this cell, "
            f"the re-executed chapter drew {got}"
        )


def _text_fields(output) -> dict[str, str]:
    """The text of one output as nbval compares it: a stream's text, or its text mimetypes."""
    if output.get("output_type") == "stream":
        return {"text": output["text"]} if "text" in output else {}
    data = output.get("data", {})
    return {k: v for k, v in data.items() if isinstance(v, str) and k.startswith("text/")}


def _tolerant(item, compare):
    """Wrap nbval's ``compare_outputs``: a text that agrees within tolerance becomes the golden."""

    trained = TRAINED_TAG in getattr(item, "cell", {}).get("metadata", {}).get("tags", [])

    def compare_outputs(test, ref, skip_compare=None):
        test = [copy.deepcopy(out) for out in test]
        if len(test) == len(ref):
            for got, golden in zip(test, ref, strict=True):
                if got.get("output_type") != golden.get("output_type"):
                    continue
                if got.get("name") != golden.get("name"):
                    continue
                expected = _text_fields(golden)
                for key, text in _text_fields(got).items():
                    if key in expected and outputs_agree(
                        item.sanitize(expected[key]), item.sanitize(text), trained
                    ):
                        if key == "text":
                            got["text"] = expected[key]
                        else:
                            got["data"][key] = expected[key]
        return compare(test, ref, skip_compare)

    return compare_outputs


def pytest_collection_modifyitems(session, config, items) -> None:
    """Give every nbval cell the tolerant comparison of numbers."""
    for item in items:
        if hasattr(item, "compare_outputs") and hasattr(item, "sanitize"):
            item.compare_outputs = _tolerant(item, item.compare_outputs)
