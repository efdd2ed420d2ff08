"""Password hashes, password files, and accounts and bans kept in a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trio.testing

from trio_chat.core.bans import peer_host
from trio_chat.core.passwords import (
    ScryptCost,
    SecretFileError,
    check_password,
    hash_password,
    read_secret,
)
from trio_chat.core.store import SCHEMA_VERSION

from ..conftest import Peer, Running, running_app

CHEAP = ScryptCost(n=2**10, r=8, p=1)
PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


# --- hashes -------------------------------------------------------------------------------


def test_a_hash_is_salted_scrypt_with_its_cost_and_never_the_password() -> None:
    first = hash_password(PASSWORD)
    second = hash_password(PASSWORD)
    assert first.startswith("scrypt$32768$8$1$")
    assert first != second  # a fresh salt each time
    assert PASSWORD not in first
    assert check_password(PASSWORD, first)
    assert check_password(PASSWORD, second)
    assert not check_password("correct horse battery!", first)
    assert not check_password("", first)


def test_an_unreadable_hash_refuses_the_login_without_raising() -> None:
    assert not check_password(PASSWORD, "md5$abc")
    assert not check_password(PASSWORD, "scrypt$1024$8$1$not-base64!$AAAA")


def test_peer_host_takes_the_address_out_of_host_and_port() -> None:
    assert peer_host("10.1.2.3:5000") == "10.1.2.3"
    assert peer_host("[2001:db8::1]:5000") == "2001:db8::1"
    assert peer_host("memory:1") == "memory"


# --- password files ---------------------------------------------------------------------


def test_read_secret_takes_the_first_line_trimmed(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("  s3cret phrase \r\nsecond line\n")
    assert read_secret(path, "password") == "s3cret phrase"


@pytest.mark.parametrize("content", ["", "\n", "   \nsecret on line two\n"])
def test_an_empty_first_line_is_a_clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "secret"
    path.write_text(content)
    with pytest.raises(SecretFileError, match=r"password file .*secret is empty"):
        read_secret(path, "password")


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SecretFileError, match=r"cannot read the password file .*nope: No such"):
        read_secret(tmp_path / "nope", "password")


# --- a real SQLite file ---------------------------------------------------------------


@asynccontextmanager
async def serving(path: Path, clock: Clock) -> AsyncIterator[Running]:
    """The real server with history, accounts and bans in the file ``path``."""
    secret = path.parent / "oper-password"
    secret.write_text("oper-pw-123\n")
    async with running_app(
        db=str(path), oper_password_file=str(secret), scrypt_cost=CHEAP, clock=clock
    ) as chat:
        yield chat


async def test_accounts_and_bans_survive_a_restart_and_a_timed_ban_expires(
    tmp_path: Path,
) -> None:
    db = tmp_path / "chat.db"
    clock = Clock()
    async with serving(db, clock) as chat:
        ana = await chat.join("ana")
        await ana.send(f"/register {PASSWORD}", "/oper oper-pw-123")
        await ana.until("*** You are an operator now")
        await ana.send("/ban troll", "/ban bob 1h", "/ban 192.0.2.0/24 2d")
        await ana.until("*** ana banned 192.0.2.0/24")

    assert not files_holding(tmp_path, PASSWORD.encode())
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
        [(stored,)] = connection.execute("SELECT password_hash FROM accounts").fetchall()
    assert stored.startswith("scrypt$1024$8$1$")

    clock.now += 59 * 60  # the restarted server: bob's hour is not over yet
    async with serving(db, clock) as chat:
        wrong = chat.open()
        await wrong.line()
        await wrong.send("/login ana not-the-password")
        assert (await wrong.line()).startswith("! wrong password for ana (2 tries left)")
        await wrong.send("/quit")
        plain = chat.open()
        await plain.line()
        await plain.send("ana")
        assert (await plain.line()).startswith("! the name ana is registered")

        ana = chat.open()
        await ana.line()
        await ana.send(f"/login ana {PASSWORD}")
        await ana.until("*** Welcome, ana!")
        await ana.send("/oper oper-pw-123", "/bans")
        await ana.until("*** You are an operator now")
        assert await ana.until("***   192.0.2.0/24") == [
            "*** Bans (3):",
            "***   troll (name) permanently, by ana",
            "***   bob (name) until " + _local(1_800_000_000.0 + 3600) + ", by ana",
            "***   192.0.2.0/24 (address) until "
            + _local(1_800_000_000.0 + 2 * 86400)
            + ", by ana",
        ]
        for name in ("troll", "bob"):
            refused = chat.open()
            await refused.line()
            await refused.send(name)
            assert (await refused.expect_eof())[0].startswith("! you are banned")
        client, server_side = trio.testing.memory_stream_pair()
        chat.nursery.start_soon(chat.server.handle, server_side, "192.0.2.77:1000")
        refused = Peer(client)  # refused before any greeting
        assert (await refused.expect_eof())[0].startswith("! you are banned (until ")

        clock.now += 61
        await chat.join("bob")  # the hour is over

    clock.now += 3 * 86400  # the restart forgets the expired address ban, in the file too
    async with serving(db, clock) as chat:
        ana = chat.open()
        await ana.line()
        await ana.send(f"/login ana {PASSWORD}", "/oper oper-pw-123", "/bans")
        assert await ana.until("***   troll") == [
            "*** Welcome, ana! Online: nobody else yet. Type /help for commands.",
            "*** You are an operator now: /help lists your commands",
            "*** Bans (1):",
            "***   troll (name) permanently, by ana",
        ]
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT shown FROM bans").fetchall() == [("troll",)]


def files_holding(directory: Path, data: bytes) -> list[Path]:
    """The files in ``directory`` (the database and any journal beside it) holding ``data``."""
    return [file for file in directory.iterdir() if data in file.read_bytes()]


def _local(when: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(when))
