"""The built site, checked as a reader sees it: in a real browser, with no network.

Needs `make book` first (the site in ``_build/html``, or the folder named by ``COURSE_SITE``)
and a Chromium or Chrome binary (``CHROMIUM_PATH``, default ``/usr/bin/chromium``); Playwright
drives it, and never downloads a browser. Every request that leaves the local server is
reported and blocked, so a page that needs a CDN fails here as it would for an offline
reader. A screenshot of each page is saved to ``screenshots/`` beside the site
(``_build/screenshots/``).

Each page is loaded once for all the tests that read it (the ``opened`` fixture): its load
checks, then its code widths, then the checks that change it.

The first tests read the built HTML without a browser: the Colab links and the notebook
downloads of every chapter.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import socket
import subprocess
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlparse

import nbformat
import pytest
import yaml

from tools import gpu_runs
from tools.pdf import CHROMIUM, CHROMIUM_FLAGS  # the browser the PDFs are printed with

ROOT = Path(__file__).resolve().parent.parent
# The built site (relative to the repository, or absolute); the Chinese edition is in zh/.
SITE = ROOT / os.environ.get("COURSE_SITE", "_build/html")
SCREENSHOTS = SITE.parent / "screenshots"
COLAB = "https://colab.research.google.com/github"


def _toc_pages() -> list[str]:
    """Return the docnames of the book, in reading order, from ``_toc.yml``."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    names = [toc["root"]]
    for part in toc.get("parts", []):
        names += [chapter["file"] for chapter in part["chapters"]]
    return [re.sub(r"\.(md|py|ipynb)$", "", name) for name in names]


PAGES = _toc_pages()
CHAPTERS = [p for p in PAGES if p.startswith("chapters/")]


def _repository() -> tuple[str, str]:
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    return repo["url"].rstrip("/"), repo["branch"]


def shown(path: Path) -> str:
    """``path`` as a message names it: relative to the repository when it is inside."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _html(docname: str) -> str:
    path = SITE / f"{docname}.html"
    if not path.is_file():
        pytest.fail(f"{shown(path)} is missing: run `make book` first")
    return path.read_text(encoding="utf-8")


class _Links(HTMLParser):
    """Collect the ``href`` of every ``<a>`` in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def _links(docname: str) -> list[str]:
    parser = _Links()
    parser.feed(_html(docname))
    return parser.hrefs


@pytest.fixture(scope="module", autouse=True)
def site() -> Path:
    """The built site; the tests fail with a clear message when it does not exist."""
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no built site in {shown(SITE)}: run `make book` first")
    return SITE


# -- Colab links and downloads (no browser needed) ------------------------------------------


def test_the_book_has_every_chapter():
    """The table of contents lists every chapter source, in order (five, or more)."""
    sources = sorted(p.stem for p in (ROOT / "chapters").glob("[0-9][0-9]_*.py"))
    assert [Path(c).name for c in CHAPTERS] == sources
    assert len(CHAPTERS) >= 5, CHAPTERS


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_colab_link_opens_the_chapter_notebook(chapter):
    url, branch = _repository()
    org_repo = urlparse(url).path.strip("/")
    colab = [h for h in _links(chapter) if h.startswith(COLAB)]
    stem = Path(chapter).name
    # A GPU chapter with a fresh GPU run opens that run (tools/gpu_runs.py).
    notebook = f"gpu_runs/{stem}.ipynb" if gpu_runs.fresh_run(stem) else f"{chapter}.ipynb"
    assert colab == [f"{COLAB}/{org_repo}/blob/{branch}/{notebook}"]


def _not_ignored_by_git(path: Path) -> bool:
    """True unless git would ignore the file (an ignored file never reaches the branch)."""
    if not (ROOT / ".git").exists():
        return True
    rel = str(path.relative_to(ROOT))
    result = subprocess.run(["git", "check-ignore", "-q", rel], cwd=ROOT, check=False)
    return result.returncode == 1  # 0: ignored, 1: not ignored


@pytest.mark.parametrize("page", PAGES)
def test_every_colab_link_points_at_a_notebook_in_the_repository(page):
    url, branch = _repository()
    prefix = f"{COLAB}/{urlparse(url).path.strip('/')}/blob/{branch}/"
    for href in (h for h in _links(page) if h.startswith(COLAB)):
        assert href.startswith(prefix), f"{page}: Colab link outside the repository: {href}"
        path = ROOT / href.removeprefix(prefix)
        assert path.suffix == ".ipynb", f"{page}: Colab cannot open {href}"
        assert path.is_file(), f"{page}: Colab link to a missing notebook: {href}"
        assert _not_ignored_by_git(path), f"{path.relative_to(ROOT)} is git-ignored"
        notebook = nbformat.read(path, as_version=4)
        assert any(c.get("outputs") for c in notebook.cells), f"{path.name} was never executed"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_download_menu_offers_the_notebook_and_the_source(chapter):
    downloads = [h for h in _links(chapter) if "_sources/" in h]
    page_dir = (SITE / f"{chapter}.html").parent
    files = {(page_dir / h).resolve() for h in downloads}
    notebook = (SITE / "_sources" / f"{chapter}.ipynb").resolve()
    source = (SITE / "_sources" / f"{chapter}.py").resolve()
    assert notebook in files, f"{chapter}: no .ipynb in the download menu: {downloads}"
    assert source in files, f"{chapter}: no .py in the download menu: {downloads}"
    assert notebook.is_file() and source.is_file()
    assert notebook.read_bytes() == (ROOT / f"{chapter}.ipynb").read_bytes()


def test_execution_report_lists_every_chapter_as_succeeded():
    page = _html("appendix/execution")
    rows = [re.sub(r"<[^>]+>", " ", r).split() for r in re.findall(r"<tr.*?</tr>", page, re.S)]
    status = {cells[0]: cells[-1] for cells in rows if cells}
    for chapter in CHAPTERS:
        assert chapter in status, f"{chapter} is not in the execution report"
        assert status[chapter] == "✅", f"{chapter} did not execute successfully"


# -- In the browser -------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the signature of the base class
        pass


@pytest.fixture(scope="module")
def server():
    """Serve the site (``_build/html``) on a free local port; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@contextlib.contextmanager
def offline_chromium():
    """A headless Chromium from the system (Playwright never downloads one here), offline.

    It reaches the local server and nothing else: every other request goes to a proxy that
    refuses it (a port bound and never listened on). Chromium never sends a request for a
    loopback address to a proxy. Unlike intercepting requests (Playwright's ``route``), this
    keeps the browser's HTTP cache: a test that loads several pages fetches the site's
    scripts, styles and fonts once.
    """
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no browser at {CHROMIUM}: install chromium or set CHROMIUM_PATH")
    from playwright.sync_api import sync_playwright

    with socket.socket() as closed, sync_playwright() as playwright:
        closed.bind(("127.0.0.1", 0))
        proxy = f"--proxy-server=http://127.0.0.1:{closed.getsockname()[1]}"
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_FLAGS, proxy]
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def browser():
    with offline_chromium() as browser:
        yield browser


class Visit:
    """A browser page that records every problem a reader would meet."""

    docname = ""  # the page of the book it was opened on, for the ``opened`` fixtures

    def __init__(self, browser, server: str) -> None:
        self.server = server
        self.problems: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        # Offline: anything not served by the local server is reported (and blocked: see
        # offline_chromium).
        self.context.on("request", self._request)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", self._response)

    def _request(self, request):
        if not request.url.startswith((self.server, "data:", "blob:")):
            self.problems.append(f"request leaves the site: {request.url}")

    def _console(self, msg):
        # The browser asks each site for /favicon.ico on its own, once (no page of the book
        # names one; intercepting requests hid it): its 404 is no problem of a page.
        if msg.location.get("url") == urljoin(self.server, "favicon.ico"):
            return
        if msg.type == "error":
            self.problems.append(f"console error: {msg.text}")

    def _failed(self, request):
        # ERR_ABORTED is the browser cancelling a request because the test navigated away
        # (MathJax loads its fonts late, after the network was idle); a missing file is a
        # 404, reported by _response.
        if request.url.startswith(self.server) and request.failure != "net::ERR_ABORTED":
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response):
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def open(self, path: str, wait_until: str = "networkidle"):
        self.page.goto(urljoin(self.server, path), wait_until=wait_until)
        return self.page

    def settle(self) -> None:
        """Wait until no request has been made for 500 ms (at once if that has happened):
        every request of the page has been answered, or has failed, and been recorded."""
        self.page.wait_for_load_state("networkidle")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser, server):
    visit = Visit(browser, server)
    yield visit
    visit.close()


@contextlib.contextmanager
def visit_of(browser, server: str, docname: str, folder: str = ""):
    """A visit of one page of the book (``folder`` + ``docname``), loaded.

    Loaded: its ``load`` event has fired; ``Visit.settle`` waits for the rest (MathJax's
    fonts), meanwhile a test can do what needs no more (the screenshot waits for fonts).
    """
    visit = Visit(browser, server)
    visit.docname = docname
    try:
        visit.open(f"{folder}{docname}.html", wait_until="load")
        yield visit
    finally:
        visit.close()


@pytest.fixture(scope="module")
def opened(request, browser, server):
    """A page of the site (``request.param``, its docname), loaded once for all its tests.

    Tests take it with ``@pytest.mark.parametrize("opened", DOCNAMES, indirect=True)``:
    pytest then runs the tests of one page one after the other, in the order of this file
    (the checks of the page as loaded come first, those that change the page last), and
    closes the page before loading the next one.
    """
    with visit_of(browser, server, request.param) as visit:
        yield visit


def _wait_for_math(page) -> tuple[int, int]:
    """Wait until MathJax has typeset every formula; return (formulas, typeset)."""
    formulas = page.locator(".math").count()
    if formulas:
        page.wait_for_function(
            "n => document.querySelectorAll('mjx-container').length >= n", arg=formulas
        )
    return formulas, page.locator("mjx-container").count()


@pytest.mark.parametrize("opened", PAGES, indirect=True)
def test_page_loads_cleanly_offline(opened):
    docname, page = opened.docname, opened.page
    formulas, typeset = _wait_for_math(page)
    assert typeset >= formulas
    if formulas:  # rendered by the local MathJax: no raw TeX delimiters left on the page
        text = page.locator("article").inner_text()
        assert "\\(" not in text and "\\[" not in text, f"{docname}: untypeset math"
    broken = page.evaluate(
        """() => Array.from(document.images)
            .filter(img => !(img.complete && img.naturalWidth > 0))
            .map(img => img.getAttribute('src'))"""
    )
    assert broken == [], f"{docname}: images that did not load: {broken}"
    no_alt = page.evaluate(
        """() => Array.from(document.querySelectorAll('article img'))
            .filter(img => !(img.getAttribute('alt') || '').trim())
            .map(img => img.getAttribute('src'))"""
    )
    assert no_alt == [], f"{docname}: images without alt text: {no_alt}"
    assert page.locator("article h1").count() == 1, f"{docname}: no single page title"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{docname.replace('/', '_')}.png"), full_page=True)
    opened.settle()
    assert opened.problems == [], f"{docname}: " + "\n".join(opened.problems)


def test_a_request_that_leaves_the_site_is_reported_and_blocked(visit):
    """The offline check above can fail: a page that fetches from another host, named or by
    address, is reported, and gets no answer (none would come in 5 s unless refused)."""
    page = visit.open(f"{PAGES[0]}.html")
    assert visit.problems == [], "\n".join(visit.problems)
    urls = ["https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js", "http://192.0.2.1/x.js"]
    answers = page.evaluate(
        """urls => Promise.all(urls.map(url => Promise.race([
            fetch(url).then(response => `answered ${response.status}`, () => 'refused'),
            new Promise(done => setTimeout(() => done('no answer in 5 s'), 5000)),
        ])))""",
        urls,
    )
    assert answers == ["refused", "refused"], answers
    left = [p for p in visit.problems if p.startswith("request leaves the site")]
    assert left == [f"request leaves the site: {url}" for url in urls], visit.problems


def test_math_is_typeset_on_the_chapter_pages(visit):
    """At least one chapter has formulas, and MathJax (served locally) rendered them."""
    typeset = 0
    for chapter in CHAPTERS:
        page = visit.open(f"{chapter}.html")
        typeset += _wait_for_math(page)[1]
        if typeset:
            src = page.locator("script[src*='tex-chtml']").get_attribute("src")
            assert src and "_static/mathjax/" in src, f"MathJax is not served locally: {src}"
            break
    assert typeset > 0, "no chapter page has typeset math"
    assert visit.problems == [], "\n".join(visit.problems)


def _follow(visit, start: str, selector: str, steps: int) -> list[str]:
    """Click the ``selector`` link ``steps`` times from ``start``; return the pages seen."""
    page = visit.open(f"{start}.html")
    seen = [start]
    for _ in range(steps):
        link = page.locator(selector)
        assert link.count() == 1, f"no {selector} link on {seen[-1]}"
        with page.expect_navigation(wait_until="load"):
            link.click()
        path = urlparse(page.url).path.removeprefix(urlparse(visit.server).path)
        seen.append(path.removesuffix(".html"))
    return seen


def test_next_links_walk_through_the_book(visit):
    assert _follow(visit, PAGES[0], "a.right-next", len(PAGES) - 1) == PAGES
    assert visit.page.locator("a.right-next").count() == 0, "the last page has a next link"
    assert visit.problems == [], "\n".join(visit.problems)


def test_previous_links_walk_back(visit):
    assert _follow(visit, PAGES[-1], "a.left-prev", len(PAGES) - 1) == PAGES[::-1]
    assert visit.problems == [], "\n".join(visit.problems)


@pytest.mark.parametrize("opened", CHAPTERS, indirect=True)
def test_search_finds_the_chapter_by_its_title(opened, visit):
    """Search for a chapter's title, as its page shows it, from the search page."""
    chapter = opened.docname
    title = opened.page.locator("article h1").first.inner_text()
    title = title.strip().rstrip("#").strip()
    page = visit.open(f"search.html?q={title}")
    results = page.locator("#search-results a")
    results.first.wait_for(timeout=15_000)
    hrefs = [results.nth(i).get_attribute("href") for i in range(results.count())]
    found = [h for h in hrefs if urlparse(h).path.endswith(f"{chapter}.html")]
    assert found, f"searching for {title!r} did not find {chapter}: {hrefs}"
    assert parse_qs(urlparse(page.url).query)["q"] == [title]
    assert visit.problems == [], "\n".join(visit.problems)


# -- Code width ----------------------------------------------------------------------------

# Every preformatted block of a page's article: the source of each code cell, its outputs
# (printed text, tracebacks) and the code blocks of the prose. ``_static/code-width.css`` makes
# 79 characters fit in each (jupyter-book links every CSS file in ``_static/``), and wraps
# tracebacks and the outputs of cells tagged ``wrap-output`` (output the book does not print).
PRE_BLOCKS = "article pre"
CODE_INPUTS = "article div.cell_input pre"
PRINTED_OUTPUTS = "article div.cell_output div.output.stream pre"
PROSE_CODE = "article pre:not(div.cell pre)"

_SCROLLING_CODE = """selector => {
    // Collapsed code (hide-input cells, solutions) is measured open, as a reader opens it.
    document.querySelectorAll('article details').forEach(d => { d.open = true; });
    document.querySelectorAll('article .toggle-hidden').forEach(
        e => e.classList.remove('toggle-hidden'));
    const kind = pre => pre.closest('div.cell_input') ? 'input'
        : pre.closest('div.cell_output') ? 'output' : 'prose code';
    return Array.from(document.querySelectorAll(selector))
        .filter(pre => pre.scrollWidth > pre.clientWidth)
        .map(pre => {
            const lines = pre.innerText.split('\\n');
            const widest = lines.reduce((a, b) => (b.length > a.length ? b : a), '');
            return `${kind(pre)}, ${pre.scrollWidth} > ${pre.clientWidth} px: `
                + widest.trim().slice(0, 60);
        });
}"""

_CHARACTERS_THAT_FIT = """selector => {
    const pre = document.querySelector(selector);
    const probe = document.createElement('span');
    probe.textContent = 'x'.repeat(200);
    pre.appendChild(probe);
    const perCharacter = probe.getBoundingClientRect().width / 200;
    probe.remove();
    const style = getComputedStyle(pre);
    const inner = pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return Math.floor(inner / perCharacter);
}"""


def blocks_that_scroll(page, selector: str = PRE_BLOCKS) -> list[str]:
    """Describe each block of ``selector`` wider than its box: 'kind, W > B px: widest line'.

    Collapsed blocks (hidden inputs, solutions) are opened first, as a reader opens them.
    """
    return page.evaluate(_SCROLLING_CODE, selector)


def _plant_line(page, selector: str, characters: int) -> None:
    """Append a line of ``characters`` characters to the first block of ``selector``.

    The block is marked ``planted``: ``pre.planted`` selects it alone. ``_unplant`` takes
    the lines and the mark away again.
    """
    page.evaluate(
        """([selector, n]) => {
            const pre = document.querySelector(selector);
            const line = document.createTextNode('\\n' + 'x = ' + '1'.repeat(n - 4));
            pre.classList.add('planted');
            pre.appendChild(line);
            (window.plantedLines = window.plantedLines || []).push(line);
        }""",
        [selector, characters],
    )


def _unplant(page) -> None:
    """Remove every line ``_plant_line`` added, and its mark: the page is as it was."""
    page.evaluate(
        """() => {
            (window.plantedLines || []).forEach(line => line.remove());
            window.plantedLines = [];
            document.querySelectorAll('pre.planted').forEach(
                pre => pre.classList.remove('planted'));
        }"""
    )


@pytest.mark.parametrize("opened", PAGES, indirect=True)
def test_no_code_block_scrolls_sideways(opened):
    """At 1280 px, every code block fits in its box (no horizontal scroll bar): the cells'
    sources and outputs, and the code in the prose."""
    opened.settle()  # every font loaded
    scrolling = blocks_that_scroll(opened.page)
    docname = opened.docname
    assert scrolling == [], f"{docname}: code that scrolls sideways:\n" + "\n".join(scrolling)


@pytest.mark.parametrize(
    ("opened", "selector", "kind"),
    [
        (CHAPTERS[0], CODE_INPUTS, "input"),
        (CHAPTERS[0], PRINTED_OUTPUTS, "output"),
        (PAGES[0], PROSE_CODE, "prose code"),
    ],
    ids=["input", "output", "prose"],
    indirect=["opened"],
    scope="module",  # run with the other tests of its page (pytest: when all are fixtures)
)
def test_code_boxes_fit_79_characters_and_a_wider_line_is_caught(opened, selector, kind):
    """The check above can fail: a planted 100-character line scrolls, a 79-character one fits,
    in a cell's source, in its printed output and in a code block of the prose."""
    page = opened.page
    opened.settle()  # every font loaded
    try:
        assert page.evaluate(_CHARACTERS_THAT_FIT, selector) >= 79
        _plant_line(page, selector, 79)
        assert blocks_that_scroll(page, "pre.planted") == []
        _plant_line(page, selector, 100)
        caught = [s for s in blocks_that_scroll(page) if "x = 111" in s]
        assert len(caught) == 1 and caught[0].startswith(f"{kind}, "), caught
    finally:
        _unplant(page)
