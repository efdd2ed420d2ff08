"""The hub: members, names and rooms, and the fan-out between them.

Theory of operation
-------------------
The hub is a plain object, built by the assembly before any frontend starts
and used through the chat service. It knows nothing of bytes, sockets or
protocols: each member (:mod:`.members`) brings an *encoder* (event to
bytes), a bounded :class:`~.outbox.Outbox` and a *link* to close its
connection with a reason.

Every mutator is synchronous. Between two checkpoints only one task runs, so
a join, a rename or a whole broadcast happens atomically without any lock.

Nobody awaits a peer. ``broadcast()`` encodes an event once per distinct
encoder and puts the bytes into each recipient's outbox with
``send_nowait``. A recipient whose outbox is full, in messages or in bytes,
is evicted ("too slow"): it can never stall the sender or the room. The
outboxes' :class:`~.outbox.Flusher` then writes them to the sockets.

What is said (:class:`~.speech.Speech`, the hub's base) is stamped once, with
an increasing id and the time. Big rooms hear of arrivals and departures in
summaries (:mod:`.crowds`), so that a crowd of N arriving costs O(N) notices,
not N*N/2.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, Iterable, Mapping

import trio

from trio_chat.core.backplane import Backplane, NullBackplane
from trio_chat.core.counters import Counters
from trio_chat.core.crowds import Crowds
from trio_chat.core.events import (
    Dismissed,
    Invited,
    Joined,
    Notice,
    Parted,
    Quit,
    Reason,
    Renamed,
    RoomChanged,
    ServerEvent,
)
from trio_chat.core.members import (
    Encoder,
    Link,
    Member,
    Recorder,
    Room,
    farewell,
    log_departure,
    queue_each,
    queue_one,
)
from trio_chat.core.outbox import (
    FLUSH_INTERVAL,
    OUTBOX_HARD_BYTES,
    OUTBOX_MESSAGES,
    QUEUE_BUDGET,
    Flusher,
    Outbox,
)
from trio_chat.core.refusals import (
    NameTaken,
    NoSuchMember,
    NotInRoom,
    ServerClosing,
)
from trio_chat.core.speech import Speech
from trio_chat.core.stamps import Stamps
from trio_chat.core.topics import Topics

LOGGER = logging.getLogger(__name__)

# The room everyone starts in.
LOBBY = "#lobby"

# A member dropped as too slow has this long to receive why.
FAREWELL_TIMEOUT = 2.0


class Hub(Speech):
    """Members, names and rooms; fan-out of events to members' outboxes.

    Args:
        name_key: maps a name to the form names are compared in (for
            example case-folded), so that "Ana" and "ana" cannot both be online.
        outbox_messages, outbox_bytes: the bounds of each member's outbox;
            a member whose outbox would exceed either is dropped as too slow.
        recorder: told of every room message and topic change (the history).
        counters: what is counted (for the metrics); a fresh set by default.
        topics: room topics kept from an earlier run, by room name.
        last_id: the id of the last event stamped in an earlier run; ids go on
            from there (the history's last sequence number).
        home: rooms that stay open when empty (the text protocol's lobby).
        backplane: told of what this hub's members do, for other servers
            (:mod:`.backplane`; none by default).
    """

    def __init__(
        self,
        name_key: Callable[[str], str] = str.casefold,
        *,
        outbox_messages: int = OUTBOX_MESSAGES,
        outbox_bytes: int = OUTBOX_HARD_BYTES,
        flush_interval: float = FLUSH_INTERVAL,
        queue_budget: int = QUEUE_BUDGET,
        recorder: Recorder | None = None,
        counters: Counters | None = None,
        topics: Mapping[str, str] = {},
        last_id: int = 0,
        home: Iterable[str] = (LOBBY,),
        backplane: Backplane | None = None,
    ) -> None:
        self._name_key = name_key
        self.backplane: Backplane = backplane or NullBackplane()
        # Ids never go back, not even across restarts (the recorder keeps them).
        last = max(last_id, recorder.last_seq if recorder is not None else 0)
        self._stamps = Stamps(last, self.backplane.node)
        self._home = frozenset(name_key(room) for room in home)
        self._outbox_limits = (outbox_messages, outbox_bytes)
        # run() batches writer wake-ups and big rooms' join/leave notices.
        self.flusher = Flusher(flush_interval, queue_budget)
        self.flusher.evict = self._evict_outbox
        self._recorder = recorder
        self.counters = counters if counters is not None else Counters()
        self._members: dict[str, Member] = {}
        self._rooms: dict[str, Room] = {}
        self._topics = Topics.by_name(topics, name_key, self._rooms)
        # Big rooms' arrivals and departures, told in summaries while run() runs.
        self.crowds = Crowds(self._rooms, self.broadcast)
        for room in home:
            self._open_room(room)
        self.closing = False
        # Told (old, new) of every name that comes online (None, name), goes
        # (name, None) or changes (old, new): IRC's MONITOR. They must not await.
        self.presence: list[Callable[[str | None, str | None], None]] = []

    def _presence(self, old: str | None, new: str | None) -> None:
        for watcher in self.presence:
            watcher(old, new)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The hub's background work, until cancelled: run it beside the sessions.

        Without it the hub still works; every join and leave is announced on
        its own, and writers are woken per message.
        """
        async with trio.open_nursery() as nursery:
            await nursery.start(self.flusher.run)
            await self.crowds.run(task_status=task_status)

    # --- queries ---------------------------------------------------------

    def __len__(self) -> int:
        return len(self._members)

    def find(self, name: str) -> Member | None:
        return self._members.get(self._name_key(name))

    def names(self, room: str | None = None) -> list[str]:
        """Names online, sorted; only those in ``room`` if given."""
        members = self._members.values() if room is None else self._room_members(room)
        return sorted((m.name for m in members), key=self._name_key)

    def rooms(self) -> list[str]:
        """The names of the rooms that have members (and the lobby), sorted."""
        return sorted((r.name for r in self._rooms.values()), key=self._name_key)

    def room_list(self) -> list[Room]:
        """The rooms, sorted by name."""
        return sorted(self._rooms.values(), key=lambda r: self._name_key(r.name))

    def room(self, name: str) -> Room | None:
        return self._rooms.get(self._name_key(name))

    def statistics(self) -> dict[str, int]:
        return {"members": len(self._members), "rooms": len(self._rooms)}

    # --- membership -------------------------------------------------------

    def join(
        self,
        name: str,
        encode: Encoder,
        link: Link,
        *,
        address: str = "",
        outbox: Outbox | None = None,
    ) -> Member:
        """Register ``name``, in no room yet (the frontend chooses where it goes).

        Raises:
            NameTaken: someone online already has that name.
            ServerClosing: the hub is shutting down.
        """
        if self.closing:
            raise ServerClosing
        key = self._name_key(name)
        if key in self._members:
            raise NameTaken(name)
        outbox = outbox or Outbox(*self._outbox_limits, flusher=self.flusher)
        member = Member(name, encode, outbox, link, address)
        outbox.owner = member
        self._members[key] = member
        self.backplane.arrived(member)
        self._presence(None, name)
        return member

    def enter(self, member: Member, room: str) -> Room:
        """Put ``member`` in ``room`` (created if needed); the room hears of it.

        Entering a room one is in already changes nothing.
        """
        if not self.is_member(member):
            raise NoSuchMember(member.name)
        found = self._rooms.get(self._name_key(room))
        target = found or self._open_room(room)
        if target.name in member.rooms:
            return target
        if found is None and self._name_key(target.name) not in self._home:
            target.ops.add(member)  # who opens a room runs it
        # In first: the broadcast may evict the room's last other member, and
        # a room with a member in it is never removed under us.
        target.members[self._name_key(member.name)] = member
        member.rooms.add(target.name)
        target.settings.invited.discard(self._name_key(member.name))  # used, on every server
        joined = Joined(member.name, target.name)
        if not self.crowds.arrived(target, member.name):
            self.broadcast(target.name, joined, exclude=member)
        self.backplane.publish(member, joined)
        return target

    def part(
        self, member: Member, room: str, detail: str = "", *, told: ServerEvent | None = None
    ) -> None:
        """Take ``member`` out of ``room`` (they stay online); the room hears of it.

        With ``told``, the room, ``member`` included, hears that instead, before
        they leave (an operator's kick out of one room).

        Raises:
            NotInRoom: ``member`` is not in ``room``.
        """
        target = self._rooms.get(self._name_key(room))
        if target is None or target.name not in member.rooms:
            raise NotInRoom(room)
        if told is not None:
            self.broadcast(target.name, told)
            if target.name in member.rooms:  # not evicted by that broadcast
                self._remove_from(member, target)
            self.backplane.publish(member, told)
            return
        self._remove_from(member, target)
        parted = Parted(member.name, target.name, detail)
        if not self.crowds.departed(target, member.name):
            self.broadcast(target.name, parted)
        self.backplane.publish(member, parted)

    def rules_changed(self, member: Member, event: RoomChanged) -> None:
        """``member`` changed a room's rules (applied already): the room and other servers hear."""
        self.broadcast(event.room, event)
        self.backplane.publish(member, event)

    def invite(self, member: Member, room: Room, target: Member) -> None:
        """``member`` invites ``target`` into ``room`` (allowed): they, and other servers, hear."""
        room.settings.invited.add(self._name_key(target.name))
        invited = Invited(room.name, member.name, target.name)
        self.deliver(target, invited)
        self.backplane.publish(member, invited)

    def _open_room(self, name: str) -> Room:
        key = self._name_key(name)
        room = self._rooms[key] = Room(name, self._topics.get(key))
        return room

    def _remove_from(self, member: Member, room: Room) -> None:
        del room.members[self._name_key(member.name)]
        member.rooms.discard(room.name)
        room.ops.discard(member)
        room.voiced.discard(member)
        if not room.members and self._name_key(room.name) not in self._home:
            del self._rooms[self._name_key(room.name)]

    def leave(self, member: Member, reason: Reason, detail: str = "", by: str = "") -> None:
        """Remove ``member`` from the hub. Idempotent.

        Everyone who shared a room with them hears one :class:`Quit`, however
        many rooms they shared (big rooms hear of it in their summary). The
        outbox is closed, so the member's writer sends what is still queued
        and then ends the session.
        """
        key = self._name_key(member.name)
        if self._members.get(key) is not member:
            return
        del self._members[key]
        self.counters.departures[reason] += 1
        audience: set[Member] = set()
        for room in sorted(member.rooms):
            target = self._rooms.get(self._name_key(room))
            if target is None:
                continue
            self._remove_from(member, target)
            if not self.closing and not self.crowds.departed(target, member.name):
                audience.update(target.members.values())
        member.rooms.clear()
        member.present = False
        member.outbox.close()
        departed = Quit(member.name, reason, detail, by)
        if audience:
            self.send_each(audience, departed)
        self.backplane.publish(member, departed)
        self._presence(member.name, None)

    def evict(self, member: Member, reason: Reason) -> None:
        """Throw ``member`` out now (too slow, connection lost): leave and cancel its session.

        Nothing more can reach them: their outbox is full or their peer gone.
        One too slow is told why, though: what was queued is dropped for one
        last line (a :class:`Dismissed`), which their writer has until
        :data:`FAREWELL_TIMEOUT` to send.
        """
        deadline = -math.inf
        if self.is_member(member):
            log_departure(member, reason, "dropped")
            told = reason is Reason.TOO_SLOW and not self.closing
            if told and farewell(member, Dismissed(reason)):
                deadline = trio.current_time() + FAREWELL_TIMEOUT
        self.leave(member, reason)
        member.link.close(reason, deadline)

    def _evict_outbox(self, outbox: Outbox) -> None:
        """The flusher found ``outbox`` among the biggest over the server's budget."""
        member = outbox.owner
        if isinstance(member, Member) and self.is_member(member):
            self.evict(member, Reason.TOO_SLOW)

    def dismiss(
        self, member: Member, reason: Reason, deadline: float, *, detail: str = "", by: str = ""
    ) -> None:
        """End ``member``'s session, telling them why first; their rooms hear it too.

        Unlike :meth:`evict`, the member's writer first sends what is queued,
        ending with a :class:`Dismissed` that says why; their session ends by
        ``deadline`` at the latest. Logged here, once: the session finds the
        member gone.
        """
        told = False
        if self.is_member(member):
            log_departure(member, reason, "left", detail, by)
            # Not deliver(): a member too slow to take the reason is still
            # dismissed for this reason, not evicted as too slow.
            told = not queue_each((member,), Dismissed(reason, detail, by), self.counters)
        self.leave(member, reason, detail, by)
        # Told: the writer may deliver it until the deadline; else end now.
        member.link.close(reason, deadline if told else -math.inf)

    def is_member(self, member: Member) -> bool:
        """Whether ``member`` is still online (not left, not evicted)."""
        return self._members.get(self._name_key(member.name)) is member

    def rename(self, member: Member, new: str) -> None:
        """Give ``member`` a new name; everyone sharing a room with them hears of it.

        Raises:
            NameTaken: someone else online already has that name.
        """
        if not self.is_member(member):
            return
        old_key, new_key = self._name_key(member.name), self._name_key(new)
        if new_key != old_key and new_key in self._members:
            raise NameTaken(new)
        old = member.name
        del self._members[old_key]
        self._members[new_key] = member
        for room in member.rooms:
            members = self._rooms[self._name_key(room)].members
            del members[old_key]
            members[new_key] = member
        member.name = new
        audience = {m for room in member.rooms for m in self._room_members(room)}
        audience.add(member)
        self.send_each(audience, Renamed(old, new))
        self.backplane.publish(member, Renamed(old, new))
        self._presence(old, new)

    # --- fan-out ----------------------------------------------------------

    def broadcast(self, room: str, event: ServerEvent, *, exclude: Member | None = None) -> None:
        """Put ``event`` into the outbox of every member of ``room`` but ``exclude``."""
        self.send_each(self._room_members(room), event, exclude=exclude)

    def deliver(self, member: Member, event: ServerEvent) -> None:
        """Put ``event`` into one member's outbox (a reply, a notice, a replay).

        Its bytes are the member's own, counted in the server's queue budget.
        """
        for dropped, reason in queue_each((member,), event, self.counters, own=True):
            self.evict(dropped, reason)

    def put(self, member: Member, data: bytes) -> None:
        """Queue bytes a frontend framed itself (an answer, a pong) for ``member``.

        In order with the events; a member that cannot take them is evicted,
        as from a broadcast.
        """
        why = queue_one(member, data, own=True)
        if why is not None and why is not Reason.CLOSED:
            self.evict(member, why)

    def send_each(
        self, members: Collection[Member], event: ServerEvent, *, exclude: Member | None = None
    ) -> None:
        """Encode ``event`` once per encoder and queue it for each member (but ``exclude``).

        Members that cannot take it are evicted after the loop, so that the
        rooms being iterated do not change under it.
        """
        # An idle server writes a broadcast through to those with nothing queued.
        through = self.flusher.open_through()
        try:
            dropped = queue_each(members, event, self.counters, exclude=exclude)
        finally:
            if through:
                self.flusher.close_through()
        for member, reason in dropped:
            self.evict(member, reason)

    def shutdown(self, notice: str, deadline: float = math.inf) -> None:
        """Tell every member ``notice`` and close every outbox.

        Writers send what is queued and end their sessions; nobody is told
        about the others leaving. A session still running at ``deadline``
        (stuck sending to a peer that does not read) is cancelled then.
        """
        self.closing = True
        members = list(self._members.values())
        self.send_each(members, Notice(notice))
        for member in members:
            member.outbox.close()
            member.link.close(Reason.SHUTDOWN, deadline)

    def _room_members(self, room: str) -> Collection[Member]:
        target = self._rooms.get(self._name_key(room))
        return () if target is None else target.members.values()
