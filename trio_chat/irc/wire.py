"""Core events as IRC messages, for a set of capabilities: the IRC door's encoders.

Theory of operation
-------------------
The hub encodes each event once per distinct encoder object, so every IRC
member whose wire-relevant capabilities are the same (``server-time``,
``message-tags``...: see :func:`~.caps.wire_caps`) shares one
:class:`IrcEncoder`: :meth:`Wire.encoder` makes one per such set and keeps
it. A member's encoder changes when its capabilities do.

Everyone appears as ``nick!ident@host``: IRC users with the ident of their
``USER`` and their address, everyone else (text, web) as ``name!name@HOST``
with :data:`OTHER_HOST`. :class:`People` knows the IRC side's idents, hosts
and real names, and who was who (``WHOWAS``).

A message too long for one IRC line (a text user may say 4096 bytes) is cut
into several ``PRIVMSG`` lines, never inside a UTF-8 character.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

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
    ModAction,
    Moderated,
    Notice,
    Parted,
    Past,
    Private,
    Quit,
    Reason,
    Renamed,
    Reply,
    RoomChanged,
    ServerEvent,
    ToOperators,
    TopicChanged,
    ToRoomOperators,
    departure,
)
from trio_chat.core.names import name_key
from trio_chat.irc.caps import MESSAGE_TAGS, SERVER_TIME, wire_caps
from trio_chat.irc.codec import IrcMessage, encode, fit_text
from trio_chat.irc.modes import mode_line

# The host of users of the other doors (text, web), in their nick!name@host.
OTHER_HOST = "trio-chat"
# How many departed nicks WHOWAS remembers.
WHOWAS_KEPT = 1000


@dataclass(slots=True)
class Person:
    """An IRC user's ident, host and real name (others get defaults)."""

    ident: str
    host: str
    realname: str
    irc: bool = True
    # The account logged in to (IRCv3 account-notify, extended-join), "" if none.
    account: str = ""
    # User mode +B (IRCv3 bot mode): a bot, tagged so.
    bot: bool = False
    # User mode +i: not listed by a WHO mask to those who share no room with them.
    invisible: bool = False


@dataclass(frozen=True, slots=True)
class Was:
    """Someone who was here (for WHOWAS)."""

    nick: str
    person: Person
    when: float


class People:
    """Idents, hosts and real names of the IRC users online, by name; who was who."""

    def __init__(self) -> None:
        self._online: dict[str, Person] = {}
        self._was: deque[Was] = deque(maxlen=WHOWAS_KEPT)

    def add(self, name: str, person: Person) -> None:
        self._online[name_key(name)] = person

    def remove(self, name: str) -> None:
        person = self._online.pop(name_key(name), None)
        if person is not None:
            self._was.append(Was(name, person, time.time()))

    def rename(self, old: str, new: str) -> None:
        person = self._online.pop(name_key(old), None)
        if person is not None:
            self._was.append(Was(old, person, time.time()))
            self._online[name_key(new)] = person

    def presence(self, old: str | None, new: str | None) -> None:
        """The hub's presence seam: remember the users of other doors who leave or change
        name, for WHOWAS (an IRC user's own session tells :meth:`remove`, :meth:`rename`)."""
        if old is None or name_key(old) in self._online:
            return
        if new is not None and name_key(new) == name_key(old):
            return  # a change of case only
        self._was.append(Was(old, Person(old, OTHER_HOST, old, irc=False), time.time()))

    def of(self, name: str) -> Person:
        """``name``'s ident, host and real name (the defaults for a non-IRC user)."""
        person = self._online.get(name_key(name))
        if person is None:
            return Person(name, OTHER_HOST, name, irc=False)
        return person

    def invisible(self) -> int:
        """How many of the IRC users online are invisible (user mode +i: LUSERS counts them)."""
        return sum(1 for person in self._online.values() if person.invisible)

    def mask(self, name: str) -> str:
        person = self.of(name)
        return f"{name}!{person.ident}@{person.host}"

    def was(self, name: str) -> list[Was]:
        """Who was called ``name``, latest first."""
        key = name_key(name)
        return [w for w in reversed(self._was) if name_key(w.nick) == key]


def iso_time(timestamp: float) -> str:
    """The IRCv3 server-time form: ``2026-12-01T12:44:14.123Z``."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp))
    return f"{whole}.{int(timestamp * 1000) % 1000:03d}Z"


def quit_reason(reason: Reason, detail: str = "", by: str = "") -> str:
    """A QUIT's (or a last ERROR's) reason as IRC servers word it."""
    match reason:
        case Reason.QUIT:
            return f"Quit: {detail}" if detail else "Quit"
        case Reason.TOO_SLOW:
            return "SendQ exceeded"
        case Reason.TIMEOUT:
            return "Ping timeout"
        case Reason.FLOODING:
            return "Excess Flood"
        case Reason.KICKED if by:  # an operator's KILL (the text door's /kick)
            return f"Killed ({by} ({detail}))" if detail else f"Killed ({by})"
        case Reason.LOST | Reason.CLOSED:
            return "Connection closed" if reason is Reason.CLOSED else "Connection lost"
        case _:
            return departure(reason, detail, by)


# IRCv3 account-tag (registered by extensions.py): the sender's account on what it says.
ACCOUNT_TAG = "account-tag"

# Other modules' forms of events (IRCv3: extended-join...): a hook returns the messages
# for an event and an encoder, or None to leave it to IrcEncoder.
EVENT_HOOKS: list[Callable[[IrcEncoder, ServerEvent], list[IrcMessage] | None]] = []


class IrcEncoder:
    """Turns core events into IRC lines for one set of wire capabilities.

    Hashable by identity: the hub keys its once-per-encoder cache on it.
    """

    __slots__ = ("caps", "people", "server", "tags", "times")

    def __init__(self, server: str, people: People, caps: frozenset[str]) -> None:
        self.server = server
        self.people = people
        self.caps = caps
        self.times = SERVER_TIME in caps
        self.tags = MESSAGE_TAGS in caps

    def __call__(self, event: ServerEvent) -> bytes:
        if isinstance(event, Reply):  # lines formatted by the session already
            return "".join(line + "\r\n" for line in event.lines).encode("utf-8", "replace")
        messages = self.messages(event)
        if ACCOUNT_TAG in self.caps:
            messages = [self.with_account(message) for message in messages]
        return b"".join(encode(message) for message in messages)

    def with_account(self, message: IrcMessage) -> IrcMessage:
        """IRCv3 account-tag: what a logged-in user does carries their account."""
        nick, user, _ = (message.source or "").partition("!")
        account = self.people.of(nick).account if user else ""
        if not account:
            return message
        return replace(message, tags={**message.tags, "account": account})

    def said_tags(self, when: float, id: int) -> dict[str, str]:
        tags: dict[str, str] = {}
        if self.times:
            tags["time"] = iso_time(when)
        if self.tags and id:
            tags["msgid"] = str(id)
        return tags

    def messages(self, event: ServerEvent) -> list[IrcMessage]:
        for hook in EVENT_HOOKS:  # IRCv3 forms (extended-join...) where negotiated
            found = hook(self, event)
            if found is not None:
                return found
        match event:
            case Message() | Action() | Private():
                return self.said(event)
            case Echo(said):
                return self.said(said)
            case Past(said):
                return self.said(said, past=True)
            case Joined(name, room):
                return [IrcMessage("JOIN", (room,), self.people.mask(name))]
            case Parted(name, room, detail):
                params = (room, detail) if detail else (room,)
                return [IrcMessage("PART", params, self.people.mask(name))]
            case RoomChanged(room, by, changes):
                return [IrcMessage("MODE", (room, *mode_line(changes)), self.people.mask(by))]
            case ToRoomOperators(sender, room, text, when):
                tags = self.said_tags(when, 0)
                line = IrcMessage("PRIVMSG", ("@" + room, text), self.people.mask(sender), tags)
                return [line]
            case ToOperators(by, text):
                return [IrcMessage("WALLOPS", (text,), self.people.mask(by))]
            case Invited(room, by, name):
                return [IrcMessage("INVITE", (name, room), self.people.mask(by))]
            case KickedOut(name, room, by, detail):
                kick = (room, name, detail or by)
                return [IrcMessage("KICK", kick, self.people.mask(by))]
            case Quit(name, reason, detail, by):
                why = quit_reason(reason, detail, by)
                return [IrcMessage("QUIT", (why,), self.people.mask(name))]
            case Dismissed(reason, detail, by):
                return [IrcMessage("ERROR", (f"Closing Link: {quit_reason(reason, detail, by)}",))]
            case Renamed(old, new):
                return [IrcMessage("NICK", (new,), self.people.mask(old))]
            case TopicChanged(name, room, topic, when):
                tags = self.said_tags(when, 0)
                return [IrcMessage("TOPIC", (room, topic), self.people.mask(name), tags)]
            case Crowd(room, joined, left):
                return [
                    *(IrcMessage("JOIN", (room,), self.people.mask(n)) for n in joined),
                    *(IrcMessage("PART", (room,), self.people.mask(n)) for n in left),
                ]
            case Moderated():
                return [self.notice(moderated_text(event))]
            case Notice(text) | Error(text):
                return [self.notice(text)]
            case Reply():
                return []  # see __call__

    def notice(self, text: str) -> IrcMessage:
        return IrcMessage("NOTICE", ("*", text), self.server)

    def said(self, event: Message | Action | Private, *, past: bool = False) -> list[IrcMessage]:
        source = self.people.mask(event.sender)
        target = event.target if isinstance(event, Private) else event.room
        tags = self.said_tags(event.time, event.id)
        sender = self.people.of(event.sender)
        if self.tags and sender.bot:
            tags["bot"] = ""
        if self.tags:  # message-tags: the sender's client tags too, after the server's
            tags.update(event.tags)
        text = event.text
        if past and not self.times:
            text = f"[{time.strftime('%Y-%m-%d %H:%M', time.localtime(event.time))}] {text}"
        action = isinstance(event, Action)
        if isinstance(event, Private) and not event.notice:
            acted = private_action_text(event.sender, text)
            action, text = (True, acted) if acted is not None else (False, text)
        # ":" source " PRIVMSG " target " :" (the CR LF is fit_text's to count)
        prefix = len(source.encode()) + len(target.encode()) + 12 + (9 if action else 0)
        pieces = fit_text(prefix, text)
        if action:
            pieces = [f"\x01ACTION {piece}\x01" for piece in pieces]
        verb = "NOTICE" if not isinstance(event, Action) and event.notice else "PRIVMSG"
        return [IrcMessage(verb, (target, piece), source, tags) for piece in pieces]


def private_action(name: str, text: str) -> str:
    """A private ``/me`` as the chat carries it (text users read ``* ana waves``)."""
    return f"* {name} {text}"


def private_action_text(name: str, text: str) -> str | None:
    """What ``name`` did, if ``text`` is a private ``/me`` of theirs (IRC users get an ACTION)."""
    start = f"* {name} "
    return text[len(start) :] if text.startswith(start) else None


def moderated_text(event: Moderated) -> str:
    match event.action:
        case ModAction.BANNED:
            term = f"until {event.detail}" if event.detail else "permanently"
            return f"{event.by} banned {event.target} {term}"
        case ModAction.UNBANNED:
            return f"{event.by} lifted the ban on {event.target}"
        case _:
            return f"{event.by} {event.action.value} {event.target}"


class Wire:
    """The IRC door's encoders, one per set of wire capabilities, and who is who."""

    def __init__(self, server: str, people: People | None = None) -> None:
        self.server = server
        self.people = people or People()
        self._encoders: dict[frozenset[str], IrcEncoder] = {}

    def encoder(self, caps: Iterable[str]) -> IrcEncoder:
        key = wire_caps(caps)
        found = self._encoders.get(key)
        if found is None:
            found = self._encoders[key] = IrcEncoder(self.server, self.people, key)
        return found
