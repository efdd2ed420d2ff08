"""Private conversations in the history's SQLite file: table, writes and queries. Blocking.

Table ``privates`` (schema version 5) holds one row per private message and
per account that keeps it (:mod:`trio_chat.core.conversations` says whose):
``owner`` is that account's name key, ``peer_key`` the other party's name key
(the owner's own for a message to oneself). Rows are keyed by (owner, peer,
id), so one conversation reads along the primary key, and giving an account
up deletes its rows and only its rows. Like the rest of
:mod:`trio_chat.core.store`, these functions run in worker threads, on the
store's connections.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from trio_chat.core.events import Private

# The migration 4 -> 5 (see trio_chat.core.store.MIGRATIONS).
MIGRATION = [
    """CREATE TABLE privates (
        owner TEXT NOT NULL,
        peer_key TEXT NOT NULL,
        seq INTEGER NOT NULL,
        peer TEXT NOT NULL,
        sender TEXT NOT NULL,
        target TEXT NOT NULL,
        notice INTEGER NOT NULL,
        text TEXT NOT NULL,
        time REAL NOT NULL,
        PRIMARY KEY (owner, peer_key, seq)
    ) WITHOUT ROWID""",
]

_COLUMNS = "owner, peer_key, seq, peer, sender, target, notice, text, time"


@dataclass(frozen=True, slots=True)
class PrivateEntry:
    """One account's copy of a private message: ``peer`` is the other party (as shown)."""

    owner: str
    peer_key: str
    peer: str
    event: Private

    @property
    def seq(self) -> int:
        return self.event.id


@dataclass(frozen=True, slots=True)
class Forget:
    """Delete every copy the account ``owner`` keeps (it was given up).

    ``seq``: a place in the history's order, so that reads wait for it as for a message.
    """

    owner: str
    seq: int


PrivateItem = PrivateEntry | Forget


def write(db: sqlite3.Connection, items: Sequence[PrivateItem]) -> None:
    """Write copies and forget accounts, in order (inside the caller's transaction)."""
    for item in items:
        if isinstance(item, Forget):
            db.execute("DELETE FROM privates WHERE owner = ?", (item.owner,))
            continue
        e = item.event
        db.execute(
            f"INSERT OR IGNORE INTO privates ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item.owner,
                item.peer_key,
                e.id,
                item.peer,
                e.sender,
                e.target,
                e.notice,
                e.text,
                e.time,
            ),
        )


def recent(
    db: sqlite3.Connection, owner: str, peer_key: str, limit: int, *, before: int, upto: int
) -> list[PrivateEntry]:
    """The last ``limit`` messages of a conversation with ``seq < before``, ``seq <= upto``."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM privates WHERE owner = ? AND peer_key = ?"
        " AND seq < ? AND seq <= ? ORDER BY seq DESC LIMIT ?",
        (owner, peer_key, before, upto, limit),
    ).fetchall()
    return [_entry(row) for row in reversed(rows)]


def following(
    db: sqlite3.Connection, owner: str, peer_key: str, limit: int, *, after: int, upto: int
) -> list[PrivateEntry]:
    """The first ``limit`` messages of a conversation with ``after < seq <= upto``."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM privates WHERE owner = ? AND peer_key = ?"
        " AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
        (owner, peer_key, after, upto, limit),
    ).fetchall()
    return [_entry(row) for row in rows]


def correspondents(
    db: sqlite3.Connection, owner: str, *, above: int, below: int, upto: int, limit: int
) -> list[tuple[int, float, str]]:
    """Whom ``owner`` wrote with whose latest message has ``above < id < below``:
    (that message's id and time, the peer as last shown), oldest first."""
    # SQLite takes bare columns from the row of max(): the latest message's.
    rows = db.execute(
        "SELECT max(seq), time, peer FROM privates WHERE owner = ? AND seq <= ?"
        " GROUP BY peer_key HAVING max(seq) > ? AND max(seq) < ? ORDER BY max(seq) LIMIT ?",
        (owner, upto, above, below, limit),
    ).fetchall()
    return [(int(seq), float(when), str(peer)) for seq, when, peer in rows]


def last_seq(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT max(seq) FROM privates").fetchone()
    return int(row[0] or 0)


def prune_before(db: sqlite3.Connection, before: float) -> int:
    """Delete the copies older than ``before`` (Unix time); how many went."""
    return db.execute("DELETE FROM privates WHERE time < ?", (before,)).rowcount


def prune_oldest(db: sqlite3.Connection) -> int:
    """Delete the oldest tenth of the copies (at least one, if any); how many went."""
    count = int(db.execute("SELECT count(*) FROM privates").fetchone()[0])
    if not count:
        return 0
    return db.execute(
        "DELETE FROM privates WHERE (owner, peer_key, seq) IN"
        " (SELECT owner, peer_key, seq FROM privates ORDER BY seq LIMIT ?)",
        (max(1, count // 10),),
    ).rowcount


def _entry(row: tuple[str, str, int, str, str, str, int, str, float]) -> PrivateEntry:
    owner, peer_key, seq, peer, sender, target, notice, text, when = row
    return PrivateEntry(
        owner, peer_key, peer, Private(sender, target, text, when, seq, bool(notice))
    )
