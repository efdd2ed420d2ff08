"""What the hub says to members: frozen events shared by every protocol frontend.

The hub never formats text or bytes. It hands these events to each member's
encoder (the line protocol today, IRC and WebSocket later), which turns them
into bytes once per distinct encoding for a whole broadcast.

Everything said (messages, actions, private messages, topic changes) carries
``id``, unique and increasing, and ``time``, the server's clock (Unix
seconds), both stamped once by the hub: every recipient, the history and
(later) other servers see the same pair.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Reason(enum.Enum):
    """Why a member left the server: data, worded by each frontend."""

    QUIT = "quit"  # they asked to (``detail``: their parting words, if any)
    CLOSED = "connection closed"  # their side closed the connection
    LOST = "connection lost"  # the connection failed (reset, timeout)
    TOO_SLOW = "too slow"  # their outbox overflowed: they were not reading
    FLOODING = "flooding"  # over the flood rate for too long
    TIMEOUT = "ping timeout"  # did not answer the server's pings (IRC)
    KICKED = "kicked"  # by an operator (``by``; ``detail``: the reason given)
    BANNED = "banned"  # by an operator (``by``; ``detail``: BanEntry.stamp(), "" if for ever)
    ELSEWHERE = "logged in from elsewhere"  # their account logged in again
    OPER_FAILURES = "too many wrong operator passwords"
    SHUTDOWN = "server shutting down"
    SERVER_LOST = "server lost"  # their server stopped answering (see trio_chat.backplane)


def departure(reason: Reason, detail: str = "", by: str = "") -> str:
    """Why someone left, in the server log's words (and the text protocol's)."""
    match reason:
        case Reason.QUIT:
            return detail or "quit"
        case Reason.KICKED:
            return f"kicked by {by}: {detail}" if detail else f"kicked by {by}"
        case Reason.BANNED:
            return f"banned by {by}"
        case _:
            return str(reason.value)


class ModAction(enum.Enum):
    """What an operator did, as announced to the rooms concerned."""

    BANNED = "banned"
    UNBANNED = "unbanned"
    MUTED = "muted"
    UNMUTED = "unmuted"


# A message's client tags (IRCv3 message-tags: ``+draft/reply=ID``...), as (key, value)
# pairs: carried to the doors that show them, never stored.
ClientTags = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Message:
    """A chat line said in a room, stamped with the server's time (Unix seconds).

    ``notice``: said as a notice (IRC NOTICE: never to be answered automatically).
    """

    sender: str
    room: str
    text: str
    time: float = 0.0
    id: int = 0
    notice: bool = False
    tags: ClientTags = ()


@dataclass(frozen=True, slots=True)
class Action:
    """A `/me` action in a room."""

    sender: str
    room: str
    text: str
    time: float = 0.0
    id: int = 0
    tags: ClientTags = ()


@dataclass(frozen=True, slots=True)
class Past:
    """A message from a room's history, replayed: never to be mistaken for live chat."""

    event: Message | Action


@dataclass(frozen=True, slots=True)
class Private:
    """A private message from one member to another (``notice``: as Message's)."""

    sender: str
    target: str
    text: str
    time: float = 0.0
    id: int = 0
    notice: bool = False
    tags: ClientTags = ()


@dataclass(frozen=True, slots=True)
class Echo:
    """A member's own line sent back to them (``/echo on``), as the others see it."""

    event: Message | Action | Private


@dataclass(frozen=True, slots=True)
class Joined:
    """Someone joined a room."""

    name: str
    room: str


@dataclass(frozen=True, slots=True)
class Parted:
    """Someone left one room (and stays on the server); ``detail`` may be empty."""

    name: str
    room: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class KickedOut:
    """An operator put ``name`` out of one room (they stay online); ``detail``: why."""

    name: str
    room: str
    by: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RoomChanged:
    """A room's operator changed its rules: ``changes`` are (setting, on, value).

    Settings: ``op`` and ``voice`` (value: a name), ``ban`` (a mask), ``key``,
    ``limit`` (the value), ``topic-locked``, ``moderated``, ``invite-only``,
    ``secret`` (no value).
    """

    room: str
    by: str
    changes: tuple[tuple[str, bool, str], ...]


@dataclass(frozen=True, slots=True)
class ToRoomOperators:
    """A line for a room's operators only (IRC STATUSMSG ``@#dev``); never recorded."""

    sender: str
    room: str
    text: str
    time: float = 0.0


@dataclass(frozen=True, slots=True)
class ToOperators:
    """An operator's word to every operator online (IRC WALLOPS)."""

    by: str
    text: str


@dataclass(frozen=True, slots=True)
class Invited:
    """To ``name``: ``by`` invites them into ``room``."""

    room: str
    by: str
    name: str


@dataclass(frozen=True, slots=True)
class Quit:
    """Someone left the server: one event per observer, whatever rooms they shared."""

    name: str
    reason: Reason
    detail: str = ""
    by: str = ""


@dataclass(frozen=True, slots=True)
class Dismissed:
    """To the member being ended by the server: why, before the connection closes."""

    reason: Reason
    detail: str = ""
    by: str = ""


@dataclass(frozen=True, slots=True)
class Moderated:
    """An operator's action, announced to the rooms concerned."""

    action: ModAction
    by: str
    target: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Crowd:
    """Who came and went in a big room lately: one notice instead of one each."""

    room: str
    joined: tuple[str, ...]
    left: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Renamed:
    """Someone changed their name."""

    old: str
    new: str


@dataclass(frozen=True, slots=True)
class TopicChanged:
    """Someone set (or, with an empty topic, cleared) a room's topic."""

    name: str
    room: str
    topic: str
    time: float = 0.0
    id: int = 0


@dataclass(frozen=True, slots=True)
class Notice:
    """A server notice to one member (welcome, `/who` answer, shutdown...)."""

    text: str


@dataclass(frozen=True, slots=True)
class Error:
    """An error answer to one member's input."""

    text: str


@dataclass(frozen=True, slots=True)
class Reply:
    """A frontend's own answer to its member, already in its wire's words (IRC numerics).

    The core only carries it to the member's outbox (in order with everything
    else, bounded like everything else); each line is one line of that wire.
    """

    lines: tuple[str, ...]


ServerEvent = (
    Message
    | Action
    | Past
    | Private
    | Echo
    | Joined
    | Parted
    | KickedOut
    | RoomChanged
    | Invited
    | ToOperators
    | ToRoomOperators
    | Quit
    | Dismissed
    | Moderated
    | Crowd
    | Renamed
    | TopicChanged
    | Notice
    | Error
    | Reply
)
