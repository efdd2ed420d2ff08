"""The history file as the system sees it: one server at a time, private to its user."""

from __future__ import annotations

import logging
import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from pathlib import Path

import pytest
import trio
import trio.testing

from trio_chat.core.datafile import HistoryError, HistoryInUse, default_path
from trio_chat.core.store import HistoryStore

from ..conftest import PROCESS_TIMEOUT, STEP_TIMEOUT, Peer

TRIO_CHAT = str(Path(sys.executable).parent / "trio-chat")


@asynccontextmanager
async def serving(db: Path) -> AsyncIterator[tuple[trio.Process, Peer, int]]:
    """A real ``trio-chat serve --db DB`` on a free port: the process, its log, its port."""
    process = await trio.lowlevel.open_process(
        [
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
            str(db),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    log = Peer(trio.StapledStream(trio.testing.MemorySendStream(), process.stderr))
    try:
        line = await log.line()
        while "listening on" not in line:
            line = await log.line()
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        assert match, line
        yield process, log, int(match.group(1))
    finally:
        if process.returncode is None:
            process.kill()
        with trio.CancelScope(shield=True):
            await process.wait()
        await process.stderr.aclose()


async def serve_once(db: Path) -> subprocess.CompletedProcess[bytes]:
    """``trio-chat serve --db DB`` that is expected to stop at start."""
    with trio.fail_after(PROCESS_TIMEOUT):
        return await trio.run_process(
            [
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
                str(db),
            ],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )


# --- one server per file -----------------------------------------------------------------


def test_a_second_store_on_a_file_in_use_is_refused_until_the_first_closes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.sqlite3"
    first = HistoryStore(path)
    try:
        with pytest.raises(HistoryInUse) as caught:
            HistoryStore(path)
        message = str(caught.value)
        assert message.startswith(f"history file {path} is in use by another trio-chat server")
        assert "\n" not in message
        assert message.endswith("give this one its own file")  # the CLI says how
    finally:
        first.close()
    HistoryStore(path).close()  # free again once the first is closed


def test_a_file_whose_server_was_killed_opens_at_once(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from trio_chat.core.history import HistoryStore; "
            f"store = HistoryStore({str(path)!r}); print('open', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"open\n"
        with pytest.raises(HistoryInUse, match=rf"\(process {holder.pid}\)"):
            HistoryStore(path)
        holder.kill()  # no close(): the kernel releases the lock
        holder.wait(timeout=STEP_TIMEOUT)
    finally:
        holder.kill()
        holder.wait(timeout=STEP_TIMEOUT)
        for stream in (holder.stdin, holder.stdout):
            if stream is not None:
                stream.close()
    HistoryStore(path).close()


def test_a_lock_file_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    (tmp_path / "history.sqlite3.lock").mkdir()
    with pytest.raises(HistoryError) as caught:
        HistoryStore(path)
    assert str(caught.value).startswith(f"cannot use history file {path}: cannot open ")
    assert not path.exists()


async def test_a_second_server_on_the_same_file_is_refused_and_the_first_loses_nothing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "history.sqlite3"
    async with serving(db) as (process, log, port):
        second = await serve_once(db)
        assert second.returncode == 1
        error = second.stderr.decode()
        assert error.count("\n") == 1, error
        assert f"history file {db} is in use by another trio-chat server" in error
        assert f"(process {process.pid})" in error
        assert "Traceback" not in error

        ana = Peer(await trio.open_tcp_stream("127.0.0.1", port))
        await ana.register("ana")
        await ana.send("said after the second server was refused", "/quit")
        assert await ana.expect_eof() == ["*** Bye!"]
        await ana.stream.aclose()
        process.send_signal(signal.SIGINT)
        with trio.fail_after(STEP_TIMEOUT):
            assert await process.wait() == 0
        rest = await log.expect_eof()
        assert not any("could not save" in line for line in rest), rest
    with closing(sqlite3.connect(db)) as check:
        texts = [text for (text,) in check.execute("SELECT text FROM messages")]
    assert texts == ["said after the second server was refused"]


# --- private to its user -------------------------------------------------------------------

POSIX = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def not_private(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "history not private" in r.getMessage()]


@POSIX
def test_a_new_file_its_folder_and_companions_are_for_their_owner_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "data" / "history.sqlite3"
    with umask(0o022):
        store = HistoryStore(path)
    try:
        store.execute("INSERT INTO topics VALUES ('#lobby', '#lobby', 'hi')")
        companions = [path.with_name(path.name + end) for end in ("-wal", "-shm", ".lock")]
        assert all(file.exists() for file in companions)
        assert {str(file): mode(file) for file in [path, *companions]} == {
            str(file): 0o600 for file in [path, *companions]
        }
        assert mode(path.parent) == 0o700
    finally:
        store.close()
    assert not_private(caplog) == []


@POSIX
def test_an_existing_file_others_can_read_gets_one_warning_with_the_chmod(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "history.sqlite3"
    with umask(0o022):
        HistoryStore(path).close()
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="trio_chat.core.history"):
        HistoryStore(path).close()
    [warning] = not_private(caplog)
    assert str(path) in warning
    assert warning.endswith(f"run chmod 600 {path}")
    assert mode(path) == 0o644  # told, not changed behind the user's back


@POSIX
def test_the_data_folder_others_can_enter_gets_a_warning_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    path = default_path()
    path.parent.mkdir(mode=0o755)  # as trio_chat made it before
    path.parent.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="trio_chat.core.history"):
        HistoryStore(path).close()
    [warning] = not_private(caplog)
    assert warning.endswith(f"run chmod 700 {path.parent}")
    # A folder the user chose is theirs: no advice about it.
    caplog.clear()
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    mine.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="trio_chat.core.history"):
        HistoryStore(mine / "chat.sqlite3").close()
    assert not_private(caplog) == []
