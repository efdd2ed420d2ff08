"""The translation catalogs: every message in every language, with the same fields."""

from __future__ import annotations

from babel.messages.catalog import Catalog

from trio_chat.i18n import languages
from trio_chat.tools import catalogs


def test_every_message_exists_in_every_language_with_the_same_fields() -> None:
    assert catalogs.check() == []


def test_spanish_is_there() -> None:
    assert languages() == {"en": "English", "es": "español"}


def _catalog(*messages: tuple[str | tuple[str, str], str | tuple[str, str]]) -> Catalog:
    catalog = Catalog(locale="es", domain="trio_chat")
    for source, translated in messages:
        catalog.add(source, translated)
    return catalog


def test_the_check_names_an_untranslated_message() -> None:
    found = list(catalogs.problems(_catalog(("the name {name} is taken", ""))))
    assert found == ["es: 'the name {name} is taken' is not translated"]


def test_the_check_names_a_translation_whose_fields_differ() -> None:
    found = list(catalogs.problems(_catalog(("the name {name} is taken", "{nombre} ya existe"))))
    assert found == ["es: 'the name {name} is taken': fields ['nombre'] instead of ['name']"]


def test_plural_forms_may_leave_out_n_but_not_add_fields() -> None:
    good = ("{n} try left", "{n} tries left"), ("un intento", "{n} intentos")
    assert list(catalogs.problems(_catalog(good))) == []
    bad = ("{n} try left", "{n} tries left"), ("{x} intento", "{n} intentos")
    assert len(list(catalogs.problems(_catalog(bad)))) == 1


def test_a_fuzzy_translation_is_not_ready() -> None:
    catalog = _catalog(("wrong password", "contraseña incorrecta"))
    catalog["wrong password"].flags.add("fuzzy")
    assert list(catalogs.problems(catalog)) == ["es: 'wrong password' is fuzzy"]
