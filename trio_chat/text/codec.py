"""The line protocol, sans-IO: bytes in, events out; events in, bytes out.

Theory of operation
-------------------
Nothing here does I/O or imports trio, so every rule is testable in memory
(the h11/wsproto pattern). A session feeds whatever ``receive_some()``
returned into a :class:`LineBuffer` and gets back complete lines (or
:class:`BadLine` errors); it turns each line into a command with
:func:`~trio_chat.text.grammar.parse_command`, and turns hub events into bytes
with :func:`encode`.

Rules:

* UTF-8, lines end in ``\\n``; one ``\\r`` before it is dropped.
* A line may hold at most :data:`MAX_LINE_BYTES` bytes. A longer one is
  reported once and dropped up to its newline; the connection stays usable.
  The buffer is scanned once (O(bytes received)) and never grows past the cap.
* Invalid UTF-8 is reported and the line dropped.
* Control characters (C0 but tab, DEL, C1, ANSI escape sequences and bidi
  overrides) are removed from anything a user says, so they never reach
  another user's terminal.
* EOF (``feed(b"")``) delivers an unterminated last line, as ``nc`` and
  ``printf`` without a final newline expect.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from trio_chat.core.events import (
    Action,
    Crowd,
    Dismissed,
    Echo,
    Error,
    Invited,
    Joined,
    KickedOut,
    Message,
    Moderated,
    Notice,
    Parted,
    Past,
    Private,
    Renamed,
    Reply,
    RoomChanged,
    ServerEvent,
    ToOperators,
    TopicChanged,
    ToRoomOperators,
)
from trio_chat.core.events import (
    Quit as Departed,
)
from trio_chat.text.wording import dismissed_line, moderated_line, quit_line

# The longest line a client may send, in bytes, without its "\r\n".
MAX_LINE_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Line:
    """A complete, decoded line (without its terminator)."""

    text: str


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that was dropped, and why (sent to the client as a ``! `` line)."""

    reason: str


class LineBuffer:
    """Split a byte stream into lines, enforcing the line-length cap.

    ``feed(data)`` returns the events completed by ``data``; ``feed(b"")``
    means end of stream and flushes an unterminated last line.
    """

    __slots__ = ("_buffer", "_discarding", "_max", "_scanned")

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._max = max_line_bytes
        self._buffer = bytearray()
        # Bytes at the start of _buffer already searched for b"\n".
        self._scanned = 0
        # True while dropping the rest of an over-long line.
        self._discarding = False

    def feed(self, data: bytes | bytearray) -> list[Line | BadLine]:
        if not data:
            return self._finish()
        buffer = self._buffer
        if self._discarding:
            newline = data.find(b"\n")
            if newline < 0:
                return []
            self._discarding = False
            data = data[newline + 1 :]
        buffer += data
        events: list[Line | BadLine] = []
        start = 0
        while (newline := buffer.find(b"\n", max(start, self._scanned))) >= 0:
            events.append(self._complete(buffer, start, newline))
            start = newline + 1
        del buffer[:start]
        self._scanned = len(buffer)
        # One extra byte may be the "\r" of a "\r\n" still to come.
        if len(buffer) > self._max + 1:
            events.append(BadLine(self._too_long()))
            buffer.clear()
            self._scanned = 0
            self._discarding = True
        return events

    def _complete(self, buffer: bytearray, start: int, end: int) -> Line | BadLine:
        if end > start and buffer[end - 1] == 0x0D:  # "\r"
            end -= 1
        if end - start > self._max:
            return BadLine(self._too_long())
        return decode_line(bytes(buffer[start:end]))

    def _finish(self) -> list[Line | BadLine]:
        rest = bytes(self._buffer)
        self._buffer.clear()
        self._scanned = 0
        if self._discarding or not rest:
            self._discarding = False
            return []
        if rest.endswith(b"\r"):
            rest = rest[:-1]
        if len(rest) > self._max:
            return [BadLine(self._too_long())]
        return [decode_line(rest)]

    def _too_long(self) -> str:
        return f"line too long (max {self._max} bytes), dropped"


def decode_line(raw: bytes) -> Line | BadLine:
    """Decode one line's bytes as UTF-8."""
    try:
        return Line(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return BadLine("invalid UTF-8, line dropped")


# --- encoding ------------------------------------------------------------------


def format_event(event: ServerEvent) -> str:
    """The line (without "\\n") a line-protocol client sees for ``event``."""
    match event:
        case Message(sender, _, text):
            return f"{sender}: {text}"
        case Action(sender, _, text):
            return f"* {sender} {text}"
        case Past(said):
            return f"[{clock(said.time)}] {format_event(said)}"
        case TopicChanged(name, room, ""):
            return f"*** {name} cleared the topic of {room}"
        case TopicChanged(name, room, topic):
            return f"*** {name} set the topic of {room}: {topic}"
        case Private(sender, _, text):
            return f"[private] {sender}: {text}"
        case Echo(Private(_, target, text)):
            return f"[private to {target}] {text}"
        case Echo(said):
            return format_event(said)
        case Joined(name, _):
            return f"*** {name} joined"
        case Parted(name, _, detail):
            return f"*** {name} left ({detail})" if detail else f"*** {name} left"
        case RoomChanged(room, by, changes):
            done = (f"{'+' if on else '-'}{what} {value}".strip() for what, on, value in changes)
            return f"*** {by} changed {room}: {', '.join(done)}"
        case ToRoomOperators(sender, room, text):
            return f"[to the operators of {room}] {sender}: {text}"
        case ToOperators(by, text):
            return f"*** [to operators] {by}: {text}"
        case Invited(room, by, _):
            return f"*** {by} invites you to {room} (/join {room})"
        case KickedOut(name, room, by, detail):
            why = f": {detail}" if detail else ""
            return f"*** {name} was put out of {room} by {by}{why}"
        case Departed():
            return quit_line(event)
        case Dismissed():
            return dismissed_line(event)
        case Moderated():
            return moderated_line(event)
        case Crowd(_, joined, left):
            parts = [
                f"{len(names)} {verb}: {_some(names)}"
                for verb, names in (("joined", joined), ("left", left))
                if names
            ]
            return "*** " + "; ".join(parts)
        case Renamed(old, new):
            return f"*** {old} is now known as {new}"
        case Notice(text):
            return f"*** {text}"
        case Error(text):
            return f"! {text}"
        case Reply(lines):
            return "\n".join(lines)


def _some(names: tuple[str, ...], most: int = 20) -> str:
    """``a, b, c`` or ``a, b, ... and 7 more``."""
    if len(names) <= most:
        return ", ".join(names)
    return ", ".join(names[:most]) + f" and {len(names) - most} more"


def clock(timestamp: float) -> str:
    """``HH:MM`` for a time today, ``YYYY-MM-DD HH:MM`` for an older one (server's zone)."""
    when = time.localtime(timestamp)
    if time.strftime("%Y%m%d", when) == time.strftime("%Y%m%d"):
        return time.strftime("%H:%M", when)
    return time.strftime("%Y-%m-%d %H:%M", when)


def encode(event: ServerEvent) -> bytes:
    """The bytes sent to a line-protocol client for ``event``."""
    return (format_event(event) + "\n").encode("utf-8")
