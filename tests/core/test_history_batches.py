"""The history's writer under a stream of messages: few batches, in order, nothing lost.

In virtual time (autojump_clock), with an instant disk: the writer's thread
trips run in the Trio thread at once, so that what is written when depends on
the writer alone, not on how fast this machine's threads are (and the mock
clock does not jump ahead while a real thread works).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from trio_chat.app import open_history
from trio_chat.core import history as history_module
from trio_chat.core.events import Message
from trio_chat.core.history import GATHER, History
from trio_chat.core.store import MEMORY, Entry

from ..conftest import STEP_TIMEOUT

# One batch written: when (virtual time) and the sequence numbers in it.
Batch = tuple[float, list[int]]


async def _inline(fn: Callable[..., Any], *args: object, **_: object) -> Any:
    await trio.lowlevel.checkpoint()
    return fn(*args)


@pytest.fixture
def instant_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every worker-thread trip runs at once in the Trio thread: writes take no time."""
    monkeypatch.setattr(trio.to_thread, "run_sync", _inline)


def batches_of(
    history: History, clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> list[Batch]:
    """Each batch the history writes from now on, as it writes it."""
    written: list[Batch] = []
    append = history.store.append

    def counted(entries: Sequence[Entry]) -> None:
        written.append((clock.current_time(), [entry.seq for entry in entries]))
        append(entries)

    monkeypatch.setattr(history.store, "append", counted)
    return written


@asynccontextmanager
async def writing(history: History) -> AsyncIterator[History]:
    """The writer task runs inside; on the way out, close() and wait for it to flush."""
    with trio.fail_after(STEP_TIMEOUT):
        async with trio.open_nursery() as nursery:
            await nursery.start(history.run)
            try:
                yield history
            finally:
                history.close()


def said(i: int) -> Message:
    return Message(f"user{i % 10}", "#lobby", f"message {i}", float(i))


async def test_a_steady_stream_is_written_in_few_batches_in_order(
    autojump_clock: trio.testing.MockClock,
    instant_disk: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history = await open_history(MEMORY)
    batches = batches_of(history, autojump_clock, monkeypatch)
    async with writing(history):
        for i in range(1000):  # 1000 messages a second, for a second
            history.record(said(i))
            await trio.sleep(0.001)
        entries = await history.recent("#lobby", 1000)
    assert [e.event.text for e in entries] == [f"message {i}" for i in range(1000)]
    # Every message written once, in order; one batch each before the writer gathered.
    assert [seq for _, seqs in batches for seq in seqs] == list(range(1, 1001))
    assert len(batches) <= 1.0 / GATHER + 2
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(batches)]
    assert min(gaps) == pytest.approx(GATHER)


async def test_a_message_after_a_pause_is_written_at_once(
    autojump_clock: trio.testing.MockClock,
    instant_disk: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history = await open_history(MEMORY)
    batches = batches_of(history, autojump_clock, monkeypatch)
    async with writing(history):
        history.record(said(0))
        await trio.sleep(1.0)
        history.record(said(1))
        now = trio.current_time()
        await trio.sleep(GATHER / 10)
        assert batches == [(0.0, [1]), (now, [2])]


async def test_a_reader_does_not_wait_for_the_gathering(
    autojump_clock: trio.testing.MockClock,
    instant_disk: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history = await open_history(MEMORY)
    batches = batches_of(history, autojump_clock, monkeypatch)
    async with writing(history):
        history.record(said(0))  # written at once: the writer now gathers
        await trio.sleep(GATHER / 4)
        history.record(said(1))
        asked = trio.current_time()
        entries = await history.recent("#lobby", 10)  # a newcomer's replay
        assert trio.current_time() == asked
        assert [e.event.text for e in entries] == ["message 0", "message 1"]
        assert [seqs for _, seqs in batches] == [[1], [2]]


async def test_a_burst_is_written_without_waiting_for_the_gathering(
    autojump_clock: trio.testing.MockClock,
    instant_disk: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(history_module, "GATHER_MAX", 100)
    history = await open_history(MEMORY)
    batches = batches_of(history, autojump_clock, monkeypatch)
    async with writing(history):
        history.record(said(0))
        await trio.sleep(GATHER / 4)
        burst = trio.current_time()
        for i in range(1, 151):  # a paste: more than GATHER_MAX at once
            history.record(said(i))
        await trio.sleep(GATHER / 10)
        assert batches == [(0.0, [1]), (burst, list(range(2, 152)))]


async def test_close_writes_what_was_being_gathered(
    autojump_clock: trio.testing.MockClock, instant_disk: None, tmp_path: Path
) -> None:
    history = await open_history(str(tmp_path / "history.sqlite3"))
    async with writing(history):
        history.record(said(0))
        await trio.sleep(GATHER / 4)
        for i in range(1, 100):
            history.record(said(i))
    again = await open_history(str(tmp_path / "history.sqlite3"))
    entries = await again.recent("#lobby", 1000)
    await trio.to_thread.run_sync(again.store.close)
    assert [e.event.text for e in entries] == [f"message {i}" for i in range(100)]


async def test_a_cancelled_writer_still_writes_what_it_had_gathered(
    autojump_clock: trio.testing.MockClock, instant_disk: None, tmp_path: Path
) -> None:
    history = await open_history(str(tmp_path / "history.sqlite3"))
    with trio.fail_after(STEP_TIMEOUT):
        async with trio.open_nursery() as nursery:
            await nursery.start(history.run)
            history.record(said(0))
            await trio.sleep(GATHER / 4)
            history.record(said(1))
            await trio.sleep(GATHER / 4)  # the writer holds it, gathering
            nursery.cancel_scope.cancel()
    await trio.to_thread.run_sync(history.store.close)
    again = await open_history(str(tmp_path / "history.sqlite3"))
    entries = await again.recent("#lobby", 10)
    await trio.to_thread.run_sync(again.store.close)
    assert [e.event.text for e in entries] == ["message 0", "message 1"]
