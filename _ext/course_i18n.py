"""The course's two editions, English and Simplified Chinese (loaded by ``_config.yml``).

The Chinese edition is the English book built with ``language = zh_CN``: Sphinx replaces each
paragraph, heading and caption by its translation from ``locales/zh_CN/LC_MESSAGES/*.po``
(``python -m tools.i18n build``). Code cells are never translated, so both editions run the
same code and share one execution cache. This extension does six things:

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
* **The site around the chapters in Chinese.** The themes' and extensions' own words (buttons,
  tooltips, screen-reader labels, the footer, the search box, the solutions' toggles and
  titles, the execution report's tables, chapter 5's GPU note) are Chinese on Chinese pages:
  ``UI_ZH`` and the dictionaries beside it, each used where its words are made. Cell outputs
  stay English, like the code that printed them (``KeepOutputsInEnglish``).
  ``tests/test_zh_no_english.py`` fails on English left on a Chinese page.
"""

from __future__ import annotations

import gettext
import html
import json
import logging as std_logging
import re
import shutil
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform
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


# -- The site around the chapters ------------------------------------------------------------
#
# The themes and extensions write their own words around the chapters. Their zh_CN catalogs
# are used (the language reaches them), but lack some messages, and some words are
# hard-coded in their templates or scripts. Each dictionary below goes where its words are
# made; tests/test_zh_no_english.py finds any English left on a Chinese page.

# Messages of the gettext catalogs "sphinx" (Sphinx, pydata-sphinx-theme) and "booktheme"
# (sphinx-book-theme) that their zh_CN catalogs lack, or word for Taiwan (列印).
UI_ZH = {
    "Link to this heading": "链接到此标题",
    "Color mode": "颜色模式",
    "Light": "浅色",
    "Dark": "深色",
    "System Settings": "跟随系统设置",
    "Collapse Sidebar": "收起侧边栏",
    "Expand Sidebar": "展开侧边栏",
    "Repository": "代码仓库",
    "Source repository": "源代码仓库",
    "Source repositories": "源代码仓库",
    "Open issue": "提交问题",
    "Open an issue": "在 GitHub 上提交问题",
    "Launch interactive content": "交互式运行",
    "Print to PDF": "打印为 PDF",
    "logo": "标志",
    "© Copyright %(copyright)s.": "© 版权所有 %(copyright)s。",
}
# Words hard-coded in the themes' templates and in myst-nb's HTML, as they appear in a page.
HTML_ZH = {
    'title="Toggle primary sidebar"': 'title="显示或隐藏导航栏"',
    'title="Toggle secondary sidebar"': 'title="显示或隐藏本页目录"',
    'aria-label="Main"': 'aria-label="全书目录"',
    '<nav aria-label="Page">': '<nav aria-label="本页目录">',
    'aria-label="Toggle hidden content"': 'aria-label="显示或隐藏内容"',
}
# Labels that sphinx-togglebutton's script writes into the page when it runs.
SCRIPT_ZH = {"Toggle hidden content": "显示或隐藏内容"}
# Header buttons: tooltips made of a message and a name ("Launch on" + " Colab").
BUTTONS_ZH = {"Launch on Colab": "在 Colab 中打开"}
# The ".py"/".md" download of a Chinese page is the English source: its label says so.
SOURCE_DOWNLOAD_ZH = ("{suffix}（英文源文件）", "下载英文源文件")
# Settings of _config.yml shown on every page: English as written there -> Chinese. A value
# missing here is a warning (which fails the Chinese build): translate the new text.
AUTHOR_ZH = {"The course's contributors": "本课程的贡献者"}
# The footer (``html.extra_footer``), by its text without tags; "{a}…{/a}" is its link.
FOOTER_ZH = {
    "Built from the course's repository (MIT license). Chapters are executed when the book "
    "is built; see the execution report.": (
        "本站由{a}本课程的代码仓库{/a}构建（MIT 许可证）。各章在构建本书时执行，详见执行报告。"
    ),
}
SEARCH_BAR_ZH = "搜索本书……"
TOGGLE_HINTS_ZH = {"togglebutton_hint": "点击显示", "togglebutton_hint_hide": "点击隐藏"}
# Header cells of the execution report's tables (myst-nb's ``nb-exec-table`` and the course's
# ``course-versions``), and their words.
TABLES_ZH = {
    "Document": "页面",
    "Modified": "修改时间",
    "Method": "执行方式",
    "Run Time (s)": "运行时间（秒）",
    "Status": "状态",
    "Package": "软件包",
    "Version": "版本",
    "not installed": "未安装",
}
# myst-nb's "Show code cell {type}" / "Hide code cell {type}" (hidden cells' toggles).
CODE_PROMPTS_ZH = {"Show": "显示", "Hide": "隐藏"}
CODE_PROMPT_TYPES_ZH = {
    "source": "代码",
    "content": "单元格",
    "output": "输出",
    "outputs": "输出",
}


def _strip_tags(text: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", text).split())


def chinese_footer(footer: str) -> str | None:
    """The Chinese of the English footer (``extra_footer``), or None if it is unknown."""
    template = FOOTER_ZH.get(_strip_tags(footer))
    if template is None:
        return None
    link = re.search(r"<a\s[^>]*>", footer)
    return template.replace("{a}", link.group() if link else "").replace(
        "{/a}", "</a>" if link else ""
    )


def chinese_site_texts(app: Sphinx, config) -> None:
    """In the Chinese edition, the author, footer, search box and toggles in Chinese."""
    if not is_chinese(app):
        return
    problems = []
    if config.author:
        author = AUTHOR_ZH.get(" ".join(str(config.author).split()))
        if author is None:
            problems.append(f"author {config.author!r}: add it to AUTHOR_ZH")
        config.author = author or config.author
    options = dict(config.html_theme_options or {})
    if options.get("extra_footer"):
        footer = chinese_footer(options["extra_footer"])
        if footer is None:
            problems.append("the footer (html.extra_footer): add its Chinese to FOOTER_ZH")
        options["extra_footer"] = footer or options["extra_footer"]
    options["search_bar_text"] = SEARCH_BAR_ZH
    config.html_theme_options = options
    for name, value in TOGGLE_HINTS_ZH.items():
        if hasattr(config, name):
            setattr(config, name, value)
    for problem in problems:
        LOGGER.warning(f"no Chinese for the {problem}", type="course_i18n")
    # After togglebutton.js, which writes the buttons (priority 500).
    labels = json.dumps(SCRIPT_ZH, ensure_ascii=False)
    app.add_js_file(
        None,
        body=(
            'document.addEventListener("DOMContentLoaded", () => {'
            f"for (const [en, zh] of Object.entries({labels})) "
            'for (const e of document.querySelectorAll(`[aria-label="${en}"]`)) '
            'e.setAttribute("aria-label", zh); });'
        ),
        priority=600,
    )


class _Messages(gettext.NullTranslations):
    """A catalog from a dictionary, in front of another one."""

    def __init__(self, messages: dict[str, str]) -> None:
        super().__init__()
        self._messages = messages

    def gettext(self, message: str) -> str:
        if message in self._messages:
            return self._messages[message]
        return self._fallback.gettext(message) if self._fallback else message


def chinese_ui_messages(app: Sphinx) -> None:
    """Put ``UI_ZH`` in front of the themes' catalogs; ``HTML_ZH`` into every page."""
    if not is_chinese(app):
        return
    from sphinx import locale

    for catalog in ("sphinx", "booktheme"):
        translator = locale.translators.get(("general", catalog))
        if isinstance(translator, gettext.GNUTranslations):
            # Changed in place: Jinja's templates hold this very object (app.translator).
            translator._catalog.update(UI_ZH)
        else:
            ours = _Messages(UI_ZH)
            if translator is not None:
                ours.add_fallback(translator)
            locale.translators["general", catalog] = ours
    templates = getattr(app.builder, "templates", None)
    if templates is not None and not getattr(templates.render, "_course_i18n", False):
        render = templates.render

        def render_chinese(template: str, context: dict) -> str:
            return localize_html(render(template, context))

        render_chinese._course_i18n = True
        templates.render = render_chinese


def localize_html(page: str) -> str:
    """Replace the words that the themes' templates hard-code (``HTML_ZH``)."""
    for english, chinese in HTML_ZH.items():
        page = page.replace(english, chinese)
    return page


def _buttons(buttons: list[dict]):
    for button in buttons:
        yield button
        yield from _buttons(button.get("buttons", []))


def chinese_header_buttons(app: Sphinx, pagename: str, templatename, context, doctree):
    """Header buttons: composed tooltips in Chinese; the English source download says so."""
    if doctree is None or not is_chinese(app) or "header_buttons" not in context:
        return
    for button in _buttons(context["header_buttons"]):
        for key in ("tooltip", "text"):
            if button.get(key) in BUTTONS_ZH:
                button[key] = BUTTONS_ZH[button[key]]
        if button.get("label") == "download-source-button":
            text, tooltip = SOURCE_DOWNLOAD_ZH
            button["text"] = text.format(suffix=button.get("text", ""))
            button["tooltip"] = tooltip


class KeepOutputsInEnglish(SphinxTransform):
    """Cell outputs stay English in the Chinese edition, like the code that printed them.

    Sphinx translates every paragraph whose text is a message of the page's catalog, even in
    a Markdown output (the Performance page's tables): a header cell "Model" became 模型
    among English ones. Before the translation (priority 20), outputs are marked untranslatable.
    """

    default_priority = 19

    def apply(self, **kwargs) -> None:
        if not is_chinese(self.app):
            return
        for output in self.document.findall(nodes.container):
            if output.get("nb_element") == "cell_code_output":
                for node in output.findall(nodes.TextElement):
                    node["translatable"] = False


def _in_output(node: nodes.Node) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, nodes.container) and parent.get("nb_element") == "cell_code_output":
            return True
        parent = parent.parent
    return False


class ChineseTables(SphinxPostTransform):
    """The execution report's tables in Chinese (after myst-nb makes its own, priority 8)."""

    default_priority = 9

    def run(self, **kwargs) -> None:
        if not is_chinese(self.app):
            return
        for table in self.document.findall(nodes.table):
            if _in_output(table):
                continue
            heads = [e.astext() for e in table.findall(nodes.entry) if _is_head(e)]
            exec_table = heads[:1] == ["Document"] and "Method" in heads
            if "course-versions" in table["classes"]:  # package names are names
                _literal_column(table, 0)
            for entry in table.findall(nodes.entry):
                text = entry.astext()
                for paragraph in entry.findall(nodes.paragraph):
                    if text in TABLES_ZH and len(paragraph.children) == 1:
                        paragraph.replace(paragraph[0], nodes.Text(TABLES_ZH[text]))
            if exec_table:  # the method (cache, force, ...) is a name: as in the prose
                _literal_column(table, heads.index("Method"))


def _is_head(entry: nodes.entry) -> bool:
    return isinstance(entry.parent.parent, nodes.thead)


def _literal_column(table: nodes.table, column: int) -> None:
    """Show the body cells of a column as code (names, not words to translate)."""
    for row in table.findall(nodes.row):
        cells = [c for c in row.children if isinstance(c, nodes.entry)]
        if len(cells) > column and not _is_head(cells[column]):
            for paragraph in cells[column].findall(nodes.paragraph):
                text = paragraph.astext()
                if text and len(paragraph.children) == 1:
                    paragraph.children = []
                    paragraph += nodes.literal(text, text)


class ChineseSolutionTitles(SphinxPostTransform):
    """Solution titles read "练习 2.1 的解答", not "解答 练习 2.1" (the English word order).

    sphinx-exercise titles a solution ``_("Solution to")`` + a link " Exercise 2.1"
    (``ResolveTitlesInSolutions``, priority 21); in Chinese the link comes first.
    """

    default_priority = 22

    def run(self, **kwargs) -> None:
        if not is_chinese(self.app):
            return
        from sphinx_exercise.nodes import solution_node

        for node in self.document.findall(solution_node):
            title = node.children[0] if node.children else None
            if not isinstance(title, nodes.title) or len(title.children) != 2:
                continue
            word, link = title.children
            if not isinstance(word, nodes.Text) or not isinstance(link, nodes.reference):
                continue
            if link.children and isinstance(link[0], nodes.Text):
                link.replace(link[0], nodes.Text(link[0].lstrip()))
            title.children = []
            title += link
            title += nodes.Text(f" 的{word.strip()}")
            link.parent = title
            node["title"] = title.astext()


class ChineseCodePrompts(SphinxPostTransform):
    """myst-nb's "Show code cell source" toggles in Chinese (made at priority 199)."""

    default_priority = 200
    formats = ("html",)

    def run(self, **kwargs) -> None:
        if not is_chinese(self.app):
            return
        from myst_nb.sphinx_ import HideCodeCellNode

        for node in self.document.findall(HideCodeCellNode):
            for key in ("prompt_show", "prompt_hide"):
                node[key] = chinese_code_prompt(node[key])


def chinese_code_prompt(prompt: str) -> str:
    """Return the Chinese of "Show code cell source" (显示代码); keep an unknown prompt."""
    match = re.fullmatch(r"(Show|Hide) code cell (\w+)", prompt)
    if match is None or match.group(2) not in CODE_PROMPT_TYPES_ZH:
        return prompt
    return CODE_PROMPTS_ZH[match.group(1)] + CODE_PROMPT_TYPES_ZH[match.group(2)]


# -- Chapter 5's GPU note --------------------------------------------------------------------
#
# tools/gpu_runs.py puts a note into a GPU chapter when the book reads it (course_site's
# ``read_chapter``): where its GPU outputs come from, or that they are pending. The note is
# not in the chapter's source, so not in its catalog; in the Chinese edition course_site asks
# ``translate_gpu_notes`` for it.

GPU_PENDING_ZH = (
    "```{{admonition}} GPU 输出尚待生成\n:class: warning\n"
    "本页是在没有 GPU 的机器上执行的，因此下面每个单元格的输出都是在 CPU 上回退运行的结果。"
    "本章这一版本在 GPU 上运行的输出尚待生成（在有 GPU 的机器上运行 `make gpu-notebooks` "
    "会写出 `{run}`）。想现在就看到它们，可以在 GPU 上运行这个笔记本"
    "（Colab：“代码执行程序”→“更改运行时类型”→“T4 GPU”）。\n```"
)
GPU_PROVENANCE_ZH = (
    "```{{admonition}} 这些输出从何而来\n:class: note\n"
    "本页的输出于 {date} 在一块 **{gpu}** GPU 上（驱动 {driver}，CUDA {cuda}，"
    "PyTorch {torch}）由 `make gpu-notebooks` 生成，保存在 `{run}` 中。在你的机器上，"
    "同样的代码会使用它找到的设备，因此设备名称和计时会有所不同。\n```"
)


def translate_gpu_notes(notebook) -> int:
    """Replace the English GPU note of a chapter read for the book by its Chinese; count them.

    A note that ``tools.gpu_runs`` words differently from what this function knows is a
    warning (the Chinese build fails): update ``GPU_PENDING_ZH`` / ``GPU_PROVENANCE_ZH``.
    """
    from tools import gpu_runs

    meta = dict(notebook.metadata.get(gpu_runs.KEY, {}))
    heads = {
        gpu_runs.pending_note("NAME").split("\n", 1)[0],
        gpu_runs.provenance_note(dict.fromkeys(gpu_runs.PROVENANCE, ""), "NAME").split("\n")[0],
    }
    done = 0
    for cell in notebook.cells:
        if cell.cell_type != "markdown" or not cell.source.startswith("```{admonition}"):
            continue
        for name in gpu_runs.GPU_CHAPTERS:
            run = f"{gpu_runs.GPU_RUNS}/{name}.ipynb"
            if cell.source == gpu_runs.pending_note(name):
                cell.source = GPU_PENDING_ZH.format(run=run)
            elif meta and cell.source == gpu_runs.provenance_note(meta, name):
                cell.source = GPU_PROVENANCE_ZH.format(run=run, **meta)
            else:
                continue
            done += 1
            break
        else:
            head = cell.source.split("\n", 1)[0]
            if head in heads:
                LOGGER.warning(
                    f"no Chinese for the GPU note {head!r}: update GPU_PENDING_ZH or "
                    "GPU_PROVENANCE_ZH in _ext/course_i18n.py",
                    type="course_i18n",
                )
    return done


def setup(app: Sphinx) -> dict[str, Any]:
    _patch_notebook_parser()
    app.connect("config-inited", search_dictionary)
    # Before sphinx-togglebutton writes its hints into the pages (priority 500).
    app.connect("config-inited", chinese_site_texts, priority=400)
    app.connect("builder-inited", chinese_ui_messages)
    app.connect("html-page-context", chinese_header_buttons, priority=660)
    app.add_transform(KeepOutputsInEnglish)
    app.add_post_transform(ChineseTables)
    app.add_post_transform(ChineseSolutionTitles)
    app.add_post_transform(ChineseCodePrompts)
    app.connect("doctree-read", translate_captions, priority=900)
    app.connect("html-page-context", add_language_switch, priority=700)
    # After the theme's launch buttons (priority 501).
    app.connect("html-page-context", colab_opens_chinese_notebook, priority=650)
    # After course_site copied the English notebooks (default priority 500).
    app.connect("build-finished", download_chinese_notebooks, priority=600)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
