"""Room history in SQLite: written in batches by one task, read without gaps.

Theory of operation
-------------------
:class:`~trio_chat.core.store.HistoryStore` is the synchronous SQLite side
(schema, migrations, queries). Its methods block, so they only ever run in
worker threads (``trio.to_thread``), each connection
behind its own one-thread limiter: one connection writes, one reads; WAL
mode lets the reader go on while the writer commits.

:class:`History` is the Trio side and the hub's recorder. ``record()`` is
synchronous and never waits on the disk: it stamps the message with the next
sequence number, keeps it in a small in-memory tail and puts it into a
bounded channel. One writer task (:meth:`History.run`) takes everything that
is waiting, writes it in one transaction (one ``executemany``) in one trip to
a worker thread, and repeats. A batch costs about as much as 15 messages
(the trip and the commit), so after a write the writer gathers what is said
for up to :data:`GATHER` seconds from that write's start (or until
:data:`GATHER_MAX` messages wait, or a reader waits for them) before the next:
under load it writes at most 1/:data:`GATHER` batches a second; a message
said after a pause is written at once. Closing the channel makes the writer
flush the rest and return: a clean stop loses nothing, and neither does a
cancelled writer lose what it had taken.

Reading a room's history (:meth:`History.recent`) first waits until every
message recorded so far is committed, then queries up to that sequence
number, then adds from the in-memory tail whatever was recorded while the
query ran. Callers enter the room in the same synchronous step as they get
the result, so a newcomer sees each message exactly once: in the replay or
live, never both, never neither.

The file itself (its folder, its modes, one server at a time) is
:mod:`trio_chat.core.datafile`'s.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import logging
import math
import sqlite3
import sys
import time
from collections.abc import Sequence
from typing import Any

import trio

from trio_chat.core.counters import Histogram
from trio_chat.core.events import Action, Message
from trio_chat.core.privatehistory import Conversations
from trio_chat.core.privatestore import PrivateEntry, PrivateItem
from trio_chat.core.store import MEMORY, Entry, HistoryStore, Item

LOGGER = logging.getLogger(__name__)

# Messages replayed to someone entering a room, unless configured otherwise.
DEFAULT_REPLAY = 50
# Messages waiting to be written; past this, new ones are dropped (and logged).
# Senders are held back long before (BEHIND_*), so only a stuck disk fills it.
QUEUE_SIZE = 100_000
# Past this many messages or bytes waiting, the history is behind: senders
# wait (ChatService.pace) until the writer is back under half of it.
BEHIND_MESSAGES = QUEUE_SIZE // 4
BEHIND_BYTES = 16 * 1024 * 1024
# How long messages are kept, and how big the history may grow, unless
# configured otherwise (--history-keep-days, --history-max-mb; 0: no limit).
DEFAULT_KEEP_DAYS = 365.0
DEFAULT_MAX_MB = 1024.0
# After a write, the writer gathers what is said for this long from that write's
# start before it writes again (a write costs a thread trip and a commit, about
# 300 µs of CPU, as much as some 15 messages), unless this many wait already.
GATHER = 0.02
GATHER_MAX = 1_000
# The writer applies the retention at start and then this often (seconds).
PRUNE_INTERVAL = 600.0
# Recently recorded messages kept in memory to close the gap between a query
# and entering a room (a query that saw more said meanwhile is run again).
TAIL_SIZE = 2_000


@dataclasses.dataclass(frozen=True)
class Retention:
    """What the history keeps: messages younger than ``keep_days``, within ``max_mb``.

    ``None`` (or 0) for either: no limit of that kind. The oldest go first.
    """

    keep_days: float | None = DEFAULT_KEEP_DAYS
    max_mb: float | None = DEFAULT_MAX_MB

    def cutoff(self, now: float) -> float | None:
        return now - self.keep_days * 86400 if self.keep_days else None

    @property
    def max_bytes(self) -> int | None:
        return int(self.max_mb * 1024 * 1024) if self.max_mb else None


# The retention a server applies unless told otherwise.
DEFAULT_RETENTION = Retention()


class History(Conversations):
    """The hub's recorder: batched writes in one task, gap-free reads.

    Args:
        store: the SQLite file.
        room_key: how room names are compared (the hub's name key).
        retention: how old and how big the history may get.
        clock: the wall clock messages are stamped with (for the retention).
    """

    def __init__(
        self,
        store: HistoryStore,
        room_key: collections.abc.Callable[[str], str],
        retention: Retention = DEFAULT_RETENTION,
        clock: collections.abc.Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.retention = retention
        self._clock = clock
        self._pruned_at = -math.inf
        self._room_key = room_key
        self._send, self._receive = trio.open_memory_channel[Item](QUEUE_SIZE)
        self._tail: collections.deque[Entry] = collections.deque(maxlen=TAIL_SIZE)
        self._last_seq = 0
        self._committed = 0
        self._progress = trio.Event()
        self._write_limiter = trio.CapacityLimiter(1)
        # A shared-cache in-memory database locks tables instead of letting a
        # reader see the last commit during a write: take turns there.
        memory = store.path == MEMORY
        self._read_limiter = self._write_limiter if memory else trio.CapacityLimiter(1)
        self.dropped = 0
        # How long each batch took to write, in seconds (for the metrics).
        self.write_seconds = Histogram()
        # What is waiting to be written, and an event set once it is little again.
        self._waiting = 0
        self._waiting_bytes = 0
        self._caught_up: trio.Event | None = None
        # The writer's gathering (cancelled by a reader waiting for it), and how
        # many readers wait for a commit (the writer does not gather for them).
        self._gathering: trio.CancelScope | None = None
        self._readers = 0
        # Items ever queued, and an event set after each write (see flushed).
        self._queued = 0
        self._wrote: trio.Event | None = None

    async def open(self) -> None:
        """Read where the file left off (call once, before recording)."""
        self._last_seq = self._committed = await trio.to_thread.run_sync(
            self.store.last_seq, limiter=self._read_limiter
        )

    async def count(self) -> int:
        """How many messages the file holds."""
        return await trio.to_thread.run_sync(self.store.count, limiter=self._read_limiter)

    async def topics(self) -> dict[str, str]:
        return await trio.to_thread.run_sync(self.store.topics, limiter=self._read_limiter)

    async def execute(self, statement: str, parameters: Sequence[object] = ()) -> None:
        """Run one writing statement in a worker thread, in turn with the writer task.

        For the other tables in the file (accounts, bans).

        Raises:
            sqlite3.Error: it failed (a full disk, a closed file).
        """
        await trio.to_thread.run_sync(
            self.store.execute, statement, parameters, limiter=self._write_limiter
        )

    async def query(
        self, statement: str, parameters: Sequence[object] = ()
    ) -> list[tuple[Any, ...]]:
        """Run one query in a worker thread."""
        return await trio.to_thread.run_sync(
            self.store.query, statement, parameters, limiter=self._read_limiter
        )

    async def known(self, ids: Sequence[int]) -> set[int]:
        """Which of these message ids the file holds (committed ones)."""
        if not ids:
            return set()
        marks = ", ".join("?" * len(ids))
        rows = await self.query(f"SELECT seq FROM messages WHERE seq IN ({marks})", ids)
        return {int(row[0]) for row in rows}

    # --- the hub's side: synchronous, never waits ---------------------------------

    @property
    def last_seq(self) -> int:
        """The sequence number of the last message recorded."""
        return self._last_seq

    def record(self, event: Message | Action) -> None:
        """Queue ``event`` to be written, under its id (ids only ever increase)."""
        if not event.id:  # recorded without the hub (tests, tools): stamped here
            event = dataclasses.replace(event, id=self._last_seq + 1)
        entry = Entry(event.id, self._room_key(event.room), event)
        # A sequence number is used only once the entry is queued, so that
        # readers waiting for it to be committed never wait for a dropped one.
        if self._queue(entry):
            # Another server's message (a backplane) may carry a slightly older id.
            self._last_seq = max(self._last_seq, entry.seq)
            self._tail.append(entry)

    def record_topic(self, room: str, topic: str) -> None:
        self._queue((self._room_key(room), room, topic))

    @property
    def behind(self) -> bool:
        """Whether so much waits to be written that senders should wait (see caught_up)."""
        return self._waiting > BEHIND_MESSAGES or self._waiting_bytes > BEHIND_BYTES

    async def caught_up(self) -> None:
        """Wait until the writer is back under half of what makes it :attr:`behind`."""
        while self.behind:
            if self._caught_up is None:
                self._caught_up = trio.Event()
            await self._caught_up.wait()

    def _written(self, batch: list[Item]) -> None:
        self._waiting -= len(batch)
        self._waiting_bytes -= sum(_size(item) for item in batch)
        little = self._waiting <= BEHIND_MESSAGES // 2 and self._waiting_bytes <= BEHIND_BYTES // 2
        if self._caught_up is not None and little:
            self._caught_up.set()
            self._caught_up = None
        if self._wrote is not None:
            self._wrote.set()
            self._wrote = None

    async def flushed(self) -> None:
        """Wait until everything queued so far is written (committed, or failed and logged).

        For whoever records what comes from elsewhere and notes how far it got
        (the backplane's place in its stream, see trio_chat.backplane.catchup).
        """
        target = self._queued
        while self._queued - self._waiting < target:
            if self._wrote is None:
                self._wrote = trio.Event()
            await self._wrote.wait()

    def _queue(self, item: Item) -> bool:
        try:
            self._send.send_nowait(item)
            self._waiting += 1
            self._queued += 1
            self._waiting_bytes += _size(item)
        except trio.WouldBlock:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                LOGGER.error("history writes are behind: %d message(s) not saved", self.dropped)
            return False
        except trio.ClosedResourceError:
            LOGGER.warning("history is closed: a message was not saved")
            return False
        return True

    # --- the writer task ------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Write batches until :meth:`close`, then flush what is left and return.

        The retention is applied at start and every :data:`PRUNE_INTERVAL`.
        """
        task_status.started()
        started = -math.inf  # when the last write began
        ended = False
        while not ended:
            if trio.current_time() - self._pruned_at >= PRUNE_INTERVAL:
                await self.prune()
            batch: list[Item] = []
            try:
                ended = await self._take(batch, gather_until=started + GATHER)
            finally:
                # Also when cancelled: what was taken from the queue is written.
                if batch:
                    started = trio.current_time()
                    await self._write(batch)
                    self._written(batch)
        await trio.to_thread.run_sync(self.store.close, limiter=self._write_limiter)

    async def _take(self, batch: list[Item], gather_until: float) -> bool:
        """Move what waits into ``batch``: what comes until ``gather_until`` (unless
        :data:`GATHER_MAX` or a reader waits), at least one item, then all there is.

        Returns whether the queue is closed and empty (the writer's end).
        """
        try:
            if not self._readers and trio.current_time() < gather_until:
                with trio.move_on_at(gather_until) as self._gathering:
                    while len(batch) < GATHER_MAX:
                        try:  # what is there without a trip through the scheduler each
                            batch.append(self._receive.receive_nowait())
                        except trio.WouldBlock:
                            batch.append(await self._receive.receive())
            if not batch:
                batch.append(await self._receive.receive())
            while True:
                batch.append(self._receive.receive_nowait())
        except trio.WouldBlock:
            return False
        except trio.EndOfChannel:
            return True
        finally:
            self._gathering = None

    async def _write(self, batch: list[Item]) -> None:
        entries = [item for item in batch if isinstance(item, Entry)]
        topics = [item for item in batch if isinstance(item, tuple)]
        privates = [item for item in batch if isinstance(item, PrivateItem)]

        def write() -> None:
            if entries:
                self.store.append(entries)
            for topic in topics:
                self.store.set_topic(*topic)
            self.store.write_privates(privates)

        start = time.perf_counter()
        try:
            # Shielded: a batch taken from the queue is written, even at shutdown.
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(write, limiter=self._write_limiter)
        except sqlite3.Error as exc:
            LOGGER.error(
                "could not save %d message(s), %d topic(s) to history: %s",
                len(entries),
                len(topics),
                exc,
            )
        self.write_seconds.observe(time.perf_counter() - start)
        seqs = [e.seq for e in entries] + [p.seq for p in privates]
        if seqs:
            self._committed = max(self._committed, *seqs)
            self._progress.set()
            self._progress = trio.Event()

    async def prune(self) -> int:
        """Apply the retention now (in turn with the writer); how many messages went."""
        self._pruned_at = trio.current_time()
        retention = self.retention
        prune = functools.partial(
            self.store.prune, retention.cutoff(self._clock()), retention.max_bytes
        )
        try:
            with trio.CancelScope(shield=True):
                deleted = await trio.to_thread.run_sync(prune, limiter=self._write_limiter)
        except sqlite3.Error as exc:
            LOGGER.error("could not apply the history's retention: %s", exc)
            return 0
        if deleted:
            LOGGER.info("history: %d old message(s) deleted (retention)", deleted)
        return deleted

    def close(self) -> None:
        """No more records: the writer flushes what is queued and returns."""
        self._send.close()

    # --- reading ---------------------------------------------------------------------

    async def _committed_upto(self, seq: int) -> None:
        """Wait until every message up to ``seq`` is written (the writer stops gathering)."""
        if self._committed >= seq:
            return
        self._readers += 1
        try:
            if self._gathering is not None:
                self._gathering.cancel()
            while self._committed < seq:
                await self._progress.wait()
        finally:
            self._readers -= 1

    async def after(self, room: str, limit: int, *, after: int) -> list[Entry]:
        """The first ``limit`` messages of ``room`` newer than id ``after`` (committed ones)."""
        upto = self._last_seq
        await self._committed_upto(upto)
        query = functools.partial(
            self.store.following, self._room_key(room), limit, after=after, upto=upto
        )
        return await trio.to_thread.run_sync(query, limiter=self._read_limiter)

    async def around(self, room: str, limit: int, *, around: int) -> list[Entry]:
        """Up to ``limit`` messages of ``room`` around id ``around`` (it included, if a message)."""
        older = await self.recent(room, limit // 2, before=around)
        newer = await self.after(room, limit - len(older), after=around - 1)
        return older + newer

    async def recent(self, room: str, limit: int, *, before: int | None = None) -> list[Entry]:
        """The last ``limit`` messages of ``room`` (older than ``before`` if given).

        Everything recorded until this returns is included (when ``before`` is
        None): call ``hub.enter`` right after, without awaiting in between.
        """
        key = self._room_key(room)
        while True:
            upto = self._last_seq
            await self._committed_upto(upto)
            query = functools.partial(
                self.store.recent,
                key,
                limit,
                before=sys.maxsize if before is None else before,
                upto=upto,
            )
            entries = await trio.to_thread.run_sync(query, limiter=self._read_limiter)
            if before is not None:
                return entries
            if self._tail and self._last_seq > upto and self._tail[0].seq > upto + 1:
                continue  # more was said during the query than the tail holds: again
            entries += [e for e in self._tail if e.seq > upto and e.room_key == key]
            return entries[-limit:] if limit else []


def _size(item: Item) -> int:
    """About the memory an item waiting to be written takes."""
    if isinstance(item, Entry | PrivateEntry):
        return len(item.event.text) + len(item.event.sender) + 100
    return len(item[2]) + 100 if isinstance(item, tuple) else 100
