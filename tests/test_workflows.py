"""The GitHub Actions workflows pass actionlint and keep the jobs the README describes."""

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def test_actionlint_passes_on_every_workflow():
    beside_python = Path(sys.executable).parent / "actionlint"
    actionlint = str(beside_python) if beside_python.exists() else shutil.which("actionlint")
    assert actionlint, "actionlint is not installed (it comes with requirements.txt)"
    assert WORKFLOWS, "no workflow files found"
    result = subprocess.run(
        [actionlint, *map(str, WORKFLOWS)], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_has_cpu_matrix_gpu_job_and_deploy():
    ci = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    jobs = ci["jobs"]
    assert jobs["cpu"]["strategy"]["matrix"]["python-version"] == ["3.11", "3.12"]
    assert "gpu" in jobs["gpu"]["runs-on"]
    assert jobs["gpu"]["env"]["COURSE_REQUIRE_GPU"] == "1"
    assert jobs["deploy"]["needs"] == "cpu"
    cpu_runs = " ".join(step.get("run", "") for step in jobs["cpu"]["steps"])
    assert "make test" in cpu_runs and ".ci/run packages" in cpu_runs
    # One list of system packages, for .ci/run and this job alike (the data, the CJK font).
    packages = (ROOT / ".ci" / "apt-packages.txt").read_text().split()
    assert {"dataset-fashion-mnist", "fonts-noto-cjk", "chromium"} <= set(packages)
    assert "apt-packages.txt" in (ROOT / ".ci" / "run").read_text()


def test_newest_versions_workflow_installs_the_ranges_not_the_lock():
    newest = yaml.safe_load((ROOT / ".github" / "workflows" / "newest.yml").read_text())
    assert newest[True]["schedule"], "newest.yml runs on a schedule"  # YAML 1.1: on -> True
    (job,) = newest["jobs"].values()
    runs = [step.get("run", "") for step in job["steps"]]
    assert "make test REQUIREMENTS=requirements.txt" in runs
