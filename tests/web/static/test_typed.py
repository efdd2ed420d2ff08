"""Text-protocol commands typed in the page's message field, and the colour scheme."""

from __future__ import annotations

from playwright.sync_api import expect

from .conftest import Browsing, ChatServer, TextUser, log_in, say


def test_me_who_and_history_typed_in_the_page(
    server: ChatServer, text_user: TextUser, browsing: Browsing
) -> None:
    text_user.send("an older line")
    page = browsing.page()
    log_in(page, server.url, "ana")
    log = page.locator(".log-wrap:visible")
    say(page, "/me waves")
    assert text_user.expect("waves") == "* ana waves"
    expect(log.locator(".msg.action.own")).to_have_count(1)
    expect(log.locator(".msg.action.own")).to_contain_text("* ana waves")
    say(page, "/who")
    expect(log.locator(".line").last).to_have_text("In #lobby (2): ana, bob")
    say(page, "/join dev")
    say(page, "/rooms")
    expect(page.locator(".log-wrap:visible .line").last).to_have_text("Rooms: #dev (1), #lobby (2)")
    page.locator("#room-list .entry", has_text="#lobby").click()
    say(page, "/history 5")
    # The answer merges into what is shown: the older line is still there once.
    expect(log.locator(".msg", has_text="an older line")).to_have_count(1)
    say(page, "/help")
    expect(log).to_contain_text("/msg NAME TEXT")


def test_me_in_a_private_conversation_stays_private(
    server: ChatServer, text_user: TextUser, browsing: Browsing
) -> None:
    page = browsing.page()
    log_in(page, server.url, "ana")
    say(page, "/join dev")
    expect(page.locator("#title")).to_have_text("#dev")
    text_user.send("/msg ana psst")
    page.locator("#private-list .entry", has_text="bob").click()
    say(page, "/me winks")
    # bob reads it privately, as IRC words a private action; #dev hears nothing.
    assert text_user.expect("winks") == "[private] ana: * ana winks"
    expect(page.locator(".log-wrap:visible .msg", has_text="winks")).to_have_count(1)
    page.locator("#room-list .entry", has_text="#dev").click()
    expect(page.locator(".log-wrap:visible")).not_to_contain_text("winks")


def test_light_and_dark_follow_the_systems_setting(server: ChatServer, browsing: Browsing) -> None:
    background = "getComputedStyle(document.body).backgroundColor"
    light = browsing.page(scheme="light")
    light.goto(server.url)
    dark = browsing.page(scheme="dark")
    dark.goto(server.url)
    assert light.evaluate(background) == "rgb(255, 255, 255)"
    red, green, blue = (int(part) for part in dark.evaluate(background)[4:-1].split(","))
    assert max(red, green, blue) < 64
