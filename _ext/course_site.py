"""A small Sphinx extension for the course's book (loaded by ``_config.yml``).

It does eight things that Jupyter Book 1 and sphinx-book-theme do not do for ``.py`` pages:

* **Colab and downloads.** A chapter's page is built from ``chapters/NAME.py``; the executed
  notebook ``chapters/NAME.ipynb`` sits beside it (written by ``make notebooks``). The theme
  already points its Colab link at that ``.ipynb`` when it exists (``launch.py``: "an ipynb of
  same name exists"). This extension also puts the notebook into the site as
  ``_sources/NAME.ipynb`` and names it in the page context as ``ipynb_source``, which makes the
  theme's download menu offer ".ipynb" beside ".py". A notebook page with no ``.ipynb``
  beside it (the appendix) gets no launch menu, since Colab cannot open a ``.py`` file.
* **Alt text.** An image output with no ``alt`` (set per cell with the cell metadata
  ``mystnb: {image: {alt: ...}}``) gets one from its cell: the cell's first comment line, or a
  plain description.
* **Executed pages.** Unless execution is off, every notebook page must have execution data
  that says it succeeded; otherwise the build warns (and ``-W`` fails it).
* **Clean pages.** Inline scripts listed twice are written once (see
  ``drop_duplicate_scripts``).
* **Fresh results.** The Performance page is rebuilt and re-executed when a benchmark
  results file changes (``depend_on_results``).
* **Versions.** The ``course-versions`` directive renders a table of installed package
  versions (used by the execution report).
* **GPU runs.** A GPU chapter (``tools/gpu_runs.py``) with a fresh GPU-executed notebook in
  ``gpu_runs/`` is rendered from it, not executed (``read_chapter``, named as the ``.py``
  reader in ``_config.yml``), with a note saying where its outputs came from; its
  ".ipynb" download is that notebook. Without one, the page is executed and says that the
  GPU outputs are pending.
* **The book as a PDF.** ``make book`` prints each edition into one PDF (``tools/pdf.py``)
  and copies it beside the edition's index page; every page's download menu offers it, and a
  Markdown link to its file name (``[...](fashion-mnist-course.pdf)``, in ``index.md``)
  points at it (``BookPdfLink``), in either edition at that edition's PDF.
"""

from __future__ import annotations

import platform
import re
import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # for tools.gpu_runs
    sys.path.insert(0, str(ROOT))

from tools import gpu_runs, pdf  # noqa: E402

LOGGER = logging.getLogger(__name__)
# Comment lines that say nothing about a figure.
_NOT_A_CAPTION = re.compile(r"^(NBVAL_|noqa|fmt:|type:|ruff:|%|!)", re.IGNORECASE)


def notebook_beside(app: Sphinx, docname: str) -> Path | None:
    """Return the executed ``.ipynb`` beside a ``.py`` page's source, if there is one."""
    source = Path(app.env.doc2path(docname))
    if source.suffix != ".py":
        return None
    notebook = source.with_suffix(".ipynb")
    return notebook if notebook.is_file() else None


# The language of the build in progress (``remember_language``): myst-nb calls
# ``read_chapter`` without the application.
_BUILD = {"chinese": False}


def remember_language(app: Sphinx, config) -> None:
    _BUILD["chinese"] = (config.language or "en").startswith("zh")


def read_chapter(text: str, fmt: str = "py:percent"):
    """myst-nb's reader for ``.py`` pages: a GPU chapter's fresh GPU run, or the source.

    In the Chinese edition, a GPU chapter's note (where its outputs come from, or that they
    are pending) is the Chinese one (``course_i18n.translate_gpu_notes``).
    """
    notebook = gpu_runs.read_chapter(text, fmt, ROOT)
    if _BUILD["chinese"]:
        import course_i18n

        course_i18n.translate_gpu_notes(notebook)
    return notebook


def gpu_run_of(app: Sphinx, docname: str) -> Path | None:
    """Return the fresh GPU run a page is rendered from, if there is one."""
    source = Path(app.env.doc2path(docname))
    if source.suffix != ".py" or source.stem not in gpu_runs.GPU_CHAPTERS:
        return None
    if gpu_runs.fresh_run(source.stem, Path(app.srcdir)) is None:
        return None
    return gpu_runs.run_path(source.stem, Path(app.srcdir))


def depend_on_gpu_run(app: Sphinx, docname: str, source: list[str]) -> None:
    """Rebuild a GPU chapter's page when its stored GPU run changes."""
    path = Path(app.env.doc2path(docname))
    if path.suffix == ".py" and path.stem in gpu_runs.GPU_CHAPTERS:
        run = gpu_runs.run_path(path.stem, Path(app.srcdir))
        if run.is_file():
            app.env.note_dependency(str(run))


def _is_notebook_page(app: Sphinx, docname: str) -> bool:
    return "kernelspec" in app.env.metadata.get(docname, {})


# -- The Performance page follows the benchmark's results ------------------------------------

RESULTS_PAGE = "appendix/performance"


def depend_on_results(app: Sphinx, docname: str, source: list[str]) -> None:
    """Rebuild the Performance page when a results file changes (it reads them; it is
    executed on every read, ``execution_mode: force``, so the execution cache never serves
    a table of older results)."""
    if docname == RESULTS_PAGE:
        for path in sorted((Path(app.srcdir) / "benchmarks" / "results").glob("*.json")):
            app.env.note_dependency(str(path))


# -- Colab and downloads ---------------------------------------------------------------------


def offer_notebook_download(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    """Name the page's notebook as ``ipynb_source``; the theme adds it to the download menu."""
    if doctree is not None and notebook_beside(app, pagename):
        context["ipynb_source"] = pagename + ".ipynb"


def launch_gpu_run_in_colab(app: Sphinx, pagename: str, templatename, context, doctree):
    """Point a GPU chapter's launch links at its fresh GPU run, so Colab opens its outputs."""
    run = gpu_run_of(app, pagename) if doctree is not None else None
    if run is None or "header_buttons" not in context:
        return
    old, new = f"/{pagename}.ipynb", "/" + run.relative_to(app.srcdir).as_posix()

    def rewrite(item):
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "url" and isinstance(value, str) and value.endswith(old):
                    item[key] = value[: -len(old)] + new
                else:
                    rewrite(value)
        elif isinstance(item, list):
            for value in item:
                rewrite(value)

    rewrite(context["header_buttons"])


def drop_launch_without_notebook(app: Sphinx, pagename: str, templatename, context, doctree):
    """Remove the launch menu from notebook pages that have no ``.ipynb`` for Colab to open."""
    if doctree is None or notebook_beside(app, pagename) or "header_buttons" not in context:
        return
    buttons = context["header_buttons"]
    kept = [b for b in buttons if b.get("label") != "launch-buttons"]
    if len(kept) != len(buttons):
        LOGGER.info(f"[course_site] {pagename}: no .ipynb beside its source, no launch menu")
        buttons[:] = kept


def copy_notebooks(app: Sphinx, exception: Exception | None) -> None:
    """Copy every page's executed notebook to ``_sources/`` in the built site."""
    if exception is not None or app.builder.format != "html":
        return
    for docname in sorted(app.env.found_docs):
        notebook = gpu_run_of(app, docname) or notebook_beside(app, docname)
        if notebook:
            target = Path(app.outdir, "_sources", *f"{docname}.ipynb".split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(notebook, target)


def record_notebook_state(app: Sphinx, doctree: nodes.document) -> None:
    """Remember whether a page had a notebook beside it when it was read."""
    state = _state(app.env)
    state[app.env.docname] = _notebook_state(app, app.env.docname)


def _notebook_state(app: Sphinx, docname: str) -> tuple[bool, bool]:
    """Whether a page has an ``.ipynb`` beside it, and whether it has a fresh GPU run."""
    return notebook_beside(app, docname) is not None, gpu_run_of(app, docname) is not None


def _state(env: BuildEnvironment) -> dict[str, tuple[bool, bool]]:
    if not hasattr(env, "course_has_notebook"):
        env.course_has_notebook = {}
    return env.course_has_notebook


def outdated_by_notebook(app: Sphinx, env: BuildEnvironment, added, changed, removed):
    """Rebuild pages whose ``.ipynb`` or fresh GPU run appeared or disappeared."""
    state = _state(env)
    return [
        docname
        for docname, had in state.items()
        if docname in env.found_docs
        and docname not in removed
        and had != _notebook_state(app, docname)
    ]


def purge_state(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _state(env).pop(docname, None)


def merge_state(app: Sphinx, env: BuildEnvironment, docnames, other: BuildEnvironment) -> None:
    theirs = _state(other)
    _state(env).update({d: theirs[d] for d in docnames if d in theirs})


def drop_duplicate_scripts(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    """Keep one copy of each inline script.

    Extensions that add inline scripts after the builder started (sphinx-togglebutton,
    sphinx-thebe) get them listed twice with Sphinx 7.4: once with the file name ``None``
    and once with ``""``, so Sphinx's own de-duplication misses them, and the second
    ``const THEBE_JS_URL`` is a JavaScript error on every page.
    """
    seen, kept = set(), []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", {})
        key = (getattr(script, "filename", script) or "", tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    if "script_files" in context:
        context["script_files"][:] = kept


# -- The book as a PDF -----------------------------------------------------------------------

# The download menu's entry for the whole book, by edition (Chinese: True).
BOOK_PDF_MENU = {
    False: ("Book (.pdf)", "Download the whole book as a PDF"),
    True: ("全书（.pdf）", "下载全书 PDF"),
}


def book_pdf_name() -> str:
    """The file name of this edition's PDF (beside its index page)."""
    return pdf.EDITIONS["zh" if _BUILD["chinese"] else "en"].pdf_name


def offer_book_pdf(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    """Add the whole book's PDF to the theme's download menu."""
    if doctree is None or "header_buttons" not in context:
        return
    text, tooltip = BOOK_PDF_MENU[_BUILD["chinese"]]
    for group in context["header_buttons"]:
        if group.get("label") == "download-buttons":
            group["buttons"].append(
                {
                    "type": "link",
                    "url": context["pathto"](book_pdf_name(), 1),
                    "text": text,
                    "tooltip": tooltip,
                    "icon": "fas fa-file-pdf",
                    "label": "download-book-pdf-button",
                }
            )


class BookPdfLink(SphinxPostTransform):
    """A Markdown link to the book's PDF (``[...](fashion-mnist-course.pdf)``) links it.

    The PDF is written after the site, so MyST finds no such file and would warn that the
    link's target is not found: this transform runs before MyST's resolver (priority 9).
    A link to either edition's file name points at this edition's PDF.
    """

    default_priority = 5

    def run(self, **kwargs) -> None:
        from sphinx import addnodes

        names = {edition.pdf_name for edition in pdf.EDITIONS.values()}
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("reftype") != "myst" or node.get("reftarget") not in names:
                continue
            up = "../" * self.env.docname.count("/")
            link = nodes.reference("", "", refuri=up + book_pdf_name(), classes=["course-pdf-link"])
            link += node.children
            node.replace_self(link)


# -- Alt text --------------------------------------------------------------------------------


def describe_cell(source: str) -> str | None:
    """Return the first comment line of a code cell that could describe its figure."""
    for line in source.splitlines():
        line = line.strip()
        if line.startswith("#"):
            text = line.lstrip("#").strip()
            if text and not _NOT_A_CAPTION.match(text):
                return text
    return None


def _is_input(block: nodes.literal_block, cell: nodes.container) -> bool:
    parent = block.parent
    return parent is not None and parent.get("nb_element") == "cell_code_source"


def add_alt_text(app: Sphinx, doctree: nodes.document) -> None:
    """Give every image output of a notebook cell an ``alt`` text if it has none."""
    title = app.env.titles.get(app.env.docname)
    page = title.astext() if title is not None else app.env.docname
    for cell in doctree.findall(nodes.container):
        if cell.get("nb_element") != "cell_code":
            continue
        images = [img for img in cell.findall(nodes.image) if not img.get("alt")]
        if not images:
            continue
        blocks = [b for b in cell.findall(nodes.literal_block) if _is_input(b, cell)]
        text = describe_cell(blocks[0].astext()) if blocks else None
        if text is None and _BUILD["chinese"]:
            text = f"“{page}”一页的代码单元格绘制的图"
        elif text is None:
            text = f"Figure drawn by a code cell of the page {page!r}"
        for i, image in enumerate(images, start=1):
            if len(images) == 1:
                image["alt"] = text
            elif _BUILD["chinese"]:
                image["alt"] = f"{text}（共 {len(images)} 幅，第 {i} 幅）"
            else:
                image["alt"] = f"{text} ({i} of {len(images)})"


# -- Executed pages --------------------------------------------------------------------------


def check_executed(app: Sphinx, env: BuildEnvironment) -> None:
    """Warn about notebook pages that have no successful execution record."""
    if app.config.nb_execution_mode == "off":
        return
    records = getattr(env, "nb_metadata", {})
    for docname in sorted(env.found_docs):
        if not _is_notebook_page(app, docname):
            continue
        record = records.get(docname, {}).get("exec_data")
        if not record and gpu_run_of(app, docname):
            continue  # rendered from a fresh GPU run, checked by tools.gpu_runs.problems
        if not record:
            LOGGER.warning(
                f"{docname}: the notebook page was not executed (no execution record)",
                type="course_site",
                location=docname,
            )
        elif not record.get("succeeded"):
            LOGGER.warning(
                f"{docname}: the notebook page failed to execute ({record.get('error')})",
                type="course_site",
                location=docname,
            )


# -- Versions --------------------------------------------------------------------------------


class CourseVersions(SphinxDirective):
    """A table of the installed versions of the packages named in ``:packages:``."""

    option_spec = {"packages": directives.unchanged_required}

    def run(self) -> list[nodes.Node]:
        self.env.note_reread()  # versions change without the page changing
        rows = [("Python", platform.python_version())]
        for name in self.options.get("packages", "").split():
            try:
                rows.append((name, metadata.version(name)))
            except metadata.PackageNotFoundError:
                rows.append((name, "not installed"))
        return [_table(["Package", "Version"], rows)]


def _table(header: list[str], rows: list[tuple[str, str]]) -> nodes.table:
    table = nodes.table(classes=["course-versions"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for _ in header:
        group += nodes.colspec(colwidth=1)
    head, body = nodes.thead(), nodes.tbody()
    group += head
    group += body
    for target, cells in [(head, header), *[(body, list(r)) for r in rows]]:
        row = nodes.row()
        for text in cells:
            entry = nodes.entry()
            entry += nodes.paragraph(text=text)
            row += entry
        target += row
    return table


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", remember_language)
    app.connect("source-read", depend_on_results)
    app.connect("source-read", depend_on_gpu_run)
    # The theme builds its buttons at priority 501: name the notebook before, prune after.
    app.connect("html-page-context", offer_notebook_download, priority=450)
    app.connect("html-page-context", drop_launch_without_notebook, priority=600)
    app.connect("html-page-context", launch_gpu_run_in_colab, priority=600)
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    app.connect("html-page-context", offer_book_pdf, priority=600)
    app.add_post_transform(BookPdfLink)
    app.connect("build-finished", copy_notebooks)
    app.connect("doctree-read", record_notebook_state)
    app.connect("doctree-read", add_alt_text)
    app.connect("env-get-outdated", outdated_by_notebook)
    app.connect("env-purge-doc", purge_state)
    app.connect("env-merge-info", merge_state)
    app.connect("env-check-consistency", check_executed)
    app.add_directive("course-versions", CourseVersions)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
