"""A room's latest messages stay in memory after a read: newcomers need no query.

Thousands arriving in one room (issue #14's capacity) each read its history;
once one read it, the next get it from memory, with everything said since,
and a retention pass that deletes messages forgets it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from trio_chat.app import open_history
from trio_chat.core import history as history_module
from trio_chat.core.events import Message
from trio_chat.core.history import History, Retention
from trio_chat.core.store import Entry

from ..conftest import STEP_TIMEOUT

NOW = 1_800_000_000.0
DAY = 86400.0
KEEP_ALL = Retention(None, None)


@asynccontextmanager
async def running(db: str, retention: Retention = KEEP_ALL) -> AsyncIterator[History]:
    history = await open_history(db, retention)
    history._clock = lambda: NOW
    # The writer's own retention pass at start would overlap the first reads.
    history._pruned_at = trio.current_time()
    async with trio.open_nursery() as nursery:
        await nursery.start(history.run)
        try:
            yield history
        finally:
            history.close()


def texts(entries: list[Entry]) -> list[str]:
    return [e.event.text for e in entries]


def no_queries(history: History, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From here on, a query of a room's latest messages is recorded (and still runs)."""
    asked: list[str] = []
    query = history.store.recent

    def recent(room_key: str, limit: int, *, before: int, upto: int) -> list[Entry]:
        asked.append(room_key)
        return query(room_key, limit, before=before, upto=upto)

    monkeypatch.setattr(history.store, "recent", recent)
    return asked


async def test_newcomers_get_the_latest_messages_without_a_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(str(tmp_path / "h.sqlite3")) as history:
        for i in range(5):
            history.record(Message("ana", "#lobby", f"m{i}", NOW + i))
        with trio.fail_after(STEP_TIMEOUT):
            assert texts(await history.recent("#lobby", 3)) == ["m2", "m3", "m4"]
            asked = no_queries(history, monkeypatch)
            history.record(Message("bob", "#lobby", "m5", NOW + 5))
            history.record(Message("bob", "#dev", "elsewhere", NOW + 6))
            assert texts(await history.recent("#lobby", 3)) == ["m3", "m4", "m5"]
            assert texts(await history.recent("#lobby", 2)) == ["m4", "m5"]
            assert asked == []
            # More than was read before: asked of the file.
            assert texts(await history.recent("#lobby", 10)) == [f"m{i}" for i in range(6)]
            assert asked == ["#lobby"]


async def test_a_room_read_whole_needs_no_query_for_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(str(tmp_path / "h.sqlite3")) as history:
        history.record(Message("ana", "#lobby", "only", NOW))
        with trio.fail_after(STEP_TIMEOUT):
            assert texts(await history.recent("#lobby", 50)) == ["only"]
            asked = no_queries(history, monkeypatch)
            assert texts(await history.recent("#lobby", 500)) == ["only"]
            assert texts(await history.recent("#dev", 50)) == []
            assert asked == ["#dev"]


async def test_more_said_than_the_tail_holds_is_asked_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history_module, "TAIL_SIZE", 4)
    async with running(str(tmp_path / "h.sqlite3")) as history:
        with trio.fail_after(STEP_TIMEOUT):
            assert await history.recent("#lobby", 3) == []
            asked = no_queries(history, monkeypatch)
            for i in range(6):
                history.record(Message("ana", "#lobby", f"m{i}", NOW + i))
            assert texts(await history.recent("#lobby", 3)) == ["m3", "m4", "m5"]
            assert asked == ["#lobby"]


async def test_messages_the_retention_deleted_are_not_shown(tmp_path: Path) -> None:
    async with running(str(tmp_path / "h.sqlite3"), Retention(keep_days=30)) as history:
        history.record(Message("ana", "#lobby", "old", NOW - 40 * DAY))
        history.record(Message("ana", "#lobby", "new", NOW))
        with trio.fail_after(STEP_TIMEOUT):
            assert texts(await history.recent("#lobby", 10)) == ["old", "new"]
            await history.caught_up()
            assert await history.prune() == 1
            assert texts(await history.recent("#lobby", 10)) == ["new"]


async def test_the_rooms_kept_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history_module, "LATEST_ROOMS", 2)
    async with running(str(tmp_path / "h.sqlite3")) as history:
        with trio.fail_after(STEP_TIMEOUT):
            for room in ("#a", "#b", "#c"):
                await history.recent(room, 5)
            asked = no_queries(history, monkeypatch)
            for room in ("#b", "#c", "#a"):
                await history.recent(room, 5)
            assert asked == ["#a"]
