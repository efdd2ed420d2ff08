"""The chat page as a person uses it, in Debian's chromium, against the real server.

A browser user and a text (``nc``) user chat both ways, in #lobby and in another
room; history, private messages, what user text may not do to the page, a
taken name, a server restart, a phone's width, and a WebSocket from another site.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import Page, expect

from .conftest import (
    PHONE,
    STEP,
    TRIO_CHAT,
    Browsing,
    ChatServer,
    TextUser,
    log_in,
    say,
    sticking_out,
)

XSS = "<img src=x onerror=alert(1)>"


def messages(page: Page, text: str) -> object:
    """The messages of the conversation on screen that contain ``text``."""
    return page.locator(".log-wrap:visible .msg", has_text=text)


def test_a_browser_user_and_a_text_user_chat_both_ways_in_lobby_and_in_another_room(
    server: ChatServer, text_user: TextUser, browsing: Browsing
) -> None:
    page = browsing.page()
    page.goto(server.url)
    # On load the name field has the focus, and Enter joins.
    expect(page.locator("#name")).to_be_focused()
    page.keyboard.type("ana")
    page.keyboard.press("Enter")
    expect(page.locator("#message")).to_be_focused()
    expect(page.locator("#title")).to_have_text("#lobby")
    text_user.expect("ana joined")
    expect(page.locator("#member-list")).to_contain_text("bob")

    page.keyboard.type("hello bob, from the page")
    page.keyboard.press("Enter")
    assert text_user.expect("from the page") == "ana: hello bob, from the page"
    # Shown once, as the server sent it back (own messages are not shown before).
    expect(messages(page, "hello bob, from the page")).to_have_count(1)
    expect(page.locator(".msg.own", has_text="hello bob, from the page")).to_have_count(1)

    text_user.send("hello ana, from nc")
    line = messages(page, "hello ana, from nc")
    expect(line).to_have_count(1)
    expect(line.locator(".from")).to_have_text("bob")

    # The log is a live region screen readers announce; fields have labels.
    expect(page.get_by_role("log", name="Messages #lobby")).to_contain_text("from nc")
    expect(page.get_by_label("Message", exact=True)).to_be_focused()

    # Another room: the page types /join (and stays in #lobby too).
    say(page, "/join dev")
    expect(page.locator("#title")).to_have_text("#dev")
    text_user.send("news in the lobby")
    lobby = page.locator("#room-list .entry", has_text="#lobby")
    expect(lobby.locator(".unread")).to_have_text("1")
    expect(lobby.locator(".count")).to_have_text("2")
    page.keyboard.press("Alt+ArrowUp")  # keyboard: the previous room
    expect(page.locator("#title")).to_have_text("#lobby")
    expect(messages(page, "news in the lobby")).to_have_count(1)
    expect(lobby.locator(".unread")).to_have_count(0)
    page.locator("#room-list .entry", has_text="#dev").click()
    expect(page.locator("#title")).to_have_text("#dev")
    text_user.send("/join dev")
    text_user.expect("Now in #dev")
    expect(page.locator(".log-wrap:visible")).to_contain_text("bob joined")
    say(page, "in dev from the page")
    assert text_user.expect("in dev from the page") == "ana: in dev from the page"
    text_user.send("in dev from nc")
    expect(messages(page, "in dev from nc")).to_have_count(1)
    assert browsing.errors == []
    # Nothing from anywhere else (no CDN, no fonts, no trackers): only the page's files.
    own = (server.url, f"ws://127.0.0.1:{server.web_port}/ws")
    assert [url for url in browsing.requests if not url.startswith(own)] == []
    assert f"{server.url}app.js" in browsing.requests


def test_timestamps_are_in_the_browsers_local_time(
    server: ChatServer, text_user: TextUser, browsing: Browsing
) -> None:
    page = browsing.page(timezone="Asia/Kathmandu")  # UTC+05:45: no hour-only coincidence
    log_in(page, server.url, "ana")
    text_user.send("what time is it")
    stamp = messages(page, "what time is it").locator("time")
    expect(stamp).to_have_count(1)
    sent = datetime.fromisoformat(stamp.get_attribute("datetime") or "")
    assert abs((datetime.now(UTC) - sent).total_seconds()) < 60
    local = page.evaluate(
        "iso => new Date(iso).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit',"
        " timeZone: 'Asia/Kathmandu'})",
        sent.isoformat(),
    )
    expect(stamp).to_have_text(local)


def test_history_shows_on_entering_a_room_above_a_divider(
    server: ChatServer, text_user: TextUser, browsing: Browsing
) -> None:
    text_user.send("/join dev")
    text_user.expect("Now in #dev")
    text_user.send("said before ana came", "/me waves at nobody")
    page = browsing.page()
    log_in(page, server.url, "ana")
    # The join form (a button for the common /join).
    page.locator("#join-room").fill("dev")
    page.locator("#join-room").press("Enter")
    expect(page.locator("#title")).to_have_text("#dev")
    log = page.locator(".log-wrap:visible")
    expect(log.locator(".msg.past", has_text="said before ana came")).to_have_count(1)
    expect(log.locator(".msg.past.action", has_text="waves at nobody")).to_have_count(1)
    expect(log.locator(".divider")).to_be_visible()
    text_user.send("said after")
    expect(log.locator(".msg", has_text="said after")).to_have_count(1)
    order = log.locator(".msg, .divider").evaluate_all(
        "items => items.map(item => item.classList.contains('divider') ? '--'"
        " : item.textContent.slice(item.querySelector('time').textContent.length + 1))"
    )
    assert order == [
        "bob: said before ana came",
        "* bob waves at nobody",
        "--",
        "bob: said after",
    ]


def test_scrolling_up_loads_older_history(browsing: Browsing) -> None:
    server = ChatServer("--history", "10", "--exempt", "127.0.0.0/8")
    server.start()
    try:
        bob = TextUser(server.port)
        try:
            bob.join("bob")
            bob.send(*(f"old line {n}" for n in range(40)))
            bob.send("/history 1")  # answered once all 40 are in
            bob.expect("old line 39")
            page = browsing.page(viewport={"width": 900, "height": 300})  # 10 lines overflow it
            log_in(page, server.url, "ana")
            log = page.locator(".log-wrap:visible")
            expect(log.locator(".msg", has_text="old line 39")).to_have_count(1)
            expect(log.locator(".msg.past")).to_have_count(10)
            log.evaluate("wrap => { wrap.scrollTop = 0; }")
            expect(log.locator(".msg.past")).to_have_count(40)
            expect(log.locator(".msg").first).to_contain_text("old line 0")
        finally:
            bob.close()
    finally:
        server.stop()


def test_a_private_message_is_shown_apart_and_answered_privately(
    server: ChatServer, text_user: TextUser, browsing: Browsing
) -> None:
    page = browsing.page()
    log_in(page, server.url, "ana")
    text_user.send("/msg ana only for you")
    private = page.locator("#private-list .entry", has_text="bob")
    expect(private.locator(".unread")).to_have_text("1")
    expect(page.locator("#status")).to_have_text("Private message from bob")
    expect(page.locator(".log-wrap:visible")).not_to_contain_text("only for you")
    private.click()
    expect(page.locator("#title")).to_have_text("Private: bob")
    expect(messages(page, "only for you")).to_have_count(1)
    say(page, "got it")
    assert text_user.expect("got it") == "[private] ana: got it"
    expect(messages(page, "got it")).to_have_count(1)


def test_keyboard_only_a_person_in_the_list_opens_a_private_conversation(
    server: ChatServer, text_user: TextUser, browsing: Browsing
) -> None:
    page = browsing.page()
    log_in(page, server.url, "ana")
    person = page.get_by_role("button", name="Write privately to bob")
    focused = "document.activeElement.getAttribute('aria-label')"
    for _ in range(40):  # Tab through the page up to the person
        if page.evaluate(focused) == "Write privately to bob":
            break
        page.keyboard.press("Tab")
    expect(person).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#title")).to_have_text("Private: bob")
    expect(page.locator("#message")).to_be_focused()
    page.keyboard.type("psst")
    page.keyboard.press("Enter")
    assert text_user.expect("psst") == "[private] ana: psst"


def test_user_text_is_only_ever_text_and_links_are_http_only(
    server: ChatServer, text_user: TextUser, browsing: Browsing
) -> None:
    page = browsing.page()
    log_in(page, server.url, "ana")
    text_user.send(XSS, "see https://example.org/a?b=1. or javascript:alert(2)")
    shown = messages(page, "onerror")
    expect(shown.locator(".text")).to_have_text(XSS)
    link = messages(page, "example.org").locator("a")
    expect(link).to_have_count(1)
    expect(link).to_have_attribute("href", "https://example.org/a?b=1")
    expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
    assert page.locator("#logs img").count() == 0
    say(page, XSS)
    expect(page.locator(".msg.own .text")).to_have_text(XSS)
    assert page.locator("#logs img").count() == 0
    assert browsing.dialogs == []


def test_a_second_tab_with_the_same_name_is_refused_with_a_clear_message(
    server: ChatServer, browsing: Browsing
) -> None:
    first = browsing.page()
    log_in(first, server.url, "ana")
    second = browsing.page()
    second.goto(server.url)
    second.keyboard.type("ana")
    second.keyboard.press("Enter")
    expect(second.locator("#login-error")).to_contain_text(re.compile(r"ana.*(taken|in use)", re.I))
    expect(second.locator("#chat")).to_be_hidden()
    expect(second.locator("#name")).to_be_focused()
    # The first tab is still in.
    say(first, "still here")
    expect(messages(first, "still here")).to_have_count(1)


def test_the_page_reconnects_after_a_server_restart_and_says_so(
    server: ChatServer, browsing: Browsing
) -> None:
    page = browsing.page()
    log_in(page, server.url, "ana")
    server.stop()
    expect(page.locator(".log-wrap:visible")).to_contain_text("Disconnected")
    expect(page.locator("#status")).to_contain_text("reconnecting in")
    say(page, "typed while away")  # kept, and sent once back in
    expect(page.locator(".log-wrap:visible .line").last).to_contain_text("Not connected")
    server.start()
    expect(page.locator("#status")).to_have_text("Reconnected as ana.", timeout=3 * STEP * 1000)
    bob = TextUser(server.port)
    try:
        bob.join("bob")
        bob.expect("ana: typed while away")  # in the history bob is shown on entering
        say(page, "back again")
        assert bob.expect("back again") == "ana: back again"
    finally:
        bob.close()


def test_reconnecting_waits_twice_as_long_each_time(server: ChatServer, browsing: Browsing) -> None:
    page = browsing.page()
    page.clock.install()
    log_in(page, server.url, "ana")
    # Installed, the page's clock still follows real time; paused, only run_for moves
    # it (a loaded machine must not make attempts while the test is not looking).
    page.clock.pause_at(page.evaluate("Date.now()") + 10)
    server.stop()
    status = page.locator("#status")
    waits = []
    for attempt in range(1, 6):
        expect(status).to_contain_text(f"(attempt {attempt})")
        found = re.search(r"reconnecting in ([\d.]+) s", status.inner_text())
        assert found, status.inner_text()
        waits.append(float(found.group(1)))
        page.clock.run_for(int(waits[-1] * 1000) + 50)
    for base, wait in zip([1, 2, 4, 8, 16], waits, strict=True):
        assert 0.8 * base - 0.1 <= wait <= 1.2 * base + 0.1, waits


def test_a_connection_gone_silent_is_given_up_and_replaced(
    server: ChatServer, browsing: Browsing
) -> None:
    # Wi-Fi gone without a close: the server is frozen (SIGSTOP), its TCP connection
    # stays up but nothing answers. The page's clock is Playwright's, moved on by hand.
    page = browsing.page()
    page.clock.install()
    log_in(page, server.url, "ana")
    assert server.process is not None
    server.process.send_signal(signal.SIGSTOP)
    try:
        page.clock.run_for(31_000)  # the room list is asked for again: no answer
        page.clock.run_for(11_000)  # given up 10 s later
        expect(page.locator(".log-wrap:visible")).to_contain_text("Disconnected")
        expect(page.locator("#status")).to_contain_text("reconnecting in")
    finally:
        server.process.send_signal(signal.SIGCONT)
    expect(page.locator("#status")).to_have_text("Reconnected as ana.", timeout=3 * STEP * 1000)


def test_the_buttons_set_the_topic_and_leave_a_room_and_nick_renames(
    server: ChatServer, text_user: TextUser, browsing: Browsing
) -> None:
    page = browsing.page()
    log_in(page, server.url, "ana")
    page.locator("#topic-button").click()
    expect(page.locator("#message")).to_be_focused()
    expect(page.locator("#message")).to_have_value("/topic ")
    page.keyboard.type("games at 7")
    page.keyboard.press("Enter")
    expect(page.locator("#topic")).to_have_text("games at 7")
    text_user.expect("games at 7")
    say(page, "/join dev")
    expect(page.locator("#title")).to_have_text("#dev")
    page.locator("#leave-button").click()
    expect(page.locator("#title")).to_have_text("#lobby")
    joined = page.locator("#room-list li.joined .entry-name")
    expect(joined).to_have_text(["#lobby"])
    say(page, "/nick anna")
    expect(page.locator("#member-list")).to_contain_text("anna (you)")
    assert "anna" in text_user.expect("anna")
    say(page, "renamed")
    assert text_user.expect("renamed") == "anna: renamed"
    expect(page.locator(".msg.own", has_text="renamed")).to_have_count(1)


def test_quit_leaves_for_good_until_join_again(server: ChatServer, browsing: Browsing) -> None:
    page = browsing.page()
    log_in(page, server.url, "ana")
    say(page, "/quit see you")
    expect(page.locator("#left")).to_be_visible()
    expect(page.locator("#left-text")).to_contain_text("Bye")
    expect(page.locator("#again-button")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#name")).to_be_focused()
    expect(page.locator("#name")).to_have_value("ana")
    page.keyboard.press("Enter")
    expect(page.locator("#message")).to_be_focused()


def test_the_page_served_over_https_chats_over_wss(tmp_path: Path, browsing: Browsing) -> None:
    made = subprocess.run(
        [TRIO_CHAT, "cert", "--out", str(tmp_path)], capture_output=True, timeout=STEP, check=False
    )
    assert made.returncode == 0, made.stderr
    server = ChatServer(
        "--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem")
    )
    server.start()
    try:
        page = browsing.page(ignore_https_errors=True)
        sockets: list[str] = []
        page.on("websocket", lambda socket: sockets.append(socket.url))
        log_in(page, server.url.replace("http:", "https:"), "ana")
        assert sockets == [f"wss://127.0.0.1:{server.web_port}/ws"]
        say(page, "over TLS")
        expect(messages(page, "over TLS")).to_have_count(1)
    finally:
        server.stop()


def test_a_phone_sized_viewport_has_no_horizontal_scroll(
    server: ChatServer, text_user: TextUser, browsing: Browsing
) -> None:
    page = browsing.page(viewport=PHONE)
    log_in(page, server.url, "ana")
    long_word = "x" * 300
    text_user.send(long_word, "https://example.org/" + "long/" * 60)
    expect(messages(page, long_word)).to_have_count(1)
    expect(messages(page, "long/long/")).to_have_count(1)
    assert sticking_out(page) == []
    # The rooms and people lists open as drawers, and fit too.
    page.locator("#rooms-toggle").click()
    expect(page.locator("#room-list")).to_contain_text("#lobby")
    assert sticking_out(page) == []
    page.keyboard.press("Escape")
    expect(page.locator("#rooms-toggle")).to_be_focused()
    expect(page.locator("#sidebar")).to_be_hidden()
    page.locator("#people-toggle").click()
    expect(page.locator("#member-list")).to_contain_text("bob")
    assert sticking_out(page) == []


OPEN_SOCKET = """url => new Promise(done => {
  const socket = new WebSocket(url);
  socket.onopen = () => { socket.close(); done("open"); };
  socket.onclose = (event) => done(`closed ${event.code}`);
})"""


def test_a_websocket_from_a_page_of_another_site_is_refused(
    server: ChatServer, browsing: Browsing
) -> None:
    ws = f"ws://127.0.0.1:{server.web_port}/ws"
    own = browsing.page()
    own.goto(server.url)
    assert own.evaluate(OPEN_SOCKET, ws) == "open"
    other = browsing.page()
    other.route("http://elsewhere.test/", lambda route: route.fulfill(body="<p>other site</p>"))
    other.goto("http://elsewhere.test/")
    assert other.evaluate(OPEN_SOCKET, ws) == "closed 1006"


def test_a_handshake_with_a_foreign_origin_header_gets_403(server: ChatServer) -> None:
    def handshake(origin: str) -> str:
        request = (
            "GET /ws HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.web_port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {origin}\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", server.web_port), timeout=STEP) as conn:
            conn.sendall(request.encode())
            return conn.recv(65536).decode(errors="replace").split("\r\n", 1)[0]

    assert handshake(f"http://127.0.0.1:{server.web_port}").startswith("HTTP/1.1 101")
    assert handshake("http://evil.example").startswith("HTTP/1.1 403")
