"""SASL PLAIN over ``AUTHENTICATE``, sans-IO: chunks in, one outcome out.

IRCv3 sasl-3.1/3.2: the client names a mechanism (``AUTHENTICATE PLAIN``), the
server answers ``AUTHENTICATE +``, the client sends its response base64-encoded
in chunks of 400 bytes (a chunk shorter than 400, or ``+`` after a full one,
ends it), ``*`` aborts. The PLAIN response is ``authzid NUL authcid NUL passwd``
(RFC 4616); we allow no authzid other than the authcid (no impersonation).

The exchange knows no accounts: it yields the credentials, and the session asks
the chat service whether they are right. Sessions word the outcomes as numerics.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from trio_chat.core.names import MAX_NAME_CHARS
from trio_chat.core.passwords import MAX_PASSWORD_CHARS

MECHANISMS = ("PLAIN",)
CHUNK = 400
# A PLAIN response longer than this (decoded) is no honest login: 904 at once. It
# holds two names and the longest password, 4 bytes a character at most.
MAX_RESPONSE = 4 * (2 * MAX_NAME_CHARS + MAX_PASSWORD_CHARS) + 2


@dataclass(frozen=True, slots=True)
class Credentials:
    """A complete PLAIN response: who logs in, with what password."""

    account: str
    password: str


@dataclass(frozen=True, slots=True)
class Continue:
    """Send ``AUTHENTICATE +`` (more data welcome) if ``prompt``, else nothing yet."""

    prompt: bool


@dataclass(frozen=True, slots=True)
class Failed:
    """The exchange ended without credentials: ``reason`` is "unknown-mechanism" (908 then
    904), "malformed" (904), "too-long" (905) or "aborted" (906)."""

    reason: str


Step = Credentials | Continue | Failed


class PlainExchange:
    """One ``AUTHENTICATE`` exchange, from the mechanism to its end."""

    def __init__(self) -> None:
        self.mechanism: str | None = None
        self._chunks: list[str] = []
        self._size = 0

    @property
    def started(self) -> bool:
        return self.mechanism is not None

    def feed(self, param: str) -> Step:
        """The next ``AUTHENTICATE`` parameter: what to answer."""
        if param == "*":
            return Failed("aborted")
        if self.mechanism is None:
            if param.upper() not in MECHANISMS:
                return Failed("unknown-mechanism")
            self.mechanism = param.upper()
            return Continue(prompt=True)
        if len(param) > CHUNK:
            return Failed("too-long")
        if param != "+":
            self._chunks.append(param)
            self._size += len(param)
            if self._size > MAX_RESPONSE * 4 // 3 + 4:
                return Failed("malformed")
            if len(param) == CHUNK:
                return Continue(prompt=False)
        return parse_plain("".join(self._chunks))


def parse_plain(encoded: str) -> Credentials | Failed:
    """RFC 4616's ``[authzid] NUL authcid NUL passwd`` from base64 ``encoded``."""
    try:
        response = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return Failed("malformed")
    parts = response.split("\0")
    if len(parts) != 3:
        return Failed("malformed")
    authzid, authcid, password = parts
    if not authcid or not password or (authzid and authzid != authcid):
        return Failed("malformed")
    return Credentials(authcid, password)


def plain_response(account: str, password: str) -> list[str]:
    """The ``AUTHENTICATE`` parameters a client sends for PLAIN (for tests and clients)."""
    encoded = base64.b64encode(f"{account}\0{account}\0{password}".encode()).decode()
    chunks = [encoded[i : i + CHUNK] for i in range(0, len(encoded), CHUNK)] or ["+"]
    if len(chunks[-1]) == CHUNK:
        chunks.append("+")
    return chunks
