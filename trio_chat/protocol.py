"""The line protocol, sans-IO: bytes in, events out; events in, bytes out.

Theory of operation
-------------------
Nothing here does I/O or imports trio, so every rule is testable in memory
(the h11/wsproto pattern). A session feeds whatever ``receive_some()``
returned into a :class:`LineBuffer` and gets back complete lines (or
:class:`BadLine` errors); it turns each line into a command with
:func:`parse_command`, and turns hub events into bytes with :func:`encode`.

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

import re
import time
import unicodedata
from dataclasses import dataclass

from .events import (
    Action,
    Crowd,
    Error,
    Joined,
    Left,
    Message,
    Notice,
    Past,
    Private,
    Renamed,
    ServerEvent,
    TopicChanged,
)

# The longest line a client may send, in bytes, without its "\r\n".
MAX_LINE_BYTES = 4096
# The longest name, in characters (after Unicode normalisation).
MAX_NAME_CHARS = 32
# The longest room topic, in characters.
MAX_TOPIC_CHARS = 300
# Characters allowed in a name besides letters and digits.
NAME_PUNCTUATION = frozenset("_-.")

# ANSI escape sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other
# ESC sequences, and their 8-bit C1 forms. Removed whole, so that no stray
# parameters ("[31m") are left behind.
_ANSI_ESCAPE = re.compile(
    r"""
    (?: \x1b\[ | \x9b ) [0-?]* [ -/]* [@-~]?                 # CSI
  | (?: \x1b[\]PX^_] | [\x90\x98\x9d\x9e\x9f] ) .*? (?: \x07 | \x1b\\ | \x9c | $ )  # OSC, DCS...
  | \x1b [ -/]* [0-~]?                                          # other ESC sequences
    """,
    re.VERBOSE | re.DOTALL,
)
# Everything else that must never reach a terminal: C0 except tab, DEL, C1, and
# the bidirectional overrides that can make a line read differently than it is.
# Lone surrogates too: no decoded line holds one, but text from elsewhere may,
# and it could not be encoded for anyone.
_CONTROL_CHARS = dict.fromkeys(
    [
        *range(0x00, 0x09),
        *range(0x0A, 0x20),
        0x7F,
        *range(0x80, 0xA0),
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
        *range(0xD800, 0xE000),
    ]
)


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


def clean_text(text: str) -> str:
    """Remove escape sequences and control characters (tab stays)."""
    if text.isprintable():  # the common case: nothing to remove
        return text
    return _ANSI_ESCAPE.sub("", text).translate(_CONTROL_CHARS)


# --- names -----------------------------------------------------------------


class BadName(ValueError):
    """A name that breaks the naming rules; ``str(exc)`` says which."""


def check_name(raw: str) -> str:
    """Return the name as it will be shown (NFC, trimmed), or raise BadName."""
    return _check_word(raw, "name")


def check_room(raw: str) -> str:
    """Return the room name as shown (``#`` + NFC name), or raise BadName.

    The ``#`` is optional on input. Room names follow the rules of user names.
    """
    word = raw.strip()
    return "#" + _check_word(word[1:] if word.startswith("#") else word, "room name")


def _check_word(raw: str, what: str) -> str:
    word = unicodedata.normalize("NFC", raw.strip())
    if not word:
        raise BadName(f"a {what} is needed")
    if len(word) > MAX_NAME_CHARS:
        raise BadName(f"{what} too long (max {MAX_NAME_CHARS} characters)")
    for index, char in enumerate(word):
        # Combining marks (Mn, Mc) complete a letter in many scripts (नमस्ते, தமிழ்).
        mark = index > 0 and unicodedata.category(char) in ("Mn", "Mc")
        if not (char.isalpha() or char.isdecimal() or char in NAME_PUNCTUATION or mark):
            raise BadName(
                f"invalid character {char!r} in {what}: use letters, digits, '_', '-' and '.'"
            )
    return word


def name_key(name: str) -> str:
    """The form names are compared in: case-insensitive after NFKC normalisation."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


# --- commands ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Say:
    text: str


@dataclass(frozen=True, slots=True)
class Me:
    text: str


@dataclass(frozen=True, slots=True)
class PrivateMessage:
    target: str
    text: str


@dataclass(frozen=True, slots=True)
class Nick:
    name: str


@dataclass(frozen=True, slots=True)
class Who:
    everyone: bool = False


@dataclass(frozen=True, slots=True)
class Join:
    room: str


@dataclass(frozen=True, slots=True)
class Rooms:
    pass


@dataclass(frozen=True, slots=True)
class Topic:
    """Show the topic (``text`` is None) or set it (an empty text clears it)."""

    text: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    """``/history [N]``: up to N older messages of the current room."""

    count: int


@dataclass(frozen=True, slots=True)
class Help:
    pass


@dataclass(frozen=True, slots=True)
class Quit:
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Invalid:
    """A command the server cannot carry out; ``reason`` is sent back as ``! ``."""

    reason: str


Command = (
    Say | Me | PrivateMessage | Nick | Who | Join | Rooms | Topic | HistoryRequest | Help | Quit
) | Invalid

# /history shows this many older messages unless told otherwise, and at most MAX.
HISTORY_PAGE = 50
HISTORY_MAX = 500

# (usage, description) of every command, for /help and the README.
COMMANDS: dict[str, tuple[str, str]] = {
    "help": ("/help", "this list"),
    "join": ("/join ROOM", "go to ROOM (created if new); everyone starts in #lobby"),
    "rooms": ("/rooms", "the rooms, with how many are in each and their topics"),
    "topic": ("/topic [TEXT]", "show this room's topic, or set it ('/topic -' clears it)"),
    "who": ("/who [*]", "who is in this room (* : everyone online)"),
    "history": ("/history [N]", f"up to N older messages of this room (max {HISTORY_MAX})"),
    "msg": ("/msg NAME TEXT", "a private message only NAME sees, in any room"),
    "me": ("/me ACTION", "an action: '* you ACTION'"),
    "nick": ("/nick NEW", "change your name"),
    "quit": ("/quit [REASON]", "leave the chat"),
}


def help_lines() -> list[str]:
    """The text of ``/help``, one notice per line."""
    width = max(len(usage) for usage, _ in COMMANDS.values())
    lines = ["Commands:"]
    lines += [f"  {usage:<{width}}  {what}" for usage, what in COMMANDS.values()]
    lines.append(f"  {'//TEXT':<{width}}  send TEXT starting with '/'")
    return lines


def parse_command(line: str) -> Command | None:
    """Turn one received line into a command; ``None`` for a blank line."""
    text = clean_text(line)
    if not text.strip():
        return None
    if not text.startswith("/"):
        return Say(text)
    if text.startswith("//"):
        return Say(text[1:])
    verb, rest = _split_word(text[1:])
    verb = verb.lower()
    if verb == "quit":
        return Quit(rest)
    if verb == "who":
        return Who(everyone=True) if rest == "*" else Who() if not rest else _usage("who")
    if verb == "join":
        return Join(rest) if rest and len(rest.split()) == 1 else _usage("join")
    if verb == "rooms":
        return Rooms()
    if verb == "topic":
        if len(rest) > MAX_TOPIC_CHARS:
            return Invalid(f"topic too long (max {MAX_TOPIC_CHARS} characters)")
        return Topic(None if not rest else "" if rest == "-" else rest)
    if verb == "history":
        return _history(rest)
    if verb == "help":
        return Help()
    if verb == "me":
        return Me(rest) if rest else _usage("me")
    if verb == "nick":
        return Nick(rest) if rest and " " not in rest else _usage("nick")
    if verb == "msg":
        target, message = _split_word(rest)
        return PrivateMessage(target, message) if target and message else _usage("msg")
    return Invalid(f"unknown command /{verb}: type /help for the list")


def _history(rest: str) -> HistoryRequest | Invalid:
    if not rest:
        return HistoryRequest(HISTORY_PAGE)
    if not rest.isdecimal() or not 1 <= int(rest) <= HISTORY_MAX:
        return Invalid(f"usage: /history [N], N from 1 to {HISTORY_MAX}")
    return HistoryRequest(int(rest))


def _split_word(text: str) -> tuple[str, str]:
    """The first word (up to any whitespace) and the trimmed rest."""
    parts = re.split(r"\s+", text, maxsplit=1)
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


def _usage(verb: str) -> Invalid:
    return Invalid(f"usage: {COMMANDS[verb][0]}")


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
        case Joined(name, _):
            return f"*** {name} joined"
        case Left(name, _, reason):
            return f"*** {name} left ({reason})" if reason else f"*** {name} left"
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
