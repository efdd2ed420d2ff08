"""The page's files as shipped: what a strict CSP allows, and no HTML from strings."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib import resources

STATIC = resources.files("trio_chat.web") / "static"


def static_text(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def page_tags() -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(static_text("index.html"))
    return parser.tags


def test_index_has_no_inline_script_style_or_handler_and_loads_only_its_own_files() -> None:
    html = static_text("index.html")
    assert "<style" not in html
    assert re.search(r"<script[^>]*>\s*[^<\s]", html) is None  # every script is a src=
    for tag, attrs in page_tags():
        assert "style" not in attrs, tag
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        for name in ("src", "href"):
            value = attrs.get(name)
            if value is None or value.startswith("#"):
                continue
            # Nothing from elsewhere (no scheme, no //host), and it is shipped.
            assert re.search(r"//|:", value) is None, (tag, value)
            assert (STATIC / value).is_file(), value


def test_every_module_is_shipped_and_imports_only_shipped_modules() -> None:
    scripts = [attrs["src"] for tag, attrs in page_tags() if tag == "script"]
    assert scripts == ["app.js"]
    seen: set[str] = set()
    todo = ["app.js"]
    while todo:
        name = todo.pop()
        seen.add(name)
        for target in re.findall(r'^import .* from "\./([\w.]+)";$', static_text(name), re.M):
            assert (STATIC / target).is_file(), (name, target)
            if target not in seen:
                todo.append(target)
    assert seen == {path.name for path in STATIC.iterdir() if path.name.endswith(".js")}


def test_no_script_builds_html_from_strings() -> None:
    # User text reaches the page only as text (textContent, text nodes): never as HTML.
    forbidden = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
        r"setAttribute\(\s*[\"']style|\.style\."
    )
    comment = re.compile(r"^\s*//.*$", re.M)
    for path in STATIC.iterdir():
        if path.name.endswith(".js"):
            code = comment.sub("", path.read_text(encoding="utf-8"))
            assert forbidden.findall(code) == [], path.name
