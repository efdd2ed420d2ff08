"""The page's words: its catalog as JSON for the browser, and the texts its HTML marks.

Theory of operation
-------------------
The page (``static/``) is written in English and looks its texts up in the
catalog of the reader's language, which the web door serves as JSON
(:mod:`.routes`: ``GET /i18n/`` lists the languages, ``GET /i18n/es.json`` is
Spanish), made from the same ``.po`` file as the server's words (read with
Babel, as :mod:`trio_chat.i18n` does): only the messages whose location is
under ``web/static/``, translated and not fuzzy. Each body is built once per
language and kept.

The plural rule travels as data, not as code (the page's Content-Security-Policy
forbids evaluating a string): the browser knows each number's CLDR plural
category (``Intl.PluralRules``), and the JSON says which of the catalog's
forms each category takes, found by running the catalog's own ``Plural-Forms``
rule on sample numbers. A language whose rule cannot be said so is an error.

The page's HTML keeps its English text, meaningful without script; elements
whose text or attributes are to be translated say so with ``data-i18n``
(``data-i18n`` alone: the text; ``data-i18n="placeholder aria-label"``: those
attributes; ``text`` for both). :func:`extract_html` is the catalog tool's
extraction method for that HTML (Babel's method protocol), so its texts are
in the catalogs like the script's ``_("...")``.
"""

from __future__ import annotations

import functools
import gettext
import json
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from html.parser import HTMLParser
from typing import IO

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from trio_chat.i18n import DEFAULT, DOMAIN, LOCALE_DIR, languages

# Where the page's messages are (a location in the catalog starts with it).
PAGE = "trio_chat/web/static/"
# Numbers whose plural category and form tell a language's rule (CLDR's
# categories differ for small numbers, some endings and round millions).
SAMPLES = (*range(0, 1001), 10**4, 10**5, 10**6, 2 * 10**6, 10**6 + 1, 10**7, 10**9)
# What a Babel extraction method yields: (line, function, message, comments).
Extracted = tuple[int, str | None, str, list[str]]


@functools.cache
def _languages() -> dict[str, str]:
    return languages()


@functools.cache
def index_json() -> bytes:
    """``GET /i18n/``: the languages there are, each in its own words (English first)."""
    listed = [{"lang": lang, "name": name} for lang, name in _languages().items()]
    listed.sort(key=lambda entry: entry["lang"] != DEFAULT)
    return _json({"source": DEFAULT, "languages": listed})


def catalog_json(lang: str) -> bytes | None:
    """``GET /i18n/LANG.json``: the page's messages in ``lang``; None if there is no such language.

    ``lang`` must be one of :func:`~trio_chat.i18n.languages` exactly (it comes
    from a URL: nothing else is looked up, or kept).
    """
    return _catalog_json(lang) if lang in _languages() else None


@functools.cache
def _catalog_json(lang: str) -> bytes:
    if lang == DEFAULT:
        messages: dict[str, str | list[str]] = {}
        forms = {"nplurals": 2, "categories": plural_categories(lang, 2, lambda n: int(n != 1))}
    else:
        catalog = _read(lang)
        messages = page_messages(catalog)
        rule = gettext.c2py(catalog.plural_expr)
        forms = {
            "nplurals": catalog.num_plurals,
            "categories": plural_categories(lang, catalog.num_plurals, rule),
        }
    name = _languages()[lang]
    return _json({"lang": lang, "name": name, "plural": forms, "messages": messages})


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _read(lang: str) -> Catalog:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        return read_po(po, locale=lang, domain=DOMAIN)


def page_messages(catalog: Catalog) -> dict[str, str | list[str]]:
    """The catalog's translated messages used by the page: msgid -> msgstr (or its forms)."""
    found: dict[str, str | list[str]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        if not any(path.startswith(PAGE) for path, _line in message.locations):
            continue
        if isinstance(message.id, tuple | list):
            strings = message.string if isinstance(message.string, tuple | list) else ()
            forms = [str(form or "") for form in strings]
            if forms and all(forms):
                found[message.id[0]] = forms
        elif message.string:
            found[message.id] = str(message.string)
    return found


def plural_categories(lang: str, forms: int, rule: Callable[[int], int]) -> dict[str, int]:
    """Which of the ``forms`` each CLDR plural category of ``lang`` takes under ``rule``.

    Raises:
        ValueError: the catalog's rule and CLDR's categories disagree (a number
            of one category takes a form another of the same category does not).
    """
    locale = Locale.parse(lang)
    categories: dict[str, int] = {}
    for n in SAMPLES:
        category = locale.plural_form(n)
        form = int(rule(n))
        if not 0 <= form < forms or categories.setdefault(category, form) != form:
            raise ValueError(
                f"{lang}: the catalog's plural rule gives {n} form {form}, "
                f"which CLDR's category {category!r} cannot say"
            )
    return categories


# --- the HTML's marked texts, for the catalog tool ----------------------------------------


class _Marked(HTMLParser):
    """Collects the texts and attributes that ``data-i18n`` marks, with their lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._text: list[str] | None = None
        self._line = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._text is not None:
            raise ValueError(f"line {self.getpos()[0]}: <{tag}> inside a data-i18n text")
        values = dict(attrs)
        if "data-i18n" not in values:
            return
        line = self.getpos()[0]
        wanted = marked_parts(values["data-i18n"])
        for name in wanted - {"text"}:
            value = values.get(name)
            if not value:
                raise ValueError(f"line {line}: <{tag}> marks {name!r} but has none")
            self.found.append((line, normal(value)))
        if "text" in wanted:
            self._text, self._line = [], line

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._text is not None:
            self.found.append((self._line, normal("".join(self._text))))
            self._text = None


def marked_parts(value: str | None) -> set[str]:
    """What a ``data-i18n`` value marks: ``text`` and attribute names."""
    return set((value or "text").split())


def normal(text: str) -> str:
    """A text as the page looks it up: runs of white space as one space, no ends."""
    return re.sub(r"\s+", " ", text).strip()


def extract_html(
    fileobj: IO[bytes],
    keywords: Mapping[str, object],
    comment_tags: Collection[str],
    options: Mapping[str, object],
) -> Iterator[Extracted]:
    """Babel's extraction method for the page's HTML: every ``data-i18n`` text."""
    parser = _Marked()
    parser.feed(fileobj.read().decode("utf-8"))
    parser.close()
    for line, text in parser.found:
        if text:
            yield line, None, text, []
