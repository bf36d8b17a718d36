"""The Simplified Chinese edition: message catalogs, checks, Colab notebooks and the build.

The English sources stay the single source of truth. Sphinx's gettext builder extracts every
paragraph, heading, caption and table cell of the book into ``.pot`` templates;
``locales/zh_CN/LC_MESSAGES/<page>.po`` holds their translations (kept with sphinx-intl).
The Chinese site is the same book built with ``language = zh_CN``; code cells are never
translated, so both editions execute identical code and share the execution cache.

Commands (run from the repository root with the project's Python)::

    python -m tools.i18n extract     # English messages -> _build/gettext/*.pot
    python -m tools.i18n update      # extract, then merge into the .po catalogs (sphinx-intl)
    python -m tools.i18n check       # fail on untranslated, empty or fuzzy messages
    python -m tools.i18n todo        # print what is left to translate, compactly
    python -m tools.i18n notebooks   # write chapters/zh/NAME.ipynb (Colab, Chinese prose)
    python -m tools.i18n build       # the Chinese site into _build/html/zh

A message whose translation is the English text itself (a package name, a formula) counts as
translated on purpose and is reported as "kept in English".
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LANGUAGE = "zh_CN"
LOCALES = ROOT / "locales"
CATALOGS = LOCALES / LANGUAGE / "LC_MESSAGES"
BUILD = ROOT / "_build"
POT_DIR = BUILD / "gettext"
SITE = BUILD / "html"
ZH_SITE = SITE / "zh"
CHAPTERS = ROOT / "chapters"
ZH_NOTEBOOKS = CHAPTERS / "zh"


# -- Catalogs --------------------------------------------------------------------------------


def _read(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, abort_invalid=True)


def templates(pot_dir: Path = POT_DIR) -> dict[str, Catalog]:
    """Return the extracted templates, by page name (``chapters/01_dataset``)."""
    return {
        str(p.relative_to(pot_dir).with_suffix("")): _read(p)
        for p in sorted(pot_dir.rglob("*.pot"))
    }


def catalogs(catalog_dir: Path = CATALOGS) -> dict[str, Catalog]:
    """Return the Chinese catalogs, by page name."""
    return {
        str(p.relative_to(catalog_dir).with_suffix("")): _read(p)
        for p in sorted(catalog_dir.rglob("*.po"))
    }


def translations(catalog_dir: Path = CATALOGS) -> dict[str, str]:
    """Return every usable translation (not empty, not fuzzy) of every page, by message."""
    found: dict[str, str] = {}
    for catalog in catalogs(catalog_dir).values():
        for message in catalog:
            if message.id and message.string and not message.fuzzy:
                found[message.id] = message.string
    return found


@dataclass
class Report:
    """What ``check`` found: counts, and the problems that fail it."""

    messages: int = 0
    translated: int = 0
    kept_english: int = 0
    problems: list[str] = field(default_factory=list)


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def page_prose(page: str) -> str | None:
    """Return the Markdown of a page's source, whitespace-normalised (None: no source)."""
    for suffix in (".py", ".md"):
        path = ROOT / f"{page}{suffix}"
        if path.is_file():
            if suffix == ".py":
                import jupytext

                cells = jupytext.read(path).cells
                text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
            else:
                text = path.read_text(encoding="utf-8")
            return " ".join(text.split())
    return None


def from_source(pot: Catalog, page: str) -> Catalog:
    """Keep the messages written in the page's source; drop those made by cell outputs.

    A table printed by a code cell (the Performance page's measurements) is data that
    changes with every run, not prose: it is neither required nor counted.
    """
    prose = page_prose(page)
    kept = Catalog(locale=None)
    for message in pot:
        if message.id and (prose is None or " ".join(message.id.split()) in prose):
            kept[message.id] = message
    return kept


def check_catalogs(pots: dict[str, Catalog], pos: dict[str, Catalog]) -> Report:
    """Compare the English templates with the catalogs; list every untranslated message."""
    report = Report()
    for page, pot in pots.items():
        po = pos.get(page)
        if po is None:
            report.problems.append(f"{page}: no catalog (run `python -m tools.i18n update`)")
            report.messages += sum(1 for m in pot if m.id)
            continue
        for message in pot:
            if not message.id:
                continue
            report.messages += 1
            entry = po.get(message.id)
            if entry is None or not entry.string:
                report.problems.append(f"{page}: untranslated: {_short(message.id)!r}")
            elif entry.fuzzy:
                report.problems.append(f"{page}: fuzzy: {_short(message.id)!r}")
            else:
                report.translated += 1
                report.kept_english += entry.string == message.id
    for page, po in pos.items():  # a catalog's own empty or fuzzy entries
        for message in po:
            if message.id and page in pots and message.id not in pots[page]:
                continue  # not an English message any more: checked above if it came back
            if message.id and message.fuzzy and page not in pots:
                report.problems.append(f"{page}: fuzzy: {_short(message.id)!r}")
    return report


# -- Extraction, update and the Chinese build ------------------------------------------------


def _build(builder: str, outdir: Path, overrides: dict, strict: bool, doctrees: Path) -> int:
    from jupyter_book.sphinx import build_sphinx

    result = build_sphinx(
        str(ROOT),
        str(outdir),
        noconfig=True,
        path_config=str(ROOT / "_config.yml"),
        # What `jupyter-book build .` passes, then this edition's settings.
        confoverrides={
            "external_toc_path": (ROOT / "_toc.yml").as_posix(),
            "latex_individualpages": False,
            **overrides,
        },
        doctreedir=str(doctrees),
        builder=builder,
        warningiserror=strict,
        keep_going=strict,
    )
    if isinstance(result, Exception):
        raise result
    return int(result)


def extract(pot_dir: Path = POT_DIR) -> int:
    """Extract the English messages into ``.pot`` templates (nothing is executed)."""
    doctrees = pot_dir.parent / f".doctrees-{pot_dir.name}"
    code = _build("gettext", pot_dir, {"nb_execution_mode": "off"}, False, doctrees)
    for path in sorted(pot_dir.rglob("*.pot")):  # keep the prose, drop what outputs printed
        pot = _read(path)
        page = str(path.relative_to(pot_dir).with_suffix(""))
        kept = from_source(pot, page)  # once per page: it reads the page's source
        for message_id in [m.id for m in pot if m.id and m.id not in kept]:
            del pot[message_id]
        with path.open("wb") as f:
            write_po(f, pot, width=76)
    return code


def update() -> int:
    """Extract, then merge the templates into the catalogs (new ones are created)."""
    from sphinx_intl.basic import update as intl_update

    code = extract()
    if code == 0:
        memory = translation_memory()
        intl_update(str(LOCALES), str(POT_DIR), (LANGUAGE,))
        for path in sorted(CATALOGS.rglob("*.po")):
            catalog = _read(path)
            if _reuse(catalog, memory):
                with path.open("wb") as f:
                    write_po(f, catalog, width=76, include_previous=True)
    return code


def translation_memory(catalog_dir: Path = CATALOGS) -> dict[str, str]:
    """Every translation in the catalogs, obsolete ones included, by English message."""
    memory: dict[str, str] = {}
    for path in sorted(catalog_dir.rglob("*.po")):
        catalog = _read(path)
        for message in [*catalog.obsolete.values(), *catalog]:
            if message.id and message.string and not message.fuzzy:
                memory[message.id] = message.string
    return memory


def _reuse(catalog: Catalog, memory: dict[str, str]) -> bool:
    """Fill empty or fuzzy entries whose exact English text has a translation elsewhere.

    Babel's merge never revives an obsolete entry: a paragraph translated before it reached
    the sources (or one moved to another page) would come back empty. Obsolete entries
    without a translation are dropped; the others are kept for later merges.
    """
    changed = False
    english_of = {string: english for english, string in memory.items()}
    for message in catalog:
        if message.id and (message.fuzzy or not message.string) and message.id in memory:
            message.string = memory[message.id]
            message.flags.discard("fuzzy")
            message.previous_id = []
            changed = True
        elif message.fuzzy and message.string in english_of:
            # Note the English this translation was made for, for `todo` (a "# was:"
            # comment: babel cannot read back the "#| msgid" lines it writes).
            was = [f"was: {english_of[message.string]}"]
            changed |= message.user_comments != was
            message.user_comments = was
        comments = message.user_comments
        if not message.fuzzy and comments and comments[0].startswith("was: "):
            message.user_comments = []  # the note and its wrapped lines
            changed = True
    for key in [k for k, m in catalog.obsolete.items() if not m.string or k in catalog]:
        del catalog.obsolete[key]
        changed = True
    return changed


def build(preview: bool = False) -> int:
    """Build the Chinese site into ``_build/html/zh`` (reusing the execution cache).

    ``preview``: build both editions without executing anything (no outputs, warnings
    allowed), into ``_build/preview/``, to read a translation in minutes.
    """
    start = time.perf_counter()
    import yaml

    title = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["title"]
    zh = {"language": LANGUAGE, "html_title": translations().get(title, title)}
    if preview:
        off = {"nb_execution_mode": "off"}
        out = BUILD / "preview"
        code = _build("html", out, off, False, BUILD / ".doctrees-preview-en")
        code |= _build(
            "html",
            out / "zh",
            {**off, **zh},
            False,
            out.parent / ".doctrees-preview-zh",
        )
    else:
        code = _build("html", ZH_SITE, zh, True, BUILD / ".doctrees-zh")
    print(f"Chinese edition built in {time.perf_counter() - start:.1f} s (exit {code})")
    return code


def singlehtml(outdir: Path = BUILD / "singlehtml-zh") -> int:
    """Build the Chinese book as one HTML page into ``outdir``, for its PDF.

    ``python -m tools.pdf`` calls it (``make book``), after preparing the ``singlehtml``
    builder (``tools.pdf._prepare_singlehtml``). It reuses the Chinese site's doctrees
    (``build`` writes them just before), so nothing is read or executed again: the page has
    the site's outputs and figures.
    """
    start = time.perf_counter()
    import yaml

    title = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["title"]
    zh = {"language": LANGUAGE, "html_title": translations().get(title, title)}
    code = _build("singlehtml", outdir, zh, True, BUILD / ".doctrees-zh")
    print(f"Chinese single page built in {time.perf_counter() - start:.1f} s (exit {code})")
    return code


# -- Markdown and notebooks ------------------------------------------------------------------


def _parser():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.colon_fence import colon_fence_plugin
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from mdit_py_plugins.myst_blocks import myst_block_plugin
    from mdit_py_plugins.myst_role import myst_role_plugin

    md = MarkdownIt("commonmark").enable("table")
    for plugin in (colon_fence_plugin, dollarmath_plugin, myst_block_plugin, myst_role_plugin):
        md.use(plugin)
    return md


_MD = None


def _body_start(lines: list[str]) -> int:
    """Index of the first body line of a directive (after ``:option:`` lines)."""
    i = 0
    if i < len(lines) and lines[i].strip() == "---":  # YAML options block
        i += 1
        while i < len(lines) and lines[i].strip() != "---":
            i += 1
        return i + 1
    while i < len(lines) and lines[i].startswith(":"):
        i += 1
    return i


def translate_markdown(source: str, table: dict[str, str]) -> tuple[str, list[str]]:
    """Translate a Markdown cell message by message; return it and its untranslated messages.

    A message is the text of a paragraph, heading or table cell, as Sphinx extracts it; its
    lines in the cell are replaced by the translation, keeping the Markdown around it (list
    markers, ``#`` of headings, indentation). Directive bodies are translated recursively.
    """
    global _MD
    _MD = _MD or _parser()
    lines = source.split("\n")
    missing: list[str] = []
    replacements: list[tuple[int, int, list[str]]] = []
    tokens = _MD.parse(source)
    for i, token in enumerate(tokens):
        if token.type == "inline" and token.map and token.content.strip():
            text = " ".join(token.content.split("\n")).strip()  # as Sphinx extracts it
            if text not in table:
                if any(c.isalpha() for c in text):
                    missing.append(text)
                continue
            first, last = token.map
            if tokens[i - 1].type == "th_open" or tokens[i - 1].type == "td_open":
                lines[first] = lines[first].replace(token.content, table[text], 1)
                continue
            first_line = token.content.split("\n")[0]
            prefix = lines[first][: max(lines[first].find(first_line), 0)]
            indent = " " * len(prefix) if prefix.strip() else prefix
            body = table[text].split("\n")
            new = [prefix + body[0]] + [indent + b for b in body[1:]]
            replacements.append((first, first + len(token.content.split("\n")), new))
        elif token.type == "fence" and token.info.startswith("{") and token.map:
            name = token.info.split("}")[0][1:]
            if name in {"code-block", "code", "math", "nb-exec-table", "course-versions"}:
                continue
            inner = token.content.rstrip("\n").split("\n")
            start = _body_start(inner)
            body, more = translate_markdown("\n".join(inner[start:]), table)
            missing += more
            argument = token.info[len(name) + 2 :].strip()
            head = lines[token.map[0]]
            if argument and argument in table:
                head = head.replace(argument, table[argument], 1)
            elif argument and any(c.isalpha() for c in argument) and name != "solution-start":
                missing.append(argument)
            new = [head, *inner[:start], *body.split("\n"), lines[token.map[1] - 1]]
            replacements.append((token.map[0], token.map[1], new))
    for first, last, new in sorted(replacements, reverse=True):
        lines[first:last] = new
    return "\n".join(lines), missing


def chinese_notebook(golden: Path, table: dict[str, str]) -> tuple[nbformat.NotebookNode, list]:
    """Return the Chinese notebook of a golden one: same code cells and outputs."""
    notebook = copy.deepcopy(nbformat.read(golden, as_version=4))
    missing = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source, more = translate_markdown(cell.source, table)
            missing += more
    notebook.metadata["language_info"] = notebook.metadata.get("language_info", {})
    notebook.metadata["course_language"] = LANGUAGE
    return notebook, missing


def notebooks(names: list[str] | None = None) -> int:
    """Write ``chapters/zh/NAME.ipynb`` for every chapter with a golden notebook."""
    table = translations()
    ZH_NOTEBOOKS.mkdir(exist_ok=True)
    missing_total = 0
    for golden in sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb")):
        if names and golden.stem not in names:
            continue
        notebook, missing = chinese_notebook(golden, table)
        nbformat.write(notebook, ZH_NOTEBOOKS / golden.name)
        missing_total += len(missing)
        print(f"wrote chapters/zh/{golden.name} ({len(missing)} messages untranslated)")
        for text in missing:
            print(f"    untranslated: {_short(text)!r}")
    return 0


# -- Command line ----------------------------------------------------------------------------


def print_todo(pots: dict[str, Catalog], pos: dict[str, Catalog]) -> int:
    """Print each untranslated or fuzzy message of each page, ready to translate."""
    count = 0
    for page, pot in pots.items():
        po = pos.get(page)
        for message in pot:
            entry = po.get(message.id) if po is not None and message.id else None
            if not message.id or (entry is not None and entry.string and not entry.fuzzy):
                continue
            count += 1
            state = "FUZZY" if entry is not None and entry.fuzzy else "NEW"
            print(f"== {page}.po [{state}]\n{message.id}")
            if state == "FUZZY":
                comments = entry.user_comments  # written by `update`, wrapped by babel
                if comments and comments[0].startswith("was: "):
                    print(f"-- English before the edit:\n{' '.join(comments)[5:]}")
                print(f"-- old translation:\n{entry.string}")
    print(f"{count} messages to translate")
    return count


def fill(page: str, pairs: dict[str, str]) -> int:
    """Write translations into a page's catalog (clears fuzzy); return how many were set."""
    path = CATALOGS / f"{page}.po"
    catalog = _read(path)
    done = 0
    for msgid, msgstr in pairs.items():
        entry = catalog.get(msgid)
        if entry is None:
            catalog.add(msgid, msgstr)
        else:
            entry.string = msgstr
            entry.flags.discard("fuzzy")
            entry.previous_id = []
        done += 1
    with path.open("wb") as f:
        write_po(f, catalog, width=76, omit_header=False, include_previous=True)
    return done


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "command", choices=["extract", "update", "check", "todo", "notebooks", "build"]
    )
    parser.add_argument("names", nargs="*", help="notebooks: chapter stems (default: all)")
    parser.add_argument(
        "--no-extract", action="store_true", help="check/todo: use _build/gettext as it is"
    )
    parser.add_argument(
        "--preview", action="store_true", help="build: both editions, unexecuted, in _build/preview"
    )
    args = parser.parse_args(argv)
    if args.command == "extract":
        return extract()
    if args.command == "update":
        return update()
    if args.command == "notebooks":
        return notebooks(args.names)
    if args.command == "build":
        return build(args.preview)
    if not args.no_extract and extract() != 0:
        return 1
    pots = {page: from_source(pot, page) for page, pot in templates().items()}
    pos = catalogs()
    if args.command == "todo":
        print_todo(pots, pos)
        return 0
    report = check_catalogs(pots, pos)
    print("\n".join(report.problems))
    print(
        f"{report.messages} English messages: {report.translated} translated "
        f"({report.kept_english} kept in English on purpose), "
        f"{len(report.problems)} problems"
    )
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
