"""The book as a PDF, in both languages: the last step of ``make book``.

Each edition is built once more as a single HTML page (Sphinx's ``singlehtml`` builder, from
the doctrees the site's build just wrote: nothing is read or executed again, so the outputs
and figures are those of the site), and Chromium prints that page::

    python -m tools.pdf          # -> _build/pdf/fashion-mnist-course.pdf and ...-zh.pdf
    python -m tools.pdf zh       # one edition (--no-build: print the single page as it is)
    python -m tools.pdf --force  # print again even where nothing changed

The two editions are made side by side, one process each (logs in ``_build/pdf/``). Each PDF
is also copied into its site (``_build/html/fashion-mnist-course.pdf``,
``_build/html/zh/fashion-mnist-course-zh.pdf``), where the index page and the download menu
link it (``_ext/course_site.py``).

A PDF that is up to date is not printed again (``make test`` runs ``make book`` first): one
whose stamp (``_build/pdf/NAME.stamp``) shows that no file it is made from changed since its
printing started (``inputs``: the repository's files but the tests, and the execution
cache's entries). It is still copied into its site.

The printer is the system's Chromium (Debian's ``chromium``, as in the browser tests;
``CHROMIUM_PATH`` names another Chromium or Chrome), driven by Playwright, with the network
cut off. Jupyter Book's own ``pdfhtml`` builder cannot be used: it launches the browser that
Playwright downloads, and nothing is downloaded here. Before printing, the page waits for
MathJax (bundled with the site) to typeset every formula, opens the hidden solutions, and
gets print styles (``PRINT_CSS``): no sidebars or buttons, each chapter on a new page, and
code that wraps instead of being cut off at the page's edge. After printing, pypdf corrects
two things in the PDF's text (``finish_pdf``): Chinese characters that would copy as radicals,
and the bookmarks' names. Without Chromium, or without a Chinese font, it stops with one
message saying what to install. ``tests/test_pdf.py`` checks the PDFs; the text pypdf
extracts from each page, which those checks read, is extracted here once, after printing,
and kept beside the PDF (``page_texts``: keyed by the PDF's hash, so it is that PDF's text).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
PDF_DIR = BUILD / "pdf"
SITE = BUILD / "html"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class Edition:
    """One language of the book: its single-page build, its PDF, and its site."""

    language: str
    singlehtml: Path
    pdf_name: str
    site: Path

    @property
    def pdf(self) -> Path:
        return PDF_DIR / self.pdf_name

    @property
    def stamp(self) -> Path:
        """When this edition's PDF was last printed, and from which files."""
        return PDF_DIR / f"{self.language}.stamp"


EDITIONS = {
    "en": Edition("en", BUILD / "singlehtml", "fashion-mnist-course.pdf", SITE),
    "zh": Edition("zh", BUILD / "singlehtml-zh", "fashion-mnist-course-zh.pdf", SITE / "zh"),
}

# Print styles, added to the single page before it is printed. The theme's own print styles
# hide the first h1 of every section (one page's title, on the site): here every chapter is
# a section, so the titles are shown again.
PRINT_CSS = """
@page { size: A4; margin: 15mm 14mm 16mm 14mm; }
html { font-size: 13px; }
.bd-header, .bd-header-article, .bd-sidebar-primary, .bd-sidebar-secondary,
.bd-footer, .bd-footer-article, .bd-footer-content, .prev-next-area, .header-article-main,
.course-language-switch, p:has(> a.course-pdf-link), button.toggle-button, button.copybtn,
a.headerlink, #jb-print-docs-body, .skip-link, .search-button__wrapper
  { display: none !important; }
.bd-container, .bd-container__inner, .bd-main, .bd-main .bd-content,
.bd-article-container, .bd-article
  { max-width: none !important; margin: 0 !important; padding: 0 !important; }
.bd-main .bd-content .bd-article h1:first-of-type { display: block !important; }
/* Each page of the site (a chapter, an appendix) starts a new page: the single page marks
   where each begins with an empty span, id "document-NAME". */
span[id^="document-"] + section { break-before: page; }
h1, h2, h3, h4 { break-after: avoid; }
/* Code never runs past the page's edge: long lines wrap (at a space if it can). */
pre, pre * { white-space: pre-wrap !important; overflow-wrap: anywhere !important; }
pre { overflow: visible !important; max-height: none !important; }
div.cell_output, div.output, .output_area { overflow: visible !important;
  max-height: none !important; }
img { max-width: 100% !important; break-inside: avoid; }
/* A short cell's code, or its output, is not split over two pages. */
div.cell_input, div.cell_output { break-inside: avoid; }
/* Solutions are open in print (a reader cannot click on paper). */
.admonition.toggle-hidden .admonition-title ~ * {
  height: auto !important; opacity: 1 !important; visibility: visible !important; }
"""

# Page numbers at the foot of every page.
FOOTER = (
    '<div style="font-size: 8px; width: 100%; text-align: center; color: #555;">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)


# Chinese text that copies and searches as Chinese. Skia, which writes Chromium's PDFs, maps
# each glyph back to the lowest code point that the font gives it; in Noto Sans CJK (Debian's
# fonts-noto-cjk) the glyphs of 一, 用, 大, 见, 面 ... are also those of the Kangxi radicals and
# CJK radicals (U+2E80-U+2FDF), so about one character in ten of the Chinese text would be
# copied, searched and read aloud as a radical (⼀, ⽤, ⼤, ⻅, ⾯). ``fix_chinese_text`` maps them
# back. The pairs (radical, then its ideograph) are those that share a glyph in Noto Sans CJK SC.
_RADICAL_PAIRS = (
    "⺂乛⺃乚⺅亻⺇𠘨⺉刂⺋㔾⺍𭕄⺏尣⺐尢⺒巳⺓幺⺔彑⺕彐⺖忄⺘扌⺙攵⺛旡⺞歺⺟母⺠民⺡氵⺣灬⺤爫⺦丬⺨犭⺩𤣩⺭礻⺮𥫗⺯糹⺰纟⺱罓⺳㓁⺹耂⺺肀⺽𦥑⺾艹⺿艹⻀艹⻂衤⻅见"
    "⻆角⻇𧢲⻈讠⻉贝⻊𧾷⻋车⻌辶⻐钅⻑長⻒镸⻓长⻔门⻕𨸏⻖阝⻘青⻙韦⻚页⻛风⻜飞⻝食⻞𩙿⻟飠⻠饣⻡𩠐⻢马⻣骨⻤鬼⻥鱼⻦鸟⻧卤⻨麦⻩黄⻪黾⻫斉⻬齐⻮齿⻯竜⻰龙⻱龜⻲亀"
    "⻳龟⼀一⼁丨⼂丶⼃丿⼄乙⼅亅⼆二⼇亠⼈人⼉儿⼊入⼋八⼌冂⼍冖⼎冫⼏几⼐凵⼑刀⼒力⼓勹⼔匕⼕匚⼖匸⼗十⼘卜⼙卩⼚厂⼛厶⼜又⼝口⼞囗⼟土⼠士⼡夂⼢夊⼣夕⼤大⼥女⼦子"
    "⼧宀⼨寸⼩小⼪尢⼫尸⼬屮⼭山⼮巛⼯工⼰己⼱巾⼲干⼳幺⼴广⼵廴⼶廾⼷弋⼸弓⼺彡⼻彳⼼心⼽戈⼾户⼿手⽀支⽁攴⽂文⽃斗⽄斤⽅方⽆无⽇日⽈曰⽉月⽊木⽋欠⽌止⽍歹⽎殳⽏毋"
    "⽐比⽑毛⽒氏⽓气⽔水⽕火⽖爪⽗父⽘爻⽙爿⽚片⽛牙⽜牛⽝犬⽞玄⽟玉⽠瓜⽡瓦⽢甘⽣生⽤用⽥田⽦疋⽧疒⽨癶⽩白⽪皮⽫皿⽬目⽭矛⽮矢⽯石⽰示⽱禸⽲禾⽳穴⽴立⽵竹⽶米⽷糸"
    "⽸缶⽹网⽺羊⽻羽⽼老⽽而⽿耳⾀聿⾁肉⾂臣⾃自⾄至⾅臼⾆舌⾇舛⾈舟⾉艮⾊色⾋艸⾌虍⾍虫⾎血⾏行⾐衣⾑襾⾒見⾔言⾕谷⾖豆⾗豕⾘豸⾙貝⾚赤⾛走⾜足⾝身⾞車⾟辛⾠辰⾡辵"
    "⾢邑⾣酉⾤釆⾥里⾦金⾧長⾨門⾩阜⾪隶⾫隹⾬雨⾭靑⾮非⾯面⾰革⾱韋⾲韭⾳音⾴頁⾵風⾶飛⾷食⾸首⾹香⾺馬⾼高⾽髟⾾鬥⾿鬯⿀鬲⿁鬼⿂魚⿃鳥⿄鹵⿅鹿⿆麥⿇麻⿈黃⿉黍⿊黑"
    "⿋黹⿌黽⿍鼎⿎鼓⿏鼠⿑齊⿒齒⿓龍⿕龠"
)
RADICALS = dict(zip(_RADICAL_PAIRS[::2], _RADICAL_PAIRS[1::2], strict=True))


class MissingBrowser(RuntimeError):
    """No Chromium to print with."""


def browser_path() -> str:
    """The Chromium that prints the PDFs; a clear error if there is none."""
    path = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).is_file() else None)
    if path is None:
        raise MissingBrowser(
            f"make book: the PDFs of the book are printed with Chromium, and there is none at "
            f"{CHROMIUM}. Install it (Debian/Ubuntu: `apt-get install chromium`, or run "
            f"`.ci/run packages`), or set CHROMIUM_PATH to a Chromium or Chrome binary."
        )
    return path


def chinese_font_problem() -> str | None:
    """Why the Chinese PDF would show empty boxes for its characters, if it would."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:  # no fontconfig to ask: the test of the PDF's text will tell
        return None
    found = subprocess.run([fc_list, ":lang=zh-cn", "family"], capture_output=True, text=True)
    if found.stdout.strip():
        return None
    return (
        "make book: the Chinese PDF needs a font with Chinese characters, and fontconfig knows "
        "none. Install one (Debian/Ubuntu: `apt-get install fonts-noto-cjk`, or run "
        "`.ci/run packages`)."
    )


def _prepare_singlehtml() -> None:
    """Let the ``singlehtml`` builder render every node the ``html`` builder renders.

    Sphinx looks up a builder's node visitors by the builder's name, and falls back to its
    format ("html") only when no extension registered any for that name. sphinx-exercise
    registers its own for ``singlehtml``, which hides every other extension's ``html``
    visitors from it (sphinx-design's icons fail with "unknown node type: fontawesome").
    The single page is printed, never searched: it gets no search index (for the Chinese
    edition, cutting the words with jieba took a quarter of its build).
    """
    from sphinx.builders.singlehtml import SingleFileHTMLBuilder
    from sphinx.registry import SphinxComponentRegistry

    SingleFileHTMLBuilder.search = False
    create = SphinxComponentRegistry.create_translator
    if getattr(create, "_course_pdf", False):
        return

    def create_translator(self, builder, *args):
        if builder.name == "singlehtml":
            handlers = self.translation_handlers
            handlers["singlehtml"] = {**handlers.get("html", {}), **handlers.get("singlehtml", {})}
        return create(self, builder, *args)

    create_translator._course_pdf = True
    SphinxComponentRegistry.create_translator = create_translator


def build_singlehtml(edition: Edition) -> None:
    """Build one edition as a single HTML page, from the site's doctrees and cache."""
    from tools import i18n

    _prepare_singlehtml()
    if edition.language == "zh":
        code = i18n.singlehtml(edition.singlehtml)
    else:  # what `jupyter-book build . --builder singlehtml` does, with -W
        code = i18n._build("singlehtml", edition.singlehtml, {}, True, BUILD / ".doctrees")
    if code:
        raise SystemExit(f"the single-page build of the {edition.language} edition failed")


def print_pdf(page, edition: Edition) -> tuple[int, list[str]]:
    """Print an edition's single page into its PDF; return its formulas and headings.

    The headings are the text of every visible ``h1``-``h6``, in order: the PDF's bookmarks.
    """
    index = edition.singlehtml / "index.html"
    page.goto(index.as_uri(), wait_until="load")
    page.add_style_tag(content=PRINT_CSS)
    formulas = page.locator(".math").count()
    page.wait_for_function(
        "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=60_000
    )
    page.evaluate("() => MathJax.startup.promise")
    page.wait_for_function(
        "n => document.querySelectorAll('mjx-container').length >= n",
        arg=formulas,
        timeout=60_000,
    )
    page.evaluate(
        """() => {
            for (const e of document.querySelectorAll('.toggle-hidden'))
                e.classList.remove('toggle-hidden');
            for (const e of document.querySelectorAll('details')) e.open = true;
            return Promise.all(Array.from(document.images).map(img => img.decode()
                .catch(() => null)));
        }"""
    )
    broken = page.evaluate(
        "() => Array.from(document.images).filter(i => !i.naturalWidth).map(i => i.src)"
    )
    if broken:
        raise SystemExit(f"{index}: images that did not load: {broken}")
    page.emulate_media(media="print")
    headings = page.evaluate(
        """() => Array.from(document.querySelectorAll('h1, h2, h3, h4, h5, h6'))
            .filter(h => h.getClientRects().length).map(h => h.innerText.trim())"""
    )
    edition.pdf.parent.mkdir(parents=True, exist_ok=True)
    page.pdf(
        path=str(edition.pdf),
        prefer_css_page_size=True,
        print_background=True,
        display_header_footer=True,
        header_template="<span></span>",
        footer_template=FOOTER,
        outline=True,
        tagged=True,
    )
    return formulas, headings


_CMAP_ENTRY = re.compile(r"<([0-9A-Fa-f]+)>(\s*)<([0-9A-Fa-f]+)>")
_CMAP_CHARS = re.compile(r"beginbfchar(.*?)endbfchar", re.S)
_CMAP_RANGE = re.compile(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>")


def _unradical_cmap(cmap: str) -> tuple[str, int]:
    """Map the radicals of a ToUnicode CMap's ``bfchar`` entries to their ideographs."""
    changed = 0

    def entry(match: re.Match) -> str:
        nonlocal changed
        text = bytes.fromhex(match.group(3)).decode("utf-16-be", "replace")
        fixed = "".join(RADICALS.get(c, c) for c in text)
        if fixed == text:
            return match.group(0)
        changed += 1
        return f"<{match.group(1)}>{match.group(2)}<{fixed.encode('utf-16-be').hex().upper()}>"

    cmap = _CMAP_CHARS.sub(lambda m: f"beginbfchar{_CMAP_ENTRY.sub(entry, m[1])}endbfchar", cmap)
    for block in re.findall(r"beginbfrange(.*?)endbfrange", cmap, re.S):
        for low, high, first in _CMAP_RANGE.findall(block):  # Skia writes none; say so if it does
            codes = range(int(first, 16), int(first, 16) + int(high, 16) - int(low, 16) + 1)
            if any(chr(c) in RADICALS for c in codes if c < 0xD800):
                print(f"warning: a ToUnicode range maps to radicals: <{low}> <{high}> <{first}>")
    return cmap, changed


def _fonts(resources, depth: int = 0):
    """The fonts of a page's resources, and of the forms it draws."""
    resources = resources.get_object() if resources is not None else {}
    yield from (resources.get("/Font") or {}).values()
    for ref in (resources.get("/XObject") or {}).values():
        form = ref.get_object()
        if form.get("/Subtype") == "/Form" and depth < 8:
            yield from _fonts(form.get("/Resources"), depth + 1)


def _bookmark_tree(first):
    """A PDF's bookmarks from the first one, in reading order (each before its children)."""
    item = first
    while item is not None:
        item = item.get_object()
        yield item
        yield from _bookmark_tree(item.get("/First"))
        item = item.get("/Next")


def finish_pdf(path: Path, headings: list[str]) -> tuple[int, int]:
    """Correct what Chromium gets wrong in a PDF's text; return how many fixes of each kind.

    * Chinese text: the radicals of the fonts' ToUnicode maps become the ideographs they
      are drawn as (``RADICALS``), so the text copies and searches as Chinese.
    * Bookmarks: Chromium names a bookmark after its heading's lines as laid out, joined
      without a space ("softmaxregression"), or twice over when the heading moved to the
      next page; each bookmark gets its heading's text instead.

    Only those objects change (an incremental update): the pages look the same.
    """
    from pypdf import PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    writer = PdfWriter(path, incremental=True)
    seen, radicals = set(), 0
    for page in writer.pages:
        for font in _fonts(page.get("/Resources")):
            to_unicode = font.get_object().get("/ToUnicode")
            if to_unicode is None or id(to_unicode.get_object()) in seen:
                continue
            stream = to_unicode.get_object()
            seen.add(id(stream))
            cmap, count = _unradical_cmap(stream.get_data().decode("latin-1"))
            if count:
                stream.set_data(cmap.encode("latin-1"))
                radicals += count
    outlines = writer.root_object.get("/Outlines")
    bookmarks = list(_bookmark_tree(outlines.get_object().get("/First") if outlines else None))
    titles = 0
    if len(bookmarks) == len(headings):
        for bookmark, heading in zip(bookmarks, headings, strict=True):
            if str(bookmark.get("/Title")) != heading:
                bookmark[NameObject("/Title")] = TextStringObject(heading)
                titles += 1
    else:
        print(f"warning: {len(bookmarks)} bookmarks for {len(headings)} headings: not renamed")
    if radicals or titles:
        writer.write(path)
    return radicals, titles


def print_edition(edition: Edition) -> str:
    """Print an edition's single page with Chromium, offline; return a line saying so."""
    from playwright.sync_api import sync_playwright

    start = time.perf_counter()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path(), args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context()
            context.route(
                lambda url: not url.startswith(("file:", "data:", "blob:")),
                lambda route: route.abort(),
            )
            formulas, headings = print_pdf(context.new_page(), edition)
        finally:
            browser.close()
    radicals, titles = finish_pdf(edition.pdf, headings)
    size = edition.pdf.stat().st_size / 2**20
    return (
        f"{edition.pdf.relative_to(ROOT)}: {size:.1f} MiB, {formulas} formulas typeset, "
        f"{radicals} radicals and {titles} bookmarks corrected, "
        f"printed in {time.perf_counter() - start:.1f} s"
    )


def publish(edition: Edition) -> Path:
    """Copy an edition's PDF into its site, beside its index page."""
    target = edition.site / edition.pdf_name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(edition.pdf, target)
    return target


# -- Up to date or not ------------------------------------------------------------------------

# Files of the repository that no page of the book is made from.
NOT_INPUTS = ("tests/", ".github/", ".ci/")
EXECUTED = BUILD / ".jupyter_cache" / "executed"


def inputs() -> list[str] | None:
    """What the PDFs are made from, as paths relative to the repository; None: unknown.

    Every file git tracks or would track (sources, catalogs, helpers, extensions, styles,
    benchmark results, this tool), but the tests and CI settings; and each entry of the
    execution cache (a chapter executed again changes its outputs, not its source).
    """
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        return None
    names = {name for name in listed.split("\0") if name and not name.startswith(NOT_INPUTS)}
    if EXECUTED.is_dir():
        names |= {p.relative_to(ROOT).as_posix() for p in [EXECUTED, *EXECUTED.iterdir()]}
    return sorted(names)


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _names_digest(names: list[str]) -> str:
    return hashlib.sha256("\0".join(names).encode()).hexdigest()


def out_of_date(edition: Edition, names: list[str] | None) -> str | None:
    """Why an edition's PDF must be printed (again); None when it is up to date.

    Up to date: the PDF is the one its stamp records, made from the same files, none of
    which was modified after its printing started.
    """
    if names is None:
        return "git cannot list the files it is made from"
    if not edition.pdf.is_file() or not edition.stamp.is_file():
        return "not printed yet"
    try:
        stamp = json.loads(edition.stamp.read_text(encoding="utf-8"))
        started, files, digest = stamp["started"], stamp["inputs"], stamp["pdf_sha256"]
    except (ValueError, KeyError, TypeError):
        return f"{edition.stamp.name} cannot be read"
    if files != _names_digest(names):
        return "files were added or removed"
    for name in names:
        try:
            if (ROOT / name).stat().st_mtime >= started:
                return f"{name} changed"
        except FileNotFoundError:
            return f"{name} was removed"
    if _sha256(edition.pdf) != digest:
        return f"{edition.pdf_name} changed since it was printed"
    return None


def write_stamp(edition: Edition, started: float, names: list[str] | None) -> None:
    """Record that the edition's PDF was printed from ``names`` as they were at ``started``."""
    edition.stamp.unlink(missing_ok=True)
    if names is not None:
        stamp = {
            "started": started,
            "inputs": _names_digest(names),
            "pdf_sha256": _sha256(edition.pdf),
        }
        edition.stamp.write_text(json.dumps(stamp, indent=1) + "\n", encoding="utf-8")


def page_texts(path: Path) -> list[str]:
    """The text pypdf extracts from each page of a PDF (what ``tests/test_pdf.py`` reads).

    Extracting it takes pypdf a few seconds per 10 pages; it is kept beside the PDF
    (``NAME.texts.json``), with the PDF's SHA-256 and pypdf's version: a changed PDF, or
    another pypdf, is extracted again.
    """
    import pypdf

    cache = path.with_name(f"{path.stem}.texts.json")
    key = {"pdf_sha256": _sha256(path), "pypdf": pypdf.__version__}
    try:
        kept = json.loads(cache.read_text(encoding="utf-8"))
        if {k: kept[k] for k in key} == key:
            return kept["pages"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    pages = [page.extract_text() for page in pypdf.PdfReader(path).pages]
    part = cache.with_name(f"{cache.name}.{os.getpid()}")  # whole or absent, for a reader
    part.write_text(json.dumps({**key, "pages": pages}, ensure_ascii=False), encoding="utf-8")
    part.replace(cache)
    return pages


def keep(edition: Edition) -> None:
    """Keep an up-to-date PDF: copy it into its site, and say so."""
    publish(edition)
    print(
        f"{edition.pdf.relative_to(ROOT)}: up to date, not printed again (no file it is made "
        "from changed since it was printed; --force prints it anyway)"
    )


def make_edition(edition: Edition, build: bool = True, force: bool = True) -> None:
    """Build, print and publish one edition's PDF; ``force=False``: only if out of date.

    Its stamp is written when the single page was built from the sources (``build``).
    """
    started = time.time()
    names = inputs()
    if not force:
        why = out_of_date(edition, names)
        if why is None:
            keep(edition)
            return
        print(f"{edition.pdf.relative_to(ROOT)}: printing it ({why})")
    edition.stamp.unlink(missing_ok=True)
    start = time.perf_counter()
    if build:
        build_singlehtml(edition)
    built = time.perf_counter()
    printed = print_edition(edition)
    publish(edition)
    texts = time.perf_counter()
    page_texts(edition.pdf)
    if build:
        write_stamp(edition, started, names)
    print(
        f"{printed} (single page built in {built - start:.1f} s, "
        f"text extracted in {time.perf_counter() - texts:.1f} s)"
    )


def make_all(names: list[str], force: bool = False) -> int:
    """Make every edition's PDF that is out of date (all with ``force``), side by side (one
    process each: Sphinx in one, Chromium in the other, use both cores of a small machine).
    Each one's log goes to ``_build/pdf/NAME.log``; a failure prints the end of its log."""
    PDF_DIR.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    files = None if force else inputs()
    outdated = []
    for name in names:
        why = "--force" if force else out_of_date(EDITIONS[name], files)
        if why is None:
            keep(EDITIONS[name])
        else:
            print(f"{EDITIONS[name].pdf.relative_to(ROOT)}: printing it ({why})")
            outdated.append(name)
    children = {}
    for name in outdated:
        log = (PDF_DIR / f"{name}.log").open("w")
        command = [sys.executable, "-m", "tools.pdf", name, "--force"]
        children[name] = (subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log), log)
    failed = []
    for name, (child, log) in children.items():
        code = child.wait()
        log.close()
        lines = (PDF_DIR / f"{name}.log").read_text(encoding="utf-8").splitlines()
        if code:
            failed.append(name)
            print("\n".join(lines[-40:]), file=sys.stderr)
            print(f"the {name} PDF failed: see _build/pdf/{name}.log", file=sys.stderr)
        else:
            print(lines[-1] if lines else f"the {name} PDF: no output")
    print(f"PDFs made in {time.perf_counter() - start:.1f} s")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("languages", nargs="*", help=f"of {sorted(EDITIONS)} (default: all)")
    parser.add_argument(
        "--no-build", action="store_true", help="print the single pages as they are"
    )
    parser.add_argument(
        "--force", action="store_true", help="print even the PDFs that are up to date"
    )
    args = parser.parse_args(argv)
    unknown = set(args.languages) - set(EDITIONS)
    if unknown:
        parser.error(f"unknown editions {sorted(unknown)}: choose from {sorted(EDITIONS)}")
    try:
        browser_path()  # before building anything
    except MissingBrowser as error:
        print(error, file=sys.stderr)
        return 2
    if "zh" in (args.languages or EDITIONS) and (problem := chinese_font_problem()):
        print(problem, file=sys.stderr)
        return 2
    force = args.force or args.no_build
    if len(args.languages) == 1:
        make_edition(EDITIONS[args.languages[0]], build=not args.no_build, force=force)
        return 0
    if args.no_build:
        for name in args.languages or EDITIONS:
            make_edition(EDITIONS[name], build=False)
        return 0
    return make_all(args.languages or list(EDITIONS), force=force)


if __name__ == "__main__":
    sys.exit(main())
