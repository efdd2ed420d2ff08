"""The page's words: its catalogs served as JSON, and every marked text of its files extracted."""

from __future__ import annotations

import io
import json
import re
from importlib import resources

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract

from trio_chat.i18n import words_for
from trio_chat.tools.catalogs import KEYWORDS
from trio_chat.web import words
from trio_chat.web.routes import CONTENT_SECURITY_POLICY

from .conftest import WebConnector

STATIC = resources.files("trio_chat.web") / "static"
# The policy as the page was given it before it had languages: serving them loosens nothing.
STRICT = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


async def test_the_index_lists_the_languages_in_their_own_words(
    web_connector: WebConnector,
) -> None:
    answer = await web_connector.http().request("/i18n/")
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    assert json.loads(answer.body) == {
        "source": "en",
        "languages": [{"lang": "en", "name": "English"}, {"lang": "es", "name": "español"}],
    }


async def test_the_spanish_catalog_has_the_pages_messages_and_its_plural_rule_as_data(
    web_connector: WebConnector,
) -> None:
    answer = await web_connector.http().request("/i18n/es.json")
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    catalog = json.loads(answer.body.decode("utf-8"))
    assert (catalog["lang"], catalog["name"]) == ("es", "español")
    messages = catalog["messages"]
    assert messages["Join"] == "Entrar"
    assert messages["Send"] == "Enviar"
    assert messages["{name} (you)"] == "{name} (tú)"
    assert messages["{n} person"] == ["{n} persona", "{n} personas"]
    # Which of the two forms each of Intl.PluralRules' categories takes (no code to evaluate).
    assert catalog["plural"] == {"nplurals": 2, "categories": {"one": 0, "other": 1, "many": 1}}
    # Every message of the page's files is there (the HTML's and the script's), nothing else.
    assert set(messages) == page_msgids()


async def test_english_is_served_empty_and_an_unknown_language_is_404(
    web_connector: WebConnector,
) -> None:
    client = web_connector.http()
    english = json.loads((await client.request("/i18n/en.json")).body)
    assert english["messages"] == {}
    assert english["plural"]["categories"] == {"one": 0, "other": 1}
    for path in ("/i18n/fr.json", "/i18n/ES.json", "/i18n/es", "/i18n/es.po", "/i18n/../es.json"):
        answer = await client.request(path)
        assert answer.status == 404, path
        assert answer.headers["content-security-policy"] == STRICT


async def test_a_catalog_is_revalidated_by_its_etag_under_the_same_strict_policy(
    web_connector: WebConnector,
) -> None:
    client = web_connector.http()
    first = await client.request("/i18n/es.json")
    assert first.headers["cache-control"] == "no-cache"
    assert re.fullmatch(r'"[0-9a-f]{20}"', first.headers["etag"])
    assert first.headers["content-security-policy"] == CONTENT_SECURITY_POLICY == STRICT
    assert first.headers["x-content-type-options"] == "nosniff"
    again = await client.request("/i18n/es.json", headers={"If-None-Match": first.headers["etag"]})
    assert (again.status, again.body) == (304, b"")
    index = await client.request("/i18n/")
    assert index.headers["etag"] != first.headers["etag"]
    page = await client.request("/")
    assert page.headers["content-security-policy"] == STRICT


def test_only_translated_messages_of_the_page_are_served() -> None:
    catalog = Catalog(locale="es", domain="trio_chat")
    catalog.add("Join", "Entrar", [("trio_chat/web/static/index.html", None)])
    catalog.add("wrong password", "contraseña incorrecta", [("trio_chat/text/wording.py", None)])
    catalog.add("Send", "", [("trio_chat/web/static/index.html", None)])
    catalog.add("Quit", "Salir", [("trio_chat/web/static/index.html", None)], flags=["fuzzy"])
    catalog.add(
        ("{n} try", "{n} tries"), ("{n} intento", ""), [("trio_chat/web/static/app.js", None)]
    )
    assert words.page_messages(catalog) == {"Join": "Entrar"}


def test_a_plural_rule_that_cldr_categories_cannot_say_is_an_error() -> None:
    assert words.plural_categories("es", 2, lambda n: int(n != 1))["one"] == 0
    with pytest.raises(ValueError, match="category 'other'"):
        words.plural_categories("en", 2, lambda n: int(n >= 5))


def test_the_html_extractor_takes_marked_texts_and_attributes_only() -> None:
    html = b"""<p data-i18n>Pick  a
        name.</p><p>not marked</p>
    <input data-i18n="placeholder aria-label" placeholder="Message" aria-label="The message">
    <button data-i18n="text title" title="Sends it">Send</button>"""
    found = [(line, text) for line, _, text, _ in words.extract_html(io.BytesIO(html), {}, (), {})]
    assert sorted(found) == [
        (1, "Pick a name."),
        (3, "Message"),
        (3, "The message"),
        (4, "Send"),
        (4, "Sends it"),
    ]
    with pytest.raises(ValueError, match="inside a data-i18n text"):
        list(words.extract_html(io.BytesIO(b"<p data-i18n>a <b>b</b></p>"), {}, (), {}))


def test_every_marked_call_in_the_pages_scripts_is_extracted() -> None:
    # A call the extractor misses (a template literal, a variable) would never be translated.
    call = re.compile(r"(?<![\w.])(?:_|N_|ngettext)\(")
    comment = re.compile(r"^\s*//.*$", re.M)
    for path in STATIC.iterdir():
        # i18n.js defines them, and looks up the HTML's texts (extracted from the HTML).
        if not path.name.endswith(".js") or path.name == "i18n.js":
            continue
        code = path.read_text(encoding="utf-8")
        calls = len(call.findall(comment.sub("", code)))
        assert calls > 0 or path.name in ("text.js", "wire.js"), path.name
        found = list(extract("javascript", io.BytesIO(code.encode()), keywords=KEYWORDS))
        assert len(found) == calls, path.name


def test_the_spanish_words_on_the_server_side_come_from_the_same_file() -> None:
    served = json.loads(words.catalog_json("es") or b"{}")["messages"]
    _ = words_for("es")
    assert all(_(msgid) == text for msgid, text in served.items() if isinstance(text, str))


def page_msgids() -> set[str]:
    """The msgids (singular) of the page's HTML and scripts, as the catalog tool extracts them."""
    found: set[str] = set()
    for path in STATIC.iterdir():
        method = {"js": "javascript", "html": words.extract_html}.get(path.name.rpartition(".")[2])
        if method is None:
            continue
        with path.open("rb") as source:
            for _line, message, _comments, _context in extract(method, source, keywords=KEYWORDS):
                found.add(message[0] if isinstance(message, tuple) else message)
    return found
