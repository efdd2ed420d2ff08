"""What the web port answers, sans-IO: an h11 request in, a response (or an upgrade) out.

Theory of operation
-------------------
Nothing here does I/O or imports trio: the server (:mod:`.server`) reads
requests with h11 and writes what :meth:`Site.answer` decides.

* ``/`` and the files of ``static/`` (loaded once from the package with
  importlib.resources; nothing is ever read from a path a request names),
  with an ETag: a matching ``If-None-Match`` gets 304.
* ``/ws``: a WebSocket upgrade (RFC 6455 section 4.2), checked here: the
  ``Origin`` must be the page's own (the ``Host``, in this port's scheme) or
  one allowed with ``--web-origin``, else 403 before any upgrade.
  No extension is accepted (no permessage-deflate: every member's frames are
  the same bytes), no subprotocol.
* The page, its files and ``/ws`` answer only to this server's names: an IP
  address, ``localhost``, this machine's host name, or one given with
  ``--web-host`` (or in ``--web-origin``); any other ``Host`` gets 421. A page
  of another site whose name was made to point at this server (DNS rebinding)
  would otherwise pass the ``Origin`` check, its origin and ``Host`` agreeing.
* ``/healthz``: 200 while the chat accepts people, 503 while shutting down.
* ``/metrics``: the callable's body and content type; 404 without one.
* ``/i18n/``: the page's languages, ``/i18n/LANG.json``: its catalog in LANG
  (:mod:`.words`), JSON built once per language, with an ETag like the files;
  404 for a language there is no catalog of.
* Anything else 404; a method other than GET or HEAD 405.

Every response carries the security headers: a Content-Security-Policy that
allows nothing but this origin's own files (no inline script or style),
nosniff, no referrer, no framing.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from urllib.parse import urlsplit

import h11
from wsproto.utilities import generate_accept_token

from trio_chat.core.limits import LogThrottle
from trio_chat.web.words import catalog_json, index_json

Headers = list[tuple[bytes, bytes]]
# What /metrics serves: a callable giving the body and its content type.
MetricsSource = Callable[[], tuple[bytes, str]]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: Headers = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
}
TEXT = "text/plain; charset=utf-8"
WEBSOCKET_PATH = "/ws"
WORDS_PATH = "/i18n/"
JSON = "application/json"
METHODS = (b"GET", b"HEAD")
# Answered whatever name the request used (monitoring uses its own names).
UNNAMED_PATHS = ("/healthz", "/metrics")


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = TEXT
    headers: tuple[tuple[bytes, bytes], ...] = ()
    # Close the connection after it (its request is not to be followed).
    close: bool = False

    def h11_headers(self, *, head: bool = False) -> Headers:
        """Its headers (the security ones included); ``head``: for a HEAD request."""
        headers = [(b"content-type", self.content_type.encode())]
        if self.status != 304:  # a 304 has no body, and no length of its own
            headers.append((b"content-length", str(len(self.body)).encode()))
        headers += [*SECURITY_HEADERS, *self.headers]
        if self.close:
            headers.append((b"connection", b"close"))
        return headers


@dataclass(frozen=True, slots=True)
class OriginRefused(Response):
    """The 403 of a WebSocket from a page of another origin (the server logs it)."""

    origin: str | None = None


@dataclass(frozen=True, slots=True)
class HostRefused(Response):
    """The 421 of a request for a name that is not this server's (the server logs it)."""

    name: str = ""


@dataclass(frozen=True, slots=True)
class Upgrade:
    """Switch to the WebSocket: send a 101 with ``headers``."""

    headers: tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: bytes


def static_file(body: bytes, content_type: str) -> StaticFile:
    """A body served as a file: its ETag is a digest of it."""
    etag = b'"' + hashlib.sha256(body).hexdigest()[:20].encode() + b'"'
    return StaticFile(body, content_type, etag)


def text_response(status: int, text: str, *, close: bool = False, **extra: str) -> Response:
    headers = tuple(
        (name.replace("_", "-").encode(), value.encode()) for name, value in extra.items()
    )
    return Response(status, (text + "\n").encode(), TEXT, headers, close)


def load_static(root: Traversable | None = None) -> dict[str, StaticFile]:
    """Every file of the package's ``static/`` folder, by URL path (``/app.js``)."""
    if root is None:
        root = importlib.resources.files("trio_chat.web") / "static"
    files: dict[str, StaticFile] = {}
    for path, item in _walk(root, ""):
        suffix = "." + item.name.rpartition(".")[2] if "." in item.name else ""
        content_type = CONTENT_TYPES.get(suffix.lower(), "application/octet-stream")
        files[path] = static_file(item.read_bytes(), content_type)
    if "/index.html" in files:
        files["/"] = files["/index.html"]
    return files


def _walk(folder: Traversable, prefix: str) -> Iterable[tuple[str, Traversable]]:
    for item in folder.iterdir():
        if item.name.startswith(".") or item.name == "__pycache__":
            continue
        path = f"{prefix}/{item.name}"
        if item.is_dir():
            yield from _walk(item, path)
        else:
            yield path, item


def revalidated(request: h11.Request, found: StaticFile) -> Response:
    """A file's answer: 200 with it, or 304 when the browser has this version."""
    cache = ((b"etag", found.etag), (b"cache-control", b"no-cache"))
    wanted = tokens(header(request, b"if-none-match"))
    if found.etag.decode() in wanted or "*" in wanted:
        return Response(304, b"", found.content_type, cache)
    return Response(200, found.body, found.content_type, cache)


def header(request: h11.Request, name: bytes) -> str | None:
    """A request header's value (several joined with ", "), or None."""
    values = [value for key, value in request.headers if key == name]
    return b", ".join(values).decode("latin-1") if values else None


def tokens(value: str | None) -> set[str]:
    """The comma-separated tokens of a header, lower-cased."""
    return {token.strip().lower() for token in (value or "").split(",") if token.strip()}


# What a Host header holds: a name or an IPv4 address, or an IPv6 one in
# brackets, and a port (RFC 9110 7.2); nothing else of a URL's authority.
HOST_HEADER = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^\s@/\\?#\[\]:]+)(:[0-9]{0,5})?")


def host_name(host: str) -> str | None:
    """The name in a ``Host`` header (no port, no brackets, lower case); None if none."""
    if not HOST_HEADER.fullmatch(host.strip()):
        return None
    try:
        name = urlsplit(f"//{host.strip()}").hostname
    except ValueError:
        return None
    return name.rstrip(".") if name else None


def is_address(name: str) -> bool:
    """Whether ``name`` is an IP address (which no DNS rebinding can use)."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def origin_of(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an origin, default port filled in; None if not one."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


class Site:
    """The web port's answers.

    Args:
        files: the static files, by URL path (see :func:`load_static`).
        accepting: whether the chat accepts people (``/healthz``, ``/ws``).
        metrics: what ``/metrics`` serves, if anything.
        origins: the origins allowed besides the page's own (``--web-origin``).
        secure: this port speaks TLS (the page's origin is ``https:``).
        names: the names the page and the chat answer to besides IP addresses,
            ``localhost`` and the hosts of ``origins`` (this machine's names,
            ``--web-host``); None: any name.
    """

    def __init__(
        self,
        files: dict[str, StaticFile],
        accepting: Callable[[], bool],
        *,
        metrics: MetricsSource | None = None,
        origins: Iterable[str] = (),
        secure: bool = False,
        names: Iterable[str] | None = None,
    ) -> None:
        self.files = files
        self.accepting = accepting
        self.metrics = metrics
        self.secure = secure
        allowed = [origin_of(origin) for origin in origins]
        self.origins = frozenset(origin for origin in allowed if origin is not None)
        self.names: frozenset[str] | None = None
        if names is not None:
            own = {name.lower().rstrip(".") for name in names}
            self.names = frozenset(own | {host for _, host, _ in self.origins})
        self._words: dict[str, StaticFile] = {}  # the page's catalogs, by path, once built
        # Log lines of refused origins, per address (a hostile page may retry in a loop).
        self.origin_log = LogThrottle()

    def answer(self, request: h11.Request) -> Response | Upgrade:
        path = request.target.decode("ascii", "replace").partition("?")[0]
        if request.method not in METHODS:
            return text_response(405, "method not allowed", allow="GET, HEAD")
        if path not in UNNAMED_PATHS:
            # The page and the chat: only for this server's names.
            refused = self.refuse_name(header(request, b"host"))
            if refused is not None:
                return refused
        if path == WEBSOCKET_PATH:
            return self.upgrade(request)
        if path == "/healthz":
            if self.accepting():
                return text_response(200, "ok")
            return text_response(503, "shutting down", retry_after="5")
        if path == "/metrics":
            if self.metrics is None:
                return text_response(404, "no metrics on this server")
            body, content_type = self.metrics()
            return Response(200, body, content_type, ((b"cache-control", b"no-store"),))
        found = self.words(path) if path.startswith(WORDS_PATH) else self.files.get(path)
        if found is None:
            return text_response(404, "not found")
        return revalidated(request, found)

    def words(self, path: str) -> StaticFile | None:
        """``/i18n/`` or ``/i18n/LANG.json`` (see :mod:`.words`), built at first ask."""
        found = self._words.get(path)
        if found is None:
            name = path.removeprefix(WORDS_PATH)
            if name == "":
                body: bytes | None = index_json()
            else:
                lang, dot, suffix = name.partition(".")
                body = catalog_json(lang) if dot and suffix == "json" else None
            if body is None:
                return None
            found = self._words[path] = static_file(body, JSON)
        return found

    def upgrade(self, request: h11.Request) -> Response | Upgrade:
        """The WebSocket handshake's answer (RFC 6455 4.2.2), or why not."""
        if request.method != b"GET":
            return text_response(405, "the WebSocket is opened with GET", allow="GET")
        if "websocket" not in tokens(header(request, b"upgrade")) or "upgrade" not in tokens(
            header(request, b"connection")
        ):
            return text_response(426, "this is the chat's WebSocket", upgrade="websocket")
        if header(request, b"sec-websocket-version") != "13":
            return text_response(426, "WebSocket version 13 only", sec_websocket_version="13")
        key = header(request, b"sec-websocket-key")
        if not key:
            return text_response(400, "no Sec-WebSocket-Key")
        origin = header(request, b"origin")
        if not self.origin_allowed(origin, header(request, b"host")):
            return OriginRefused(
                403, b"this page's origin may not use the chat\n", TEXT, close=True, origin=origin
            )
        if not self.accepting():
            return text_response(503, "the server is shutting down", close=True)
        accept = generate_accept_token(key.strip().encode("ascii", "replace"))
        return Upgrade(
            (
                (b"upgrade", b"websocket"),
                (b"connection", b"Upgrade"),
                (b"sec-websocket-accept", accept),
            )
        )

    def refuse_name(self, host: str | None) -> HostRefused | None:
        """The 421 for a ``Host`` that is not one of this server's names; None if it is.

        No ``Host`` (HTTP/1.0: not a browser) is let in, as no ``Origin`` is.
        """
        if self.names is None or host is None:
            return None
        name = host_name(host)
        if name is not None and (
            name in self.names
            or is_address(name)
            or name == "localhost"
            or name.endswith(".localhost")
        ):
            return None
        shown = name or "?"
        body = (
            f"this server does not answer to the name {shown}: if it is this server's name, "
            f"start the server with --web-host {shown}\n"
        )
        return HostRefused(421, body.encode(), TEXT, close=True, name=shown)

    def origin_allowed(self, origin: str | None, host: str | None) -> bool:
        """Same origin as ``host`` (this port's scheme), or allowed; no Origin: not a browser."""
        if origin is None:
            return True  # scripts and tools: the Origin check protects browsers' users
        claimed = origin_of(origin)
        if claimed is None:
            return False
        if claimed in self.origins:
            return True
        scheme = "https" if self.secure else "http"
        return host is not None and origin_of(f"{scheme}://{host}") == claimed
