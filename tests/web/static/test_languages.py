"""The page in the reader's language: Spanish for a Spanish browser, the switch, the server told."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Page, WebSocket, expect

from .conftest import PHONE, Browsing, ChatServer, TextUser, log_in, say, sticking_out

# Frames the page sent, as JSON objects, in order.
Sent = list[dict[str, object]]


def watch(page: Page) -> tuple[Sent, list[WebSocket]]:
    """What the page sends over its WebSockets (watched before it opens any)."""
    sent: Sent = []
    sockets: list[WebSocket] = []

    def opened(socket: WebSocket) -> None:
        sockets.append(socket)
        socket.on("framesent", lambda payload: sent.append(json.loads(payload)))

    page.on("websocket", opened)
    return sent, sockets


def is_lang_frame(payload: str | bytes) -> bool:
    return bool(json.loads(payload).get("type") == "lang")


def test_a_spanish_browser_gets_the_page_in_spanish_and_switching_words_it_again(
    server: ChatServer, text_user: TextUser, browsing: Browsing
) -> None:
    page = browsing.page(locale="es-ES", timezone="Europe/Madrid")
    sent, sockets = watch(page)
    page.goto(server.url)
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_label("Tu nombre", exact=True)).to_be_focused()
    expect(page.locator("#join-button")).to_have_text("Entrar en el chat")
    expect(page.get_by_label("Contraseña (solo si tu nombre está registrado)")).to_be_visible()
    expect(page.locator("#lang-login")).to_have_value("es")
    page.keyboard.press("Enter")
    expect(page.locator("#login-error")).to_have_text("Primero escribe un nombre.")
    page.keyboard.type("ana")
    page.keyboard.press("Enter")

    expect(page.get_by_label("Mensaje", exact=True)).to_be_focused()
    expect(page.locator("#message")).to_have_attribute(
        "placeholder", "Mensaje, o /help para ver los comandos"
    )
    expect(page.locator("#status")).to_have_text("Has entrado como ana.")
    expect(page.locator("#send-form button")).to_have_text("Enviar")
    expect(page.locator("#rooms-heading")).to_have_text("Salas")
    expect(page.locator("#people-heading")).to_have_text("Personas en #lobby (2)")
    expect(page.locator("#member-list")).to_contain_text("ana (tú)")
    expect(page.get_by_role("button", name="Escribir en privado a bob")).to_be_visible()
    lobby = page.locator("#room-list .entry", has_text="#lobby")
    expect(lobby.locator(".count")).to_have_attribute("aria-label", "2 personas")
    expect(page.get_by_role("log", name="Mensajes de #lobby")).to_have_count(1)
    assert sent[0] == {"type": "hello", "name": "ana", "lang": "es"}

    carl = TextUser(server.port)
    try:
        carl.join("carl")
        log = page.locator(".log-wrap:visible")
        expect(log.locator(".line.join")).to_have_text("carl ha entrado")
        expect(lobby.locator(".count")).to_have_attribute("aria-label", "3 personas")
        text_user.send("¿qué hora es?")
        stamp = log.locator(".msg", has_text="qué hora es").locator("time")
        expect(stamp).to_have_text(re.compile(r"^\d\d:\d\d$"))  # 24 hours, as Spain writes it
        expect(stamp).to_have_attribute("title", re.compile(r"\d{1,2} de \w+ de \d{4}"))

        # The switch: the page's own texts, worded again at once, no reload; the server is told.
        with sockets[0].expect_event("framesent", predicate=is_lang_frame) as told:
            page.locator("#lang-chat").select_option("en")
        assert json.loads(told.value) == {"type": "lang", "lang": "en"}
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("#message")).to_have_attribute(
            "placeholder", "Message, or /help for commands"
        )
        expect(page.locator("#status")).to_have_text("Connected as ana.")
        expect(page.locator("#send-form button")).to_have_text("Send")
        expect(page.locator("#rooms-heading")).to_have_text("Rooms")
        expect(page.locator("#people-heading")).to_have_text("People in #lobby (3)")
        expect(page.locator("#member-list")).to_contain_text("ana (you)")
        expect(lobby.locator(".count")).to_have_attribute("aria-label", "3 people")
        expect(page.get_by_role("log", name="Messages #lobby")).to_have_count(1)
        expect(log.locator(".line.join")).to_have_text("carl joined")
        expect(stamp).to_have_text(re.compile(r"^\d\d:\d\d [AP]M$"))
    finally:
        carl.close()
    # Remembered: the next visit is in English, whatever the browser's language.
    again = page.context.new_page()
    again.goto(server.url)
    expect(again.locator("#join-button")).to_have_text("Join the chat")
    expect(again.locator("html")).to_have_attribute("lang", "en")
    expect(again.locator("#lang-login")).to_have_value("en")


def test_an_english_browser_fetches_no_catalog_and_may_choose_spanish_before_joining(
    server: ChatServer, browsing: Browsing
) -> None:
    page = browsing.page(locale="en-GB")
    sent, _sockets = watch(page)
    page.goto(server.url)
    expect(page.locator(".lang-row").first).to_be_visible()  # once the server listed them
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert not [url for url in browsing.requests if url.endswith(".json")]
    expect(page.locator("#lang-login option")).to_have_text(["English", "español"])
    page.locator("#lang-login").select_option("es")
    expect(page.locator("#join-button")).to_have_text("Entrar en el chat")
    expect(page.locator(".skip")).to_have_text("Ir al campo del mensaje")
    assert f"{server.url}i18n/es.json" in browsing.requests
    page.locator("#name").fill("ana")
    page.locator("#name").press("Enter")
    expect(page.locator("#status")).to_have_text("Has entrado como ana.")
    assert sent[0] == {"type": "hello", "name": "ana", "lang": "es"}
    assert not [frame for frame in sent if frame["type"] == "lang"]  # the hello said it
    expect(page.locator("#lang-chat")).to_have_value("es")
    # /lang typed in the message field: the server answers in it, and the page follows.
    say(page, "/lang en")
    expect(page.locator(".log-wrap:visible .line.notice").last).to_have_text("Now speaking English")
    expect(page.locator("#send-form button")).to_have_text("Send")
    expect(page.locator("#lang-chat")).to_have_value("en")
    assert sent[-1] == {"type": "line", "room": "lobby", "text": "/lang en"}


def test_the_spanish_page_fits_a_phone_with_its_drawers_open(
    server: ChatServer, text_user: TextUser, browsing: Browsing
) -> None:
    page = browsing.page(viewport=PHONE, locale="es-MX")
    log_in(page, server.url, "ana")
    expect(page.locator("#rooms-toggle")).to_have_text("Salas")
    expect(page.locator("#people-toggle")).to_have_text("Personas")
    assert sticking_out(page) == []
    page.locator("#rooms-toggle").click()
    expect(page.locator("#quit-button")).to_have_text("Salir del chat")
    expect(page.locator("#lang-chat")).to_be_visible()
    assert sticking_out(page) == []
    page.keyboard.press("Escape")
    page.locator("#people-toggle").click()
    expect(page.locator("#member-list")).to_contain_text("bob")
    assert sticking_out(page) == []
