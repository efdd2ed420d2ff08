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
from dataclasses import dataclass, field

from trio_chat.core.events import (
    Action,
    Crowd,
    Dismissed,
    Echo,
    Error,
    Joined,
    Message,
    Moderated,
    Notice,
    Parted,
    Past,
    Private,
    Renamed,
    ServerEvent,
    TopicChanged,
)
from trio_chat.core.events import (
    Quit as Departed,
)
from trio_chat.core.names import (
    MAX_TOPIC_CHARS,
    BadName,
    check_name,
    check_room,
    clean_text,
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
class EchoSetting:
    """``/echo on`` or ``/echo off``: whether your own lines come back to you."""

    on: bool


@dataclass(frozen=True, slots=True)
class Quit:
    reason: str = ""


# --- accounts and operators: every field holding a secret stays out of repr(),
# so that no log line, assertion or traceback can show it.


@dataclass(frozen=True, slots=True)
class Name:
    """A name chosen at the name step (checked by :func:`check_name` later)."""

    text: str


@dataclass(frozen=True, slots=True)
class Pass:
    """``/pass SECRET``: the server's password, sent before the name."""

    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Login:
    """``/login NAME PASSWORD`` at the name step: take a registered name."""

    name: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Register:
    """``/register PASSWORD``: claim the current name."""

    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Unregister:
    """``/unregister``: give up the account of the current name."""


@dataclass(frozen=True, slots=True)
class NewPassword:
    """``/password NEW``: change the current name's password."""

    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Oper:
    """``/oper PASSWORD``: become an operator."""

    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Kick:
    name: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Ban:
    """``/ban NAME|ADDRESS [DURATION]``; ``seconds`` None: permanent."""

    target: str
    seconds: int | None = None


@dataclass(frozen=True, slots=True)
class Unban:
    target: str


@dataclass(frozen=True, slots=True)
class Bans:
    pass


@dataclass(frozen=True, slots=True)
class Mute:
    """``/mute NAME`` (``on``) or ``/unmute NAME``."""

    name: str
    on: bool = True


@dataclass(frozen=True, slots=True)
class Invalid:
    """A command the server cannot carry out; ``reason`` is sent back as ``! ``."""

    reason: str


Command = (
    (Say | Me | PrivateMessage | Nick | Who | Join | Rooms | Topic | HistoryRequest | Help | Quit)
    | EchoSetting
    | (Register | Unregister | NewPassword | Oper | Kick | Ban | Unban | Bans | Mute)
    | Invalid
)
# The account and operator commands (handled by trio_chat.core.moderation).
ACCOUNT_COMMANDS = (Register, Unregister, NewPassword, Oper, Kick, Ban, Unban, Bans, Mute)

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
    "echo": ("/echo on|off", "on: your own lines come back to you, as the others see them"),
    "register": ("/register PASSWORD", "claim your name: next time, /login NAME PASSWORD"),
    "password": ("/password NEW", "change the password of your registered name"),
    "unregister": ("/unregister", "give up the account of your name"),
    "oper": ("/oper PASSWORD", "become an operator"),
}
# Only operators may use these (and only they see them in /help).
OPERATOR_COMMANDS: dict[str, tuple[str, str]] = {
    "kick": ("/kick NAME [REASON]", "disconnect NAME, telling the room why"),
    "ban": ("/ban NAME|ADDRESS [TIME]", "keep out a name or an IP address (TIME: 10m, 2h, 1d)"),
    "unban": ("/unban NAME|ADDRESS", "lift a ban"),
    "bans": ("/bans", "the bans in force"),
    "mute": ("/mute NAME", "NAME's lines reach nobody"),
    "unmute": ("/unmute NAME", "NAME may speak again"),
}
# What a duration's unit stands for, in seconds (/ban NAME 10m).
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# The longest ban that is not permanent: ten years.
MAX_BAN_SECONDS = 10 * 365 * 86400


def help_lines(*, operator: bool = False) -> list[str]:
    """The text of ``/help``, one notice per line; an operator's also lists theirs."""
    listed = {**COMMANDS, **OPERATOR_COMMANDS} if operator else COMMANDS
    width = max(len(usage) for usage, _ in listed.values())
    lines = ["Commands:"]
    lines += [f"  {usage:<{width}}  {what}" for usage, what in COMMANDS.values()]
    if operator:
        lines.append("Operator commands:")
        lines += [f"  {usage:<{width}}  {what}" for usage, what in OPERATOR_COMMANDS.values()]
    lines.append(f"  {'//TEXT':<{width}}  send TEXT starting with '/'")
    return lines


def parse_name_step(line: str) -> Name | Pass | Login | Invalid:
    """Turn a line received before the name was accepted into what it asks for.

    A name is passed on as received: :func:`check_name` refuses what it must
    not hold, rather than having it silently removed.
    """
    if not line.startswith("/"):
        return Name(line)
    text = clean_text(line)
    verb, rest = _split_word(text[1:])
    verb = verb.lower()
    if verb == "pass":
        return Pass(rest) if rest else Invalid("usage: /pass PASSWORD")
    if verb == "login":
        name, password = _split_word(rest)
        return Login(name, password) if name and password else Invalid(LOGIN_USAGE)
    return Invalid("send your name first (or /login NAME PASSWORD for a registered name)")


LOGIN_USAGE = "usage: /login NAME PASSWORD"


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
        return Join(rest) if rest and len(rest.split()) == 1 else _not_a_name("join", rest)
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
    if verb == "echo":
        setting = rest.lower()
        return EchoSetting(setting == "on") if setting in ("on", "off") else _usage("echo")
    if verb == "me":
        return Me(rest) if rest else _usage("me")
    if verb == "nick":
        return Nick(rest) if rest and " " not in rest else _not_a_name("nick", rest)
    if verb == "msg":
        target, message = _split_word(rest)
        return PrivateMessage(target, message) if target and message else _usage("msg")
    return _account_command(verb, rest)


def _account_command(verb: str, rest: str) -> Command:
    """The account and operator commands; never puts a password in a reply."""
    if verb in ("register", "password", "oper"):
        if not rest:
            return _usage(verb)
        if verb == "register":
            return Register(rest)
        return NewPassword(rest) if verb == "password" else Oper(rest)
    if verb == "unregister":
        return Unregister() if not rest else _usage("unregister")
    if verb == "login":
        return Invalid("you are in already: /login is for the name step")
    if verb == "pass":
        return Invalid("/pass is only needed before your name")
    if verb == "kick":
        name, reason = _split_word(rest)
        return Kick(name, reason) if name else _usage("kick")
    if verb == "ban":
        return _ban(rest)
    if verb in ("unban", "mute", "unmute"):
        if not rest or " " in rest:
            return _usage(verb)
        return Unban(rest) if verb == "unban" else Mute(rest, on=verb == "mute")
    if verb == "bans":
        return Bans()
    return Invalid(f"unknown command /{verb}: type /help for the list")


def _ban(rest: str) -> Ban | Invalid:
    words = rest.split()
    if not 1 <= len(words) <= 2:
        return _usage("ban")
    if len(words) == 1:
        return Ban(words[0])
    seconds = parse_duration(words[1])
    if seconds is None:
        return Invalid(f"bad duration {words[1]!r}: use a number and s, m, h, d or w (10m, 2h, 1d)")
    return Ban(words[0], seconds)


def parse_duration(text: str) -> int | None:
    """Seconds in ``10m``, ``2h``, ``1d`` (s, m, h, d, w); None if not a duration."""
    match = re.fullmatch(r"([0-9]{1,9})([smhdw])", text.strip().lower())
    if match is None or int(match[1]) == 0:
        return None
    return min(int(match[1]) * DURATION_UNITS[match[2]], MAX_BAN_SECONDS)


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


def _not_a_name(verb: str, rest: str) -> Invalid:
    """Why ``rest`` (several words) is no name or room name, as the name rules say it."""
    if rest:
        try:
            (check_room if verb == "join" else check_name)(rest)
        except BadName as exc:
            return Invalid(str(exc))
    return _usage(verb)


def _usage(verb: str) -> Invalid:
    usage = COMMANDS[verb][0] if verb in COMMANDS else OPERATOR_COMMANDS[verb][0]
    return Invalid(f"usage: {usage}")


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
