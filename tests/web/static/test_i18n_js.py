"""i18n.js, the page's words, run in the browser with the catalogs the server makes."""

from __future__ import annotations

from playwright.sync_api import Page

# Each test's code runs with i18n.js imported as `i` (see test_text_js.py: DevTools'
# evaluation, which the page's CSP does not govern; the module itself evaluates nothing).
RUN = """async () => {
  const i = await import("/i18n.js");
  %s
}"""


def run(page: Page, body: str) -> object:
    return page.evaluate(RUN % body)


def test_english_fills_named_fields_and_keeps_braces(blank_page: Page) -> None:
    shown = run(
        blank_page,
        """return [
          i._("Join"),
          i._("{name} joined", {name: "ana"}),
          i._("{{literal}} {name} {missing}", {name: "ana"}),
          i._("{n} unread"),
          i.ngettext("{n} person", "{n} people", 1),
          i.ngettext("{n} person", "{n} people", 3),
          i.language(),
        ];""",
    )
    assert shown == ["Join", "ana joined", "{literal} ana {missing}", "{n} unread", "1 person",
                     "3 people", "en"]  # fmt: skip


def test_spanish_words_and_its_plural_forms_from_the_served_catalog(blank_page: Page) -> None:
    shown = run(
        blank_page,
        """await i.use("es");
        return [
          document.documentElement.lang,
          i._("Join"),
          i._("{name} (you)", {name: "ana"}),
          i._("a message nobody marked"),
          i.ngettext("{n} person", "{n} people", 1),
          i.ngettext("{n} person", "{n} people", 2),
          i.ngettext("{n} person", "{n} people", 0),
          i.ngettext("{n} person", "{n} people", 1000000),
          i.number(1.5),
        ];""",
    )
    assert shown == ["es", "Entrar", "ana (tú)", "a message nobody marked", "1 persona",
                     "2 personas", "0 personas", "1000000 personas", "1,5"]  # fmt: skip


def test_marked_html_is_worded_again_at_each_switch(blank_page: Page) -> None:
    shown = run(
        blank_page,
        """document.body.innerHTML = '<button data-i18n>Send</button>'
          + '<input data-i18n="placeholder aria-label" placeholder="Message" aria-label="Message">';
        const [button, field] = document.body.children;
        const seen = [];
        i.onLanguage((lang) => seen.push(lang));
        await i.use("es");
        const spanish = [button.textContent, field.placeholder, field.getAttribute("aria-label")];
        await i.use("en");
        return [spanish, [button.textContent, field.placeholder], seen];""",
    )
    assert shown == [["Enviar", "Mensaje", "Mensaje"], ["Send", "Message"], ["es", "en"]]


def test_the_first_language_the_browser_asks_for_that_the_server_has(blank_page: Page) -> None:
    shown = run(
        blank_page,
        """const have = await i.available();
        localStorage.clear();
        const first = [
          i.choose(have, ["fr-FR", "es-MX", "en"]),
          i.choose(have, ["de"]),
          i.choose(have, ["ES"]),
        ];
        i.remember("en");
        return [have.map((entry) => entry.lang), first, i.choose(have, ["es-ES"])];""",
    )
    assert shown == [["en", "es"], ["es", "en", "es"], "en"]


def test_an_unknown_language_fails_and_changes_nothing(blank_page: Page) -> None:
    shown = run(
        blank_page,
        """await i.use("es");
        let failed = false;
        try { await i.use("xx"); } catch { failed = true; }
        return [failed, i.language(), i._("Send")];""",
    )
    assert shown == [True, "es", "Enviar"]
