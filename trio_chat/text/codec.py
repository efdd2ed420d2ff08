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

import functools
import time
from collections.abc import Callable
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
from trio_chat.core.phrases import Phrase
from trio_chat.i18n import DEFAULT, N_, Words, words_for
from trio_chat.text.wording import ENGLISH, dismissed_line, moderated_line, phrase, quit_line

Encoder = Callable[[ServerEvent], bytes]  # core.members' (not imported: it imports trio)

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
        return Phrase(N_("line too long (max {n} bytes), dropped"), n=self._max)


def decode_line(raw: bytes) -> Line | BadLine:
    """Decode one line's bytes as UTF-8."""
    try:
        return Line(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return BadLine(Phrase(N_("invalid UTF-8, line dropped")))


# --- encoding ------------------------------------------------------------------


def format_event(event: ServerEvent, _: Words = ENGLISH) -> str:
    """The line (without "\\n") a line-protocol client sees for ``event``, in ``_``'s words.

    What is protocol stays as it is in every language: the ``*** `` and ``! ``
    prefixes, ``* name`` for an action, ``[private]`` and ``[private to NAME]``,
    and the ``[HH:MM]`` of history (the terminal client reads them).
    """
    match event:
        case Message(sender, _room, text):
            return f"{sender}: {text}"
        case Action(sender, _room, text):
            return f"* {sender} {text}"
        case Past(said):
            return f"[{clock(said.time)}] {format_event(said, _)}"
        case TopicChanged(name, room, ""):
            return "*** " + _("{name} cleared the topic of {room}", name=name, room=room)
        case TopicChanged(name, room, topic):
            return "*** " + _(
                "{name} set the topic of {room}: {topic}", name=name, room=room, topic=topic
            )
        case Private(sender, _target, text):
            return f"[private] {sender}: {text}"
        case Echo(Private(_sender, target, text)):
            return f"[private to {target}] {text}"
        case Echo(said):
            return format_event(said, _)
        case Joined(name, _room):
            return "*** " + _("{name} joined", name=name)
        case Parted(name, _room, detail):
            if detail:
                return "*** " + _("{name} left ({why})", name=name, why=phrase(_, detail))
            return "*** " + _("{name} left", name=name)
        case Departed():
            return quit_line(event, _)
        case Dismissed():
            return dismissed_line(event, _)
        case Moderated():
            return moderated_line(event, _)
        case Renamed(old, new):
            return "*** " + _("{old} is now known as {new}", old=old, new=new)
        case Notice(text):
            return f"*** {phrase(_, text)}"
        case Error(text):
            return f"! {phrase(_, text)}"
        case Reply(lines):
            return "\n".join(lines)
        case _:
            return _rarer(event, _)


def _rarer(event: ServerEvent, _: Words) -> str:
    match event:
        case RoomChanged(room, by, changes):
            done = (f"{'+' if on else '-'}{what} {value}".strip() for what, on, value in changes)
            return "*** " + _(
                "{by} changed {room}: {changes}", by=by, room=room, changes=", ".join(done)
            )
        case ToRoomOperators(sender, room, text):
            return "[" + _("to the operators of {room}", room=room) + f"] {sender}: {text}"
        case ToOperators(by, text):
            return "*** [" + _("to operators") + f"] {by}: {text}"
        case Invited(room, by, _name):
            return "*** " + _("{by} invites you to {room} (/join {room})", by=by, room=room)
        case KickedOut(name, room, by, detail) if detail:
            return "*** " + _(
                "{name} was put out of {room} by {by}: {reason}",
                name=name,
                room=room,
                by=by,
                reason=detail,
            )
        case KickedOut(name, room, by):
            return "*** " + _("{name} was put out of {room} by {by}", name=name, room=room, by=by)
        case Crowd(_room, joined, left):
            parts = []
            if joined:
                parts.append(_("{n} joined: {names}", n=len(joined), names=_some(joined, _)))
            if left:
                parts.append(_("{n} left: {names}", n=len(left), names=_some(left, _)))
            return "*** " + "; ".join(parts)
    raise AssertionError(event)


def _some(names: tuple[str, ...], _: Words, most: int = 20) -> str:
    """``a, b, c`` or ``a, b, ... and 7 more``."""
    if len(names) <= most:
        return ", ".join(names)
    return _("{names} and {n} more", names=", ".join(names[:most]), n=len(names) - most)


def clock(timestamp: float) -> str:
    """``HH:MM`` for a time today, ``YYYY-MM-DD HH:MM`` for an older one (server's zone)."""
    when = time.localtime(timestamp)
    if time.strftime("%Y%m%d", when) == time.strftime("%Y%m%d"):
        return time.strftime("%H:%M", when)
    return time.strftime("%Y-%m-%d %H:%M", when)


def encode(event: ServerEvent) -> bytes:
    """The bytes sent to a line-protocol client for ``event``, in English."""
    return (format_event(event) + "\n").encode("utf-8")


@functools.cache
def _encoder(lang: str) -> Encoder:
    if lang == DEFAULT:
        return encode
    words = words_for(lang)

    def encode_in(event: ServerEvent) -> bytes:
        return (format_event(event, words) + "\n").encode("utf-8")

    encode_in.__qualname__ = f"encode[{lang}]"
    return encode_in


def encoder_for(words: Words) -> Encoder:
    """The line protocol's encoder in ``words``' language: one object per language,
    shared by every member who reads it (the hub encodes once per encoder)."""
    return _encoder(words.lang)
