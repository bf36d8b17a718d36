"""A chapter notebook runs where only Colab's packages are installed, thanks to its first cell.

Colab has torch, numpy, matplotlib and friends but not the course's ``helpers`` (nor d2l).
Each generated notebook therefore starts with a hidden set-up cell (tools/colab_cell.txt)
that pip-installs them when ``helpers`` is missing. These tests rebuild that situation:

* a virtual environment ``.venv-colab/`` (git-ignored, kept between runs) holding only what
  Colab preinstalls, plus nbclient to run a notebook;
* ``helpers`` and d2l are uninstalled from it before each run, so the set-up cell must
  install them: from this checkout (``COURSE_INSTALL_SOURCE``) instead of GitHub, and d2l
  from PyPI;
* the notebook runs from an empty temporary folder, so nothing of the checkout is importable.

The environment is made in seconds where it can be: Colab's packages and everything they
require are hard-linked from the environment running the tests (its torch is the pinned one),
and ``pip check`` must find them complete. Otherwise (another torch, another file system) pip
installs them, which takes minutes. Then each run costs about the notebook's own running time.
"""

from __future__ import annotations

import copy
import fcntl
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-colab"
PYTHON = VENV / "bin" / "python"
CHAPTER = ROOT / "chapters" / "01_dataset.ipynb"
# What Colab preinstalls (among much else) and what this test needs to run a notebook.
# torch/torchvision are those of requirements.txt, so that pip reuses the local wheels.
COLAB_PACKAGES = [
    "torch==2.14.1",
    "torchvision==0.29.1",
    "numpy",
    "matplotlib",
    "pandas",
    "requests",
    "scipy",
    "pillow",
    "ipython",
    "ipykernel",
    "nbclient",
    "nbformat",
]
INSTALLED_BY_SETUP_CELL = ["fashion-mnist-course-helpers", "d2l"]
STAMP = VENV / ".colab-packages.json"

# Runs a notebook inside the Colab-like environment and saves it with its outputs.
RUNNER = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
client = NotebookClient(nb, timeout=900, kernel_name="python3",
                        resources={"metadata": {"path": sys.argv[2]}})
try:
    client.execute()
finally:
    nbformat.write(nb, sys.argv[3])
"""
# Appended to the notebook: where the kernel's Python and the installed packages live.
REPORT_CELL = """
import json, sys
import helpers, torch
from d2l import torch as d2l
print(json.dumps({"python": sys.executable, "helpers": helpers.__file__, "d2l": d2l.__file__,
                  "torch": torch.__file__}))
"""
# Runs a set-up cell with subprocess.run recorded instead of executed.
RECORD_SETUP = """
import json, subprocess, sys
calls = []
subprocess.run = lambda args, **kwargs: calls.append([str(a) for a in args])
exec(compile(open(sys.argv[1]).read(), "setup_cell", "exec"))
print(json.dumps(calls))
"""


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)


def _check(result: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        pytest.fail(f"{what} failed (exit {result.returncode}):\n{tail}")
    return result


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a Colab user: nothing that points into this checkout's .venv."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def _required(requirements: list[str]) -> list[importlib.metadata.Distribution] | None:
    """The distributions of this environment that ``pip install REQUIREMENTS`` would install
    (the requirements, what they require, and so on, extras followed); None if one is
    missing, at another version than pinned, or not in this environment's site-packages."""
    site = Path(sysconfig.get_paths()["purelib"])
    installed: dict[str, importlib.metadata.Distribution] = {}
    for dist in importlib.metadata.distributions(path=[str(site)]):
        if dist.metadata["Name"]:
            installed.setdefault(canonicalize_name(dist.metadata["Name"]), dist)
    found: dict[str, importlib.metadata.Distribution] = {}
    todo, seen = [Requirement(r) for r in requirements], set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if (name, frozenset(req.extras)) in seen:
            continue
        seen.add((name, frozenset(req.extras)))
        dist = installed.get(name)
        if dist is None or not req.specifier.contains(dist.version, prereleases=True):
            return None
        found[name] = dist
        for line in dist.requires or []:
            dep = Requirement(line)
            extras = ["", *req.extras]
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in extras):
                todo.append(dep)
    return list(found.values())


def _link_packages(dists: list[importlib.metadata.Distribution]) -> None:
    """Hard-link every file the distributions' RECORDs list into .venv-colab (no copy: the
    files are shared, and neither pip nor Python writes into an installed file); scripts
    get a copy whose first line names .venv-colab's Python."""
    prefix = Path(sys.prefix)
    site = Path(sysconfig.get_paths()["purelib"])
    shebang = f"#!{prefix / 'bin' / 'python'}".encode()
    for dist in dists:
        for file in dist.files or []:
            source = Path(os.path.normpath(site / file))
            if not source.is_relative_to(prefix) or not source.is_file():
                continue  # a file RECORD lists but that is not there (a .pyc never written)
            target = VENV / source.relative_to(prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            text = source.read_bytes() if source.parent == prefix / "bin" else b""
            if text[: len(shebang) + 1].rstrip(b"3\n") == shebang:
                target.write_bytes(f"#!{PYTHON}\n".encode() + text.split(b"\n", 1)[1])
                target.chmod(0o755)
            else:
                os.link(source, target)


def _create_venv() -> None:
    wanted = {"python": sys.version_info[:2], "packages": COLAB_PACKAGES}
    wanted = json.loads(json.dumps(wanted))
    if PYTHON.exists() and STAMP.exists() and json.loads(STAMP.read_text()) == wanted:
        return
    shutil.rmtree(VENV, ignore_errors=True)
    # Seconds: link what this environment has installed (pip included), if it is complete.
    dists = _required([*COLAB_PACKAGES, "pip"])
    if dists is not None and not any(
        canonicalize_name(d.metadata["Name"]) in INSTALLED_BY_SETUP_CELL for d in dists
    ):
        _check(_run([sys.executable, "-m", "venv", "--without-pip", str(VENV)]), "venv")
        try:
            _link_packages(dists)
            linked = _run([str(PYTHON), "-m", "pip", "check"], env=_clean_env())
        except OSError as err:  # no hard links here (another file system)
            linked = subprocess.CompletedProcess([], 1, "", str(err))
        if linked.returncode == 0:
            STAMP.write_text(json.dumps(wanted))
            return
        shutil.rmtree(VENV, ignore_errors=True)
    # Minutes: pip installs Colab's packages.
    _check(_run([sys.executable, "-m", "venv", str(VENV)]), "creating .venv-colab")
    pip = [str(PYTHON), "-m", "pip", "install", "-q"]
    _check(_run([*pip, *COLAB_PACKAGES], env=_clean_env()), "installing Colab's packages")
    STAMP.write_text(json.dumps(wanted))


@pytest.fixture(scope="module")
def colab_python() -> Path:
    """The Colab-like environment, with ``helpers`` and d2l removed."""
    VENV.mkdir(exist_ok=True)
    with open(ROOT / ".venv-colab" / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test sessions must not build it at once
        try:
            _create_venv()
        finally:
            VENV.mkdir(exist_ok=True)  # _create_venv may have removed it
    _uninstall(PYTHON)
    return PYTHON


def _uninstall(python: Path) -> None:
    """Put the environment back in Colab's state: no helpers, no d2l."""
    uninstall = [str(python), "-m", "pip", "uninstall", "-y", "-q", *INSTALLED_BY_SETUP_CELL]
    _check(_run(uninstall, env=_clean_env()), "uninstalling helpers and d2l")


def _source_checkout(tmp_path: Path) -> Path:
    """What ``pip install git+URL`` would build: the package's files, in a fresh folder."""
    target = tmp_path / "checkout"
    target.mkdir()
    for name in ["pyproject.toml", "README.md", "LICENSE"]:
        shutil.copy(ROOT / name, target / name)
    shutil.copytree(
        ROOT / "helpers", target / "helpers", ignore=shutil.ignore_patterns("__pycache__")
    )
    return target


def _importable(python: Path, module: str, cwd: Path) -> bool:
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return _run([str(python), "-c", code], cwd=cwd, env=_clean_env()).returncode == 0


def _setup_cell(notebook: nbformat.NotebookNode) -> str:
    first = notebook.cells[0]
    assert first.cell_type == "code" and 'find_spec("helpers")' in first.source, (
        f"{CHAPTER.name}: the first cell is not the Colab set-up cell (make notebooks)"
    )
    return first.source


def _pip_calls(python: Path, setup_cell: str, tmp_path: Path, **env: str) -> list[list[str]]:
    """The commands the set-up cell would run, recorded instead of executed."""
    cell = tmp_path / "setup_cell.py"
    cell.write_text(setup_cell)
    args = [str(python), "-c", RECORD_SETUP, str(cell)]
    result = _check(_run(args, cwd=tmp_path, env=_clean_env(**env)), "the set-up cell")
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def chapter() -> nbformat.NotebookNode:
    if not CHAPTER.is_file():
        pytest.fail(f"{CHAPTER.relative_to(ROOT)} is missing: run `make notebooks`")
    return nbformat.read(CHAPTER, as_version=4)


def test_chapter_runs_in_colab_after_its_setup_cell_installs_helpers(
    colab_python, chapter, tmp_path
):
    work = tmp_path / "colab"
    work.mkdir()
    assert not _importable(colab_python, "helpers", work), "helpers is already installed"
    assert not _importable(colab_python, "d2l", work), "d2l is already installed"
    assert _importable(colab_python, "torch", work), "torch is missing from .venv-colab"

    notebook = copy.deepcopy(chapter)
    notebook.cells.append(nbformat.v4.new_code_cell(REPORT_CELL))
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(notebook, tmp_path / "in.ipynb")

    env = _clean_env(
        COURSE_INSTALL_SOURCE=str(_source_checkout(tmp_path)),
        FASHION_MNIST_ROOT=str(tmp_path / "data"),  # as on Colab: no cached copy yet
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter"),
        MPLBACKEND="module://matplotlib_inline.backend_inline",
    )
    runner = [str(colab_python), "-c", RUNNER, str(tmp_path / "in.ipynb"), str(work)]
    result = _run([*runner, str(tmp_path / "out.ipynb")], cwd=work, env=env, timeout=3600)
    ran = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    # A cell tagged raises-exception shows an error on purpose (chapter 1's slicing of a
    # torchvision dataset); any other error is a failure.
    errors = [
        f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
        for i, cell in enumerate(ran.cells)
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
        and "raises-exception" not in cell.metadata.get("tags", [])
    ]
    assert result.returncode == 0 and not errors, "\n".join(
        [*errors, *(result.stdout + result.stderr).splitlines()[-30:]]
    )
    unrun = [i for i, c in enumerate(ran.cells) if c.cell_type == "code" and not c.execution_count]
    assert unrun == [], f"cells that did not run: {unrun}"

    report = json.loads(ran.cells[-1].outputs[-1]["text"].strip().splitlines()[-1])
    site = str(VENV.resolve())
    assert report["python"].startswith(site), f"the kernel was not .venv-colab's: {report}"
    assert report["helpers"].startswith(site), f"helpers not installed by the cell: {report}"
    assert report["d2l"].startswith(site), f"d2l not installed by the cell: {report}"
    assert report["torch"].startswith(site), f"torch is not .venv-colab's: {report}"
    assert _importable(colab_python, "helpers", work)


def test_colab_packages_are_taken_from_here_only_when_all_are_here_as_pinned():
    """What ``.venv-colab`` links: Colab's packages and all they require (extras followed);
    a pin this environment does not meet, or a missing package, means pip installs them."""
    names = {canonicalize_name(d.metadata["Name"]) for d in _required(COLAB_PACKAGES) or []}
    assert {"torch", "nbclient", "jupyter-client", "pyzmq", "pillow"} <= names, names
    assert not names & set(INSTALLED_BY_SETUP_CELL), names
    assert _required(["nbclient"]) and len(_required(["nbclient"])) < len(names)
    assert _required(["torch==2.0.0"]) is None
    assert _required(["numpy", "no-such-package-here"]) is None


def test_setup_cell_does_nothing_where_helpers_is_installed(chapter, tmp_path):
    """In this checkout's environment (helpers installed) the cell runs no pip command."""
    assert _importable(Path(sys.executable), "helpers", tmp_path)
    calls = _pip_calls(Path(sys.executable), _setup_cell(chapter), tmp_path)
    assert calls == []


def test_setup_cell_installs_d2l_and_helpers_where_missing(colab_python, chapter, tmp_path):
    """The same recorder sees both installs where helpers is missing (so it can fail)."""
    _uninstall(colab_python)
    calls = _pip_calls(colab_python, _setup_cell(chapter), tmp_path, COURSE_INSTALL_SOURCE="X")
    installed = [call[call.index("install") + 1 :] for call in calls]
    assert installed == [["-q", "--no-deps", "d2l==1.0.3"], ["-q", "X"]], calls
    assert not any("torch" in arg for call in calls for arg in call), "never reinstall torch"


def test_setup_cell_defaults_to_the_repository_in_config(colab_python, chapter, tmp_path):
    """Without COURSE_INSTALL_SOURCE (as on Colab) the cell installs from the repository."""
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    _uninstall(colab_python)
    calls = _pip_calls(colab_python, _setup_cell(chapter), tmp_path)
    assert calls and calls[-1][-1] == f"git+{repo['url']}@{repo['branch']}", calls
