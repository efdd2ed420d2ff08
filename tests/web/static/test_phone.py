"""The page on a phone with the longest names: nothing runs out of the screen or its drawers."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from .conftest import PHONE, Browsing, ChatServer, TextUser, log_in, say, sticking_out

LONGEST = "W" * 32  # the longest name (and room name) there is, in wide letters

# What of the drawers and the header is cut off: a drawer that scrolls sideways, a
# person's name wider than its button, the room's title running under the buttons.
CUT_OFF = """() => {
  const out = [];
  for (const drawer of document.querySelectorAll("#sidebar, #people")) {
    if (drawer.scrollWidth > drawer.clientWidth + 1) out.push(`${drawer.id} scrolls sideways`);
  }
  for (const person of document.querySelectorAll("#member-list .entry")) {
    if (person.scrollWidth > person.clientWidth + 1) out.push(`${person.textContent} is cut off`);
  }
  const title = document.getElementById("title").getBoundingClientRect();
  const people = document.getElementById("people-toggle").getBoundingClientRect();
  if (title.right > people.left) out.push("the title runs under the People button");
  return out;
}"""


def cut_off(page: Page) -> list[str]:
    found: list[str] = page.evaluate(CUT_OFF)
    return found + sticking_out(page)


def test_the_longest_names_fit_a_phone_with_its_drawers_open(
    server: ChatServer, browsing: Browsing
) -> None:
    page = browsing.page(viewport=PHONE)
    log_in(page, server.url, LONGEST)
    other = TextUser(server.port)
    try:
        other.join(LONGEST.lower()[:31] + "x")
        say(page, f"/join {LONGEST}")
        expect(page.locator("#title")).to_have_text(f"#{LONGEST}", ignore_case=True)
        other.send(f"/join {LONGEST}")
        expect(page.locator("#member-list .entry")).to_have_count(2)
        assert cut_off(page) == []
        page.locator("#people-toggle").click()
        expect(page.locator("#people")).to_be_visible()
        assert cut_off(page) == []
        page.keyboard.press("Escape")
        page.locator("#rooms-toggle").click()
        expect(page.locator("#sidebar")).to_be_visible()
        assert cut_off(page) == []
    finally:
        other.close()
