"""The Chinese edition cannot drift from the English one.

* Code: every Chinese Colab notebook (``chapters/zh/NAME.ipynb``) has exactly the code cells,
  and the outputs, of the English chapter.
* Prose: every paragraph, heading and caption that Sphinx extracts from the English sources
  has a translation that is neither empty nor fuzzy; an English paragraph edited after its
  translation no longer matches its catalog entry and fails until it is translated again.
* Terms: the translation uses the glossary's Chinese terms.

The extraction is Sphinx's gettext builder over the real sources (nothing is executed).
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
import pytest
from babel.messages.catalog import Catalog

from tools import i18n

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted(p.stem for p in (ROOT / "chapters").glob("[0-9][0-9]_*.py"))


@pytest.fixture(scope="module")
def pots(tmp_path_factory) -> dict[str, Catalog]:
    """The English messages of the current sources (gettext builder, no execution)."""
    pot_dir = tmp_path_factory.mktemp("i18n") / "gettext"
    assert i18n.extract(pot_dir) == 0, "the gettext build failed"
    found = {page: i18n.from_source(pot, page) for page, pot in i18n.templates(pot_dir).items()}
    assert found, "no messages extracted"
    return found


@pytest.fixture(scope="module")
def pos() -> dict[str, Catalog]:
    return i18n.catalogs()


# -- Prose ----------------------------------------------------------------------------------


def test_every_page_of_the_book_has_a_catalog(pots, pos):
    assert set(pots) <= set(pos), f"pages without a catalog: {sorted(set(pots) - set(pos))}"
    assert {"index", "appendix/glossary"} <= set(pots)
    assert {f"chapters/{c}" for c in CHAPTERS} <= set(pots)


def test_every_english_message_is_translated(pots, pos):
    report = i18n.check_catalogs(pots, pos)
    assert report.problems == [], (
        f"{len(report.problems)} untranslated messages (python -m tools.i18n todo):\n"
        + "\n".join(report.problems[:30])
    )
    assert report.translated == report.messages > 300


def _page_with_prose(pots) -> tuple[str, str]:
    pot = pots["chapters/02_softmax_scratch"]
    return "chapters/02_softmax_scratch", next(m.id for m in pot if len(m.id) > 200)


def test_an_edited_english_paragraph_is_untranslated_until_translated_again(pots, pos):
    """Plant an edit in one English paragraph: the check must name it."""
    page, paragraph = _page_with_prose(pots)
    edited = {p: Catalog() for p in pots}
    for name, pot in pots.items():
        for message in pot:
            text = message.id
            if name == page and text == paragraph:
                text = paragraph.replace(" the ", " a ", 1)
            edited[name].add(text)
    problems = i18n.check_catalogs(edited, pos).problems
    assert len(problems) == 1 and problems[0].startswith(f"{page}: untranslated"), problems


def test_fuzzy_and_empty_entries_fail(pots, pos):
    page, paragraph = _page_with_prose(pots)
    for planted in ("fuzzy", "empty"):
        catalogs = {name: Catalog() for name in pos}
        for name, po in pos.items():
            for message in po:
                if message.id:
                    catalogs[name].add(message.id, message.string, flags=message.flags)
        entry = catalogs[page][paragraph]
        if planted == "fuzzy":
            entry.flags.add("fuzzy")
        else:
            entry.string = ""
        problems = i18n.check_catalogs(pots, catalogs).problems
        word = "fuzzy" if planted == "fuzzy" else "untranslated"
        assert len(problems) == 1 and f"{page}: {word}: " in problems[0], problems


def test_markdown_cells_are_translated_message_by_message():
    table = {"A heading": "标题", "First line of a paragraph that goes on.": "第一段。"}
    source = "## A heading\n\nFirst line of a paragraph\nthat goes on.\n\n- An item\n"
    text, missing = i18n.translate_markdown(source, table)
    assert text == "## 标题\n\n第一段。\n\n- An item\n"
    assert missing == ["An item"]


# -- Code -----------------------------------------------------------------------------------


def _code(cells) -> list[str]:
    return [c.source.strip() for c in cells if c.cell_type == "code"]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chinese_notebook_runs_the_english_code(chapter):
    path = ROOT / "chapters" / "zh" / f"{chapter}.ipynb"
    assert path.is_file(), f"{path.name} missing: python -m tools.i18n notebooks"
    chinese = nbformat.read(path, as_version=4)
    english = jupytext.read(ROOT / "chapters" / f"{chapter}.py")
    assert _code(chinese.cells) == _code(english.cells), (
        f"chapters/zh/{chapter}.ipynb: code differs from chapters/{chapter}.py "
        "(python -m tools.i18n notebooks after `make notebooks`)"
    )
    golden = nbformat.read(ROOT / "chapters" / f"{chapter}.ipynb", as_version=4)
    outputs = [c.get("outputs") for c in golden.cells if c.cell_type == "code"]
    assert [c.get("outputs") for c in chinese.cells if c.cell_type == "code"] == outputs


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chinese_notebook_prose_is_the_current_translation(chapter):
    path = ROOT / "chapters" / "zh" / f"{chapter}.ipynb"
    notebook, missing = i18n.chinese_notebook(
        ROOT / "chapters" / f"{chapter}.ipynb", i18n.translations()
    )
    assert missing == [], f"{chapter}: untranslated Markdown: {missing[:5]}"
    stored = nbformat.read(path, as_version=4)
    expected = [c.source for c in notebook.cells if c.cell_type == "markdown"]
    assert [c.source for c in stored.cells if c.cell_type == "markdown"] == expected, (
        f"chapters/zh/{chapter}.ipynb is stale: python -m tools.i18n notebooks"
    )
    assert any(re.search(r"[\u4e00-\u9fff]", s) for s in expected)


# -- Terms ----------------------------------------------------------------------------------


def glossary() -> dict[str, str]:
    """Return the glossary's terms: English -> Chinese."""
    text = (ROOT / "appendix" / "glossary.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| ([^|]+?) \| ([^|]+?) \|$", text, re.M)
    return {en: zh for en, zh in rows if en not in {"English", "---"}}


CHECKED = {"overfitting", "underfitting", "hyperparameter", "backpropagation"}


def test_glossary_has_the_d2l_terms():
    terms = glossary()
    assert len(terms) >= 50
    assert terms["softmax regression"] == "softmax回归"
    assert terms["cross-entropy loss"] == "交叉熵损失"
    assert terms["minibatch stochastic gradient descent"] == "小批量随机梯度下降"
    assert terms["multilayer perceptron"] == "多层感知机"
    assert terms["overfitting"] == "过拟合"


def test_translations_use_the_glossary_terms(pos):
    terms = {en: zh for en, zh in glossary().items() if " " in en or en in CHECKED}
    wrong = []
    for page, po in pos.items():
        if page == "appendix/glossary":  # names the English terms on purpose
            continue
        for message in po:
            if not message.id or not message.string or message.string == message.id:
                continue
            for en, zh in terms.items():
                chinese = zh.split("（")[0]
                if re.search(rf"\b{re.escape(en)}\b", message.id, re.I) and chinese not in (
                    message.string
                ):
                    wrong.append(f"{page}: {en!r} -> {zh!r} missing in {message.string[:40]!r}")
    assert wrong == [], "\n".join(wrong)


def test_update_revives_a_translation_made_before_its_paragraph_arrived():
    """A translation kept as obsolete (or on another page) fills the new, empty entry."""
    catalog = Catalog()
    catalog.add("A new paragraph.", "")
    catalog.add("An edited paragraph.", "旧的翻译。", flags=["fuzzy"])
    catalog.add("Kept.", "保留。")
    memory = {"A new paragraph.": "新的段落。", "Kept.": "不应覆盖。", "The old one.": "旧的翻译。"}
    assert i18n._reuse(catalog, memory)
    assert catalog["A new paragraph."].string == "新的段落。"
    edited = catalog["An edited paragraph."]
    assert edited.fuzzy  # no exact match: stays for a translator, who sees the old English
    assert edited.user_comments == ["was: The old one."]
    assert catalog["Kept."].string == "保留。"
