"""The claims gate: every comparative or quantitative sentence of a chapter is backed.

A sentence such as "the in-memory loader is much faster" or "the hidden layer helps" is only
as true as the run beside it. Each sentence of a chapter's prose that compares or quantifies
(``CLAIM`` finds them) must be one of:

- checked: a hidden cell (tag ``remove-cell``) asserts it, and says which sentence it backs
  with a comment line ``# claim: <a verbatim piece of the sentence>``; nbval re-executes that
  cell, so an output that contradicts the sentence fails the tests;
- computed: its number is inserted by myst-nb's ``{glue}`` from the computation;
- not about this page's run (a definition, an attributed outside figure, a rule of thumb): its
  fragment is listed in ``tests/claims/<chapter>.txt`` as ``fragment | reason``.

Stale entries fail too: a ``# claim:`` comment or an allow-list line that matches no sentence
of the chapter. A ``# claim:`` may also name a sentence that ``CLAIM`` does not flag.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from tools import notebooks

ROOT = Path(__file__).resolve().parent.parent
# The chapters, and the appendix page that maps old notes to today's code.
SOURCES = [*notebooks.chapter_sources(), ROOT / "appendix" / "coming_from.py"]
ALLOWED = ROOT / "tests" / "claims"

# Words and numbers that make a sentence depend on a measurement.
CLAIM = re.compile(
    r"""\b(?:faster|slower|quicker|speed-?ups?|cheaper|costlier|more\ expensive
    |more\ slowly|about\ the\ same|of\ the\ same\ order|much\ (?:less|more)|several\ times|agrees?
    |\d+(?:\.\d+)?\ ?x\b|times\ (?:as\ )?(?:fast|slow|\w+er)\b
    |higher|lower|better|worse|beats?|outperforms?|helps?|hurts?|improves?
    |most\ of|fewer|(?:launch|memory|compute|fixed-cost|bandwidth)-bound|dominat\w+
    |overfit\w*|generali[sz]ation\ gap)\b
    |(?<![\w.])0\.\d+|\b\d+(?:\.\d+)?\ ?%|\b\d+(?:\.\d+)?\ ?(?:s|ms|µs)\b""",
    re.IGNORECASE | re.VERBOSE,
)
CLAIM_COMMENT = re.compile(r"^\s*#\s*claim:\s*(.+?)\s*$", re.MULTILINE)
# Parts of Markdown that are not prose: inline code, math, links' targets, directive lines.
NOT_PROSE = [
    re.compile(r"`[^`]*`"),
    re.compile(r"\$\$.*?\$\$", re.DOTALL),
    re.compile(r"\$[^$]*\$"),
    re.compile(r"\]\([^)]*\)"),
    re.compile(r"\{[a-z-]+\}`[^`]*`"),
]
DIRECTIVE = re.compile(r"^\s*(:::|```|:[a-z-]+:|\(.*\)=\s*$)")


def normal(text: str) -> str:
    """Lower case, single spaces, no Markdown emphasis: what fragments are matched against."""
    return re.sub(r"\s+", " ", text.replace("*", "").replace("_", " ")).strip().lower()


def sentences(markdown: str) -> list[str]:
    """The prose sentences of one Markdown cell (table rows and list items count as one)."""
    kept, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if fenced or DIRECTIVE.match(line):
            continue
        kept.append(line)
    found = []
    for block in re.split(r"\n\s*\n|\n(?=\s*(?:[-*] |\d+\. |\|))", "\n".join(kept)):
        text = " ".join(block.split())
        found += [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(*\"'])", text) if s]
    return found


def is_claim(sentence: str) -> bool:
    prose = sentence
    for pattern in NOT_PROSE:
        prose = pattern.sub(" ", prose)
    return bool(CLAIM.search(prose))


def allow_list(stem: str) -> dict[str, str]:
    """``fragment -> reason`` from ``tests/claims/<stem>.txt`` (``#`` starts a comment)."""
    path = ALLOWED / f"{stem}.txt"
    entries = {}
    if path.is_file():
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fragment, sep, reason = line.partition("|")
            assert sep and fragment.strip() and reason.strip(), f"{path.name}:{n}: {line!r}"
            entries[normal(fragment)] = reason.strip()
    return entries


def checked_fragments(cells) -> list[str]:
    """The ``# claim:`` fragments of hidden cells that assert something."""
    found = []
    for cell in cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and "remove-cell" in tags and "assert" in cell.source:
            found += [normal(f) for f in CLAIM_COMMENT.findall(cell.source)]
    return found


def unbacked(source: Path) -> list[str]:
    """Problems of one chapter: unbacked claims, and stale fragments."""
    cells = jupytext.read(source).cells
    checked = checked_fragments(cells)
    allowed = allow_list(source.stem)
    prose: list[str] = []  # every sentence, flagged or not: what fragments may name
    problems = []
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        for sentence in sentences(cell.source):
            text = normal(sentence)
            prose.append(text)
            if not is_claim(sentence) or "{glue" in sentence:
                continue
            if not any(f and f in text for f in [*checked, *allowed]):
                problems.append(f"cell {i}: no assert or reason behind: {sentence[:150]!r}")
    for fragment in checked:
        if not any(fragment in text for text in prose):
            problems.append(f"a '# claim: {fragment}' comment matches no sentence")
    for fragment in allowed:
        if not any(fragment in text for text in prose):
            problems.append(f"allow-list line '{fragment}' matches no sentence")
    return problems


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.stem)
def test_every_claim_of_a_chapter_is_backed(source):
    problems = unbacked(source)
    assert problems == [], f"{source.stem}: {len(problems)} problem(s)\n" + "\n".join(problems)


PLANTED = """# %% [markdown]
# ## Speed
#
# The in-memory loader is much faster than the DataLoader. Both give 256 images a batch.

# %%
ratio = 40.0
print(f"{ratio:.1f}x")
"""


def test_the_gate_flags_an_unbacked_claim_and_accepts_each_kind_of_backing(tmp_path, monkeypatch):
    source = tmp_path / "99_planted.py"
    monkeypatch.setattr(__import__(__name__), "ALLOWED", tmp_path)
    source.write_text(PLANTED)
    (flagged,) = unbacked(source)
    assert "much faster than the DataLoader" in flagged
    # Checked: a hidden assert that names the sentence.
    hidden = '\n# %% tags=["remove-cell"]\n# claim: much faster than the\nassert ratio > 3\n'
    source.write_text(PLANTED + hidden)
    assert unbacked(source) == []
    # A claim comment in a cell that asserts nothing does not count.
    source.write_text(PLANTED + hidden.replace("assert ratio > 3", "print(ratio)"))
    assert len(unbacked(source)) == 1
    # Allowed, with a reason; and a stale allow-list line is reported.
    source.write_text(PLANTED)
    (tmp_path / "99_planted.txt").write_text("is much faster | planted\nno such text | stale\n")
    assert unbacked(source) == ["allow-list line 'no such text' matches no sentence"]
    # Computed: a glued number.
    (tmp_path / "99_planted.txt").unlink()
    source.write_text(PLANTED.replace("much faster", "{glue:text}`ratio` times faster"))
    assert unbacked(source) == []


def test_sentences_skip_code_math_and_directives():
    md = "Shapes:\n```python\nx = 0.5\n```\n:::{exercise}\n:label: ex-1\n$p = 0.1$ is `0.2`."
    assert not any(is_claim(s) for s in sentences(md))
    assert is_claim("The MLP reaches 0.88 on the validation set.")
    assert is_claim("It is 12x faster.") and is_claim("97% of them")


def _cut_after(golden: Path, marker: str, tmp_path: Path) -> Path:
    """A copy of a golden notebook that ends with the first cell whose source has ``marker``."""
    nb = nbformat.read(golden, as_version=4)
    last = next(i for i, c in enumerate(nb.cells) if marker in c.source)
    nb.cells = nb.cells[: last + 1]
    out = tmp_path / golden.name
    nbformat.write(nb, out)
    return out


@pytest.mark.slow
def test_a_contradicting_run_fails_the_claim_behind_much_faster(tmp_path):
    """Chapter 1 says the in-memory loader is several times faster per batch. Slow it down in
    a shadow copy of ``helpers`` and the hidden assert behind that sentence fails in nbval."""
    notebook = _cut_after(
        ROOT / "chapters" / "01_dataset.ipynb", "# claim: the in-memory loader is", tmp_path
    )
    shadow = tmp_path / "shadow"
    shutil.copytree(ROOT / "helpers", shadow / "helpers")
    loaders = shadow / "helpers" / "loaders.py"
    # 30 ms a batch: the median of the in-memory loader's 235 batches can no longer be under
    # a third of the DataLoader's unless a DataLoader batch takes 90 ms (7 ms on a quiet
    # machine, 10 ms on a busy one); and the epoch sleeps 7 s, not the 12 s of 50 ms.
    pause = "            __import__('time').sleep(0.03)\n"
    slow = loaders.read_text().replace("            yield X, y", pause + "            yield X, y")
    assert slow != loaders.read_text(), "the planted slowdown found no place to go"
    loaders.write_text(slow)
    path = os.pathsep.join(filter(None, [str(shadow), os.environ.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "pytest", "--nbval", "-p", "no:xdist", "-q", str(notebook),
           "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml")]  # fmt: skip
    run = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path}
    )
    assert run.returncode == 1, run.stdout[-3000:]
    assert "AssertionError" in run.stdout and "assert ratio > 3" in run.stdout, run.stdout[-3000:]
