"""The book's two PDFs, opened as a reader opens them (``_build/pdf``, from ``make book``).

``tools/pdf.py`` prints each edition's single-page build with Chromium. pypdf reads each
PDF's pages, bookmarks, text and images here, and compares them with the built site that
they were printed from (``_build/html``, ``_build/html/zh``):

* a sane number of pages; each PDF copied into its site, where the index page and every
  page's download menu link it (in Chinese on the Chinese site);
* every page of the book (the index, the chapters, the appendix) is a bookmark named by its
  title, in the book's order, and starts a new page of the PDF, with its title on it;
* the Chinese PDF's text is Chinese: the site's Chinese characters are extracted as
  themselves (not as look-alike radicals, not lost to a missing font's empty boxes);
* the formulas were typeset by MathJax: no TeX source is left, and chapter 2's softmax
  reads as typeset math;
* every figure of a page of the site is in that page's part of the PDF;
* no line of code, output or printed source is cut off at the page's edge: every line of
  every ``pre`` block of the site is found whole in the PDF's text. (Chromium writes no text
  that a box cuts off; the print styles wrap long lines instead.)

The text of each page is the one pypdf extracted when ``make book`` printed the PDF (kept
beside it with the PDF's hash: ``tools.pdf.page_texts``); three pages are extracted again
here, to show it is this PDF's. And ``make book`` prints a PDF again when, and only when, a
file it is made from changed (the last test).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from test_site_browser import PAGES  # the book's pages, in reading order

from tools import pdf

ROOT = Path(__file__).resolve().parent.parent
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
RADICAL = re.compile(r"[\u2e80-\u2fdf]")
# TeX that MathJax would have replaced: a command, or a formula's delimiters.
RAW_TEX = re.compile(r"\\(frac|sum|exp|log|mathbf|mathrm|hat|partial|cdot|begin|left)\b|\$\$")
SPACE = re.compile(r"\s+")


def _squeeze(text: str) -> str:
    return SPACE.sub("", text)


@cache
def reader(language: str):
    from pypdf import PdfReader

    path = pdf.EDITIONS[language].pdf
    if not path.is_file():
        pytest.fail(f"{path.relative_to(ROOT)} is missing: run `make book` first")
    return PdfReader(path)


@cache
def page_texts(language: str) -> tuple[str, ...]:
    """The text pypdf extracts from each page of an edition's PDF.

    ``make book`` extracted it once, after printing (``tools.pdf.page_texts``, kept beside the
    PDF with the PDF's hash: a PDF printed since is extracted again here).
    """
    reader(language)  # a clear failure when the PDF is missing
    return tuple(pdf.page_texts(pdf.EDITIONS[language].pdf))


@cache
def bookmarks(language: str) -> tuple[tuple[str, int], ...]:
    """Every bookmark of an edition's PDF, in order: ``(title, page index)``."""
    pdf_reader, found = reader(language), []

    def walk(items) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                found.append((str(item.title), pdf_reader.get_destination_page_number(item)))

    walk(pdf_reader.outline)
    return tuple(found)


@cache
def site_page(language: str, docname: str) -> BeautifulSoup:
    """A page of an edition's site, parsed (once)."""
    path = pdf.EDITIONS[language].site / f"{docname}.html"
    if not path.is_file():
        pytest.fail(f"{path.relative_to(ROOT)} is missing: run `make book` first")
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def article(language: str, docname: str) -> BeautifulSoup:
    """The ``<article>`` of a page of an edition's site."""
    soup = site_page(language, docname)
    return soup.find("article") or soup


def title(language: str, docname: str) -> str:
    """A page's title as the site shows it, with its chapter number ("1. The ...")."""
    heading = article(language, docname).find("h1")
    for link in heading.select("a.headerlink"):
        link.decompose()
    return " ".join(heading.get_text().split())


@cache
def page_ranges(language: str) -> dict[str, range]:
    """The PDF pages of each page of the book: from its title's bookmark to the next one."""
    first = {}
    marks = bookmarks(language)
    for docname in PAGES:
        pages = [page for name, page in marks if name == title(language, docname)]
        assert pages, f"{language}: no bookmark named {title(language, docname)!r} ({docname})"
        first[docname] = pages[0]
    starts = [first[d] for d in PAGES] + [len(reader(language).pages)]
    return {d: range(starts[i], starts[i + 1]) for i, d in enumerate(PAGES)}


def range_text(language: str, docname: str) -> str:
    return "\n".join(page_texts(language)[i] for i in page_ranges(language)[docname])


def _images(resources, depth: int = 0) -> int:
    """The images a page draws, its forms' included."""
    resources = resources.get_object() if resources is not None else {}
    count = 0
    for ref in (resources.get("/XObject") or {}).values():
        xobject = ref.get_object()
        if xobject.get("/Subtype") == "/Image":
            count += 1
        elif xobject.get("/Subtype") == "/Form" and depth < 8:
            count += _images(xobject.get("/Resources"), depth + 1)
    return count


class PdfChecks:
    """The checks of one edition's PDF (``language``); a subclass per edition."""

    language = ""

    def test_page_count_is_sane_and_the_site_has_a_copy(self):
        edition = pdf.EDITIONS[self.language]
        pages = len(reader(self.language).pages)
        assert 60 <= pages <= 400, f"{edition.pdf_name}: {pages} pages"
        copy = edition.site / edition.pdf_name
        assert copy.is_file(), f"{copy.relative_to(ROOT)}: the site has no copy of its PDF"
        assert copy.read_bytes() == edition.pdf.read_bytes(), f"{copy.name} is not the latest"

    def test_the_text_checked_is_the_text_of_the_pdf(self):
        """The kept text is what pypdf extracts from this PDF: three pages, extracted again."""
        pages, texts = reader(self.language).pages, page_texts(self.language)
        assert len(texts) == len(pages), f"{len(texts)} texts for {len(pages)} pages"
        for i in sorted({0, len(pages) // 2, len(pages) - 1}):
            assert texts[i] == pages[i].extract_text(), f"page {i + 1}: not its text"

    def test_every_page_of_the_book_is_a_bookmark_starting_a_new_page(self):
        ranges = page_ranges(self.language)
        starts = [ranges[d].start for d in PAGES]
        assert starts[0] == 0, "the PDF does not start with the index page"
        assert starts == sorted(set(starts)), f"pages out of order or sharing a page: {starts}"
        titles = [name for name, _ in bookmarks(self.language)]
        assert [t for t in titles if t in {title(self.language, d) for d in PAGES}] == [
            title(self.language, d) for d in PAGES
        ], "the bookmarks do not follow the book's order"
        for docname in PAGES:
            first_page = page_texts(self.language)[ranges[docname].start]
            assert _squeeze(title(self.language, docname)) in _squeeze(first_page), (
                f"{docname}: its title is not on its first page"
            )

    def test_formulas_are_typeset(self):
        text = "\n".join(page_texts(self.language))
        leftover = sorted({m.group(0) for m in RAW_TEX.finditer(text)})
        assert not leftover, f"TeX left in the PDF's text: {leftover}"
        # Chapter 2's softmax, $$\mathrm{softmax}(\mathbf{o})_j = \frac{\exp(o_j)}{\sum_k
        # \exp(o_k)}$$, as MathJax typesets it: a summation sign, subscripts as letters.
        chapter = _squeeze(range_text(self.language, "chapters/02_softmax_scratch"))
        assert "softmax(o)j" in chapter and "∑kexp(ok)" in chapter, "no typeset softmax"

    def test_every_figure_of_the_site_is_in_the_pdf(self):
        pages = reader(self.language).pages
        missing = {}
        for docname in PAGES:
            figures = len(article(self.language, docname).find_all("img"))
            found = sum(
                _images(pages[i].get("/Resources")) for i in page_ranges(self.language)[docname]
            )
            if found < figures:
                missing[docname] = f"{found} of {figures}"
        assert not missing, f"figures missing from the PDF: {missing}"
        chapters = [d for d in PAGES if d.startswith("chapters/")]
        drawn = [d for d in chapters if article(self.language, d).find_all("img")]
        assert len(drawn) >= 4, f"only {drawn} have figures: is the site built?"

    def test_no_line_of_code_or_output_is_cut_off(self):
        checked, cut = 0, []
        for docname in PAGES:
            text = _squeeze(range_text(self.language, docname))
            for block in article(self.language, docname).find_all("pre"):
                for line in block.get_text().splitlines():
                    squeezed = _squeeze(line)
                    if not squeezed:
                        continue
                    checked += 1
                    if squeezed not in text:
                        cut.append(f"{docname}: {line.strip()[:90]!r}")
        assert checked > 500, f"only {checked} lines of code and output checked"
        assert not cut, f"{len(cut)} lines not found whole in the PDF:\n" + "\n".join(cut[:20])

    def test_the_index_and_every_download_menu_link_the_pdf(self):
        edition = pdf.EDITIONS[self.language]
        target = (edition.site / edition.pdf_name).resolve()
        index = article(self.language, "index")
        linked = [a for a in index.find_all("a", href=True) if a["href"].endswith(".pdf")]
        assert [(edition.site / a["href"]).resolve() for a in linked] == [target], linked
        for docname in PAGES:
            path = edition.site / f"{docname}.html"
            items = site_page(self.language, docname).select("a.btn-download-book-pdf-button")
            assert len(items) == 1, f"{docname}: no PDF of the book in the download menu"
            assert (path.parent / items[0]["href"]).resolve() == target
            label = " ".join(items[0].get_text().split()) + " " + items[0].get("title", "")
            if self.language == "zh":
                assert HAN.search(label) and not re.search(r"\b(?!PDF|pdf)[A-Za-z]{2,}", label)
            else:
                assert "PDF" in label.upper() and not HAN.search(label), label


class TestEnglish(PdfChecks):
    language = "en"


class TestChinese(PdfChecks):
    language = "zh"

    def test_the_text_is_chinese_as_on_the_site(self):
        text = "\n".join(page_texts("zh"))
        site = "".join(article("zh", d).get_text() for d in PAGES)
        radicals = sorted(set(RADICAL.findall(text)))
        assert not radicals, f"characters extracted as radicals: {''.join(radicals)}"
        assert "\ufffd" not in text, "unknown characters in the Chinese PDF"
        # A missing font draws every character as the same empty box: few distinct ones.
        in_pdf, on_site = set(HAN.findall(text)), set(HAN.findall(site))
        assert len(in_pdf) >= 0.95 * len(on_site), f"{len(in_pdf)} of {len(on_site)} characters"
        assert len(HAN.findall(text)) >= 0.9 * len(HAN.findall(site))


def test_an_up_to_date_pdf_is_kept_and_any_change_prints_it_again(tmp_path, monkeypatch):
    """``make book`` prints a PDF again only when a file it is made from changed
    (``tools.pdf.out_of_date``): a changed, added or removed source, a new execution of a
    chapter, or a PDF that is not the one printed; a changed test is no such file."""
    import os
    import subprocess
    import time

    repo = tmp_path / "repo"
    for name, text in {
        ".gitignore": "_build/\n",
        "chapters/01_dataset.py": "x = 1\n",
        "tests/test_x.py": "",
    }.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    monkeypatch.setattr(pdf, "ROOT", repo)
    monkeypatch.setattr(pdf, "PDF_DIR", repo / "_build" / "pdf")
    monkeypatch.setattr(pdf, "EXECUTED", repo / "_build" / ".jupyter_cache" / "executed")
    edition = pdf.Edition("en", repo / "_build" / "singlehtml", "book.pdf", repo / "_build")
    edition.pdf.parent.mkdir(parents=True)
    pdf.EXECUTED.mkdir(parents=True)

    def printed() -> None:  # as make_edition leaves it: every input older than the printing
        past = time.time() - 10
        for name in pdf.inputs():
            os.utime(repo / name, (past, past))
        edition.pdf.write_bytes(b"%PDF-1.7 the book")
        pdf.write_stamp(edition, past + 5, pdf.inputs())

    def why() -> str | None:
        return pdf.out_of_date(edition, pdf.inputs())

    printed()
    assert why() is None
    (repo / "tests" / "test_x.py").write_text("# a test changed\n")
    assert why() is None
    (repo / "chapters" / "01_dataset.py").write_text("x = 2\n")
    assert why() == "chapters/01_dataset.py changed"
    printed()
    (repo / "chapters" / "02_softmax.py").write_text("y = 1\n")
    assert why() == "files were added or removed"
    printed()
    (pdf.EXECUTED / "0123abcd").mkdir()
    assert why() == "files were added or removed"
    printed()
    (repo / "chapters" / "01_dataset.py").unlink()
    assert why() == "chapters/01_dataset.py was removed"
    (repo / "chapters" / "01_dataset.py").write_text("x = 2\n")
    printed()
    edition.pdf.write_bytes(b"%PDF-1.7 another book")
    assert why() == "book.pdf changed since it was printed"
    edition.stamp.unlink()
    assert why() == "not printed yet"
    assert pdf.out_of_date(edition, None) == "git cannot list the files it is made from"
