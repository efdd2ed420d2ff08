"""The history's SQLite file: schema, migrations and queries. Blocking: worker threads only.

:class:`HistoryStore` opens (creating or migrating) the file and runs the
queries; :class:`~trio_chat.core.history.History` calls it from worker
threads, each connection behind its own one-thread limiter. Schema versions
live in ``PRAGMA user_version``; :data:`MIGRATIONS` turns a file of any older
version into the current one at open.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trio_chat.core import privatestore
from trio_chat.core.datafile import HistoryError, prepare
from trio_chat.core.events import Action, Message
from trio_chat.core.privatestore import PrivateEntry, PrivateItem
from trio_chat.core.rekey import rekey

LOGGER = logging.getLogger("trio_chat.core.history")

MEMORY = ":memory:"

# Each step: SQL statements, or a function of the connection (in the same transaction).
MIGRATIONS: list[Sequence[str | Callable[[sqlite3.Connection], None]]] = [
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
    # 3 -> 4: names and room keys under the one name rule of every door
    # (trio_chat/core/rekey.py); table "renamed" tells users their new name.
    [rekey],
    # 4 -> 5: private conversations, one copy per account that keeps it
    # (trio_chat/core/privatestore.py).
    privatestore.MIGRATION,
]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored room message."""

    seq: int
    room_key: str
    event: Message | Action


# What waits to be written: a room message, a topic (key, room, topic), a private one.
Item = Entry | tuple[str, str, str] | PrivateItem


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
                    if isinstance(statement, str):
                        db.execute(statement)
                    else:
                        statement(db)
                db.execute(f"PRAGMA user_version = {target}")
            if version:
                LOGGER.info("history file %s migrated to schema version %d", self.path, target)

    def last_seq(self) -> int:
        row = self._reader.execute("SELECT max(seq) FROM messages").fetchone()
        return max(int(row[0] or 0), privatestore.last_seq(self._reader))

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

    def prune(self, before: float | None, max_bytes: int | None) -> int:
        """Delete messages older than ``before`` (Unix time), then the oldest while
        the messages' pages exceed ``max_bytes``; return how many were deleted.

        Freed pages are reused by later writes, so the file stops growing there.
        """
        db = self._writer
        deleted = 0
        if before is not None:
            with _transaction(db):
                deleted += db.execute("DELETE FROM messages WHERE time < ?", (before,)).rowcount
                deleted += privatestore.prune_before(db, before)
        while max_bytes is not None and self.used_bytes() > max_bytes:
            count = self.count()
            # The oldest tenth at a time: a few passes, each a short transaction.
            with _transaction(db):
                went = privatestore.prune_oldest(db)
                if count:
                    went += db.execute(
                        "DELETE FROM messages WHERE seq IN"
                        " (SELECT seq FROM messages ORDER BY seq LIMIT ?)",
                        (max(1, count // 10),),
                    ).rowcount
            if not went:
                break
            deleted += went
        return deleted

    # --- private conversations (trio_chat/core/privatestore.py) ----------------------

    def write_privates(self, items: Sequence[PrivateItem]) -> None:
        if not items:
            return
        with _transaction(self._writer):
            privatestore.write(self._writer, items)

    def private_recent(
        self, owner: str, peer_key: str, limit: int, *, before: int, upto: int
    ) -> list[PrivateEntry]:
        return privatestore.recent(self._reader, owner, peer_key, limit, before=before, upto=upto)

    def private_following(
        self, owner: str, peer_key: str, limit: int, *, after: int, upto: int
    ) -> list[PrivateEntry]:
        return privatestore.following(self._reader, owner, peer_key, limit, after=after, upto=upto)

    def correspondents(
        self, owner: str, *, above: int, below: int, upto: int, limit: int
    ) -> list[tuple[int, float, str]]:
        return privatestore.correspondents(
            self._reader, owner, above=above, below=below, upto=upto, limit=limit
        )

    def used_bytes(self) -> int:
        """Bytes of the file in use (its pages but the free ones)."""
        db = self._writer
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        return int((pages - free) * db.execute("PRAGMA page_size").fetchone()[0])

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
