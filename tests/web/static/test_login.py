"""Logging in from the page: a server password when the server asks, a registered name's."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from .conftest import Browsing, ChatServer, TextUser, log_in, say


def test_the_page_asks_for_the_server_password_when_the_server_has_one(
    tmp_path: Path, browsing: Browsing
) -> None:
    door = tmp_path / "door.txt"
    door.write_text("open sesame\n")
    server = ChatServer("--password-file", str(door))
    server.start()
    try:
        page = browsing.page()
        page.goto(server.url)
        expect(page.locator("#server-password")).to_be_hidden()
        page.keyboard.type("ana")
        page.keyboard.press("Enter")
        expect(page.locator("#server-password")).to_be_focused()
        expect(page.locator("#login-error")).to_contain_text("password")
        page.keyboard.type("open sesame")
        page.keyboard.press("Enter")
        expect(page.locator("#message")).to_be_focused()
        expect(page.locator("#title")).to_have_text("#lobby")
    finally:
        server.stop()


def test_a_registered_name_logs_in_with_its_password(
    server: ChatServer, browsing: Browsing
) -> None:
    carl = TextUser(server.port)
    try:
        carl.join("carl")
        carl.send("/register sesame123")
        carl.expect("registered")
        carl.send("/quit")
        carl.expect("Bye")
    finally:
        carl.close()
    page = browsing.page()
    page.goto(server.url)
    page.keyboard.type("carl")
    page.keyboard.press("Enter")
    expect(page.locator("#password")).to_be_focused()
    expect(page.locator("#login-error")).to_contain_text("carl")
    page.keyboard.type("not it!")
    page.keyboard.press("Enter")
    expect(page.locator("#login-error")).to_contain_text("wrong password")
    expect(page.locator("#password")).to_be_focused()
    page.locator("#password").fill("sesame123")
    page.keyboard.press("Enter")
    expect(page.locator("#message")).to_be_focused()
    expect(page.locator("#member-list")).to_contain_text("carl (you)")


def test_an_operator_on_the_page_kicks_and_the_kicked_page_stays_out(
    tmp_path: Path, browsing: Browsing
) -> None:
    opers = tmp_path / "oper.txt"
    opers.write_text("chief\n")
    server = ChatServer("--oper-password-file", str(opers))
    server.start()
    try:
        bob = TextUser(server.port)
        try:
            bob.join("bob")
            op = browsing.page()
            log_in(op, server.url, "ana")
            kicked = browsing.page()
            log_in(kicked, server.url, "carl")
            say(op, "/oper chief")
            expect(op.locator(".log-wrap:visible .line").last).to_contain_text("operator")
            say(op, "/kick carl spam")
            expect(kicked.locator("#left-text")).to_contain_text("kicked by ana")
            expect(op.locator(".log-wrap:visible")).to_contain_text("kicked by ana: spam")
            say(op, "/kick bob")
            bob.expect("kicked by ana")
        finally:
            bob.close()
    finally:
        server.stop()
