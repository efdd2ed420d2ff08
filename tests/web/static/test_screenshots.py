"""Screenshots of the page, desktop and phone, as the README shows them.

Every run takes them (so they cannot rot); ``make screenshots`` sets
TRIO_CHAT_SCREENSHOTS=docs to keep them as docs/screenshot-desktop.png and
docs/screenshot-phone.png.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from playwright.sync_api import Page, expect

from .conftest import DESKTOP, PHONE, Browsing, ChatServer, TextUser, log_in, say


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def scene(page: Page, server: ChatServer, users: list[TextUser]) -> None:
    """A little chat: a topic, some history, a private message, a second room."""
    bob, carl = users
    bob.send("/topic board games tonight: bring snacks")
    bob.expect("topic")
    bob.send("who is coming tonight?", "/me sets up the table")
    carl.expect("sets up the table")  # in this order in the history
    carl.send("me! see https://boardgamegeek.com/boardgame/13/catan")
    bob.expect("catan")
    log_in(page, server.url, "ana")
    page.locator("#join-room").fill("dev")
    page.locator("#join-room").press("Enter")
    expect(page.locator("#title")).to_have_text("#dev")
    page.locator("#room-list .entry", has_text="#lobby").click()
    expect(page.locator("#title")).to_have_text("#lobby")
    say(page, "count me in, I'll bring the cards")
    expect(page.locator(".msg.own")).to_have_count(1)
    carl.send("/msg ana can you bring the expansion too?")
    expect(page.locator("#private-list .unread")).to_have_text("1")
    bob.send("great, see you at 7")
    expect(page.locator(".log-wrap:visible .msg", has_text="see you at 7")).to_have_count(1)


def test_screenshots_of_the_page_on_a_desktop_and_a_phone(
    server: ChatServer, browsing: Browsing, tmp_path: Path
) -> None:
    keep = os.environ.get("TRIO_CHAT_SCREENSHOTS")
    where = Path(keep) if keep else tmp_path
    where.mkdir(parents=True, exist_ok=True)
    users = [TextUser(server.port), TextUser(server.port)]
    try:
        users[0].join("bob")
        users[1].join("carl")
        desktop = browsing.page(viewport=DESKTOP)
        scene(desktop, server, users)
        desktop.locator("#status").evaluate("status => { status.hidden = true; }")
        desktop.screenshot(path=where / "screenshot-desktop.png")
        phone = browsing.page(viewport=PHONE, scheme="dark")
        log_in(phone, server.url, "dana")
        users[0].send("dana is here too, on her phone")
        expect(phone.locator(".msg", has_text="on her phone")).to_have_count(1)
        phone.locator("#status").evaluate("status => { status.hidden = true; }")
        phone.screenshot(path=where / "screenshot-phone.png")
    finally:
        for user in users:
            user.close()
    assert png_size(where / "screenshot-desktop.png") == (DESKTOP["width"], DESKTOP["height"])
    assert png_size(where / "screenshot-phone.png") == (PHONE["width"], PHONE["height"])
