"""No English prose on a Chinese page, outside code, outputs and names.

Reads every page of the built Chinese site (``_build/html/zh``, written by ``make book``;
another folder with ``COURSE_ZH_SITE``, e.g. ``_build/preview/zh`` after
``python -m tools.i18n build --preview``) and fails on English left on it: in the visible
text, and in the ``title``, ``aria-label``, ``placeholder``, ``alt`` and ``data-bs-title``
attributes (tooltips and screen-reader labels), and in the toggle buttons' hints.

Not checked, because they stay English in both editions on purpose:

* code and math: ``pre``, ``code``, ``kbd``, ``samp``, ``math``, ``svg``, anything of class
  ``notranslate`` or ``math``, ``script`` and ``style``;
* cell outputs (``div.cell_output``): the code's outputs are the English chapter's;
* anything marked ``lang="en"`` (the "Read in English" link);
* names, identifiers and file names: a word written with a capital inside it or in capitals
  (PyTorch, GPU, ReLU, DataLoader), a single letter (a variable), a word with a digit, an
  underscore, a slash or a dot attached (float16, d2l, helpers.py, .ipynb,
  chapters/01_dataset), and ``NAMES`` below;
* the original English of a Chinese term, in full-width parentheses right after it, as
  d2l-zh writes it: 稀疏分类交叉熵（sparse categorical cross-entropy）;
* what a translator kept in English on purpose: a catalog message of at most
  ``KEPT_WORDS`` words whose translation is the English text itself (the glossary's
  English column, "MXNet / gluon").

What is English prose: a text (a paragraph, heading, table cell, list item, button, or one
attribute) with no Chinese character and one English word or more; or, in a Chinese text, a
run of ``RUN`` English words or more (one English term in a Chinese sentence, the way d2l-zh
writes softmax回归 or 暂退法（dropout）, is fine; "the test set" is not).

A failure lists the English found, page by page, in two groups: English that the site adds
around the chapters (templates, extensions, notes: translate it in ``_ext/course_i18n.py``),
and English of the page's English source (an untranslated or edited message, or English
words a translation kept: fix the catalog, ``python -m tools.i18n todo``, rebuild).
"""

from __future__ import annotations

import os
import re
import sys
from functools import cache
from pathlib import Path

import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup, Comment, Declaration, Doctype, NavigableString, Tag

from tools import gpu_runs, i18n

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(os.environ.get("COURSE_ZH_SITE", ROOT / "_build" / "html" / "zh"))

# Proper names of more than one word, or lower-case names, that may stand alone (a table
# cell, a heading) or next to another English word. Names in capitals or with a capital
# inside (PyTorch, GPU, MNIST, DataLoader) need no entry.
NAMES = [
    "Fashion-MNIST",
    "Google Colab",
    "Colab",
    "Jupyter Book",
    "Jupyter",
    "Keras",
    "Python",
    "Google",
    "Adam",
    "Kingma",
    "Zalando",
    "Chromium",
    "Sphinx",
    "gluon",
    "torchvision",
    "torchrun",
    "softmax",
    "matplotlib",
    "pandas",
    "jupytext",
    "d2l",
]
# A run of this many English words in a Chinese text is prose.
RUN = 3
# A message kept in English by its translator counts as a name up to this many words.
KEPT_WORDS = 5
ATTRIBUTES = ("title", "aria-label", "placeholder", "alt", "data-bs-title")
SKIP_TAGS = {"pre", "code", "kbd", "samp", "tt", "var", "math", "svg", "script", "style",
             "noscript", "template", "head"}  # fmt: skip
SKIP_CLASSES = {"notranslate", "math", "cell_output", "output", "MathJax"}
BLOCK_TAGS = {
    "p", "li", "dt", "dd", "td", "th", "caption", "figcaption", "h1", "h2", "h3", "h4",
    "h5", "h6", "div", "section", "article", "aside", "nav", "header", "footer", "main",
    "ul", "ol", "dl", "table", "tr", "thead", "tbody", "blockquote", "details", "summary",
    "button", "label", "option", "select", "form", "body", "title", "br", "hr",
}  # fmt: skip
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# An English word: letters, inner apostrophes or hyphens; not glued to a digit, an
# underscore, a slash, a dot followed by more name (helpers.py), or a leading dot (.ipynb).
WORD = re.compile(
    r"(?<![\w./\\@#$%^&*=<>~+-])[A-Za-z]+(?:['’-][A-Za-z]+)*(?![\w/\\@#$%^&*=<>~+(-]|\.\w)"
)
# What may separate the words of one English run.
GLUE = re.compile(r"^[\s,;:'\"“”‘’()!?.–—-]*$")
# The original term after a Chinese one, as d2l-zh gives it: 稀疏分类交叉熵（sparse
# categorical cross-entropy）. Full-width parentheses, right after a Chinese character.
GLOSS = re.compile(r"(?<=[\u3400-\u9fff])（[A-Za-z][A-Za-z'’ -]{0,50}）")
TOGGLE_HINT = re.compile(r"let (toggleHint\w+) = '([^']*)';")


def pages(site: Path = SITE) -> list[Path]:
    """Every HTML page of a built site (not ``_static/`` or ``_sources/`` files)."""
    return sorted(
        p for p in site.rglob("*.html")
        if not any(part.startswith("_") or part == "jupyter_execute"
                   for part in p.relative_to(site).parts[:-1])
    )  # fmt: skip


def _skipped(tag: Tag) -> bool:
    if tag.name in SKIP_TAGS:
        return True
    if SKIP_CLASSES & set(tag.get("class") or []):
        return True
    return str(tag.get("lang", "")).lower().startswith("en")


def texts(html: str) -> list[tuple[str, str]]:
    """The page's texts that are read: ``(where, text)``, one per block and attribute."""
    soup = BeautifulSoup(html, "html.parser")
    found: list[tuple[str, str]] = []
    title = soup.find("title")
    if title is not None:
        found.append(("<title>", title.get_text()))
    body = soup.body or soup
    buffer: list[str] = []

    def flush(where: str) -> None:
        text = " ".join("".join(buffer).split())
        buffer.clear()
        if text:
            found.append((where, text))

    def walk(tag: Tag) -> None:
        for child in tag.children:
            if isinstance(child, (Comment, Doctype, Declaration)):
                continue
            if isinstance(child, NavigableString):
                buffer.append(str(child))
                continue
            if not isinstance(child, Tag) or _skipped(child):
                buffer.append(" ")  # code between two words keeps them apart
                continue
            for name in ATTRIBUTES:
                value = child.get(name)
                if isinstance(value, str) and value.strip():
                    found.append((f"{child.name}[{name}]", " ".join(value.split())))
            block = child.name in BLOCK_TAGS
            if block:
                flush(f"<{tag.name}>")
            walk(child)
            if block:
                flush(f"<{child.name}>")

    walk(body)
    flush("<body>")
    for name, value in TOGGLE_HINT.findall(html):
        found.append((f"script {name}", value))
    return found


def _mask_names(text: str, names: list[str] = NAMES) -> str:
    for name in sorted(names, key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", " 名 ", text)
    return text


def _is_name(word: str) -> bool:
    return len(word) == 1 or any(c.isupper() for c in word[1:])


def english_runs(text: str) -> list[str]:
    """The runs of English words of a text that make it English prose (none: fine)."""
    text = GLOSS.sub("（名）", _mask_names(text))
    runs: list[list[re.Match]] = []
    for match in WORD.finditer(text):
        last = runs[-1][-1] if runs else None
        if last is not None and GLUE.match(text[last.end() : match.start()]):
            runs[-1].append(match)
        else:
            runs.append([match])
    words = [[m.group() for m in run] for run in runs]
    prose = [run for run in words if not all(_is_name(w) for w in run)]
    if not prose:
        return []
    if not CJK.search(text):
        return [" ".join(run) for run in prose]
    return [" ".join(run) for run in prose if len(run) >= RUN]


@cache
def kept_in_english() -> frozenset[str]:
    """The short messages that the catalogs keep in English on purpose, as rendered."""
    kept = set()
    for catalog in i18n.catalogs().values():
        for message in catalog:
            if message.id and message.string == message.id:
                text = re.sub(r"[`*]|\{\w+\}", "", message.id)
                if len(text.split()) <= KEPT_WORDS:
                    kept.add(" ".join(text.split()))
    return frozenset(kept)


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z]+", text.lower().replace("’", "'"))) + " "


@cache
def english_source(page: str) -> str:
    """The words of a page's English source prose, lower case, one space apart."""
    prose = i18n.page_prose(page) or ""
    # As rendered: no code spans, math, roles' names or link targets between the words.
    prose = re.sub(r"`{3,}", " ", prose)  # directives' fences
    prose = re.sub(r"\{[\w:-]+\}`([^`<]*)(?:<[^`]*>)?`", r" \1 ", prose)  # {ref}`text <x>`
    prose = re.sub(r"`[^`]*`|\$[^$]*\$|\{[\w:-]+\}|\]\([^)]*\)|</?[a-zA-Z][^<>]*>", " ", prose)
    return _words(prose)


def in_source(text: str, page: str) -> bool:
    """Whether a text is (mostly) prose of the page's English source: untranslated."""
    words, source = _words(text).split(), english_source(page)
    if len(words) < 3:
        return bool(words) and f" {' '.join(words)} " in source
    triples = [" " + " ".join(words[i : i + 3]) + " " for i in range(len(words) - 2)]
    return sum(t in source for t in triples) >= len(triples) / 2


def problems(html: str, page: str) -> tuple[list[str], list[str]]:
    """English prose on a Chinese page: ``(added by the site, untranslated source)``."""
    site, untranslated = [], []
    for where, text in texts(html):
        runs = [] if text in kept_in_english() else english_runs(text)
        chinese = CJK.search(text) is not None
        for run in runs:
            # An English text from the source: untranslated; English left in a Chinese text
            # that the source has: kept by its translation. Both are fixed in the catalogs.
            from_source = in_source(run if chinese else text, page)
            line = f"{where} {run!r}" + (f" in {text[:80]!r}" if run != text else "")
            (untranslated if from_source else site).append(line)
    return site, untranslated


def _page_name(path: Path, site: Path = SITE) -> str:
    return path.relative_to(site).with_suffix("").as_posix()


def _report(found: dict[str, tuple[list[str], list[str]]]) -> str:
    lines = []
    for title, index in (
        ("English added by the site (translate it in _ext/course_i18n.py)", 0),
        (
            "English of the page's source, untranslated or left in its translation (the "
            "catalogs: python -m tools.i18n todo)",
            1,
        ),
    ):
        group = {page: f[index] for page, f in found.items() if f[index]}
        if group:
            lines.append(f"== {title}: {sum(map(len, group.values()))}")
            for page, items in group.items():
                lines += [f"{page}: {item}" for item in dict.fromkeys(items)]
    return "\n".join(lines)


# -- The rules, on small pieces of HTML ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Open issue",
        "Repository",
        "作者： The course's contributors",
        "这是一个 GPU outputs pending note 的例子",
        "Built from the course's repository (MIT license).",
        "选择 GPU 运行时（Runtime → Change runtime type）",
    ],
)
def test_english_prose_is_found(text):
    assert english_runs(text)


@pytest.mark.parametrize(
    "text",
    [
        "使用 GPU",
        "从零开始实现 softmax回归",
        "Fashion-MNIST 数据集",
        "暂退法（dropout）与提前停止",
        "稀疏分类交叉熵（sparse categorical cross-entropy）接受整数形式的标签",
        "PyTorch 的 DataLoader 与 Keras",
        "在 Google Colab 中",
        ".ipynb",
        ".py（英文源文件）",
        "chapters/01_dataset",
        "TensorFlow 1.x 和 Keras",
        "float16 与 bfloat16",
        "© 版权所有 2026。",
    ],
)
def test_chinese_with_names_passes(text):
    assert english_runs(text) == []


def test_code_outputs_math_and_english_links_are_not_read():
    html = (
        "<html><body><p>见 <code>torch.nn.functional.cross_entropy</code> 的文档</p>"
        '<div class="cell_output"><pre>epoch 1, loss 0.52</pre><p>Test accuracy</p></div>'
        '<span class="math notranslate">\\(\\log \\sum_k \\exp(o_k)\\)</span>'
        '<p><a lang="en" href="x.html">Read in English</a></p></body></html>'
    )
    assert [t for _, t in texts(html) if english_runs(t)] == []


def test_attributes_and_toggle_hints_are_read():
    html = (
        "<html><head><script>let toggleHintShow = 'Click to show';</script></head><body>"
        '<button title="Toggle primary sidebar" aria-label="切换">菜单</button>'
        '<input placeholder="Search this book..."></body></html>'
    )
    english = {t for _, t in texts(html) if english_runs(t)}
    assert english == {"Click to show", "Toggle primary sidebar", "Search this book..."}


# -- What _ext/course_i18n.py puts on Chinese pages, without a build ------------------------


@pytest.fixture(scope="module")
def course_i18n():
    sys.path.insert(0, str(ROOT / "_ext"))
    try:
        import course_i18n
    finally:
        sys.path.remove(str(ROOT / "_ext"))
    return course_i18n


def test_the_footer_and_author_of_config_have_their_chinese(course_i18n):
    """Editing the footer or author in _config.yml needs their Chinese (the build warns)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    footer = course_i18n.chinese_footer(config["html"]["extra_footer"])
    assert footer is not None, "add the new footer's Chinese to FOOTER_ZH in _ext/course_i18n.py"
    assert re.search(r'<a href="https://[^"]+">', footer) and english_runs(footer) == []
    author = " ".join(config["author"].split())
    assert author in course_i18n.AUTHOR_ZH, "add the author's Chinese to AUTHOR_ZH"


def test_the_ui_dictionaries_hold_no_english(course_i18n):
    chinese = [
        *course_i18n.UI_ZH.values(),
        *course_i18n.SCRIPT_ZH.values(),
        *course_i18n.BUTTONS_ZH.values(),
        *course_i18n.AUTHOR_ZH.values(),
        *course_i18n.TABLES_ZH.values(),
        *course_i18n.TOGGLE_HINTS_ZH.values(),
        course_i18n.SEARCH_BAR_ZH,
        *[re.sub(r"<[^>]+>|\{/?a\}", "", v) for v in course_i18n.FOOTER_ZH.values()],
        *[re.search(r'"([^"]*)"', v).group(1) for v in course_i18n.HTML_ZH.values()],
    ]
    assert [text for text in chinese if english_runs(text.replace("%(copyright)s", ""))] == []


@pytest.mark.parametrize("kind", ["pending", "provenance"])
def test_the_gpu_note_of_a_chinese_page_is_chinese(course_i18n, kind):
    meta = {
        "gpu": "NVIDIA H100 80GB HBM3", "driver": "550.54.15", "cuda": "12.4",
        "torch": "2.5.1+cu124", "date": "2026-12-06 10:00 UTC", "source_sha256": "0" * 64,
    }  # fmt: skip
    name = gpu_runs.GPU_CHAPTERS[0]
    notebook = nbformat.v4.new_notebook()
    if kind == "pending":
        note = gpu_runs.pending_note(name)
    else:
        note = gpu_runs.provenance_note(meta, name)
        notebook.metadata[gpu_runs.KEY] = meta
    notebook.cells = [nbformat.v4.new_markdown_cell("# 5. Using the GPU"),
                      nbformat.v4.new_markdown_cell(note)]  # fmt: skip
    assert course_i18n.translate_gpu_notes(notebook) == 1
    text = notebook.cells[1].source
    assert text.startswith("```{admonition} ") and CJK.search(text)
    prose = re.sub(r"`{3,}\{admonition\}|:class: \w+|`{3,}|`[^`]*`", " ", text)
    assert english_runs(prose) == [], prose
    if kind == "provenance":
        assert all(value in text for key, value in meta.items() if key != "source_sha256")


def test_a_reworded_gpu_note_fails_the_chinese_build(course_i18n, monkeypatch):
    """A new English wording of the note is a warning (-W: the Chinese build fails)."""
    warnings = []
    monkeypatch.setattr(course_i18n.LOGGER, "warning", lambda msg, **kw: warnings.append(msg))
    note = gpu_runs.pending_note(gpu_runs.GPU_CHAPTERS[0]).replace("pending (", "still pending (")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(note)]
    assert course_i18n.translate_gpu_notes(notebook) == 0
    assert len(warnings) == 1 and "GPU_PENDING_ZH" in warnings[0]


def test_code_cell_toggles_are_chinese(course_i18n):
    assert course_i18n.chinese_code_prompt("Show code cell source") == "显示代码"
    assert course_i18n.chinese_code_prompt("Hide code cell outputs") == "隐藏输出"


# -- The built Chinese site ------------------------------------------------------------------


def _built_pages() -> list[Path]:
    if not (SITE / "index.html").is_file():
        pytest.fail(f"{SITE} has no index.html: run `make book` first")
    return pages(SITE)


def test_no_english_prose_on_chinese_pages():
    found = {}
    for path in _built_pages():
        page = _page_name(path)
        site, untranslated = problems(path.read_text(encoding="utf-8"), page)
        if site or untranslated:
            found[page] = (site, untranslated)
    assert not found, "English prose on Chinese pages:\n" + _report(found)


def test_a_planted_english_note_fails(tmp_path):
    """A copy of a built chapter with an English note added must fail."""
    chapter = SITE / "chapters" / "01_dataset.html"
    if not chapter.is_file():
        pytest.fail(f"{chapter} is missing: run `make book` first")
    html = chapter.read_text(encoding="utf-8")
    note = (
        '<div class="admonition note"><p class="admonition-title">Note</p>'
        "<p>The outputs on this page were produced on a GPU.</p></div>"
    )
    marker = '<section id="'
    assert marker in html
    planted = tmp_path / "01_dataset.html"
    planted.write_text(html.replace(marker, note + marker, 1), encoding="utf-8")
    site, _ = problems(planted.read_text(encoding="utf-8"), "chapters/01_dataset")
    before, _ = problems(html, "chapters/01_dataset")
    added = set(site) - set(before)
    assert any("'Note'" in line for line in added), added
    assert any("produced on a GPU" in line for line in added), added
