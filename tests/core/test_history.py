"""Room history in real SQLite files: the store, the Trio writer, and the CLI as a user runs it."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from pathlib import Path

import pytest
import trio

from trio_chat.app import open_history
from trio_chat.core import history as history_module
from trio_chat.core.datafile import HistoryError, default_path
from trio_chat.core.events import Action, Message
from trio_chat.core.history import History, Retention
from trio_chat.core.store import MEMORY, MIGRATIONS, SCHEMA_VERSION, Entry, HistoryStore

from ..conftest import PROCESS_TIMEOUT, STEP_TIMEOUT, TRIO_CHAT, Peer, running_server

LINUX = sys.platform.startswith("linux")
# Places where nobody, not even root, can create a file on Linux: /proc and
# /sys are kernel filesystems that refuse new files whatever the permissions.
UNWRITABLE = [
    "/proc/trio_chat_test_history.sqlite3",
    "/proc/trio_chat_test_dir/history.sqlite3",
    "/sys/trio_chat_test_history.sqlite3",
    "/sys/trio_chat_test_dir/history.sqlite3",
]
ROOMS = ["#lobby", "#Dev", "#ops"]


# --- helpers ---------------------------------------------------------------------------


@contextmanager
def sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain stdlib connection to inspect (or forge) a file, closed afterwards."""
    with closing(sqlite3.connect(path)) as db:
        yield db


def pragma(path: Path, name: str) -> object:
    with sqlite(path) as db:
        return db.execute(f"PRAGMA {name}").fetchone()[0]


@asynccontextmanager
async def writing(history: History) -> AsyncIterator[History]:
    """The writer task runs inside; on the way out, close() and wait for it to flush."""
    async with trio.open_nursery() as nursery:
        await nursery.start(history.run)
        try:
            yield history
        finally:
            history.close()


async def recent(
    history: History, room: str, limit: int, *, before: int | None = None
) -> list[Entry]:
    with trio.fail_after(STEP_TIMEOUT):
        return await history.recent(room, limit, before=before)


def events(n: int) -> list[Message | Action]:
    """``n`` room messages from 20 senders across 3 rooms, chat and /me mixed."""
    made: list[Message | Action] = []
    for i in range(n):
        kind = Action if i % 5 == 0 else Message
        sender, room = f"user{i % 20}", ROOMS[(i // 7) % len(ROOMS)]
        made.append(kind(sender, room, f"text {i} from {sender}", 1_700_000_000.0 + i / 7))
    return made


def by_room(recorded: list[Message | Action], room: str) -> list[Message | Action]:
    return [event for event in recorded if event.room == room]


def rows(path: Path) -> list[tuple[int, str, str, str, str, float]]:
    with sqlite(path) as db:
        return db.execute(
            "SELECT seq, room, sender, kind, text, time FROM messages ORDER BY seq"
        ).fetchall()


# --- HistoryStore: the file ------------------------------------------------------------


def test_new_file_gets_the_current_schema_version_and_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    HistoryStore(path).close()
    assert pragma(path, "user_version") == SCHEMA_VERSION
    assert pragma(path, "journal_mode") == "wal"


def test_missing_parent_directories_are_created(tmp_path: Path) -> None:
    path = tmp_path / "data" / "trio_chat" / "history.sqlite3"
    HistoryStore(path).close()
    assert path.is_file()


def test_version_1_file_is_migrated_and_its_rows_stay_readable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "old.sqlite3"
    old = [
        (1, "#lobby", "#lobby", "ana", "message", "hello", 1_600_000_000.5),
        (2, "#dev", "#Dev", "bob", "action", "waves", 1_600_000_001.25),
        (3, "#lobby", "#lobby", "bob", "message", "hi ana", 1_600_000_002.0),
    ]
    with sqlite(path) as db:
        for statement in MIGRATIONS[0]:
            db.execute(statement)
        db.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)", old)
        db.execute("PRAGMA user_version = 1")
        db.commit()

    with caplog.at_level(logging.INFO, logger="trio_chat.core.history"):
        store = HistoryStore(path)
    try:
        lobby = store.recent("#lobby", 10, before=sys.maxsize, upto=sys.maxsize)
        dev = store.recent("#dev", 10, before=sys.maxsize, upto=sys.maxsize)
        assert store.last_seq() == 3
        assert store.topics() == {}
    finally:
        store.close()
    assert [(e.seq, unstamped(e.event)) for e in lobby] == [
        (1, Message("ana", "#lobby", "hello", 1_600_000_000.5)),
        (3, Message("bob", "#lobby", "hi ana", 1_600_000_002.0)),
    ]
    assert [(e.seq, unstamped(e.event)) for e in dev] == [
        (2, Action("bob", "#Dev", "waves", 1_600_000_001.25))
    ]
    assert pragma(path, "user_version") == SCHEMA_VERSION
    assert pragma(path, "journal_mode") == "wal"
    assert f"migrated to schema version {SCHEMA_VERSION}" in caplog.text


def test_file_with_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    with sqlite(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(HistoryError, match="newer") as caught:
        HistoryStore(path)
    assert str(path) in str(caught.value)
    assert "upgrade trio_chat" in str(caught.value)
    assert pragma(path, "user_version") == SCHEMA_VERSION + 1


def test_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    content = b"my notes, not a database\n" + bytes(range(256)) * 32
    path.write_bytes(content)
    with pytest.raises(HistoryError) as caught:
        HistoryStore(path)
    assert str(caught.value) == f"cannot use history file {path}: file is not a database"
    assert path.read_bytes() == content


def test_parent_that_is_a_regular_file_is_refused(tmp_path: Path) -> None:
    parent = tmp_path / "data"
    parent.write_text("a file, not a directory\n")
    path = parent / "history.sqlite3"
    with pytest.raises(HistoryError) as caught:
        HistoryStore(path)
    assert str(caught.value).startswith(f"cannot create the directory for history file {path}: ")
    assert parent.read_text() == "a file, not a directory\n"


@pytest.mark.skipif(not LINUX, reason="/proc and /sys are Linux kernel filesystems")
@pytest.mark.parametrize("path", UNWRITABLE)
def test_location_where_even_root_cannot_write_is_refused_clearly(path: str) -> None:
    with pytest.raises(HistoryError) as caught:
        HistoryStore(path)
    message = str(caught.value)
    assert message.startswith(("cannot use history file ", "cannot create the directory for"))
    assert path in message
    assert "\n" not in message
    assert not Path(path).exists()


async def test_full_disk_is_logged_and_the_writer_keeps_going(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "history.sqlite3"
    history = await open_history(str(path))
    writer = history.store._writer
    pages = writer.execute("PRAGMA page_count").fetchone()[0]
    # The file may not grow by a single page: a "disk" that is full.
    writer.execute(f"PRAGMA max_page_count = {pages}")
    async with writing(history):
        for i in range(1000):
            history.record(Message("ana", "#lobby", f"{i} " + "x" * 200, float(i)))
        assert await recent(history, "#lobby", 10) == []  # returns: does not hang
        assert "could not save 1000 message(s), 0 topic(s) to history" in caplog.text

        writer.execute("PRAGMA max_page_count = 1073741823")  # room again
        history.record(Message("ana", "#lobby", "after the disk was freed", 2000.0))
        entries = await recent(history, "#lobby", 10)
        assert [(e.seq, e.event.text) for e in entries] == [(1001, "after the disk was freed")]
    assert [row[4] for row in rows(path)] == ["after the disk was freed"]


async def test_full_disk_log_says_the_disk_is_full(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    history = await open_history(str(tmp_path / "history.sqlite3"))
    writer = history.store._writer
    writer.execute(f"PRAGMA max_page_count = {writer.execute('PRAGMA page_count').fetchone()[0]}")
    async with writing(history):
        for i in range(1000):
            history.record(Message("ana", "#lobby", "x" * 200, float(i)))
        await recent(history, "#lobby", 10)
    [failure] = [r.getMessage() for r in caplog.records if "could not save" in r.getMessage()]
    assert "database or disk is full" in failure


# --- History: the Trio side --------------------------------------------------------------


async def test_a_thousand_messages_from_many_senders_come_back_in_order(tmp_path: Path) -> None:
    recorded = events(1000)
    history = await open_history(str(tmp_path / "history.sqlite3"))
    async with writing(history):
        for event in recorded:
            history.record(event)
        for room in ROOMS:
            entries = await recent(history, room, 1000)
            assert [unstamped(e.event) for e in entries] == by_room(recorded, room)
            assert [e.seq for e in entries] == sorted({e.seq for e in entries})
    assert history.last_seq == 1000
    assert len(rows(tmp_path / "history.sqlite3")) == 1000


async def test_restart_on_the_same_file_keeps_history_and_sequence_numbers(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "history.sqlite3")
    recorded = events(1000)
    first = await open_history(db)
    async with writing(first):
        for event in recorded:
            first.record(event)

    # Messages of 2023: kept however old (the default retention would delete them).
    again = await open_history(db, Retention(keep_days=None))
    assert again.last_seq == 1000
    async with writing(again):
        for room in ROOMS:
            assert [unstamped(e.event) for e in await recent(again, room, 1000)] == by_room(
                recorded, room
            )
        again.record(Message("ana", "#lobby", "after the restart", 1.0))
        [latest] = await recent(again, "#LOBBY", 1)
    assert (latest.seq, latest.event.text) == (1001, "after the restart")


async def test_paging_backwards_with_before_has_no_overlap_and_no_gap(tmp_path: Path) -> None:
    history = await open_history(str(tmp_path / "history.sqlite3"))
    async with writing(history):
        for i in range(95):
            history.record(Message("ana", "#lobby", f"lobby {i}", float(i)))
            history.record(Message("bob", "#dev", f"dev {i}", float(i)))
        pages = [await recent(history, "#lobby", 20)]
        while pages[-1]:
            pages.append(await recent(history, "#lobby", 20, before=pages[-1][0].seq))
    assert [len(page) for page in pages] == [20, 20, 20, 20, 15, 0]
    texts = [e.event.text for page in reversed(pages) for e in page]
    assert texts == [f"lobby {i}" for i in range(95)]


async def test_recent_includes_a_message_recorded_just_before(tmp_path: Path) -> None:
    history = await open_history(str(tmp_path / "history.sqlite3"))
    async with writing(history):
        history.record(Message("ana", "#lobby", "first", 1.0))
        assert [e.event.text for e in await recent(history, "#lobby", 10)] == ["first"]
        history.record(Message("ana", "#lobby", "second", 2.0))  # no yield in between
        assert [e.event.text for e in await recent(history, "#lobby", 10)] == ["first", "second"]


async def test_close_flushes_everything_queued(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    history = await open_history(str(path))
    async with trio.open_nursery() as nursery:
        await nursery.start(history.run)
        for i in range(5000):
            history.record(Message(f"user{i % 20}", "#lobby", f"message {i}", float(i)))
        history.close()
    saved = rows(path)
    assert len(saved) == 5000
    assert [(seq, text) for seq, _, _, _, text, _ in saved] == [
        (i + 1, f"message {i}") for i in range(5000)
    ]


async def test_memory_database_is_shared_by_both_connections_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    history = await open_history(MEMORY)
    async with writing(history):
        history.record(Message("ana", "#lobby", "kept in memory", 1.0))
        history.record_topic("#lobby", "no file")
        # Written by the writer connection, read by the reader connection.
        assert [e.event.text for e in await recent(history, "#lobby", 10)] == ["kept in memory"]
    assert list(await trio.Path(tmp_path).iterdir()) == []


async def test_recent_is_not_blocked_by_a_write_in_progress(tmp_path: Path) -> None:
    history = await open_history(str(tmp_path / "history.sqlite3"))
    async with writing(history):
        history.record(Message("ana", "#lobby", "saved", 1.0))
        assert [e.event.text for e in await recent(history, "#lobby", 10)] == ["saved"]
        # What the writer thread does in every batch: a transaction not yet committed.
        writer = history.store._writer
        writer.execute("BEGIN IMMEDIATE")
        writer.execute(
            "INSERT INTO messages VALUES (99, '#lobby', '#lobby', 'bob', 'message', 'next', 2.0)"
        )
        try:
            entries = await recent(history, "#lobby", 10)
        finally:
            writer.execute("ROLLBACK")
        assert [e.event.text for e in entries] == ["saved"]


async def test_reads_and_writes_take_turns_on_an_in_memory_database() -> None:
    # A shared-cache in-memory database locks a table during a write instead of
    # showing the last commit; reads and writes must never overlap there.
    history = await open_history(MEMORY)
    async with writing(history):
        for i in range(300):
            history.record(Message("ana", "#lobby", f"m{i}", float(i)))
            entries = await recent(history, "#lobby", 5)
            assert entries[-1].event.text == f"m{i}"


async def test_topics_survive_a_reopen(tmp_path: Path) -> None:
    db = str(tmp_path / "history.sqlite3")
    first = await open_history(db)
    async with writing(first):
        first.record_topic("#Dev", "release plans")
        first.record_topic("#ops", "pager duty")
        first.record_topic("#OPS", "")  # cleared
        first.record_topic("#lobby", "old")
        first.record_topic("#Lobby", "welcome all")
    again = await open_history(db)
    try:
        assert await again.topics() == {"#Dev": "release plans", "#Lobby": "welcome all"}
    finally:
        again.store.close()


# --- the CLI, as a user runs it ------------------------------------------------------------


async def join(port: int, name: str) -> tuple[trio.SocketStream, Peer]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    peer = Peer(stream)
    await peer.register(name)
    return stream, peer


async def test_serve_saves_every_accepted_message_before_exiting_on_sigterm(
    tmp_path: Path,
) -> None:
    path = tmp_path / "data" / "history.sqlite3"
    lines = [f"/me waves {i}" if i % 10 == 0 else f"line {i} from ana" for i in range(300)]
    started = time.time()
    async with running_server("--db", str(path)) as (server, port):
        assert any(f"history: {path} (0 messages)" in line for line in server.startup)
        bob_stream, _ = await join(port, "bob")
        ana_stream, ana = await join(port, "ana")
        async with bob_stream, ana_stream:
            await ana.send(*lines[:150], "/msg bob a private word", *lines[150:], "/who")
            await ana.until("*** In #lobby")  # every line before /who has been handled
            answered = time.time()
            server.process.send_signal(signal.SIGTERM)
            assert await server.exit_code() == 0
        rest = await server.io.expect_eof()
    assert not any("Traceback" in line for line in rest)

    saved = rows(path)
    assert [(room, sender, kind, text) for _, room, sender, kind, text, _ in saved] == [
        ("#lobby", "ana", "action", line.removeprefix("/me "))
        if line.startswith("/me ")
        else ("#lobby", "ana", "message", line)
        for line in lines
    ]
    times = [when for *_, when in saved]
    assert times == sorted(times)
    assert started <= times[0]
    assert times[-1] <= answered
    # Ids only increase (the private message in the middle took one, never stored).
    seqs = [seq for seq, *_ in saved]
    assert seqs == sorted(set(seqs))
    assert len(seqs) == 300


async def test_sigterm_waits_for_writes_still_held_up_by_the_disk(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    async with running_server("--db", str(path)) as (server, port):
        stream, ana = await join(port, "ana")
        async with stream:
            # Another process holds the write lock: the server's writer waits
            # (busy_timeout) inside its first batch while chat goes on, so at
            # SIGTERM one batch is being written and the next is still queued.
            with closing(sqlite3.connect(path, isolation_level=None)) as blocker:
                blocker.execute("BEGIN IMMEDIATE")
                await ana.send(*(f"pending {i}" for i in range(25)), "/who")
                await ana.until("*** In #lobby")
                await ana.send(*(f"pending {i}" for i in range(25, 50)), "/who")
                await ana.until("*** In #lobby")
                assert blocker.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
                server.process.send_signal(signal.SIGTERM)
                assert await ana.expect_eof() == ["*** server shutting down"]
                # The sessions are over, yet the server cannot exit: it is flushing.
                assert server.process.returncode is None
                blocker.execute("ROLLBACK")
            assert await server.exit_code() == 0
    assert [text for *_, text, _ in rows(path)] == [f"pending {i}" for i in range(50)]


async def test_serve_restarted_on_the_same_file_keeps_and_counts_the_history(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.sqlite3"
    for run in range(2):
        async with running_server("--db", str(path)) as (server, port):
            assert any(f"history: {path} ({run} message" in line for line in server.startup)
            stream, peer = await join(port, f"user{run}")
            async with stream:
                await peer.send(f"said in run {run}", "/who")
                await peer.until("*** In #lobby")
                server.process.send_signal(signal.SIGTERM)
                assert await server.exit_code() == 0
    assert [(sender, text) for _, _, sender, _, text, _ in rows(path)] == [
        ("user0", "said in run 0"),
        ("user1", "said in run 1"),
    ]


async def serve_and_fail(command: list[str]) -> list[str]:
    """Run a server that must not start; return its stderr lines."""
    with trio.fail_after(PROCESS_TIMEOUT):
        result = await trio.run_process(
            command, capture_stdout=True, capture_stderr=True, check=False
        )
    assert result.returncode == 1
    assert result.stdout == b""
    return result.stderr.decode().splitlines()


@pytest.mark.skipif(not LINUX, reason="/proc is a Linux kernel filesystem")
@pytest.mark.parametrize("path", UNWRITABLE[:2])
async def test_serve_with_an_unwritable_db_path_exits_1_with_one_clear_line(path: str) -> None:
    command = [
        TRIO_CHAT,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--web-port",
        "0",
        "--irc-port",
        "0",
        "--db",
        path,
    ]
    [line] = await serve_and_fail(command)
    assert " ERROR " in line
    assert f"history file {path}: " in line


@pytest.mark.skipif(not LINUX, reason="RLIMIT_FSIZE and SIGXFSZ as on Linux")
async def test_serve_on_a_full_disk_exits_1_with_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    # The process may not write a single byte to any file: a disk with no room
    # left, for root too (Python ignores SIGXFSZ, so writes fail with EFBIG).
    no_room = (
        "import resource, sys; "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY)); "
        "from trio_chat.__main__ import main; sys.exit(main(sys.argv[1:]))"
    )
    command = [
        sys.executable,
        "-c",
        no_room,
        "serve",
        "--port",
        "0",
        "--web-port",
        "0",
        "--irc-port",
        "0",
        "--db",
        str(path),
    ]
    [line] = await serve_and_fail(command)
    assert " ERROR " in line
    assert f"cannot use history file {path}: " in line


# --- where history lives by default ----------------------------------------------------------


POSIX_NOT_MAC = pytest.mark.skipif(
    sys.platform == "darwin" or os.name == "nt", reason="XDG applies on Linux and BSDs"
)


@POSIX_NOT_MAC
def test_default_path_honours_xdg_data_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_path() == tmp_path / "xdg" / "trio_chat" / "history.sqlite3"


@POSIX_NOT_MAC
def test_default_path_without_xdg_data_home_is_under_local_share(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_path() == tmp_path / ".local" / "share" / "trio_chat" / "history.sqlite3"


async def test_a_read_during_which_more_is_said_than_the_tail_holds_misses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history_module, "TAIL_SIZE", 5)
    history = await open_history(str(tmp_path / "history.sqlite3"))
    store_recent = history.store.recent
    reads = 0

    def slow_first_read(room_key: str, limit: int, *, before: int, upto: int) -> list[Entry]:
        nonlocal reads
        reads += 1
        if reads == 1:
            # While the first read runs, 20 messages are said (recorded from trio).
            trio.from_thread.run_sync(say, 20)
        return store_recent(room_key, limit, before=before, upto=upto)

    def say(count: int) -> None:
        for i in range(count):
            history.record(Message("ana", "#lobby", f"m{i}", float(i)))

    monkeypatch.setattr(history.store, "recent", slow_first_read)
    async with writing(history):
        entries = await recent(history, "#lobby", 50)
    assert [e.event.text for e in entries] == [f"m{i}" for i in range(20)]
    assert reads == 2  # the tail (5) could not cover 20: read again


def unstamped(event: Message | Action) -> Message | Action:
    """``event`` without the id the history stamped on it (to compare with what was said)."""
    return dataclasses.replace(event, id=0)
