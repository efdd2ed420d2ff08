"""text.js, the one way user text enters the page, run in the browser on the page itself."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page

# Each test's code runs with text.js imported as `t`, in the served page (Playwright
# evaluates it as DevTools does: the page's CSP, which forbids eval, does not apply).
RUN = """async () => {
  const t = await import("/text.js");
  %s
}"""


@pytest.fixture
def page(blank_page: Page) -> Page:
    return blank_page


def run(page: Page, body: str) -> object:
    return page.evaluate(RUN % body)


LINKS = """
const p = document.createElement("p");
t.appendText(p, %s);
return {
  html: p.innerHTML,
  links: [...p.querySelectorAll("a")].map(a => [a.getAttribute("href"), a.textContent, a.rel]),
  text: p.textContent,
};
"""


def links(page: Page, text: str) -> dict[str, object]:
    found = run(page, LINKS % json.dumps(text))
    assert isinstance(found, dict)
    return found


def test_http_and_https_links_only_without_trailing_punctuation(page: Page) -> None:
    found = links(page, "see https://a.org/x?y=1). and http://b.org, not javascript:alert(1)")
    assert found["links"] == [
        ["https://a.org/x?y=1", "https://a.org/x?y=1", "noopener noreferrer"],
        ["http://b.org/", "http://b.org", "noopener noreferrer"],
    ]
    assert found["text"] == "see https://a.org/x?y=1). and http://b.org, not javascript:alert(1)"


def test_markup_stays_text(page: Page) -> None:
    found = links(page, '<img src=x onerror=alert(1)> "quoted" https://x.org/<b>')
    assert found["text"] == '<img src=x onerror=alert(1)> "quoted" https://x.org/<b>'
    assert "<img" not in str(found["html"])
    assert found["links"] == [["https://x.org/", "https://x.org/", "noopener noreferrer"]]


def test_a_bare_scheme_is_no_link(page: Page) -> None:
    assert links(page, "https:// alone")["links"] == []


def test_name_colours_are_stable_and_case_blind(page: Page) -> None:
    colours = run(
        page,
        "return ['ana', 'Ana', '\\uff21\\uff2e\\uff21', 'bob', 'carl'].map(t.nameColour);",
    )
    assert isinstance(colours, list)
    assert colours[0] == colours[1] == colours[2]
    assert all(colour.startswith("name-") for colour in colours)
    assert len(set(colours)) >= 2
    again = run(page, "return t.nameColour('bob');")
    assert again == colours[3]


def test_another_days_time_shows_its_date(page: Page) -> None:
    shown = run(
        page,
        """const now = new Date("2026-12-01T12:00:00Z");
        const today = t.timeElement(document, "2026-12-01T11:00:00.000Z", now);
        const before = t.timeElement(document, "2026-11-20T11:00:00.000Z", now);
        return [today.textContent, before.textContent, before.dateTime];""",
    )
    assert isinstance(shown, list)
    today, before, stamp = shown
    assert ":" in today
    assert before.endswith(today)
    assert len(before) > len(today)
    assert stamp == "2026-11-20T11:00:00.000Z"
