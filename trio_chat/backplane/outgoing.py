"""The hub's side of the Redis backplane: what it is told, queued; never blocks.

:class:`Outgoing` is the base of :class:`~.redis.RedisBackplane`: the hub
calls :meth:`Outgoing.publish` (and :meth:`~Outgoing.arrived`) after each
change it made for one of this server's members; what other servers are to
hear is queued (bounded: past :attr:`Outgoing.queue_size`, or while Redis is
unreachable, an event is dropped and counted in :attr:`Outgoing.dropped`), and
the members and rooms whose snapshot changed are noted. The publisher task
takes all of it at once (:meth:`Outgoing._outgoing`) for one pipeline. A name
is claimed in the registry before it is taken (:meth:`Outgoing.claim`; only
the caller waits).
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from typing import TypeGuard

import trio

from trio_chat.backplane.faults import is_connection_error
from trio_chat.backplane.mirror import Mirror, home_of
from trio_chat.backplane.registry import Registry
from trio_chat.backplane.wire import (
    RELAYED,
    Dismiss,
    Online,
    Relayed,
    encode_member,
    encode_room,
)
from trio_chat.core.events import (
    Joined,
    KickedOut,
    Parted,
    Private,
    Quit,
    Renamed,
    RoomChanged,
    ServerEvent,
    TopicChanged,
)
from trio_chat.core.hub import Hub
from trio_chat.core.members import Member

LOGGER = logging.getLogger("trio_chat.backplane.redis")

# A command that takes longer than this means Redis is unreachable.
COMMAND_TIMEOUT = 10.0


class Outgoing:
    """What this server's hub told the backplane, waiting for the publisher.

    Args:
        registry: the shared keys' operations (for claims).
        queue_size: events waiting for Redis at most.
    """

    def __init__(self, registry: Registry, queue_size: int) -> None:
        self.registry = registry
        self.queue_size = queue_size
        # Events for other servers that were dropped (queue full, Redis unreachable).
        self.dropped = 0
        self.connected = False
        self._queue: collections.deque[Relayed] = collections.deque()
        self._dirty: dict[str, str] = {}  # name key -> name, of members whose snapshot changed
        self._rooms: dict[str, str] = {}  # room key -> name, of rooms whose state changed
        self._wake = trio.Event()
        self._hub: Hub | None = None
        self._mirror: Mirror | None = None
        self._key: Callable[[str], str] = str.casefold

    @property
    def hub(self) -> Hub:
        assert self._hub is not None, "attach() first"
        return self._hub

    @property
    def mirror(self) -> Mirror:
        assert self._mirror is not None, "attach() first"
        return self._mirror

    def publish(self, member: Member, event: ServerEvent) -> None:
        if self.mirror.applying:
            return
        home = home_of(member)
        if isinstance(event, KickedOut):  # out of a room here: out of it on every server
            self._touch(member.name)
            self._send(event)
            return
        if home is not None:
            if isinstance(event, Quit):  # removed here (kicked, logged in here): tell its server
                self._send(Dismiss(home, member.name, event.reason, event.detail, event.by))
            return
        if isinstance(event, Private):
            target = self.hub.find(event.target)
            if target is None or home_of(target) is None:
                return
        elif isinstance(event, Renamed):
            self._touch(event.old)
            self._touch(event.new)
        else:
            self._touch(member.name)
        if isinstance(event, RoomChanged | TopicChanged) or self._opened_or_closed(event):
            self._rooms[self._key(event.room)] = event.room  # for servers started later
        if isinstance(event, RELAYED):
            self._send(event)

    def arrived(self, member: Member) -> None:
        if not self.mirror.applying and home_of(member) is None:
            self._touch(member.name)
            self._send(Online(member.name))

    def reaches(self, member: Member) -> bool:
        if home_of(member) is None:
            return True
        return self.connected and len(self._queue) < self.queue_size

    async def claim(self, name: str, *, take: bool = False) -> bool:
        if not self.connected:
            await trio.lowlevel.checkpoint()
            return True  # claimed again on reconnecting
        with trio.move_on_after(COMMAND_TIMEOUT):
            try:
                held = await self.registry.claim(self._key(name), take=take)
            except Exception as exc:
                if not is_connection_error(exc):
                    raise
                return True  # the connection's tasks notice it too
            return bool(held)
        return True

    def unclaim(self, name: str) -> None:
        self._touch(name)
        self._wake.set()

    def _touch(self, name: str) -> None:
        self._dirty[self._key(name)] = name

    def _opened_or_closed(self, event: ServerEvent) -> TypeGuard[Joined | Parted]:
        """Whether ``event`` opened a room afresh (its state starts anew) or closed it
        (no member left here, so none anywhere: its state goes)."""
        if isinstance(event, Joined):
            room = self.hub.room(event.room)
            return room is not None and len(room.members) == 1
        return isinstance(event, Parted) and self.hub.room(event.room) is None

    def _send(self, event: Relayed) -> None:
        if not self.connected or len(self._queue) >= self.queue_size:
            self._drop(1)
            return
        self._queue.append(event)
        self._wake.set()

    def _drop(self, count: int) -> None:
        before = self.dropped
        self.dropped += count
        if before == 0 or before // 1000 != self.dropped // 1000:
            LOGGER.warning("%d event(s) for other servers dropped so far", self.dropped)

    # --- the publisher's side ----------------------------------------------------------

    def _outgoing(self) -> tuple[dict[str, str | None], list[Relayed], dict[str, str | None]]:
        """Everything waiting, taken: members' snapshots (None: gone), events, rooms' states."""
        batch = list(self._queue)
        self._queue.clear()
        dirty, self._dirty = self._dirty, {}
        members = {key: self._snapshot_of(name) for key, name in dirty.items()}
        rooms, self._rooms = self._rooms, {}
        return members, batch, {key: self._state_of(name) for key, name in rooms.items()}

    def _state_of(self, name: str) -> str | None:
        """The state of room ``name`` (None: closed, or as a new room's: none kept)."""
        room = self.hub.room(name)
        if room is None:
            return None
        state = self.mirror.state_of(room)
        return None if state.plain else encode_room(state)

    def _snapshot_of(self, name: str) -> str | None:
        member = self.hub.find(name)
        return snapshot(member) if member is not None and home_of(member) is None else None


def snapshot(member: Member) -> str:
    """``member``'s entry in this server's snapshot (its name and rooms)."""
    return encode_member(member.name, member.rooms)
