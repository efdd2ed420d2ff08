"""Words in each user's language: gettext catalogs kept as ``.po`` files, read with Babel.

Theory of operation
-------------------
English is the source text: every message a person reads is written in English
in the code, marked for translation, and looked up in the catalog of the
reader's language. One catalog per language,
``trio_chat/locale/<lang>/LC_MESSAGES/trio_chat.po``, holds every message of the
server, the terminal client, the CLI and the web page; a third language is one
more such file (``trio-chat catalogs --init fr`` makes it, see
:mod:`trio_chat.tools.catalogs`). The ``.po`` files are the only copy: they are
read at first use and compiled in memory (Babel's ``write_mo`` into stdlib
:mod:`gettext`), so there is no build step and an installed package reads the
same files as the checkout.

Use, wherever text for a person is made (the name ``_`` is what the catalog tool
extracts, with ``N_`` and ``ngettext``)::

    _ = words_for("es")
    _("the name {name} is taken", name=name)          # named fields only
    _.ngettext("{n} try left", "{n} tries left", n)    # ``n`` is a field too
    GREETING = N_("Welcome")                           # marked, worded later:
    _(GREETING)

What is protocol stays protocol and is never passed through here: the ``*** ``
and ``! `` prefixes, slash-command names, IRC numerics and commands, JSON field
names, log event names.
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import io
import os
from collections.abc import Mapping
from importlib import resources

from babel import Locale
from babel.dates import format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

# The language of the source text, and of anyone who chose nothing.
DEFAULT = "en"
DOMAIN = "trio_chat"
# Where the catalogs are, inside the package.
LOCALE_DIR = resources.files("trio_chat") / "locale"


def N_(message: str) -> str:  # the name gettext tools know
    """Mark ``message`` for the catalog without translating it yet."""
    return message


class Words:
    """The messages of one language, filled in with their fields."""

    __slots__ = ("_translations", "lang")

    def __init__(self, lang: str, translations: gettext.NullTranslations) -> None:
        self.lang = lang
        self._translations = translations

    def __call__(self, message: str, /, **fields: object) -> str:
        text = self._translations.gettext(message)
        return text.format(**fields) if fields else text

    def ngettext(self, singular: str, plural: str, n: int, /, **fields: object) -> str:
        """The form of a message for ``n`` things; ``{n}`` may appear in it."""
        return self._translations.ngettext(singular, plural, n).format(n=n, **fields)

    def datetime(self, moment: dt.datetime, format: str = "medium") -> str:
        """A date and time as this language writes it (``1 dic 2026, 15:04:05``)."""
        return format_datetime(moment, format, locale=self.lang)

    def duration(self, seconds: float) -> str:
        """A length of time in words (``3 minutes`` / ``3 minutos``)."""
        return format_timedelta(dt.timedelta(seconds=seconds), locale=self.lang)

    def __repr__(self) -> str:
        return f"Words({self.lang!r})"


def languages() -> dict[str, str]:
    """Every language there is a catalog for (and English), each in its own words."""
    found = {DEFAULT}
    for entry in LOCALE_DIR.iterdir():
        if entry.joinpath("LC_MESSAGES", f"{DOMAIN}.po").is_file():
            found.add(entry.name)
    return {lang: Locale.parse(lang).get_display_name(lang) or lang for lang in sorted(found)}


@functools.cache
def _supported() -> frozenset[str]:
    return frozenset(languages())


def words_for(lang: str | None) -> Words:
    """The words of ``lang`` (a tag such as ``es``, ``es-MX``, ``es_ES.UTF-8``);
    English for a language without a catalog. One shared object per language
    (so a frontend may key its encoders by it)."""
    return _words(choose(lang) or DEFAULT)


@functools.cache
def _words(lang: str) -> Words:  # cached by supported language only: tags come from users
    if lang == DEFAULT:
        return Words(DEFAULT, gettext.NullTranslations())
    return Words(lang, _translations(lang))


def _translations(lang: str) -> gettext.GNUTranslations:
    source = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with source.open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def choose(tag: str | None) -> str | None:
    """The supported language ``tag`` asks for, or ``None``.

    Accepts what people and systems write: ``es``, ``ES``, ``es-MX``, ``es_ES``,
    ``es_ES.UTF-8``, ``es_ES@euro``; ``C`` and ``POSIX`` choose nothing.
    """
    if not tag:
        return None
    base = tag.split(".", 1)[0].split("@", 1)[0].replace("_", "-").lower()
    lang = base.split("-", 1)[0]
    return lang if lang in _supported() else None


def from_environment(environ: Mapping[str, str] | None = None) -> str | None:
    """The language the environment asks for, in gettext's order: ``LANGUAGE``
    (a ``:`` list), ``LC_ALL``, ``LC_MESSAGES``, ``LANG``; ``None`` if none is
    supported (or the locale is ``C``)."""
    env = os.environ if environ is None else environ
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(variable)
        if not value:
            continue
        if variable != "LANGUAGE" and value.split(".")[0] in ("C", "POSIX"):
            return None  # an explicit C locale wins over what follows
        for tag in value.split(":"):
            if lang := choose(tag):
                return lang
    return None
