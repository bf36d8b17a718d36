"""The Chinese edition as a reader sees it, beside the English one, in Chromium, offline.

Needs `make book` first (``_build/html`` and ``_build/html/zh``, or the site named by
``COURSE_SITE`` and its ``zh/``), Chromium (see
``test_site_browser.py``) and a CJK font (Debian's ``fonts-noto-cjk``). The whole of
``_build/html`` is served, so the language switch can be followed both ways. Screenshots of
the Chinese pages go to ``_build/screenshots/zh/``: look at them (no tofu boxes). As in the
English test, each Chinese page is loaded once for all the tests that read it (``opened``).

Search in Chinese needs ``jieba`` when the site is built (``requirements.txt``): the search
box matches whole words, and ``_ext/course_i18n.py`` makes jieba keep the glossary's terms
whole.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import threading
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlparse

import nbformat
import pytest
from test_site_browser import (
    COLAB,
    PAGES,
    SCREENSHOTS,
    SITE,
    Visit,
    _not_ignored_by_git,
    _QuietHandler,
    _repository,
    _wait_for_math,
    blocks_that_scroll,
    offline_chromium,
    shown,
    visit_of,
)

ROOT = Path(__file__).resolve().parent.parent
ZH = SITE / "zh"
CHAPTERS = [p for p in PAGES if p.startswith("chapters/")]
HAN = re.compile(r"[\u4e00-\u9fff]")
# Terms a reader of d2l-zh searches for, and the page that teaches each.
SEARCHES = {
    "过拟合": "chapters/04_keras_mlp",
    "交叉熵损失": "chapters/02_softmax_scratch",
    "小批量随机梯度下降": "chapters/02_softmax_scratch",
    "数据并行": "chapters/06_data_parallel",
}


def _html(path: Path) -> str:
    if not path.is_file():
        pytest.fail(f"{shown(path)} is missing: run `make book` first")
    return path.read_text(encoding="utf-8")


def _switch_href(html: str) -> str:
    found = re.findall(r'class="course-language-switch".*?href="([^"]+)"', html, re.S)
    assert len(found) == 1, f"expected one language switch, found {len(found)}"
    return found[0]


# -- The built files (no browser) -----------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_the_chinese_site_has_every_page_in_chinese(page):
    html = _html(ZH / f"{page}.html")
    assert '<html lang="zh-CN"' in html, f"zh/{page}: not marked as Chinese"
    title = re.search(r"<h1>(.*?)<", html, re.S).group(1)
    assert HAN.search(title), f"zh/{page}: untranslated title {title!r}"


@pytest.mark.parametrize("page", PAGES)
def test_language_switch_leads_to_the_same_page(page):
    english, chinese = SITE / f"{page}.html", ZH / f"{page}.html"
    assert (english.parent / _switch_href(_html(english))).resolve() == chinese.resolve()
    assert (chinese.parent / _switch_href(_html(chinese))).resolve() == english.resolve()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chinese_colab_button_opens_the_chinese_notebook(chapter):
    url, branch = _repository()
    org_repo = urlparse(url).path.strip("/")
    links = re.findall(r'href="(https://colab[^"]+)"', _html(ZH / f"{chapter}.html"))
    folder, name = chapter.rsplit("/", 1)
    assert links == [f"{COLAB}/{org_repo}/blob/{branch}/{folder}/zh/{name}.ipynb"]
    notebook = ROOT / folder / "zh" / f"{name}.ipynb"
    assert notebook.is_file() and _not_ignored_by_git(notebook)
    cells = nbformat.read(notebook, as_version=4).cells
    assert any(c.get("outputs") for c in cells), f"{notebook.name} has no outputs"
    assert any(c.cell_type == "markdown" and HAN.search(c.source) for c in cells)
    download = ZH / "_sources" / f"{chapter}.ipynb"
    assert download.read_bytes() == notebook.read_bytes()


@pytest.mark.parametrize("edition", ["", "zh/"], ids=["en", "zh"])
def test_home_page_table_lists_every_chapter(edition):
    """The home page's "What you will learn" table links every chapter, in order."""
    table = re.search(r"<table.*?</table>", _html(SITE / edition / "index.html"), re.S)
    assert table, f"{edition}index.html has no table"
    assert re.findall(r'href="(chapters/[^"#]+)\.html', table.group(0)) == CHAPTERS


@pytest.mark.parametrize("edition", ["", "zh/"], ids=["en", "zh"])
def test_footer_year_is_the_license_year(edition):
    """The footer's copyright (``_config.yml``) and LICENSE name the same year(s)."""
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    year = re.search(r"Copyright \(c\) (\d{4}(?:[-–]\d{4})?) ", license_text).group(1)
    html = _html(SITE / edition / "index.html")
    footer = re.search(r'<p class="copyright">(.*?)</p>', html, re.S).group(1).strip()
    assert re.findall(r"\d{4}(?:[-–]\d{4})?", footer) == [year], f"{year} in LICENSE: {footer}"


def _search_index() -> dict:
    """The Chinese site's search index (``searchindex.js`` is ``Search.setIndex({...})``)."""
    text = _html(ZH / "searchindex.js")
    return json.loads(text[text.index("(") + 1 : text.rindex(")")])


def _pages_with(index: dict, word: str) -> set[str]:
    """The pages whose text (``terms``) or headings (``titleterms``) hold ``word``."""
    found = set()
    for kind in ("terms", "titleterms"):
        docs = index[kind].get(word, [])
        found |= {index["docnames"][i] for i in ([docs] if isinstance(docs, int) else docs)}
    return found


def test_chinese_search_index_holds_the_glossary_terms_whole():
    """jieba cut the pages into words, and kept every term of the glossary whole."""
    index = _search_index()
    chinese = [t for t in [*index["terms"], *index["titleterms"]] if HAN.search(t)]
    assert len(chinese) > 500, f"{len(chinese)} Chinese words in the index: is jieba installed?"
    glossary = (ROOT / "appendix" / "glossary.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| ([^|]+?) \| ([^|]+?) \|$", glossary, re.M)
    cells = [zh for en, zh in rows if en not in {"English", "---"}]
    terms = {w for cell in cells for w in re.findall(r"\w+", cell) if len(w) > 1 and HAN.search(w)}
    assert len(terms) >= 50
    missing = sorted(t for t in terms if "appendix/glossary" not in _pages_with(index, t.lower()))
    assert missing == [], f"glossary terms cut into pieces by the search index: {missing}"
    for term, chapter in SEARCHES.items():
        pages = sorted(_pages_with(index, term))
        assert chapter in pages, f"{term} is not indexed on {chapter}, only on {pages}"


# -- In the browser -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    """Serve the site (``_build/html``, both editions) on a free local port; yield its URL."""
    if not (ZH / "index.html").is_file():
        pytest.fail(f"no Chinese site in {shown(ZH)}: run `make book` first")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    with offline_chromium() as browser:
        yield browser


@pytest.fixture
def visit(browser, server):
    visit = Visit(browser, server)
    yield visit
    visit.close()


@pytest.fixture(scope="module")
def opened(request, browser, server):
    """A Chinese page (``zh/`` + ``request.param``), loaded once for all its tests (see the
    English test's ``opened``)."""
    with visit_of(browser, server, request.param, "zh/") as visit:
        yield visit


def _fonts_of(visit, selector: str) -> dict[str, int]:
    """The platform fonts Chromium used to draw an element's text: {family: glyphs}."""
    cdp = visit.context.new_cdp_session(visit.page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return {f["familyName"]: f["glyphCount"] for f in fonts}


@pytest.mark.parametrize("opened", PAGES, indirect=True)
def test_chinese_page_renders_offline_with_a_cjk_font(opened):
    docname, page, visit = opened.docname, opened.page, opened
    formulas, typeset = _wait_for_math(page)
    assert typeset >= formulas
    assert page.locator("article h1").count() == 1
    text = page.locator("article").inner_text()
    assert len(HAN.findall(text)) > 20, f"zh/{docname}: hardly any Chinese text"
    folder = SCREENSHOTS / "zh"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{docname.replace('/', '_')}.png"), full_page=True)
    visit.settle()  # after the screenshot, which waits for the fonts: all is loaded
    # Every Chinese character of the title is drawn by a font that has it (no tofu boxes).
    fonts = _fonts_of(visit, "article h1")
    cjk = {name: n for name, n in fonts.items() if "CJK" in name or "Noto" in name}
    title = page.locator("article h1").inner_text()
    assert sum(cjk.values()) >= len(HAN.findall(title)) > 0, f"zh/{docname}: fonts {fonts}"
    assert visit.problems == [], f"zh/{docname}: " + "\n".join(visit.problems)


@pytest.mark.parametrize("opened", PAGES, indirect=True)
def test_no_chinese_code_block_scrolls_sideways(opened):
    """At 1280 px, every code block of a Chinese page fits in its box: the cells' sources and
    outputs, and the code in the prose (the English test's check)."""
    opened.settle()  # every font loaded
    scrolling, docname = blocks_that_scroll(opened.page), opened.docname
    assert scrolling == [], f"zh/{docname}: code that scrolls sideways:\n" + "\n".join(scrolling)


def _click_switch(visit) -> str:
    page = visit.page
    with page.expect_navigation(wait_until="load"):
        page.locator(".course-language-switch a").click()
    return urlparse(page.url).path.removeprefix(urlparse(visit.server).path)


@pytest.mark.parametrize("docname", [PAGES[0], CHAPTERS[1], "appendix/glossary"])
def test_language_switch_works_both_ways_in_the_browser(visit, docname):
    visit.open(f"{docname}.html")
    assert _click_switch(visit) == f"zh/{docname}.html"
    assert visit.page.locator("html").get_attribute("lang") == "zh-CN"
    assert _click_switch(visit) == f"{docname}.html"
    assert visit.page.locator("html").get_attribute("lang") == "en"
    assert visit.problems == [], "\n".join(visit.problems)


def test_chinese_next_links_walk_through_the_book(visit):
    page = visit.open(urljoin("zh/", f"{PAGES[0]}.html"))
    seen = [PAGES[0]]
    for _ in range(len(PAGES) - 1):
        with page.expect_navigation(wait_until="load"):
            page.locator("a.right-next").click()
        path = urlparse(page.url).path.removeprefix(urlparse(visit.server).path)
        seen.append(path.removeprefix("zh/").removesuffix(".html"))
    assert seen == PAGES
    assert visit.problems == [], "\n".join(visit.problems)


@pytest.mark.parametrize("term", SEARCHES)
def test_searching_a_chinese_term_finds_the_page_that_teaches_it(visit, term):
    """Type the term into the search box of the Chinese home page, as a reader would."""
    page = visit.open("zh/index.html")
    page.locator("button.search-button__button:visible").first.click()
    box = page.locator("#pst-search-dialog input[name='q']")
    box.press_sequentially(term)
    with page.expect_navigation(wait_until="load"):
        box.press("Enter")
    assert urlparse(page.url).path.endswith("/zh/search.html")
    assert parse_qs(urlparse(page.url).query)["q"] == [term]
    # The summary is written when the search has finished (results appear one by one).
    page.locator("#search-results .search-summary").filter(has_text=re.compile(".")).wait_for()
    links = page.locator("#search-results ul.search li > a")
    found = [
        urlparse(urljoin(page.url, links.nth(i).get_attribute("href"))).path
        for i in range(links.count())
    ]
    teaches = f"/zh/{SEARCHES[term]}.html"
    assert teaches in found, f"searching {term!r} did not find {SEARCHES[term]}: {found}"
    assert visit.problems == [], "\n".join(visit.problems)
