"""``trio-chat catalogs``: keep the translation catalogs in step with the code.

Theory of operation
-------------------
Babel extracts every marked message (``_``, ``N_``, ``ngettext`` in Python;
``_``, ``N_``, ``ngettext`` in the page's JavaScript, and the texts its HTML
marks with ``data-i18n``, see :mod:`trio_chat.web.words`) from the package into the template
``trio_chat/locale/trio_chat.pot`` and brings each language's ``.po`` file up
to date with it: new messages are added untranslated, gone ones removed,
translations kept. Output is sorted by message and names files without line
numbers, so that a change to the code touches only the entries it changes
(and git's union merge of two branches' catalogs stays correct: run this again
after a merge). ``--check`` changes nothing and fails when a catalog is out of
date, a message is untranslated or fuzzy, or a translation's ``{fields}``
differ from the English ones: the test suite runs it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import string
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

from trio_chat.i18n import DEFAULT, DOMAIN

PACKAGE = Path(__file__).resolve().parent.parent
LOCALE = PACKAGE / "locale"
TEMPLATE = LOCALE / f"{DOMAIN}.pot"
METHODS = [
    ("**/web/static/**.js", "javascript"),
    ("**/web/static/**.html", "trio_chat.web.words:extract_html"),  # its data-i18n texts
    ("**.py", "python"),
]
KEYWORDS = {name: DEFAULT_KEYWORDS[name] for name in ("_", "N_", "ngettext")}
# A fixed date: the files change only when their messages do.
STAMP = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
WIDTH = 100


def extract() -> Catalog:
    """Every marked message in the package, as a template."""
    template = Catalog(domain=DOMAIN, project="trio_chat", creation_date=STAMP, revision_date=STAMP)
    found = extract_from_dir(
        PACKAGE, METHODS, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",), strip_comment_tags=True
    )
    for filename, _lineno, message, comments, context in found:
        path = (PACKAGE.name + "/" + filename).replace("\\", "/")
        where = [(path, None)]  # no line number: entries move only when messages change
        template.add(message, None, where, auto_comments=comments, context=context)  # type: ignore[arg-type]
    return template


def render(catalog: Catalog) -> str:
    out = io.BytesIO()
    write_po(
        out, catalog, width=WIDTH, sort_output=True, include_lineno=False, ignore_obsolete=True
    )
    return out.getvalue().decode()


def catalog_paths() -> Iterator[tuple[str, Path]]:
    for folder in sorted(LOCALE.iterdir()):
        po = folder / "LC_MESSAGES" / f"{DOMAIN}.po"
        if po.is_file():
            yield folder.name, po


def updated(template: Catalog, po: Path, lang: str) -> Catalog:
    with po.open("rb") as source:
        catalog = read_po(source, locale=lang, domain=DOMAIN)
    catalog.update(template, no_fuzzy_matching=True, update_creation_date=True)
    catalog.revision_date = STAMP
    return catalog


def fields(text: str) -> set[str]:
    """The ``{name}`` fields of a message (``{{`` is a brace, not a field)."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return {"<unbalanced braces>"}


def problems(catalog: Catalog) -> Iterator[str]:
    """What makes ``catalog`` unusable for its language: untranslated or fuzzy
    messages, and translations whose fields differ from the English."""
    for message in catalog:
        if not message.id:
            continue
        yield from _problems(catalog.locale_identifier or "?", message)


def _problems(lang: str, message: Message) -> Iterator[str]:
    ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
    strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
    where = f"{lang}: {ids[0]!r}"
    if message.fuzzy:
        yield f"{where} is fuzzy"
    if not all(strings):
        yield f"{where} is not translated"
        return
    wanted = set().union(*(fields(text) for text in ids))
    got = [fields(text or "") for text in strings]
    if len(ids) == 1 and got[0] != wanted:
        yield f"{where}: fields {sorted(got[0])} instead of {sorted(wanted)}"
    elif len(ids) > 1 and (set().union(*got) | {"n"}) != (wanted | {"n"}):
        yield f"{where}: plural fields {sorted(set().union(*got))} instead of {sorted(wanted)}"
    elif len(ids) > 1 and any(not form <= wanted | {"n"} for form in got):
        yield f"{where}: a plural form has a field the English has not"


def check() -> list[str]:
    """Everything wrong with the catalogs (empty when they are ready)."""
    template = extract()
    found: list[str] = []
    if not TEMPLATE.is_file() or TEMPLATE.read_text() != render(template):
        found.append(f"{TEMPLATE.name} is out of date: run `make catalogs`")
    for lang, po in catalog_paths():
        catalog = updated(template, po, lang)
        if po.read_text() != render(catalog):
            found.append(f"{lang}: {po.name} is out of date: run `make catalogs`")
        found.extend(problems(catalog))
    return found


def update(init: Iterable[str] = ()) -> list[Path]:
    """Write the template and every catalog (new ones for ``init``); the files written."""
    template = extract()
    TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    TEMPLATE.write_text(render(template))
    for lang in init:
        if lang == DEFAULT:
            continue
        po = LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        if not po.exists():
            po.parent.mkdir(parents=True)
            po.write_text(render(Catalog(locale=lang, domain=DOMAIN, project="trio_chat")))
    written = [TEMPLATE]
    for lang, po in catalog_paths():
        po.write_text(render(updated(template, po, lang)))
        written.append(po)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="trio-chat catalogs",
        description="Bring the translation catalogs (trio_chat/locale) up to date with the code.",
    )
    parser.add_argument("--check", action="store_true", help="change nothing; fail if not ready")
    parser.add_argument(
        "--init", action="append", default=[], metavar="LANG", help="start a catalog for LANG"
    )
    args = parser.parse_args(argv)
    if args.check:
        found = check()
        for problem in found:
            print(problem, file=sys.stderr)
        return 1 if found else 0
    for path in update(args.init):
        print(f"wrote {path.relative_to(PACKAGE.parent)}")
    return 0
