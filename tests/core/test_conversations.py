"""Private conversations in the history: whose copies, kept across restarts, pruned, forgotten."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from trio_chat.core.events import Private
from trio_chat.core.history import DEFAULT_RETENTION, History, Retention
from trio_chat.core.names import name_key
from trio_chat.core.privatestore import PrivateEntry
from trio_chat.core.store import HistoryStore

from ..conftest import STEP_TIMEOUT, running_app
from ..irc.conftest import quiet, register_account, sasl_user


@asynccontextmanager
async def writing(path: Path, retention: Retention = DEFAULT_RETENTION) -> AsyncIterator[History]:
    history = History(HistoryStore(path), name_key, retention)
    await history.open()
    async with trio.open_nursery() as nursery:
        await nursery.start(history.run)
        try:
            yield history
        finally:
            history.close()


def copy(
    owner: str, peer: str, sender: str, target: str, text: str, when: float, id: int
) -> PrivateEntry:
    return PrivateEntry(owner, peer, peer, Private(sender, target, text, when, id))


CAPS = ("batch", "draft/chathistory")
# Recent enough for the default retention (a year).
NOW = time.time()


def said(lines: list[str]) -> list[str]:
    return [line.rsplit(" :", 1)[1] for line in lines if " PRIVMSG " in line]


async def texts(history: History, owner: str, peer: str, **where: int) -> list[str]:
    with trio.fail_after(STEP_TIMEOUT):
        entries = await history.conversation(owner, peer, 10, **where)
    return [entry.event.text for entry in entries]


async def test_copies_survive_a_restart_and_read_like_a_room(tmp_path: Path) -> None:
    path = tmp_path / "chat.sqlite3"
    async with writing(path) as history:
        history.record_private([copy("ana", "bob", "ana", "bob", "one", NOW, 10)])
        history.record_private(
            [
                copy("ana", "bob", "bob", "ana", "two", NOW + 1, 20),
                copy("bob", "ana", "bob", "ana", "two", NOW + 1, 20),
            ]
        )
        history.record_private([copy("ana", "cat", "ana", "cat", "elsewhere", NOW + 2, 30)])
    async with writing(path) as history:
        assert history.last_seq == 30  # ids go on after the private ones too
        assert await texts(history, "ana", "bob") == ["one", "two"]
        assert await texts(history, "bob", "ana") == ["two"]
        assert await texts(history, "ana", "bob", before=20) == ["one"]
        assert await texts(history, "ana", "bob", after=10) == ["two"]
        assert await texts(history, "ana", "bob", around=20) == ["one", "two"]
        assert await history.correspondents("ana", above=0, below=10**9, limit=10) == [
            (20, NOW + 1, "bob"),
            (30, NOW + 2, "cat"),
        ]
        assert await history.correspondents("ana", above=20, below=10**9, limit=10) == [
            (30, NOW + 2, "cat")
        ]
        history.forget_private("ana")
        assert await texts(history, "ana", "bob") == []
        assert await texts(history, "bob", "ana") == ["two"]  # bob's copy is bob's


async def test_the_retention_applies_to_private_messages_too(tmp_path: Path) -> None:
    now = 2_000_000_000.0
    retention = Retention(keep_days=1, max_mb=None)
    async with writing(tmp_path / "chat.sqlite3", retention) as history:
        history.record_private([copy("ana", "bob", "ana", "bob", "old", now - 3 * 86400, 1)])
        history.record_private([copy("ana", "bob", "ana", "bob", "new", now - 60, 2)])
        history._clock = lambda: now
        assert await texts(history, "ana", "bob") == ["old", "new"]
        assert await history.prune() == 1
        assert await texts(history, "ana", "bob") == ["new"]


async def test_giving_an_account_up_deletes_its_conversations_and_only_its_own() -> None:
    async with running_app(irc_port=0) as running:
        await register_account(running, "bob", "sesame2")
        text = await running.connect(running.listener_of("text"))
        async with text.stream, sasl_user(running, "bob", "sesame2", *CAPS) as bob:
            await text.register("ana")
            await text.send("/register sesame1")
            await text.until("*** ana is registered to you now")
            await text.send("/msg bob hello from the text door", "/unregister")
            await text.until("*** ana is not registered any more")
            assert said(await quiet(bob)) == ["hello from the text door"]  # live
            await bob.send("CHATHISTORY LATEST ana * 10")
            assert said(await quiet(bob)) == ["hello from the text door"]
            await text.send("/register sesame3")
            await text.until("*** ana is registered to you now")
            await text.send("/msg bob again", "/quit")
            await text.expect_eof()
        # The account ana holds now never had that first message.
        async with sasl_user(running, "ana", "sesame3", *CAPS) as ana:
            await ana.send("CHATHISTORY LATEST bob * 10")
            assert said(await quiet(ana)) == ["again"]


async def test_a_server_told_to_keep_no_private_messages_keeps_and_shows_none() -> None:
    async with running_app(irc_port=0, keep_privates=False) as running:
        await register_account(running, "ana", "sesame1")
        await register_account(running, "bob", "sesame2")
        async with (
            sasl_user(running, "ana", "sesame1", *CAPS) as ana,
            sasl_user(running, "bob", "sesame2", *CAPS) as bob,
        ):
            await ana.send("PRIVMSG bob :off the record")
            assert said(await quiet(bob)) == ["off the record"]
            await ana.send("CHATHISTORY LATEST bob * 10")
            lines = await quiet(ana)
            assert said(lines) == []
            assert " BATCH +" in lines[0]
        history = running.app.history
        assert history is not None
        assert await history.query("SELECT count(*) FROM privates") == [(0,)]
