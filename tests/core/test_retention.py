"""The history keeps messages by age and by size (issue #16 item 6), oldest deleted first."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
import trio
import trio.testing

from trio_chat.app import open_history
from trio_chat.core import history as history_module
from trio_chat.core.events import Message
from trio_chat.core.history import History, Retention
from trio_chat.core.hub import Hub
from trio_chat.core.members import ScopeLink
from trio_chat.core.names import name_key
from trio_chat.core.service import ChatService
from trio_chat.core.store import Entry, HistoryStore
from trio_chat.text.codec import encode

from ..conftest import STEP_TIMEOUT

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


async def test_a_paste_faster_than_the_disk_waits_for_it_and_nothing_is_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A small queue, to see the old behaviour (drop past the queue) at a small scale.
    monkeypatch.setattr(history_module, "QUEUE_SIZE", 1000)
    monkeypatch.setattr(history_module, "BEHIND_MESSAGES", 250)
    history = History(HistoryStore(":memory:"), name_key)
    await history.open()
    disk = threading.Event()  # a stuck disk, until set
    append = history.store.append

    def slow_append(entries: Sequence[Entry]) -> None:
        disk.wait(STEP_TIMEOUT)
        append(entries)

    monkeypatch.setattr(history.store, "append", slow_append)
    service = ChatService(Hub(name_key, recorder=history), history=history)
    client = service.connect("local")  # exempt from flood control, like a paste from loopback
    await service.take_name(client, "ana", encode, ScopeLink())
    sent = 0
    done = trio.Event()

    async def paste() -> None:
        nonlocal sent
        for i in range(2000):
            await service.pace(client)
            service.say(client, "#lobby", f"line {i}")
            sent += 1
        done.set()

    with trio.fail_after(STEP_TIMEOUT):
        async with trio.open_nursery() as nursery:
            await nursery.start(history.run)
            nursery.start_soon(paste)
            await trio.testing.wait_all_tasks_blocked(cushion=0.05)
            assert 250 < sent < 400  # held back by the stuck disk, not dropped
            disk.set()
            await done.wait()
            assert len(await history.recent("#lobby", 2000)) == 2000
            history.close()
    assert history.dropped == 0
