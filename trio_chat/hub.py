"""The hub: members, names and rooms, and the fan-out between them.

Theory of operation
-------------------
The hub is a plain object, built by ``main()`` before the server starts and
handed to every session. It knows nothing of bytes, sockets or protocols:
each member brings an *encoder* (a function from event to bytes) and a
bounded :class:`Outbox`; the member's session drains that outbox to the
peer, through a writer task it starts only when there is a backlog.

Every mutator is synchronous. Between two checkpoints only one task runs, so
a join, a rename or a whole broadcast happens atomically without any lock.

Nobody awaits a peer. ``broadcast()`` encodes an event once per encoder
(once per protocol, not once per recipient) and puts the bytes into each
recipient's outbox with ``send_nowait``. A recipient whose outbox is full,
in messages or in bytes, is evicted: it leaves with the reason "too slow"
and its session's cancel scope is cancelled. It can never stall the sender
or the room.

Writers are not woken once per message: an outbox asks the
:class:`Flusher` when it gets its first message, and the flusher, at most
once per :data:`FLUSH_INTERVAL` under load, writes everything queued for
each parked writer through a non-blocking callable the session provides,
waking a writer only for what the kernel did not take. In a big room that
turns a task switch and a ``send_all`` per message per member into one
plain write per member per interval.

Big rooms (more than :data:`QUIET_ROOM_SIZE` members) hear of arrivals and
departures in one summary every :data:`SUMMARY_INTERVAL`, so that a crowd of
N arriving costs O(N) notices, not N*N/2.

Membership is a set of rooms per member, so frontends where one user sits
in several rooms at once (IRC, WebSocket) fit without redesign.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import trio

from .events import (
    Action,
    Crowd,
    Joined,
    Left,
    Message,
    Notice,
    Private,
    Renamed,
    ServerEvent,
    TopicChanged,
)

LOGGER = logging.getLogger(__name__)

# The room everyone starts in.
LOBBY = "#lobby"
# An outbox holds at most this many messages...
OUTBOX_MESSAGES = 4096
# ...and at most this many bytes. Generous: a healthy reader must never be
# dropped because a paste of a few hundred lines was broadcast in one go.
OUTBOX_BYTES = 1024 * 1024
# Under load, writers are flushed at most every FLUSH_INTERVAL seconds, at least
# MIN_FLUSH_GAP apart, and FLUSH_GAP_FACTOR times as long as a flush pass took.
FLUSH_INTERVAL = 0.02
MIN_FLUSH_GAP = 0.001
FLUSH_GAP_FACTOR = 2.0
# The writer stops adding queued messages to one send_all() once it has this many bytes.
WRITE_BATCH_BYTES = 64 * 1024

# Rooms with more members than this hear of arrivals and departures in a summary
# every SUMMARY_INTERVAL seconds, not one notice each: a crowd of N joining
# would otherwise cost N*N/2 lines.
QUIET_ROOM_SIZE = 100
SUMMARY_INTERVAL = 10.0
# Topics of rooms that are not open are remembered up to this many (the newest).
TOPICS_REMEMBERED = 10_000

Encoder = Callable[[ServerEvent], bytes]


class Recorder(Protocol):
    """Keeps what is said in rooms (the history); called synchronously, must not block."""

    def record(self, event: Message | Action) -> None: ...

    def record_topic(self, room: str, topic: str) -> None: ...


class NameTaken(ValueError):
    """Someone online already uses that name (compared case-insensitively)."""


class HubClosing(RuntimeError):
    """The server is shutting down: nobody joins any more."""


class NoSuchMember(LookupError):
    """Nobody online has that name."""


class OutboxFull(Exception):
    """The recipient is not reading fast enough."""


class Flusher:
    """Flushes writers together, at most once per ``interval``, when they have work.

    Waking a writer costs a task switch, and in a big room that is what limits
    the server: one wake-up per message per recipient is 200,000 a second for
    1000 members hearing 200 messages a second. Instead, an outbox that gets
    its first message since its writer last looked asks the flusher; the
    flusher wakes every such writer in one pass, and each then sends all that
    was queued for it in one ``send_all``. When idle, a message is flushed at
    once; under load, each writer wakes at most once per interval.

    Without a running flusher task (:meth:`run`), outboxes wake their writers
    at once.
    """

    def __init__(self, interval: float = FLUSH_INTERVAL) -> None:
        self.interval = interval
        self._due: list[Outbox] = []
        self._work = trio.Event()
        self._running = False
        self._last = -math.inf
        self._gap = interval

    def schedule(self, outbox: Outbox) -> None:
        if not self._running:
            outbox.wake()
            return
        self._due.append(outbox)
        self._work.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Flush until cancelled; then every outbox wakes its writer itself."""
        self._running = True
        try:
            task_status.started()
            while True:
                await self._work.wait()
                self._work = trio.Event()
                wait = self._last + self._gap - trio.current_time()
                if wait > 0:
                    await trio.sleep(wait)
                start = trio.current_time()
                due, self._due = self._due, []
                for outbox in due:
                    try:
                        outbox.flush()
                    except Exception:
                        # One outbox's trouble must not stop the others' writers.
                        LOGGER.exception("flushing an outbox failed; its writer takes over")
                        outbox.wake()
                # Self-tuning: the longer a pass takes (the bigger the crowd and
                # the busier the server), the longer until the next one, so that
                # more is sent per write; small rooms keep low latency. The gap
                # counts from the end of the pass, so others run in between.
                self._last = trio.current_time()
                spent = self._last - start
                self._gap = min(self.interval, max(MIN_FLUSH_GAP, FLUSH_GAP_FACTOR * spent))
        finally:
            self._running = False
            due, self._due = self._due, []
            for outbox in due:
                outbox.wake()


class Outbox:
    """A member's bounded queue of encoded bytes, drained by its writer.

    Bounded twice: by message count (the memory channel's buffer) and by
    bytes queued. ``put_nowait`` never blocks; it raises :class:`OutboxFull`
    when either bound would be crossed. The writer is not woken per message
    but through the :class:`Flusher`, once for everything queued meanwhile.

    Its owner attaches (:meth:`attach`) a way to *start* a writer: the outbox starts
    one only when there is something the direct write could not send (or,
    without a direct write, anything at all), and the writer ends as soon as
    the queue is empty (:meth:`next_batch` returns ``b""``). An idle
    connection then has no writer task at all, which saves a task, its stack
    of frames and an Event per connection (about a fifth of an idle
    connection's memory).
    """

    # Thousands of these live at once: no per-instance __dict__.
    __slots__ = (
        "_error",
        "_flusher",
        "_leftover",
        "_receive",
        "_scheduled",
        "_send",
        "_start",
        "_writing",
        "direct",
        "max_bytes",
        "queued_bytes",
    )

    def __init__(
        self,
        max_messages: int = OUTBOX_MESSAGES,
        max_bytes: int = OUTBOX_BYTES,
        flusher: Flusher | None = None,
    ) -> None:
        self._send, self._receive = trio.open_memory_channel[bytes](max_messages)
        self.max_bytes = max_bytes
        self.queued_bytes = 0
        self._flusher = flusher
        # True from the first put after the writer found the queue empty until
        # the writer finds it empty again: one wake-up asked for at a time.
        self._scheduled = False
        # Set by attach(): starts a writer task that drains with next_batch().
        self._start: Callable[[], object] | None = None
        # True from the start of an attached writer until it finds the queue empty.
        self._writing = False
        # A synchronous, non-blocking write to the peer, returning how much the
        # kernel took. With it, the flusher sends for an idle writer without
        # waking (or starting) it, and does so only for what is left.
        self.direct: Callable[[bytes], int] | None = None
        self._leftover = b""
        self._error: OSError | None = None

    def put_nowait(self, data: bytes) -> None:
        """Queue ``data``.

        Raises:
            OutboxFull: the queue is at its message or byte bound.
            trio.BrokenResourceError: the writer is gone.
            trio.ClosedResourceError: the outbox was closed.
        """
        if self.queued_bytes + len(data) > self.max_bytes:
            raise OutboxFull
        try:
            self._send.send_nowait(data)
        except trio.WouldBlock:
            raise OutboxFull from None
        self.queued_bytes += len(data)
        if not self._scheduled:
            self._scheduled = True
            if self._flusher is None:
                self.wake()
            else:
                self._flusher.schedule(self)

    def attach(
        self, start_writer: Callable[[], object], direct: Callable[[bytes], int] | None
    ) -> None:
        """Drain through writers started on demand by ``start_writer()``.

        A writer so started calls :meth:`next_batch` until it returns
        ``b""``, and then ends. If anything is waiting already, one starts now.
        """
        self._start = start_writer
        self.direct = direct
        if self._scheduled or self._leftover or self._error:
            self.wake()

    def detach(self) -> None:
        """No more writers: further puts raise ``BrokenResourceError``."""
        self._start = None
        self.direct = None
        self._receive.close()

    def wake(self) -> None:
        """Start a writer, if one can be (attached) and none runs."""
        if self._start is not None and not self._writing:
            self._writing = True
            self._start()

    def flush(self) -> None:
        """Send what is queued directly, if no writer is busy; wake one only if needed."""
        if not self._scheduled:
            # A stale request: the writer emptied the queue itself since it asked
            # (and close() wakes the writer on its own).
            return
        idle = self._start is not None and not self._writing
        if idle and self.direct is not None and not self._leftover and not self._error:
            try:
                data = self._take(WRITE_BATCH_BYTES)
            except trio.EndOfChannel:
                data = b""
            if data:
                try:
                    sent = self.direct(data)
                except OSError as exc:  # the peer is gone: the writer raises it
                    self._error, sent = exc, len(data)
                # Bytes still queued (there was no leftover): more than one batch.
                more = self.queued_bytes > 0
                if sent == len(data) and self._error is None and not more:
                    self._scheduled = False
                    return
                # Still counted against the bound until the writer has sent it.
                self._leftover = data[sent:]
                self.queued_bytes += len(self._leftover)
        self.wake()

    def _take(self, max_bytes: float) -> bytes:
        """Everything queued, stopping once past ``max_bytes``.

        Raises:
            trio.EndOfChannel: closed and nothing queued.
        """
        batch: list[bytes] = []
        size = 0
        while size < max_bytes:
            try:
                data = self._receive.receive_nowait()
            except trio.WouldBlock:
                break
            except trio.EndOfChannel:
                if batch:
                    break
                raise
            batch.append(data)
            size += len(data)
        self.queued_bytes -= size
        return batch[0] if len(batch) == 1 else b"".join(batch)

    def next_batch(self, max_bytes: int = WRITE_BATCH_BYTES) -> bytes:
        """What is queued, stopping once past ``max_bytes``; ``b""`` if nothing is.

        Coalescing what is queued into one write costs one wake-up and one
        system call per batch instead of one per message. For an attached
        writer, ``b""`` means: end now (a later put starts a new writer).

        Raises:
            OSError: an earlier direct write failed (the peer is gone).
            trio.EndOfChannel: the outbox is closed and empty.
        """
        if self._error is not None:
            raise self._error
        if self._leftover:
            data, self._leftover = self._leftover, b""
            self.queued_bytes -= len(data)
            return data
        data = self._take(max_bytes)
        if not data:
            self._scheduled = False
            self._writing = False
        return data

    def close(self) -> None:
        """No more messages: the writer sends what is queued, then ends."""
        self._send.close()
        self.wake()


@dataclass(eq=False, slots=True)
class Member:
    """One registered user, as the hub sees them.

    ``cancel_scope`` is the scope of the member's whole session: cancelling it
    ends the reader and the writer together.
    """

    name: str
    encode: Encoder
    outbox: Outbox
    cancel_scope: trio.CancelScope
    address: str = ""
    rooms: set[str] = field(default_factory=set)
    # Moderation: an operator may kick, ban and mute; a muted member's lines reach nobody.
    operator: bool = False
    muted: bool = False


@dataclass(eq=False, slots=True)
class Room:
    name: str
    topic: str = ""
    members: dict[str, Member] = field(default_factory=dict)  # by name key
    # In a big room, who came and went since the last summary.
    arrived: list[str] = field(default_factory=list)
    departed: list[str] = field(default_factory=list)


class Hub:
    """Members, names and rooms; fan-out of events to members' outboxes.

    Args:
        name_key: maps a name to the form names are compared in (for
            example case-folded), so that "Ana" and "ana" cannot both be online.
        outbox_messages, outbox_bytes: the bounds of each member's outbox;
            a member whose outbox would exceed either is dropped as too slow.
        recorder: told of every room message and topic change (the history).
        topics: room topics kept from an earlier run, by room name.
    """

    def __init__(
        self,
        name_key: Callable[[str], str] = str.casefold,
        *,
        outbox_messages: int = OUTBOX_MESSAGES,
        outbox_bytes: int = OUTBOX_BYTES,
        flush_interval: float = FLUSH_INTERVAL,
        recorder: Recorder | None = None,
        topics: Mapping[str, str] = {},
    ) -> None:
        self._name_key = name_key
        self._outbox_limits = (outbox_messages, outbox_bytes)
        # run() batches writer wake-ups and big rooms' join/leave notices.
        self.flusher = Flusher(flush_interval)
        self._summarizing = False
        self._summary_due = trio.Event()
        self._recorder = recorder
        # Topics outlive their rooms: an empty room disappears, its topic stays.
        self._topics = {name_key(room): topic for room, topic in topics.items()}
        self._members: dict[str, Member] = {}
        self._rooms: dict[str, Room] = {}
        self._open_room(LOBBY)
        self.closing = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The hub's background work, until cancelled: run it beside the sessions.

        Without it the hub still works; every join and leave is announced on
        its own, and writers are woken per message.
        """
        async with trio.open_nursery() as nursery:
            await nursery.start(self.flusher.run)
            self._summarizing = True
            try:
                task_status.started()
                while True:
                    await self._summary_due.wait()
                    await trio.sleep(SUMMARY_INTERVAL)
                    self._summary_due = trio.Event()
                    self.summarize()
            finally:
                self._summarizing = False

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

    def same_room(self, a: str, b: str) -> bool:
        return self._name_key(a) == self._name_key(b)

    def statistics(self) -> dict[str, int]:
        return {"members": len(self._members), "rooms": len(self._rooms)}

    # --- membership -------------------------------------------------------

    def join(
        self,
        name: str,
        encode: Encoder,
        cancel_scope: trio.CancelScope,
        *,
        address: str = "",
        outbox: Outbox | None = None,
    ) -> Member:
        """Register ``name`` and put it in the lobby; the lobby hears of it.

        Raises:
            NameTaken: someone online already has that name.
            HubClosing: the hub is shutting down.
        """
        if self.closing:
            raise HubClosing(name)
        key = self._name_key(name)
        if key in self._members:
            raise NameTaken(name)
        outbox = outbox or Outbox(*self._outbox_limits, flusher=self.flusher)
        member = Member(name, encode, outbox, cancel_scope, address)
        self._members[key] = member
        self.enter(member, LOBBY)
        return member

    def enter(self, member: Member, room: str) -> Room:
        """Put ``member`` in ``room`` (created if needed); the room hears of it."""
        if not self.is_member(member):
            raise NoSuchMember(member.name)
        target = self._rooms.get(self._name_key(room)) or self._open_room(room)
        # In first: the broadcast may evict the room's last other member, and
        # a room with a member in it is never removed under us.
        target.members[self._name_key(member.name)] = member
        member.rooms.add(target.name)
        if self._quiet(target):
            target.arrived.append(member.name)
            self._summary_due.set()
        else:
            self.broadcast(target.name, Joined(member.name, target.name), exclude=member)
        return target

    def _quiet(self, room: Room) -> bool:
        """Whether ``room`` is big enough to hear of arrivals and departures in summaries."""
        return self._summarizing and len(room.members) > QUIET_ROOM_SIZE

    def _departed(self, room: Room, name: str, reason: str) -> None:
        if self._quiet(room) or room.arrived:
            # While arrivals wait for a summary, departures wait too: in order.
            room.departed.append(name)
            self._summary_due.set()
        else:
            self.broadcast(room.name, Left(name, room.name, reason))

    def summarize(self) -> None:
        """Tell each big room who came and went since its last summary."""
        for room in list(self._rooms.values()):
            if room.arrived or room.departed:
                event = Crowd(room.name, tuple(room.arrived), tuple(room.departed))
                room.arrived, room.departed = [], []
                self.broadcast(room.name, event)

    def part(self, member: Member, room: str, reason: str = "") -> None:
        """Take ``member`` out of ``room``; the room hears why."""
        target = self._rooms.get(self._name_key(room))
        if target is None or target.name not in member.rooms:
            return
        self._remove_from(member, target)
        self._departed(target, member.name, reason)

    def set_topic(self, member: Member, room: str, topic: str) -> None:
        """Set (or clear) the topic of ``room``; its members hear of it."""
        target = self._rooms[self._name_key(room)]
        key = self._name_key(room)
        self._topics.pop(key, None)  # re-inserted last: the newest
        target.topic = self._topics[key] = topic
        self._forget_old_topics()
        if self._recorder is not None:
            self._recorder.record_topic(target.name, topic)
        self.broadcast(target.name, TopicChanged(member.name, target.name, topic))

    def _forget_old_topics(self) -> None:
        """Keep at most TOPICS_REMEMBERED topics of closed rooms in memory (oldest go)."""
        excess = len(self._topics) - TOPICS_REMEMBERED
        for key in list(self._topics):
            if excess <= 0:
                break
            if key not in self._rooms:
                del self._topics[key]
                excess -= 1

    def _open_room(self, name: str) -> Room:
        key = self._name_key(name)
        room = self._rooms[key] = Room(name, self._topics.get(key, ""))
        return room

    def _remove_from(self, member: Member, room: Room) -> None:
        del room.members[self._name_key(member.name)]
        member.rooms.discard(room.name)
        if not room.members and room.name != LOBBY:
            del self._rooms[self._name_key(room.name)]

    def leave(self, member: Member, reason: str = "") -> None:
        """Remove ``member`` from the hub; its rooms hear why. Idempotent.

        The outbox is closed, so the member's writer sends what is still
        queued and then ends the session.
        """
        key = self._name_key(member.name)
        if self._members.get(key) is not member:
            return
        del self._members[key]
        for room in sorted(member.rooms):
            target = self._rooms.get(self._name_key(room))
            if target is None:
                continue
            self._remove_from(member, target)
            if not self.closing:
                self._departed(target, member.name, reason)
        member.rooms.clear()
        member.outbox.close()

    def evict(self, member: Member, reason: str) -> None:
        """Throw ``member`` out now: leave with ``reason`` and cancel its session."""
        if self.find(member.name) is member:
            # Too slow is a problem; a connection lost, or a login from
            # elsewhere taking the name over, is ordinary.
            ordinary = reason in ("connection lost", "logged in from elsewhere")
            level = logging.INFO if ordinary else logging.WARNING
            fields = {"event": "dropped", "address": member.address, "name": member.name}
            LOGGER.log(
                level,
                "dropping %s (%s): %s",
                member.name,
                member.address,
                reason,
                extra={"fields": {**fields, "reason": reason}},
            )
        self.leave(member, reason)
        member.cancel_scope.cancel()

    def dismiss(self, member: Member, reason: str, deadline: float) -> None:
        """Remove ``member`` (kicked, banned): its rooms hear ``reason``.

        Unlike :meth:`evict`, the member's writer first sends what is queued
        (the reason, told to them); their session ends by ``deadline`` at the
        latest. Logged here, once: the session finds the member gone.
        """
        if self.is_member(member):
            fields = {"event": "left", "address": member.address, "name": member.name}
            LOGGER.warning(
                "%s (%s) left: %s",
                member.name,
                member.address,
                reason,
                extra={"fields": {**fields, "reason": reason}},
            )
        self.leave(member, reason)
        member.cancel_scope.deadline = min(member.cancel_scope.deadline, deadline)

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

    # --- fan-out ----------------------------------------------------------

    def say(self, member: Member, room: str, text: str) -> None:
        """Say ``text`` in ``room``: everyone else there hears it; it is recorded."""
        self._speak(member, Message(member.name, room, text, time.time()))

    def act(self, member: Member, room: str, text: str) -> None:
        """A ``/me`` action in ``room``."""
        self._speak(member, Action(member.name, room, text, time.time()))

    def _speak(self, member: Member, event: Message | Action) -> None:
        if not self.is_member(member):
            return
        self.broadcast(event.room, event, exclude=member)
        if self._recorder is not None:
            self._recorder.record(event)

    def private(self, member: Member, target: str, text: str) -> Member:
        """Send ``text`` to ``target`` only; returns the recipient.

        Raises:
            NoSuchMember: nobody online has that name.
        """
        recipient = self.find(target)
        if recipient is None:
            raise NoSuchMember(target)
        self.deliver(recipient, Private(member.name, recipient.name, text))
        return recipient

    def broadcast(self, room: str, event: ServerEvent, *, exclude: Member | None = None) -> None:
        """Put ``event`` into the outbox of every member of ``room`` but ``exclude``."""
        self.send_each(
            (m for m in self._room_members(room) if m is not exclude),
            event,
        )

    def deliver(self, member: Member, event: ServerEvent) -> None:
        """Put ``event`` into one member's outbox (a reply, a notice)."""
        self.send_each((member,), event)

    def send_each(self, members: Iterable[Member], event: ServerEvent) -> None:
        """Encode ``event`` once per encoder and queue it for each member.

        Members that cannot take it are evicted after the loop, so that the
        rooms being iterated do not change under it.
        """
        encoded: dict[Encoder, bytes] = {}
        too_slow: list[Member] = []
        gone: list[Member] = []
        for member in members:
            data = encoded.get(member.encode)
            if data is None:
                data = encoded[member.encode] = member.encode(event)
            try:
                member.outbox.put_nowait(data)
            except OutboxFull:
                too_slow.append(member)
            except trio.BrokenResourceError:
                gone.append(member)
            except trio.ClosedResourceError:
                pass  # already leaving: it has been told everything it will be told
        for member in too_slow:
            self.evict(member, "too slow")
        for member in gone:
            self.evict(member, "connection lost")

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
            member.cancel_scope.deadline = min(member.cancel_scope.deadline, deadline)

    def _room_members(self, room: str) -> Iterable[Member]:
        target = self._rooms.get(self._name_key(room))
        return () if target is None else target.members.values()
