"""requirements.lock pins every requirement inside its range, and the Makefile installs it.

requirements.txt states the versions the course allows; ``make lock`` resolves them into
requirements.lock (every package, direct and transitive, at an exact version with its
hashes, for every platform); ``make book``, ``make test`` and ``.ci/run`` (through make)
install the lock. A line added to requirements.txt without ``make lock`` fails here.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"


def requirements(text: str) -> list[Requirement]:
    """Parse a requirements file's requirement lines (no options in these files)."""
    lines = (line.split(" #")[0].strip() for line in text.splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("#")]


def locked() -> dict[str, list[tuple[Requirement, list[str]]]]:
    """Return ``{name: [(pin, hashes), ...]}``: one pin per marker (a Python may fork it)."""
    pins: dict[str, list[tuple[Requirement, list[str]]]] = {}
    current: list[str] | None = None
    for raw in LOCK.read_text().splitlines():
        line = raw.strip().removesuffix("\\").strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash="):
            assert current is not None, f"a hash before any pin: {raw}"
            current.append(line.removeprefix("--hash="))
            continue
        assert not line.startswith("-"), f"an option in the lock: {raw}"
        pin = Requirement(line)
        current = []
        pins.setdefault(canonicalize_name(pin.name), []).append((pin, current))
    return pins


def version(pin: Requirement) -> str:
    (spec,) = pin.specifier
    assert spec.operator == "==", f"{pin} is not an exact pin"
    return spec.version


def test_every_lock_line_is_an_exact_pin_with_hashes():
    pins = locked()
    assert len(pins) > 50, "the lock holds the transitive dependencies too"
    for name, entries in pins.items():
        for pin, hashes in entries:
            assert "*" not in version(pin), f"{pin}: not an exact version"
            assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), (
                f"{name}: every pin carries its sha256 hashes (make lock)"
            )


def test_lock_pins_every_requirement_inside_its_range():
    pins = locked()
    wanted = requirements((ROOT / "requirements.txt").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted += [Requirement(line) for line in project["dependencies"]]
    for req in wanted:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in requirements.txt but not in the lock: make lock"
        for pin, _ in pins[name]:
            assert req.specifier.contains(version(pin), prereleases=True), (
                f"the lock pins {pin}, outside requirements.txt's {req}: make lock"
            )
        # This Python and platform get one pin of it (the others are other Pythons' forks).
        here = [pin for pin, _ in pins[name] if pin.marker is None or pin.marker.evaluate()]
        assert len(here) == 1, f"{req.name}: {len(here)} pins apply to this interpreter"


def test_lock_was_made_by_make_lock():
    header = LOCK.read_text().splitlines()[:2]
    assert header[1].strip() == "#    make lock", header


@pytest.fixture(scope="module")
def makefile() -> str:
    return (ROOT / "Makefile").read_text()


def test_makefile_installs_the_lock(makefile):
    assert re.search(r"^LOCK := requirements\.lock$", makefile, re.M)
    assert re.search(r"^REQUIREMENTS \?= \$\(LOCK\)$", makefile, re.M)
    # The venv stamp depends on the lock, so changing the lock reinstalls.
    assert re.search(r"^\$\(STAMP\): \$\(REQUIREMENTS\) pyproject\.toml$", makefile, re.M)
    assert "pip install -q -r $(REQUIREMENTS)" in makefile
    # d2l's own metadata pins versions that do not install on Python 3.12.
    assert "--no-deps d2l==1.0.3" in makefile
    assert "pip install -q -r requirements.txt" not in makefile
    # `book` and `test` (hence .ci/run, which runs `make test`) depend on the stamp.
    assert re.search(r"^book: \$\(STAMP\)", makefile, re.M)
    assert re.search(r"^test: book$", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_make_lock_resolves_for_every_platform_with_hashes(makefile):
    recipe = makefile.split("\nlock: ", 1)[1].split("\n\n", 1)[0]
    command = " ".join(recipe.replace("\\\n", " ").split())
    assert "uv pip compile requirements.txt --output-file $(LOCK)" in command
    for option in ("--universal", "--generate-hashes", "--upgrade", "--python-version 3.11"):
        assert option in command


def test_uv_is_installed_first_at_the_locked_version(makefile):
    """The venv's bundled pip first installs the lock's uv (its line and hashes only); uv then
    installs the lock, and pip takes over where uv cannot."""
    script = re.search(r"^UV_LINES := (.*)$", makefile, re.M)[1].replace("\\#", "#")
    assert "-r <(sed -n '$(UV_LINES)' $(REQUIREMENTS))" in makefile
    assert "if ! $(UV) -r $(REQUIREMENTS); then" in makefile
    assert re.search(
        r"^UV +:= \$\(BIN\)/uv pip install -q --compile-bytecode --python \$\(BIN\)/python",
        makefile,
        re.M,
    )
    assert "$(foreach dir,$(PIP_FIND_LINKS),--find-links $(dir))" in makefile

    def uv_lines(path: Path) -> list[str]:
        done = subprocess.run(["sed", "-n", script, str(path)], capture_output=True, text=True)
        return done.stdout.splitlines()

    lines = uv_lines(LOCK)
    (uv, hashes) = locked()["uv"][0]
    assert lines[0] == f"{uv} \\" and len(lines) == 1 + len(hashes) >= 2
    assert all(line.strip().startswith("--hash=sha256:") for line in lines[1:])
    # The newest-versions workflow installs requirements.txt: there, its uv line alone.
    (line,) = uv_lines(ROOT / "requirements.txt")
    assert Requirement(line).name == "uv"
