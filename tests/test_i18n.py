"""Choosing a language and filling in its words (trio_chat/i18n.py)."""

from __future__ import annotations

import datetime as dt
import gettext
import io

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from trio_chat.i18n import DEFAULT, Words, choose, from_environment, words_for


@pytest.mark.parametrize(
    ("tag", "lang"),
    [
        ("es", "es"),
        ("ES", "es"),
        ("es-MX", "es"),
        ("es_ES.UTF-8", "es"),
        ("es_ES@euro", "es"),
        ("en-GB", "en"),
        ("fr", None),
        ("C", None),
        ("", None),
        (None, None),
    ],
)
def test_a_language_tag_chooses_a_catalog(tag: str | None, lang: str | None) -> None:
    assert choose(tag) == lang


@pytest.mark.parametrize(
    ("environ", "lang"),
    [
        ({"LANG": "es_AR.UTF-8"}, "es"),
        ({"LC_ALL": "es_ES.UTF-8", "LANG": "en_US.UTF-8"}, "es"),
        ({"LC_MESSAGES": "en_US.UTF-8", "LANG": "es_ES.UTF-8"}, "en"),
        ({"LANGUAGE": "fr:es", "LANG": "en_US.UTF-8"}, "es"),
        ({"LC_ALL": "C", "LANG": "es_ES.UTF-8"}, None),
        ({"LANG": "fr_FR.UTF-8"}, None),
        ({}, None),
    ],
)
def test_the_environment_chooses_as_gettext_does(environ: dict[str, str], lang: str | None) -> None:
    assert from_environment(environ) == lang


def test_an_unknown_language_gets_english_and_one_object_per_language() -> None:
    assert words_for("xx").lang == DEFAULT
    assert words_for("es-MX") is words_for("es")
    assert words_for(None)("the name {name} is taken", name="ana") == "the name ana is taken"


SPANISH = """
msgid ""
msgstr ""
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"

msgid "the name {name} is taken"
msgstr "el nombre {name} ya está en uso"

msgid "{n} try left"
msgid_plural "{n} tries left"
msgstr[0] "te queda un intento"
msgstr[1] "te quedan {n} intentos"
"""


def _spanish() -> Words:
    catalog = read_po(io.StringIO(SPANISH), locale="es")
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Words("es", gettext.GNUTranslations(compiled))


def test_words_fill_in_named_fields_and_plural_forms() -> None:
    _ = _spanish()
    assert _("the name {name} is taken", name="ana") == "el nombre ana ya está en uso"
    assert _.ngettext("{n} try left", "{n} tries left", 1) == "te queda un intento"
    assert _.ngettext("{n} try left", "{n} tries left", 3) == "te quedan 3 intentos"
    assert _("not in the catalog") == "not in the catalog"


def test_dates_and_durations_are_in_the_language() -> None:
    moment = dt.datetime(2026, 12, 1, 15, 4, 5)
    assert words_for("es").datetime(moment) == "1 dic 2026, 15:04:05"
    assert words_for("es").duration(180) == "3 minutos"
    assert words_for("en").duration(180) == "3 minutes"
