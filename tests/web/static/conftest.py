"""The page in a real browser: Debian's chromium through Playwright, the server in a subprocess.

Sync Playwright runs its own event loop: inside the server's trio loop it
would starve the server, so the server here is ``trio-chat serve`` as a
program (:class:`ChatServer`), and a text user is a plain socket
(:class:`TextUser`, what ``nc`` does). One browser serves every test of a
module; each test gets fresh contexts (its own cookies, storage, tabs).
Every wait is bounded: Playwright's by the context's default timeout, the
server's and the socket's by ``STEP``.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, sync_playwright

from trio_chat.web.words import catalog_json, index_json

# No single wait in these tests may take longer than this (seconds).
STEP = 10.0
TRIO_CHAT = str(Path(sys.executable).parent / "trio-chat")
CHROMIUM = "/usr/bin/chromium"
# What a headless chromium needs here (see /work/shared/ECOSYSTEM.md): no sandbox
# as root, no GPU, and none of its own calls home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1200, "height": 760}
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    """A loopback port nobody listens on now (the server is told it, to be restarted on it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ChatServer:
    """``trio-chat serve`` on loopback: the text door on ``port``, the web door on ``web_port``."""

    def __init__(self, *extra: str) -> None:
        self.port = free_port()
        self.web_port = free_port()
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None
        self.log: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}/"

    def start(self) -> None:
        """Start it and wait until both doors listen (their ports in its log)."""
        self.process = subprocess.Popen(
            [
                TRIO_CHAT,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--web-port",
                str(self.web_port),
                "--no-irc",
                "--db",
                ":memory:",
                *self.extra,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._read_until(f":{self.port}")
        self._read_until(f":{self.web_port}")

    def _read_until(self, wanted: str) -> None:
        if any(wanted in line for line in self.log):
            return
        assert self.process is not None
        assert self.process.stderr is not None
        stream = self.process.stderr
        deadline = time.monotonic() + STEP
        pending = b""
        with selectors.DefaultSelector() as selector:
            selector.register(stream, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(deadline - time.monotonic()):
                    break
                data = os.read(stream.fileno(), 65536)
                if not data:
                    break
                pending += data
                *lines, pending = pending.split(b"\n")
                self.log += [line.decode(errors="replace") for line in lines]
                if any(wanted in line for line in self.log):
                    return
        raise AssertionError(f"the server never logged {wanted!r}; its log: {self.log}")

    def stop(self) -> int:
        """Stop it as Ctrl+C does (everyone is told), and wait for it to end."""
        assert self.process is not None
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            code = process.wait(STEP)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        assert process.stderr is not None
        self.log += process.stderr.read().decode(errors="replace").splitlines()
        process.stderr.close()
        return code

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def server() -> Iterator[ChatServer]:
    """A fresh server for the test (history in memory), stopped after it."""
    chat = ChatServer()
    chat.start()
    try:
        yield chat
    finally:
        if chat.process is not None:
            chat.stop()


class TextUser:
    """A text-protocol user over TCP, as with ``nc``: send lines, wait for one."""

    def __init__(self, port: int) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=STEP)
        self.buffer = b""
        self.lines: list[str] = []

    def send(self, *lines: str) -> None:
        self.socket.sendall("".join(line + "\n" for line in lines).encode())

    def line(self) -> str:
        while b"\n" not in self.buffer:
            data = self.socket.recv(65536)  # at most STEP seconds (the socket's timeout)
            if not data:
                raise EOFError(f"closed; seen: {self.lines}")
            self.buffer += data
        raw, _, self.buffer = self.buffer.partition(b"\n")
        line = raw.decode().rstrip("\r")
        self.lines.append(line)
        return line

    def expect(self, wanted: str) -> str:
        """The next line containing ``wanted`` (lines before it are passed over)."""
        deadline = time.monotonic() + STEP
        while time.monotonic() < deadline:
            line = self.line()
            if wanted in line:
                return line
        raise AssertionError(f"no line with {wanted!r}; seen: {self.lines}")

    def join(self, name: str) -> None:
        self.expect("*** Hello!")
        self.send(name)
        self.expect("*** Welcome")

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def text_user(server: ChatServer) -> Iterator[TextUser]:
    """ "bob", a text user on the test's server (in #lobby)."""
    bob = TextUser(server.port)
    try:
        bob.join("bob")
        yield bob
    finally:
        bob.close()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One chromium for the module's tests (a fresh one costs seconds each)."""
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()


class Browsing:
    """Opens pages in fresh browser contexts; records errors and dialogs."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []  # every URL the pages asked for

    def page(
        self,
        viewport: dict[str, int] = DESKTOP,
        scheme: str = "light",
        timezone: str | None = None,
        ignore_https_errors: bool = False,
        locale: str = "en-US",
    ) -> Page:
        """A tab in a context of its own (a fresh profile: like another person's browser),
        whose language is ``locale`` (``navigator.language``: the page's language)."""
        context = self.browser.new_context(
            locale=locale,
            viewport=viewport,  # type: ignore[arg-type]
            color_scheme=scheme,  # type: ignore[arg-type]
            timezone_id=timezone,
            ignore_https_errors=ignore_https_errors,
        )
        context.set_default_timeout(STEP * 1000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console)
        page.on("dialog", self._dialog)
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("websocket", lambda socket: self.requests.append(socket.url))
        return page

    def _console(self, message: object) -> None:
        if getattr(message, "type", "") == "error":
            self.errors.append(getattr(message, "text", str(message)))

    def _dialog(self, dialog: object) -> None:
        self.dialogs.append(getattr(dialog, "message", "?"))
        dialog.dismiss()  # type: ignore[attr-defined]

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def browsing(browser: Browser) -> Iterator[Browsing]:
    pages = Browsing(browser)
    try:
        yield pages
    finally:
        pages.close()


STATIC = resources.files("trio_chat.web") / "static"


def serve_static(route: Route) -> None:
    """The package's static files (and the page's catalogs) at http://page.test/, no server."""
    name = route.request.url.removeprefix("http://page.test/") or "index.html"
    kind = {"js": "text/javascript", "css": "text/css", "html": "text/html"}
    found = STATIC / name
    if name == "blank":  # a page of this origin without the app (it would connect)
        route.fulfill(body="<!doctype html><title>blank</title>", content_type="text/html")
    elif name.startswith("i18n/"):
        lang = name.removeprefix("i18n/").removesuffix(".json")
        body = index_json() if lang == "" else catalog_json(lang)
        if body is None:
            route.fulfill(status=404)
        else:
            route.fulfill(body=body, content_type="application/json")
    elif found.is_file():
        suffix = name.rsplit(".", 1)[-1]
        route.fulfill(body=found.read_bytes(), content_type=kind.get(suffix, "text/plain"))
    else:
        route.fulfill(status=404)


@pytest.fixture
def blank_page(browsing: Browsing) -> Page:
    """A tab on http://page.test/, the page's files without the app: for their modules."""
    tab = browsing.page()
    tab.route("http://page.test/**", serve_static)
    tab.goto("http://page.test/blank")
    return tab


def log_in(page: Page, url: str, name: str) -> None:
    """Open the page, type the name (the field has the focus), Enter; wait until in."""
    page.goto(url)
    page.keyboard.type(name)
    page.keyboard.press("Enter")
    page.locator("#message:focus").wait_for()


def say(page: Page, text: str) -> None:
    """Type a line in the message field and press Enter, as a user does."""
    field = page.locator("#message")
    field.fill(text)
    field.press("Enter")


# What sticks out sideways: the page's scroll width over its width, and every element
# shown whose right edge is past the window's or whose content is wider than its box
# (cut off by an overflow: hidden, which would hide a scroll bar but not the harm).
STICKING_OUT = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  if (document.documentElement.scrollWidth > width) out.push("the page scrolls sideways");
  for (const element of document.querySelectorAll("body *")) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 || element.closest(".topic")) continue;
    const name = `${element.tagName}.${element.className}: ${element.textContent.slice(0, 30)}`;
    if (box.right > width + 1) out.push(`${name} ends at ${box.right} of ${width}`);
    if (element.matches(".log li") && element.scrollWidth > element.clientWidth + 1) {
      out.push(`${name} is cut off`);
    }
  }
  return out;
}"""


def sticking_out(page: Page) -> list[str]:
    """What of the page sticks out sideways (empty when nothing does)."""
    found: list[str] = page.evaluate(STICKING_OUT)
    return found
