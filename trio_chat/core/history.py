"""Room history in SQLite: written in batches by one task, read without gaps.

Theory of operation
-------------------
:class:`HistoryStore` is the synchronous SQLite side. Its methods block, so
they only ever run in worker threads (``trio.to_thread``), each connection
behind its own one-thread limiter: one connection writes, one reads; WAL
mode lets the reader go on while the writer commits.

:class:`History` is the Trio side and the hub's recorder. ``record()`` is
synchronous and never waits on the disk: it stamps the message with the next
sequence number, keeps it in a small in-memory tail and puts it into a
bounded channel. One writer task (:meth:`History.run`) takes everything that
is waiting, writes it in one transaction in a worker thread, and repeats, so
the batch window is the time one commit takes. Closing the channel makes the
writer flush the rest and return: a clean stop loses nothing.

Reading a room's history (:meth:`History.recent`) first waits until every
message recorded so far is committed, then queries up to that sequence
number, then adds from the in-memory tail whatever was recorded while the
query ran. Callers enter the room in the same synchronous step as they get
the result, so a newcomer sees each message exactly once: in the replay or
live, never both, never neither.

The file itself (its folder, its modes, one server at a time) is
:mod:`trio_chat.core.datafile`'s.

Schema versions live in ``PRAGMA user_version``; :data:`MIGRATIONS` turns a
file of any older version into the current one at open.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import logging
import os
import sqlite3
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from trio_chat.core.datafile import HistoryError as HistoryError
from trio_chat.core.datafile import HistoryInUse as HistoryInUse
from trio_chat.core.datafile import default_path as default_path
from trio_chat.core.datafile import prepare
from trio_chat.core.events import Action, Message

LOGGER = logging.getLogger(__name__)

# Messages replayed to someone entering a room, unless configured otherwise.
DEFAULT_REPLAY = 50
# Messages waiting to be written; past this, new ones are dropped (and logged).
# At tens of thousands of rows a second per commit, only a stuck disk fills it.
QUEUE_SIZE = 100_000
# Recently recorded messages kept in memory to close the gap between a query
# and entering a room (a query that saw more said meanwhile is run again).
TAIL_SIZE = 2_000
MEMORY = ":memory:"

MIGRATIONS: list[Sequence[str]] = [
    # 0 -> 1: messages.
    [
        """CREATE TABLE messages (
            seq INTEGER PRIMARY KEY,
            room_key TEXT NOT NULL,
            room TEXT NOT NULL,
            sender TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('message', 'action')),
            text TEXT NOT NULL,
            time REAL NOT NULL
        )""",
        "CREATE INDEX messages_by_room ON messages (room_key, seq)",
    ],
    # 1 -> 2: room topics, kept across restarts.
    [
        """CREATE TABLE topics (
            room_key TEXT PRIMARY KEY,
            room TEXT NOT NULL,
            topic TEXT NOT NULL
        )""",
    ],
    # 2 -> 3: registered names and bans (trio_chat/accounts.py). A password is
    # only ever stored as "scrypt$N$r$p$salt$key" (base64), never in clear.
    [
        """CREATE TABLE accounts (
            name_key TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            created REAL NOT NULL
        )""",
        """CREATE TABLE bans (
            target TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('name', 'address')),
            shown TEXT NOT NULL,
            until REAL,
            banned_by TEXT NOT NULL,
            created REAL NOT NULL
        )""",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored room message."""

    seq: int
    room_key: str
    event: Message | Action


class HistoryStore:
    """The SQLite file. Blocking: call its methods from worker threads only.

    Raises:
        HistoryError: the file cannot be created, read, written or migrated.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock: int | None = None
        if self.path == MEMORY:
            # Two connections must see the same in-memory database.
            uri = f"file:trio_chat-{uuid.uuid4().hex}?mode=memory&cache=shared"
        else:
            # The lock is held until close(): one server per file.
            self._lock = prepare(Path(self.path))
            uri = Path(self.path).absolute().as_uri()
        writer = reader = None
        try:
            writer = self._connect(uri)
            self._migrate(writer)
            reader = self._connect(uri)
        except (sqlite3.Error, HistoryError) as exc:
            for connection in (writer, reader):
                if connection is not None:
                    connection.close()
            self._unlock()
            if isinstance(exc, HistoryError):
                raise
            raise HistoryError(f"cannot use history file {self.path}: {exc}") from exc
        self._writer, self._reader = writer, reader

    @staticmethod
    def _connect(uri: str) -> sqlite3.Connection:
        connection = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA busy_timeout = 5000")
        return connection

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"history file {self.path} has schema version {version}, newer than this "
                f"trio_chat understands ({SCHEMA_VERSION}): upgrade trio_chat"
            )
        if self.path != MEMORY:
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise HistoryError(f"cannot use WAL mode for {self.path} (got {mode})")
        # NORMAL is durable across application crashes in WAL mode; a power
        # loss may cost the last commits.
        db.execute("PRAGMA synchronous = NORMAL")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with _transaction(db, "BEGIN IMMEDIATE"):
                for statement in MIGRATIONS[target - 1]:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {target}")
            if version:
                LOGGER.info("history file %s migrated to schema version %d", self.path, target)

    def last_seq(self) -> int:
        row = self._reader.execute("SELECT max(seq) FROM messages").fetchone()
        return int(row[0] or 0)

    def count(self) -> int:
        row = self._reader.execute("SELECT count(*) FROM messages").fetchone()
        return int(row[0])

    def append(self, entries: Sequence[Entry]) -> None:
        """Write ``entries`` in one transaction."""
        db = self._writer
        with _transaction(db):
            db.executemany(
                "INSERT INTO messages (seq, room_key, room, sender, kind, text, time)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        e.seq,
                        e.room_key,
                        e.event.room,
                        e.event.sender,
                        "action" if isinstance(e.event, Action) else "message",
                        e.event.text,
                        e.event.time,
                    )
                    for e in entries
                ],
            )

    def set_topic(self, room_key: str, room: str, topic: str) -> None:
        self._writer.execute(
            "INSERT INTO topics (room_key, room, topic) VALUES (?, ?, ?)"
            " ON CONFLICT (room_key) DO UPDATE SET room = excluded.room, topic = excluded.topic",
            (room_key, room, topic),
        )

    def topics(self) -> dict[str, str]:
        rows = self._reader.execute("SELECT room, topic FROM topics WHERE topic != ''")
        return dict(rows.fetchall())

    def recent(self, room_key: str, limit: int, *, before: int, upto: int) -> list[Entry]:
        """The last ``limit`` messages of a room with ``seq < before`` and ``seq <= upto``."""
        rows = self._reader.execute(
            "SELECT seq, room_key, room, sender, kind, text, time FROM messages"
            " WHERE room_key = ? AND seq < ? AND seq <= ? ORDER BY seq DESC LIMIT ?",
            (room_key, before, upto, limit),
        ).fetchall()
        return [_entry(row) for row in reversed(rows)]

    def following(self, room_key: str, limit: int, *, after: int, upto: int) -> list[Entry]:
        """The first ``limit`` messages of a room with ``after < seq <= upto``."""
        rows = self._reader.execute(
            "SELECT seq, room_key, room, sender, kind, text, time FROM messages"
            " WHERE room_key = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
            (room_key, after, upto, limit),
        ).fetchall()
        return [_entry(row) for row in rows]

    def execute(self, statement: str, parameters: Sequence[object] = ()) -> None:
        """Run one writing statement, a transaction of its own."""
        self._writer.execute(statement, parameters)

    def query(self, statement: str, parameters: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._reader.execute(statement, parameters).fetchall()

    def close(self) -> None:
        self._reader.close()
        self._writer.close()
        self._unlock()

    def _unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the file releases its lock
            self._lock = None


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection, begin: str = "BEGIN") -> Iterator[None]:
    """Commit, or roll back what SQLite has not rolled back itself (as on a full disk)."""
    db.execute(begin)
    try:
        yield
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _entry(row: tuple[int, str, str, str, str, str, float]) -> Entry:
    seq, room_key, room, sender, kind, text, when = row
    event_type = Action if kind == "action" else Message
    return Entry(seq, room_key, event_type(sender, room, text, when, seq))


class History:
    """The hub's recorder: batched writes in one task, gap-free reads.

    Args:
        store: the SQLite file.
        room_key: how room names are compared (the hub's name key).
    """

    def __init__(self, store: HistoryStore, room_key: collections.abc.Callable[[str], str]) -> None:
        self.store = store
        self._room_key = room_key
        self._send, self._receive = trio.open_memory_channel[Entry | tuple[str, str, str]](
            QUEUE_SIZE
        )
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
            self._last_seq = entry.seq
            self._tail.append(entry)

    def record_topic(self, room: str, topic: str) -> None:
        self._queue((self._room_key(room), room, topic))

    def _queue(self, item: Entry | tuple[str, str, str]) -> bool:
        try:
            self._send.send_nowait(item)
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
        """Write batches until :meth:`close`, then flush what is left and return."""
        task_status.started()
        while True:
            try:
                batch = [await self._receive.receive()]
            except trio.EndOfChannel:
                break
            while True:
                try:
                    batch.append(self._receive.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            await self._write(batch)
        await trio.to_thread.run_sync(self.store.close, limiter=self._write_limiter)

    async def _write(self, batch: list[Entry | tuple[str, str, str]]) -> None:
        entries = [item for item in batch if isinstance(item, Entry)]
        topics = [item for item in batch if not isinstance(item, Entry)]

        def write() -> None:
            if entries:
                self.store.append(entries)
            for topic in topics:
                self.store.set_topic(*topic)

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
        if entries:
            self._committed = entries[-1].seq
            self._progress.set()
            self._progress = trio.Event()

    def close(self) -> None:
        """No more records: the writer flushes what is queued and returns."""
        self._send.close()

    # --- reading ---------------------------------------------------------------------

    async def after(self, room: str, limit: int, *, after: int) -> list[Entry]:
        """The first ``limit`` messages of ``room`` newer than id ``after`` (committed ones)."""
        upto = self._last_seq
        while self._committed < upto:
            await self._progress.wait()
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
            while self._committed < upto:
                await self._progress.wait()
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
