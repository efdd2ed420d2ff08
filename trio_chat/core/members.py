"""Who the hub holds: members and rooms, and what a member brings (an encoder).

Plain records: the :class:`~trio_chat.core.hub.Hub` changes them, and only it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Protocol

import trio

from trio_chat.core.counters import Counters
from trio_chat.core.events import Action, Message, Reason, ServerEvent, departure
from trio_chat.core.outbox import Outbox, OutboxFull

LOGGER = logging.getLogger("trio_chat.core.hub")


Encoder = Callable[[ServerEvent], bytes]


class Recorder(Protocol):
    """Keeps what is said in rooms (the history); called synchronously, must not block."""

    @property
    def last_seq(self) -> int:
        """The id of the last event it kept: the hub's ids go on from there."""
        ...

    def record(self, event: Message | Action) -> None: ...

    def record_topic(self, room: str, topic: str) -> None: ...


# Departures that are part of running a server, logged at INFO; others at WARNING.
ORDINARY = frozenset({Reason.QUIT, Reason.CLOSED, Reason.LOST, Reason.ELSEWHERE})


class Link(Protocol):
    """A member's connection, as the hub sees it: something to close, saying why."""

    def close(self, reason: Reason, deadline: float = -math.inf) -> None:
        """End it by ``deadline`` (at once by default): what is queued may go out until then."""
        ...


class ScopeLink:
    """A :class:`Link` over a cancel scope: for a member without a connection (tests, tools)."""

    __slots__ = ("reason", "scope")

    def __init__(self, scope: trio.CancelScope | None = None) -> None:
        self.scope = scope if scope is not None else trio.CancelScope()
        self.reason: Reason | None = None

    def close(self, reason: Reason, deadline: float = -math.inf) -> None:
        if self.reason is None:
            self.reason = reason
        if deadline == -math.inf:
            self.scope.cancel()
        else:
            self.scope.deadline = min(self.scope.deadline, deadline)


@dataclass(eq=False, slots=True)
class Member:
    """One registered user, as the hub sees them.

    ``link`` closes the member's connection, with a reason and a deadline:
    the hub ends a session through it (too slow, kicked, shutting down).
    """

    name: str
    encode: Encoder
    outbox: Outbox
    link: Link
    address: str = ""
    rooms: set[str] = field(default_factory=set)
    # Moderation: an operator may kick, ban and mute; a muted member's lines reach nobody.
    operator: bool = False
    muted: bool = False
    # /echo on: the member's own messages come back to them, as the others see them.
    echo: bool = False
    # Away (IRC AWAY): why, shown to whoever writes to them; "" when here.
    away: str = ""
    # False once the member left the hub (quit, evicted, kicked): it acts no more.
    present: bool = True


@dataclass(eq=False, slots=True)
class Room:
    name: str
    topic: str = ""
    members: dict[str, Member] = field(default_factory=dict)  # by name key
    # In a big room, who came and went since the last summary.
    arrived: list[str] = field(default_factory=list)
    departed: list[str] = field(default_factory=list)
    # Who runs the room (the first in, and whom they named), and who may speak
    # when it is moderated; the room's own rules (core/roomrules.py).
    # When it was opened, and who set its topic when (this run only; Unix seconds).
    created: float = field(default_factory=time.time)
    topic_by: str = ""
    topic_time: float = 0.0
    ops: set[Member] = field(default_factory=set)
    voiced: set[Member] = field(default_factory=set)
    settings: RoomSettings = field(default_factory=lambda: RoomSettings())


@dataclass(frozen=True, slots=True)
class RoomBan:
    """A mask of one room's lists (bans, their exceptions, invitation exceptions):
    ``name!*@address`` with ``*`` and ``?`` wildcards."""

    mask: str
    by: str
    time: float


@dataclass(eq=False, slots=True)
class RoomSettings:
    """A room's own rules, set by its operators."""

    topic_locked: bool = False  # only operators set the topic
    moderated: bool = False  # only operators and the voiced speak
    invite_only: bool = False  # only the invited enter
    secret: bool = False  # not listed for those outside
    outside: bool = False  # hears from non-members too (IRC -n)
    key: str = ""  # the word needed to enter ("": none)
    limit: int = 0  # the most members (0: no limit)
    bans: list[RoomBan] = field(default_factory=list)
    exceptions: list[RoomBan] = field(default_factory=list)  # let in despite a ban (IRC +e)
    invite_exceptions: list[RoomBan] = field(default_factory=list)  # past invite_only (+I)
    # Keys of the names invited in (until they enter).
    invited: set[str] = field(default_factory=set)


def log_departure(
    member: Member,
    reason: Reason,
    event: str,
    detail: str = "",
    by: str = "",
    *,
    quiet: bool = False,
    more: str = "",
) -> None:
    """One log line for a member leaving (``quiet``: at DEBUG, as everyone does at shutdown;
    ``more``: what the line adds, such as how many like it were left out)."""
    why = departure(reason, detail, by)
    level = logging.DEBUG if quiet else logging.INFO if reason in ORDINARY else logging.WARNING
    verb = "dropping %s (%s): %s%s" if event == "dropped" else "%s (%s) left: %s%s"
    fields = {"event": event, "address": member.address, "name": member.name, "reason": why}
    LOGGER.log(level, verb, member.name, member.address, why, more, extra={"fields": fields})


def queue_one(member: Member, data: bytes, own: bool = False) -> Reason | None:
    """Queue ``data`` in ``member``'s outbox; None if queued, else why it was not.

    ``TOO_SLOW`` (full) and ``LOST`` (its writer is gone): the member must be
    evicted. ``CLOSED``: already leaving, it has been told everything it will
    be told; nothing to do.
    """
    try:
        member.outbox.put_nowait(data, own)
    except OutboxFull:
        return Reason.TOO_SLOW
    except trio.BrokenResourceError:
        return Reason.LOST
    except trio.ClosedResourceError:
        return Reason.CLOSED
    return None


def queue_each(
    members: Collection[Member],
    event: ServerEvent,
    counters: Counters | None = None,
    *,
    exclude: Member | None = None,
    own: bool = False,
) -> list[tuple[Member, Reason]]:
    """Encode ``event`` once per encoder and queue it in each member's outbox
    (but ``exclude``'s).

    ``own``: for one member alone (its bytes count in the server's budget).

    Returns the members that could not take it, and why (too slow, gone): the
    hub evicts them after the loop, so that the rooms being iterated do not
    change under it. An encoder that fails is logged, and its members skip
    this event: a frontend's bug must not stop delivery to everyone else.

    The events queued are added to ``counters.deliveries``: all the members
    but those skipped, which are counted on the rare paths, so that the loop
    (the hot path) does no counting of its own.
    """
    encoded: dict[Encoder, bytes | None] = {}
    dropped: list[tuple[Member, Reason]] = []
    skipped = 0
    # The hot loop of a big room: one comparison finds the bytes when the
    # member shares the last member's encoder (most do), and the put is
    # called here, not through queue_one.
    last: Encoder | None = None
    data: bytes | None = None
    for member in members:
        if member is exclude:
            skipped += 1
            continue
        if member.encode is not last:
            last = member.encode
            data = encoded.get(last, _UNSEEN)
            if data is _UNSEEN:
                data = _encode(encoded, member, event)
        if data is None:  # its encoder failed
            skipped += 1
            continue
        try:
            member.outbox.put_nowait(data, own)
        except OutboxFull:
            dropped.append((member, Reason.TOO_SLOW))
        except trio.BrokenResourceError:
            dropped.append((member, Reason.LOST))
        except trio.ClosedResourceError:
            skipped += 1
    if counters is not None:
        counters.deliveries += len(members) - skipped - len(dropped)
    return dropped


# What the encoding cache holds for an encoder not seen yet (None: it failed).
_UNSEEN = b"unseen"


def _encode(
    encoded: dict[Encoder, bytes | None], member: Member, event: ServerEvent
) -> bytes | None:
    """``event`` in ``member``'s encoding, kept in ``encoded``; None if its encoder failed."""
    data: bytes | None = None
    try:
        data = member.encode(event)
    except Exception:
        LOGGER.exception("encoding %s for %s failed", type(event).__name__, member.name)
    encoded[member.encode] = data
    return data


def farewell(member: Member, event: ServerEvent) -> bool:
    """Drop what is queued for ``member`` for ``event`` alone; whether it could be queued."""
    try:
        data = member.encode(event)
        member.outbox.put_last(data)
    except Exception:  # an encoder's bug, or the outbox is closed: nothing to tell
        LOGGER.debug("could not tell %s why they are dropped", member.name, exc_info=True)
        return False
    return True
