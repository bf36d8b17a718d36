"""The course's two editions, English and Simplified Chinese (loaded by ``_config.yml``).

The Chinese edition is the English book built with ``language = zh_CN``: Sphinx replaces each
paragraph, heading and caption by its translation from ``locales/zh_CN/LC_MESSAGES/*.po``
(``python -m tools.i18n build``). Code cells are never translated, so both editions run the
same code and share one execution cache. This extension does five things:

* **Translated Markdown.** A translated message is parsed with the parser of its page. For a
  chapter (a jupytext ``.py`` page) that parser is myst-nb's, which would read the message as
  a whole notebook; here it is parsed as plain MyST Markdown instead.
* **Captions.** The part captions of ``_toc.yml`` (not extracted by gettext) are translated
  from ``CAPTIONS_ZH``.
* **Language switch.** Every page of either edition starts with a link to the same page in the
  other edition. The English site is ``_build/html/``, the Chinese one ``_build/html/zh/``.
* **Colab and downloads in Chinese.** A Chinese chapter's "Colab" button opens
  ``chapters/zh/NAME.ipynb`` (Chinese prose, the English chapter's code and outputs; written by
  ``python -m tools.i18n notebooks``), and its ".ipynb" download is that notebook.
* **Search in Chinese.** Sphinx cuts Chinese text into words with ``jieba`` (a dependency in
  ``requirements.txt``); the search box matches whole words, so the glossary's terms (and
  ``SEARCH_TERMS_ZH``) are given to jieba as a user dictionary: 过拟合 or 小批量随机梯度下降
  are then indexed as one word each, not as 过 + 拟合 or 小批量 + 随机 + 梯度 + 下降.
"""

from __future__ import annotations

import html
import logging as std_logging
import re
import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
# The folder of the Chinese site inside the English one, and of the Chinese notebooks.
ZH_DIR = "zh"
# The captions of _toc.yml's parts: sphinx-external-toc makes them without source text, so
# gettext never extracts them. A caption missing here is a warning in the Chinese build.
CAPTIONS_ZH = {"Chapters": "章节", "Appendix": "附录"}
# The glossary, whose Chinese terms become whole words of the Chinese search index, and the
# terms chapters 5 and 6 teach that the glossary may not list yet (repeating one is harmless).
GLOSSARY = Path(__file__).resolve().parent.parent / "appendix" / "glossary.md"
SEARCH_TERMS_ZH = [
    "数据并行",
    "全归约",
    "核函数",
    "检查点",
    "提前停止",
    "暂退法",
    "计算图",
    "启动开销",
]


def is_chinese(app: Sphinx) -> bool:
    """True when this build is the Chinese edition."""
    return (app.config.language or "en").startswith("zh")


# -- Translated Markdown ---------------------------------------------------------------------


def _patch_notebook_parser() -> None:
    """Parse translated messages of notebook pages as MyST Markdown, not as notebooks."""
    from myst_nb.sphinx_ import Parser as NotebookParser
    from myst_parser.parsers.sphinx_ import MystParser

    if getattr(NotebookParser.parse, "_course_i18n", False):
        return
    original = NotebookParser.parse

    def parse(self, inputstring: str, document) -> None:
        # Sphinx names the source of a translated message "PATH:LINE:<translated>".
        if str(document.get("source", "")).endswith("<translated>"):
            return MystParser.parse(self, inputstring, document)
        return original(self, inputstring, document)

    parse._course_i18n = True
    NotebookParser.parse = parse


def translate_captions(app: Sphinx, doctree) -> None:
    """Translate the table of contents' part captions in the Chinese edition."""
    if not is_chinese(app):
        return
    from sphinx import addnodes

    for toctree in doctree.findall(addnodes.toctree):
        caption = toctree.get("caption")
        if caption and caption not in CAPTIONS_ZH.values():
            if caption in CAPTIONS_ZH:
                toctree["caption"] = CAPTIONS_ZH[caption]
            else:
                LOGGER.warning(
                    f"no Chinese caption for {caption!r}: add it to CAPTIONS_ZH",
                    type="course_i18n",
                )


# -- Search in Chinese -----------------------------------------------------------------------


def search_terms_zh(glossary: Path = GLOSSARY) -> list[str]:
    """The Chinese words the search index must keep whole: the glossary's, then the extras.

    A cell of the glossary's Chinese column is one word ("softmax回归" too); a cell with
    spaces or punctuation gives its runs of two or more characters that contain Chinese.
    """
    text = glossary.read_text(encoding="utf-8")
    rows = re.findall(r"^\| ([^|]+?) \| ([^|]+?) \|$", text, re.M)
    terms: list[str] = []
    for cell in [*(zh for en, zh in rows if en not in {"English", "---"}), *SEARCH_TERMS_ZH]:
        for word in re.findall(r"\w+", cell):
            if len(word) > 1 and re.search(r"[\u4e00-\u9fff]", word) and word not in terms:
                terms.append(word)
    return terms


def search_dictionary(app: Sphinx, config) -> None:
    """In the Chinese edition, give jieba the course's terms (``html_search_options``)."""
    if not is_chinese(app):
        return
    try:
        import jieba
    except ImportError:
        LOGGER.warning(
            "jieba is not installed: the Chinese search index holds no Chinese words "
            "(pip install -r requirements.txt)",
            type="course_i18n",
        )
        return
    jieba.setLogLevel(std_logging.WARNING)  # not "Building prefix dict ..." on every build
    path = Path(app.doctreedir) / "search-terms-zh.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{term}\n" for term in search_terms_zh()), encoding="utf-8")
    config.html_search_options = {**(config.html_search_options or {}), "dict": str(path)}


# -- Language switch -------------------------------------------------------------------------


def other_edition_url(pagename: str, chinese: bool) -> str:
    """Return the relative URL of the same page in the other edition."""
    up = "../" * pagename.count("/")
    if chinese:
        return f"{up}../{pagename}.html"
    return f"{up}{ZH_DIR}/{pagename}.html"


def add_language_switch(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    """Put a link to the same page in the other language at the top of every page."""
    if doctree is None or "body" not in context:
        return
    chinese = is_chinese(app)
    url = other_edition_url(pagename, chinese)
    text, lang = ("Read in English", "en") if chinese else ("阅读中文版", "zh-CN")
    link = (
        '<p class="course-language-switch" style="text-align: right; margin: 0;">'
        f'<a class="reference external" href="{html.escape(url)}" hreflang="{lang}" '
        f'lang="{lang}">{text}</a></p>\n'
    )
    context["body"] = link + context["body"]


# -- Colab and downloads ---------------------------------------------------------------------


def chinese_notebook(app: Sphinx, docname: str) -> Path | None:
    """Return ``chapters/zh/NAME.ipynb`` for a chapter page, if it exists."""
    source = Path(app.env.doc2path(docname))
    if source.suffix != ".py" or not source.with_suffix(".ipynb").is_file():
        return None
    notebook = source.parent / ZH_DIR / f"{source.stem}.ipynb"
    return notebook if notebook.is_file() else None


def _retarget(buttons: list[dict], old: str, new: str) -> int:
    changed = 0
    for button in buttons:
        url = button.get("url", "")
        if "colab" in url and url.endswith(old):
            button["url"] = url[: -len(old)] + new
            changed += 1
        changed += _retarget(button.get("buttons", []), old, new)
    return changed


def colab_opens_chinese_notebook(app: Sphinx, pagename: str, templatename, context, doctree):
    """Point a Chinese chapter's Colab button at its Chinese notebook."""
    if doctree is None or not is_chinese(app) or "header_buttons" not in context:
        return
    notebook = chinese_notebook(app, pagename)
    if notebook is None:
        if Path(app.env.doc2path(pagename)).with_suffix(".ipynb").is_file():
            LOGGER.warning(
                f"{pagename}: no Chinese notebook chapters/{ZH_DIR}/; "
                "run `python -m tools.i18n notebooks`",
                type="course_i18n",
                location=pagename,
            )
        return
    head, name = pagename.rsplit("/", 1)
    if not _retarget(context["header_buttons"], f"/{pagename}.ipynb", f"/{head}/zh/{name}.ipynb"):
        LOGGER.warning(f"{pagename}: no Colab button to point at the Chinese notebook")


def download_chinese_notebooks(app: Sphinx, exception: Exception | None) -> None:
    """The ".ipynb" download of a Chinese chapter is its Chinese notebook."""
    if exception is not None or app.builder.format != "html" or not is_chinese(app):
        return
    for docname in sorted(app.env.found_docs):
        notebook = chinese_notebook(app, docname)
        if notebook:
            target = Path(app.outdir, "_sources", *f"{docname}.ipynb".split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(notebook, target)


def setup(app: Sphinx) -> dict[str, Any]:
    _patch_notebook_parser()
    app.connect("config-inited", search_dictionary)
    app.connect("doctree-read", translate_captions, priority=900)
    app.connect("html-page-context", add_language_switch, priority=700)
    # After the theme's launch buttons (priority 501).
    app.connect("html-page-context", colab_opens_chinese_notebook, priority=650)
    # After course_site copied the English notebooks (default priority 500).
    app.connect("build-finished", download_chinese_notebooks, priority=600)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
