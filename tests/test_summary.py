"""`make test`'s closing summary (tools/summary.py) reads what the Makefile and pytest wrote."""

import json

from tools import summary

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest"
 tests="7" failures="1" errors="0" skipped="1">
<testcase classname="tests.test_a" name="test_fast" time="0.010"/>
<testcase classname="tests.test_a" name="test_slow" time="38.2"/>
<testcase classname="tests.test_a" name="test_broken" time="1.5"><failure message="x"/></testcase>
<testcase classname="tests.test_b" name="test_skipped" time="0.0"><skipped message="y"/></testcase>
<testcase classname="chapters.04_keras_mlp.ipynb" name="Cell 12" time="23.0"/>
<testcase classname="tests.test_colab" name="test_colab_runs_a_chapter" time="28.4"/>
<testcase classname="tests.test_c" name="test_medium" time="2.0"/>
</testsuite></testsuites>"""


def test_summary_counts_tests_coverage_slowest_and_steps(tmp_path):
    (tmp_path / "junit.xml").write_text(JUNIT)
    (tmp_path / "coverage.json").write_text(json.dumps({"totals": {"percent_covered": 93.44}}))
    (tmp_path / "steps.tsv").write_text(
        "1\tbook\t100.0\t112.5\n"  # an earlier `make` invocation: ignored
        "2\tbook\t100.0\t130.25\n2\tzh\t130.3\t150.3\n2\tlint\t150.3\t151.0\n"
        "2\ttests\t151.0\t422.0\n"
    )
    text = summary.summary("2", tmp_path)
    assert "tests:    5 passed, 1 failed, 1 skipped" in text
    assert "coverage: 93.4% of helpers" in text
    slowest = [line for line in text.splitlines() if "test_" in line or "Cell" in line]
    assert [line.split()[-1] for line in slowest] == [
        "test_a::test_slow",
        "test_colab::test_colab_runs_a_chapter",
        "12",
        "test_c::test_medium",
        "test_a::test_broken",
    ]
    assert "venv  up to date (did not run)" in text
    assert "book  30.2 s" in text and "tests 4 min 31 s" in text
    assert "total 5 min 22 s" in text
    assert max(map(len, text.splitlines())) <= 79


def test_summary_without_reports_says_so(tmp_path):
    text = summary.summary("9", tmp_path)
    assert "no report (pytest did not finish)" in text and "coverage: no report" in text
