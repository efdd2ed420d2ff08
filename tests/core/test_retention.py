"""The history keeps messages by age and by size (issue #16 item 6), oldest deleted first."""

from __future__ import annotations

from pathlib import Path

import trio

from trio_chat.app import open_history
from trio_chat.core.events import Message
from trio_chat.core.history import Retention
from trio_chat.core.store import HistoryStore

NOW = 1_800_000_000.0
DAY = 86400.0


async def fill(db: str, times: list[float], text: str = "hello") -> None:
    history = await open_history(db, Retention(None, None))
    async with trio.open_nursery() as nursery:
        await nursery.start(history.run)
        for when in times:
            history.record(Message("ana", "#lobby", text, when))
        history.close()


def stored(db: str) -> list[float]:
    store = HistoryStore(db)
    try:
        return [row[0] for row in store.query("SELECT time FROM messages ORDER BY seq")]
    finally:
        store.close()


async def test_messages_older_than_keep_days_are_deleted_at_start(tmp_path: Path) -> None:
    db = str(tmp_path / "history.sqlite3")
    await fill(db, [NOW - 40 * DAY, NOW - 31 * DAY, NOW - 29 * DAY, NOW - 1])
    history = await open_history(db, Retention(keep_days=30, max_mb=None))
    history._clock = lambda: NOW
    async with trio.open_nursery() as nursery:
        await nursery.start(history.run)
        history.close()
    assert stored(db) == [NOW - 29 * DAY, NOW - 1]


async def test_the_oldest_messages_go_once_the_history_outgrows_max_mb(tmp_path: Path) -> None:
    db = str(tmp_path / "history.sqlite3")
    await fill(db, [NOW + i for i in range(3000)], "x" * 1000)  # about 3 MB
    history = await open_history(db, Retention(keep_days=None, max_mb=1))
    async with trio.open_nursery() as nursery:
        await nursery.start(history.run)
        history.close()
    kept = stored(db)
    assert 500 < len(kept) < 1100
    assert kept[-1] == NOW + 2999  # the newest stay
    assert kept == sorted(kept)
    store = HistoryStore(db)
    assert store.used_bytes() <= 1024 * 1024
    store.close()


async def test_serve_has_a_retention_by_default(tmp_path: Path) -> None:
    from trio_chat.__main__ import build_parser

    args = build_parser().parse_args(["serve"])
    assert args.history_keep_days > 0
    assert args.history_max_mb > 0
    args = build_parser().parse_args(
        ["serve", "--history-keep-days", "0", "--history-max-mb", "50"]
    )
    assert (args.history_keep_days, args.history_max_mb) == (0, 50)
