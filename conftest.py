"""Repository-wide pytest hooks.

nbval compares text outputs but never images. This hook makes a re-executed chapter
fail when one of its cells draws a different number of figures (PNG outputs) than its
golden notebook, including cells whose text output is not compared.
"""

from __future__ import annotations

import pytest


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
