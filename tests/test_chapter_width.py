"""Every line of code in a chapter fits in 79 characters, so that no code block scrolls.

The book's code boxes show 79 characters at the default width of a 1280-pixel window (the
browser test in tests/test_site_browser.py measures it). Prose lines are not checked: the
browser wraps them.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest

from tools import notebooks

MAX_WIDTH = 79
SOURCES = notebooks.chapter_sources()
APPENDIX = sorted((Path(__file__).resolve().parent.parent / "appendix").glob("*.py"))
HIDDEN = {"remove-cell", "remove-input"}


def too_wide(source: Path, shown_only: bool = False) -> list[str]:
    """List the code lines of a page longer than ``MAX_WIDTH``, as 'cell N, line M (W)'.

    ``shown_only`` skips cells whose code no reader sees (tagged remove-cell/remove-input).
    """
    found = []
    for i, cell in enumerate(jupytext.read(source).cells):
        if cell.cell_type != "code":
            continue
        if shown_only and HIDDEN & set(cell.metadata.get("tags", [])):
            continue
        for j, line in enumerate(cell.source.splitlines(), start=1):
            if len(line) > MAX_WIDTH:
                found.append(f"cell {i}, line {j} ({len(line)} chars): {line.strip()[:50]}")
    return found


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.stem)
def test_every_code_line_fits_in_79_characters(source):
    found = too_wide(source)
    assert found == [], f"{source.stem}: {len(found)} lines over {MAX_WIDTH}:\n" + "\n".join(found)


@pytest.mark.parametrize("source", APPENDIX, ids=lambda s: s.stem)
def test_every_shown_code_line_of_the_appendix_fits_in_79_characters(source):
    found = too_wide(source, shown_only=True)
    assert found == [], f"{source.stem}: {len(found)} lines over {MAX_WIDTH}:\n" + "\n".join(found)


def test_the_colab_setup_cell_fits_in_79_characters():
    """The set-up cell, with the repository of ``_config.yml`` filled in, fits too."""
    lines = notebooks.setup_cell_source().splitlines()
    assert [line for line in lines if len(line) > MAX_WIDTH] == []


def test_a_planted_wide_line_is_found(tmp_path):
    source = tmp_path / "00_planted.py"
    wide = "x = " + " + ".join(["1"] * 40)  # 160 characters
    source.write_text(f"# %% [markdown]\n# {'prose ' * 20}\n\n# %%\nx = 1\n{wide}\n")
    assert too_wide(source) == [f"cell 1, line 2 ({len(wide)} chars): {wide[:50]}"]
