"""What a text user may send: the commands, and the parser that turns a line into one.

Sans-IO like the codec (no trio): :func:`parse_name_step` reads a line sent
before the name was accepted, :func:`parse_command` one sent after it. A
line that is not a valid command becomes :class:`Invalid`, whose reason the
session sends back as a ``! `` line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from trio_chat.core.names import (
    MAX_HISTORY,
    MAX_TOPIC_CHARS,
    BadName,
    check_name,
    check_room,
    clean_text,
)
from trio_chat.core.phrases import Phrase
from trio_chat.i18n import N_, Words


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


@dataclass(frozen=True, slots=True)
class Lang:
    """``/lang [LANG]``: answer in LANG from now on; without one, list the languages."""

    lang: str = ""


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
    | Lang
    | (Register | Unregister | NewPassword | Oper | Kick | Ban | Unban | Bans | Mute)
    | Invalid
)
# The account and operator commands (handled by trio_chat.core.moderation).
ACCOUNT_COMMANDS = (Register, Unregister, NewPassword, Oper, Kick, Ban, Unban, Bans, Mute)

# /history shows this many older messages unless told otherwise, and at most MAX.
HISTORY_PAGE = 50
HISTORY_MAX = MAX_HISTORY

# (usage, description) of every command, for /help and the README.
COMMANDS: dict[str, tuple[str, str]] = {
    "help": ("/help", N_("this list")),
    "join": (N_("/join ROOM"), N_("go to ROOM (created if new); everyone starts in #lobby")),
    "rooms": ("/rooms", N_("the rooms, with how many are in each and their topics")),
    "topic": (N_("/topic [TEXT]"), N_("show this room's topic, or set it ('/topic -' clears it)")),
    "who": ("/who [*]", N_("who is in this room (* : everyone online)")),
    "history": ("/history [N]", N_("up to N older messages of this room (max {max})")),
    "msg": (N_("/msg NAME TEXT"), N_("a private message only NAME sees, in any room")),
    "me": (N_("/me ACTION"), N_("an action: '* you ACTION'")),
    "nick": (N_("/nick NEW"), N_("change your name")),
    "quit": (N_("/quit [REASON]"), N_("leave the chat")),
    "lang": (N_("/lang [LANG]"), N_("answer in LANG from now on (/lang alone lists them)")),
    "echo": (N_("/echo on|off"), N_("on: your own lines come back to you, as the others see them")),
    "register": (N_("/register PASSWORD"), N_("claim your name: next time, /login NAME PASSWORD")),
    "password": (N_("/password NEW"), N_("change the password of your registered name")),
    "unregister": ("/unregister", N_("give up the account of your name")),
    "oper": (N_("/oper PASSWORD"), N_("become an operator")),
}
# Only operators may use these (and only they see them in /help).
OPERATOR_COMMANDS: dict[str, tuple[str, str]] = {
    "kick": (N_("/kick NAME [REASON]"), N_("disconnect NAME, telling the room why")),
    "ban": (
        N_("/ban NAME|ADDRESS [TIME]"),
        N_("keep out a name or an IP address (TIME: 10m, 2h, 1d)"),
    ),
    "unban": (N_("/unban NAME|ADDRESS"), N_("lift a ban")),
    "bans": ("/bans", N_("the bans in force")),
    "mute": (N_("/mute NAME"), N_("NAME's lines reach nobody")),
    "unmute": (N_("/unmute NAME"), N_("NAME may speak again")),
}
# What a duration's unit stands for, in seconds (/ban NAME 10m).
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# The longest ban that is not permanent: ten years.
MAX_BAN_SECONDS = 10 * 365 * 86400


def help_lines(_: Words, *, operator: bool = False) -> list[str]:
    """The text of ``/help`` in ``_``'s words, one notice per line; an operator's
    also lists theirs. Command names are the same in every language."""
    listed = {**COMMANDS, **OPERATOR_COMMANDS} if operator else COMMANDS
    rows = [(_(usage), _(what, max=HISTORY_MAX)) for usage, what in listed.values()]
    last = (_("//TEXT"), _("send TEXT starting with '/'"))
    width = max(len(usage) for usage, _what in [*rows, last])
    lines = [_("Commands:")]
    lines += [f"  {usage:<{width}}  {what}" for usage, what in rows[: len(COMMANDS)]]
    if operator:
        lines.append(_("Operator commands:"))
        lines += [f"  {usage:<{width}}  {what}" for usage, what in rows[len(COMMANDS) :]]
    lines.append(f"  {last[0]:<{width}}  {last[1]}")
    return lines


def parse_name_step(line: str) -> Name | Pass | Login | Lang | Invalid:
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
        return Pass(rest) if rest else Invalid(_usage_of(N_("/pass PASSWORD")))
    if verb == "login":
        name, password = _split_word(rest)
        return Login(name, password) if name and password else Invalid(LOGIN_USAGE)
    if verb == "lang":
        return Lang(rest)
    return Invalid(
        Phrase(N_("send your name first (or /login NAME PASSWORD for a registered name)"))
    )


def _usage_of(usage: str) -> Phrase:
    return Phrase(N_("usage: {usage}"), usage=Phrase(usage))


LOGIN_USAGE = _usage_of(N_("/login NAME PASSWORD"))


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
            return Invalid(Phrase(N_("topic too long (max {n} characters)"), n=MAX_TOPIC_CHARS))
        return Topic(None if not rest else "" if rest == "-" else rest)
    if verb == "history":
        return _history(rest)
    if verb == "help":
        return Help()
    if verb == "lang":
        return Lang(rest)
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
        return Invalid(Phrase(N_("you are in already: /login is for the name step")))
    if verb == "pass":
        return Invalid(Phrase(N_("/pass is only needed before your name")))
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
    return Invalid(Phrase(N_("unknown command /{verb}: type /help for the list"), verb=verb))


def _ban(rest: str) -> Ban | Invalid:
    words = rest.split()
    if not 1 <= len(words) <= 2:
        return _usage("ban")
    if len(words) == 1:
        return Ban(words[0])
    seconds = parse_duration(words[1])
    if seconds is None:
        return Invalid(
            Phrase(
                N_("bad duration {duration}: use a number and s, m, h, d or w (10m, 2h, 1d)"),
                duration=repr(words[1]),
            )
        )
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
    if not rest.isdecimal() or len(rest) > 9 or not 1 <= int(rest) <= HISTORY_MAX:
        return Invalid(Phrase(N_("usage: /history [N], N from 1 to {max}"), max=HISTORY_MAX))
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
            return Invalid(exc.problem)
    return _usage(verb)


def _usage(verb: str) -> Invalid:
    usage = COMMANDS[verb][0] if verb in COMMANDS else OPERATOR_COMMANDS[verb][0]
    return Invalid(_usage_of(usage))
