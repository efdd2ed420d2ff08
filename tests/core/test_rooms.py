"""Rooms, topics and room history, as a line-protocol user sees them (in memory)."""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trio.testing

from trio_chat.core.events import Reason
from trio_chat.core.hub import Hub
from trio_chat.core.store import Entry

from ..conftest import STEP_TIMEOUT, MemoryConnector, Peer, Running, running_app

# Messages replayed on entering a room, in the tests with history.
REPLAY = 5
# "[HH:MM] " (or "[YYYY-MM-DD HH:MM] " for a message from before midnight).
TIME_PREFIX = re.compile(r"^\[(?:\d{4}-\d\d-\d\d )?\d\d:\d\d\] ")


def untimed(line: str) -> str:
    """A replayed line without its time prefix (which must be there)."""
    match = TIME_PREFIX.match(line)
    assert match is not None, line
    return line[match.end() :]


async def settle(peer: Peer) -> list[str]:
    """Wait until the server has handled everything ``peer`` sent; return lines on the way."""
    await peer.send("/who")
    lines = await peer.until("*** In #")
    return lines[:-1]


async def replay(peer: Peer) -> list[str]:
    """Read a history block ("*** Last ..." or "*** N messages before ...") to its end.

    Returns the title line, then the replayed lines without their time prefix.
    """
    title = await peer.line()
    assert title.startswith("*** "), title
    lines = await peer.until("*** End of history")
    return [title, *(untimed(line) for line in lines[:-1])]


async def join_room(peer: Peer, room: str) -> str:
    """``/join room``; returns the "*** Now in" line (skipping lines received before it)."""
    await peer.send(f"/join {room}")
    return (await peer.until("*** Now in"))[-1]


async def pair_in_dev(connector: MemoryConnector) -> tuple[Peer, Peer, Peer]:
    """ana and bob in #dev, carl left in #lobby; what they heard on the way is read."""
    ana, bob, carl = await connector.members("ana", "bob", "carl")
    await join_room(ana, "dev")
    await join_room(bob, "dev")
    await ana.until("*** bob joined")
    await carl.until("*** bob left")
    return ana, bob, carl


# --- rooms, without history ---------------------------------------------------


async def test_everyone_starts_in_the_lobby(connector: MemoryConnector) -> None:
    ana = await connector.join("ana")
    await ana.send("/who")
    assert await ana.line() == "*** In #lobby (1): ana"


async def test_join_moves_a_user_and_each_room_hears_its_own_notice(
    connector: MemoryConnector,
) -> None:
    ana, bob, carl = await connector.members("ana", "bob", "carl")
    assert await join_room(bob, "dev") == "*** Now in #dev (1): bob"
    assert await carl.line() == "*** bob left (went to #dev)"
    assert await ana.line() == "*** bob left (went to #dev)"

    assert await join_room(ana, "#dev") == "*** Now in #dev (2): ana, bob"
    assert await bob.line() == "*** ana joined"
    assert await carl.line() == "*** ana left (went to #dev)"

    assert await join_room(ana, "lobby") == "*** Now in #lobby (2): ana, carl"
    assert await bob.line() == "*** ana left (went to #lobby)"
    assert await carl.line() == "*** ana joined"


async def test_plain_lines_and_actions_reach_only_the_current_room(
    connector: MemoryConnector,
) -> None:
    ana, bob, carl = await pair_in_dev(connector)

    await ana.send("in dev", "/me codes")
    assert await bob.line() == "ana: in dev"
    assert await bob.line() == "* ana codes"
    await carl.send("in the lobby", "/me naps")
    assert await settle(carl) == []
    # Nothing from the lobby reached #dev: bob's next line is ana's next one.
    await ana.send("still dev")
    assert await bob.line() == "ana: still dev"
    assert await settle(ana) == []
    assert await settle(carl) == []


async def test_room_names_are_case_insensitive_and_the_hash_is_optional(
    connector: MemoryConnector,
) -> None:
    ana = await connector.join("ana")
    bob = await connector.join("bob")
    assert await join_room(ana, "#dev") == "*** Now in #dev (1): ana"
    assert await join_room(bob, "DEV") == "*** Now in #dev (2): ana, bob"
    assert await ana.until("*** bob joined") == ["*** bob joined"]
    await bob.send("/join #Dev")
    assert await bob.line() == "*** You are already in #dev"
    await bob.send("/rooms")
    assert await bob.until("***   #lobby") == [
        "*** Rooms (2):",
        "***   #dev (2)",
        "***   #lobby (0)",
    ]


async def test_a_new_room_keeps_the_spelling_of_its_creator(connector: MemoryConnector) -> None:
    ana = await connector.join("ana")
    bob = await connector.join("bob")
    assert await join_room(ana, "Dev.Ops") == "*** Now in #Dev.Ops (1): ana"
    assert await join_room(bob, "#dev.ops") == "*** Now in #Dev.Ops (2): ana, bob"


async def test_room_names_may_have_1_to_32_letters_digits_and_underscore_dash_dot(
    connector: MemoryConnector,
) -> None:
    ana = await connector.join("ana")
    longest = "a" * 32
    assert await join_room(ana, longest) == f"*** Now in #{longest} (1): ana"
    assert await join_room(ana, "x") == "*** Now in #x (1): ana"
    assert await join_room(ana, "Ré_1-2.3") == "*** Now in #Ré_1-2.3 (1): ana"


@pytest.mark.parametrize(
    ("command", "error"),
    [
        ("/join " + "a" * 33, "! room name too long (max 32 characters)"),
        ("/join dev!", "! invalid character '!' in room name"),
        ("/join ##dev", "! invalid character '#' in room name"),
        ("/join de#v", "! invalid character '#' in room name"),
        ("/join #", "! a room name is needed"),
        ("/join dev ops", "! invalid character ' ' in room name"),
        ("/join", "! usage: /join ROOM"),
    ],
)
async def test_invalid_room_names_are_refused_and_the_user_stays(
    connector: MemoryConnector, command: str, error: str
) -> None:
    ana, bob = await connector.members("ana", "bob")
    await ana.send(command)
    assert (await ana.line()).startswith(error)
    await ana.send("still here")
    assert await bob.line() == "ana: still here"
    await ana.send("/rooms")
    assert await ana.until("***   #lobby") == ["*** Rooms (1):", "***   #lobby (2)"]


async def test_joining_the_current_room_says_so(connector: MemoryConnector) -> None:
    ana, bob = await connector.members("ana", "bob")
    await ana.send("/join lobby")
    assert await ana.line() == "*** You are already in #lobby"
    await join_room(ana, "dev")
    await ana.send("/join #DEV")
    assert await ana.line() == "*** You are already in #dev"
    # bob heard the move to #dev, and no join or leave for the refused ones.
    assert await bob.line() == "*** ana left (went to #dev)"
    assert await settle(bob) == []


async def test_rooms_lists_rooms_with_counts_and_topics_in_name_order(
    connector: MemoryConnector,
) -> None:
    ana = await connector.join("ana")
    bob = await connector.join("bob")
    carl = await connector.join("carl")
    await join_room(carl, "zoo")
    await join_room(ana, "Dev")
    await ana.send("/topic code review at 3")
    await ana.until("*** ana set the topic")
    await join_room(bob, "dev")
    await bob.until("*** Topic of #Dev")
    await bob.send("/rooms")
    assert await bob.until("***   #zoo") == [
        "*** Rooms (3):",
        "***   #Dev (2): code review at 3",
        "***   #lobby (0)",
        "***   #zoo (1)",
    ]


async def test_topic_is_shown_set_for_the_room_only_and_cleared(
    connector: MemoryConnector,
) -> None:
    ana, bob, carl = await pair_in_dev(connector)

    await ana.send("/topic")
    assert await ana.line() == "*** No topic in #dev"
    await ana.send("/topic release on Friday")
    assert await ana.line() == "*** ana set the topic of #dev: release on Friday"
    assert await bob.line() == "*** ana set the topic of #dev: release on Friday"
    await bob.send("/topic")
    assert await bob.line() == "*** Topic of #dev: release on Friday"
    await carl.send("/topic")
    assert await carl.line() == "*** No topic in #lobby"

    await bob.send("/topic -")
    assert await bob.line() == "*** bob cleared the topic of #dev"
    assert await ana.line() == "*** bob cleared the topic of #dev"
    await ana.send("/topic")
    assert await ana.line() == "*** No topic in #dev"
    assert await settle(carl) == []


async def test_the_topic_is_shown_on_entering_the_room(connector: MemoryConnector) -> None:
    ana = await connector.join("ana")
    bob = await connector.join("bob")
    await join_room(ana, "dev")
    await ana.send("/topic ship it")
    await ana.until("*** ana set the topic")
    assert await join_room(bob, "dev") == "*** Now in #dev (2): ana, bob"
    assert await bob.line() == "*** Topic of #dev: ship it"


async def test_the_lobby_topic_is_shown_to_newcomers(connector: MemoryConnector) -> None:
    ana = await connector.join("ana")
    await ana.send("/topic welcome all")
    await ana.until("*** ana set the topic")
    bob = await connector.join("bob")
    assert await bob.line() == "*** Topic of #lobby: welcome all"


async def test_who_lists_the_current_room_and_who_star_everyone(
    connector: MemoryConnector,
) -> None:
    ana = await connector.join("ana")
    bob = await connector.join("bob")
    await connector.join("carl")
    await join_room(bob, "dev")
    await join_room(ana, "dev")
    await ana.send("/who")
    assert await ana.line() == "*** In #dev (2): ana, bob"
    await ana.send("/who *")
    assert await ana.line() == "*** Online (3): ana, bob, carl"
    await ana.send("/who bob")
    assert await ana.line() == "! usage: /who [*]"


async def test_msg_reaches_someone_in_another_room(connector: MemoryConnector) -> None:
    ana = await connector.join("ana")
    bob = await connector.join("bob")
    await join_room(ana, "dev")
    await bob.until("*** ana left")
    await ana.send("/msg bob psst")
    assert await bob.line() == "[private] ana: psst"
    await bob.send("/msg ANA hi back")
    assert await ana.line() == "[private] bob: hi back"


async def test_nick_is_announced_to_the_room_shared_with_others_and_to_the_user(
    connector: MemoryConnector,
) -> None:
    ana, bob, carl = await pair_in_dev(connector)

    await ana.send("/nick anita")
    assert await ana.line() == "*** ana is now known as anita"
    assert await bob.line() == "*** ana is now known as anita"
    assert await settle(carl) == []  # carl is in #lobby: not told
    await carl.send("/msg anita hello")
    assert await ana.line() == "[private] carl: hello"
    await ana.send("/who")
    assert await ana.line() == "*** In #dev (2): anita, bob"


async def test_an_empty_room_disappears_when_its_last_member_leaves_or_quits(
    connector: MemoryConnector,
) -> None:
    ana = await connector.join("ana")
    bob = await connector.join("bob")
    await join_room(ana, "dev")
    await join_room(bob, "ops")
    await ana.send("/rooms")
    assert await ana.until("***   #ops") == [
        "*** Rooms (3):",
        "***   #dev (1)",
        "***   #lobby (0)",
        "***   #ops (1)",
    ]
    await join_room(ana, "lobby")
    await bob.send("/quit")
    assert await bob.expect_eof() == ["*** Bye!"]
    await ana.send("/rooms")
    assert await ana.until("***   #lobby") == ["*** Rooms (1):", "***   #lobby (1)"]


async def test_an_empty_room_disappears_when_its_last_member_disconnects(
    connector: MemoryConnector, hub: Hub
) -> None:
    ana = await connector.join("ana")
    bob = await connector.join("bob")
    await join_room(bob, "ops")
    await ana.until("*** bob left")
    await bob.stream.aclose()
    with trio.fail_after(STEP_TIMEOUT):
        while hub.find("bob") is not None:
            await trio.testing.wait_all_tasks_blocked()
    await ana.send("/rooms")
    assert await ana.until("***   #lobby") == ["*** Rooms (1):", "***   #lobby (1)"]


async def test_the_lobby_stays_when_empty(connector: MemoryConnector) -> None:
    ana = await connector.join("ana")
    await join_room(ana, "dev")
    await ana.send("/rooms")
    assert await ana.until("***   #lobby") == [
        "*** Rooms (2):",
        "***   #dev (1)",
        "***   #lobby (0)",
    ]


async def test_a_topic_survives_its_room_disappearing(connector: MemoryConnector) -> None:
    ana = await connector.join("ana")
    await join_room(ana, "dev")
    await ana.send("/topic still here")
    await ana.until("*** ana set the topic")
    await join_room(ana, "lobby")
    await ana.send("/rooms")
    assert await ana.until("***   #lobby") == ["*** Rooms (1):", "***   #lobby (1)"]
    await ana.send("/join DEV")
    assert await ana.until("*** Topic") == [
        "*** Now in #DEV (1): ana",
        "*** Topic of #DEV: still here",
    ]


async def test_history_without_a_history_store_has_no_older_messages(
    connector: MemoryConnector,
) -> None:
    ana = await connector.join("ana")
    bob = await connector.join("bob")
    await ana.send("hello")
    assert await bob.line() == "ana: hello"
    await bob.send("/history")
    assert await bob.line() == "*** No older messages in #lobby"


# --- with history -----------------------------------------------------------------


@asynccontextmanager
async def serving(path: Path, replay: int = REPLAY) -> AsyncIterator[Running]:
    """The real server keeping history in the SQLite file ``path``; its writer is done on exit."""
    async with running_app(db=str(path), replay=replay) as chat:
        yield chat


@pytest.fixture
async def saved(tmp_path: Path) -> AsyncIterator[MemoryConnector]:
    """Connections to a server with history (replay of 5) in a fresh SQLite file."""
    async with serving(tmp_path / "chat.db") as connector:
        yield connector


async def test_a_newcomer_gets_the_lobby_history_framed_and_timed(saved: MemoryConnector) -> None:
    ana = await saved.join("ana")
    await ana.send("one", "two", "/me waves")
    await settle(ana)
    bob = await saved.join("bob")
    lines = await bob.until("*** End of history")
    assert lines[0] == "*** Last 3 messages in #lobby:"
    assert lines[-1] == "*** End of history"
    assert [untimed(line) for line in lines[1:-1]] == ["ana: one", "ana: two", "* ana waves"]
    # What follows is live again, without a time.
    await ana.send("three")
    assert await bob.line() == "ana: three"


async def test_an_empty_room_has_no_history_block(saved: MemoryConnector) -> None:
    ana = await saved.join("ana")
    await ana.send("/join dev")
    assert await ana.line() == "*** Now in #dev (1): ana"
    assert await settle(ana) == []


async def test_private_messages_are_never_in_history(saved: MemoryConnector) -> None:
    ana = await saved.join("ana")
    bob = await saved.join("bob")
    await ana.send("/msg bob secret", "public")
    assert await bob.line() == "[private] ana: secret"
    assert await bob.line() == "ana: public"
    carl = await saved.join("carl")
    assert await replay(carl) == ["*** Last 1 message in #lobby:", "ana: public"]
    await carl.send("/history")
    assert await replay(carl) == ["*** Last 1 message in #lobby:", "ana: public"]
    await carl.send("/history")
    assert await carl.line() == "*** No older messages in #lobby"


async def test_joining_a_room_replays_only_that_rooms_messages(saved: MemoryConnector) -> None:
    ana = await saved.join("ana")
    bob = await saved.join("bob")
    await join_room(bob, "dev")
    await ana.send("lobby talk")
    await bob.send("dev one", "/me deploys")
    await settle(ana)
    await settle(bob)
    carl = await saved.join("carl")
    assert await replay(carl) == ["*** Last 1 message in #lobby:", "ana: lobby talk"]
    assert await join_room(carl, "DEV") == "*** Now in #dev (2): bob, carl"
    assert await replay(carl) == ["*** Last 2 messages in #dev:", "bob: dev one", "* bob deploys"]
    assert await join_room(carl, "lobby") == "*** Now in #lobby (2): ana, carl"
    assert await replay(carl) == ["*** Last 1 message in #lobby:", "ana: lobby talk"]


async def test_replay_shows_only_the_newest_messages_up_to_the_configured_count(
    saved: MemoryConnector,
) -> None:
    ana = await saved.join("ana")
    await ana.send(*(f"m{i}" for i in range(1, 13)))
    await settle(ana)
    bob = await saved.join("bob")
    assert await replay(bob) == [
        f"*** Last {REPLAY} messages in #lobby:",
        *(f"ana: m{i}" for i in range(13 - REPLAY, 13)),
    ]


async def test_history_pages_backwards_without_duplicates(saved: MemoryConnector) -> None:
    ana = await saved.join("ana")
    await ana.send(*(f"m{i}" for i in range(1, 13)))
    await settle(ana)
    bob = await saved.join("bob")
    assert (await replay(bob))[1:] == [f"ana: m{i}" for i in range(8, 13)]
    await ana.send("m13")  # said after bob came: live, and the latest in /history
    assert await bob.line() == "ana: m13"
    # The first /history shows the latest, as a user expects; then further back.
    await bob.send("/history 3")
    assert await replay(bob) == [
        "*** Last 3 messages in #lobby:",
        "ana: m11",
        "ana: m12",
        "ana: m13",
    ]
    await bob.send("/history 6")
    assert await replay(bob) == [
        "*** 6 messages before, in #lobby:",
        *(f"ana: m{i}" for i in range(5, 11)),
    ]
    await bob.send("/history")
    assert await replay(bob) == [
        "*** 4 messages before, in #lobby:",
        *(f"ana: m{i}" for i in range(1, 5)),
    ]
    await bob.send("/history")
    assert await bob.line() == "*** No older messages in #lobby"
    await bob.send("/history 1")
    assert await bob.line() == "*** No older messages in #lobby"


async def test_history_pages_restart_in_each_room_entered(saved: MemoryConnector) -> None:
    ana = await saved.join("ana")
    await ana.send(*(f"m{i}" for i in range(1, 8)))
    await settle(ana)
    await join_room(ana, "dev")
    await ana.send("/history 2")
    assert await ana.line() == "*** No older messages in #dev"
    await join_room(ana, "lobby")
    assert (await replay(ana))[1:] == [f"ana: m{i}" for i in range(3, 8)]
    await ana.send("/history 1")
    assert await replay(ana) == ["*** Last 1 message in #lobby:", "ana: m7"]
    await ana.send("/history 1")
    assert await replay(ana) == ["*** 1 message before, in #lobby:", "ana: m6"]


@pytest.mark.parametrize("argument", ["0", "501", "x", "-1", "2 3"])
async def test_history_count_must_be_from_1_to_500(saved: MemoryConnector, argument: str) -> None:
    ana = await saved.join("ana")
    await ana.send(f"/history {argument}")
    assert await ana.line() == "! usage: /history [N], N from 1 to 500"


async def test_history_of_500_is_accepted(saved: MemoryConnector) -> None:
    ana = await saved.join("ana")
    await ana.send("/history 500")
    assert await ana.line() == "*** No older messages in #lobby"


async def test_a_rooms_history_outlives_the_room(saved: MemoryConnector) -> None:
    ana = await saved.join("ana")
    bob = await saved.join("bob")
    await join_room(ana, "dev")
    await ana.send("before", "/me leaves")
    await join_room(ana, "lobby")
    await bob.until("*** ana joined")
    await bob.send("/rooms")
    assert await bob.until("***   #lobby") == ["*** Rooms (1):", "***   #lobby (2)"]
    assert await join_room(bob, "#Dev") == "*** Now in #Dev (1): bob"
    assert await replay(bob) == ["*** Last 2 messages in #Dev:", "ana: before", "* ana leaves"]


async def test_history_and_topics_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    async with serving(path) as connector:
        ana = await connector.join("ana")
        await ana.send("/topic we are back", "one", "/me waves")
        await join_room(ana, "dev")
        await ana.send("/topic dev stuff", "in dev")
        await settle(ana)
    async with serving(path) as connector:
        bob = await connector.join("bob")
        assert await bob.line() == "*** Topic of #lobby: we are back"
        assert await replay(bob) == ["*** Last 2 messages in #lobby:", "ana: one", "* ana waves"]
        await bob.send("new")
        await bob.send("/join dev")
        assert await bob.until("*** Topic") == [
            "*** Now in #dev (1): bob",
            "*** Topic of #dev: dev stuff",
        ]
        assert await replay(bob) == ["*** Last 1 message in #dev:", "ana: in dev"]
        await join_room(bob, "lobby")
        assert await bob.line() == "*** Topic of #lobby: we are back"
        assert (await replay(bob))[1:] == ["ana: one", "* ana waves", "bob: new"]


async def test_a_cleared_topic_stays_cleared_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    async with serving(path) as connector:
        ana = await connector.join("ana")
        await ana.send("/topic old news", "/topic -")
        await ana.until("*** ana cleared the topic")
    async with serving(path) as connector:
        bob = await connector.join("bob")
        await bob.send("/topic")
        assert await bob.line() == "*** No topic in #lobby"


async def test_a_newcomer_sees_each_message_once_and_none_missing_while_someone_talks(
    saved: MemoryConnector,
) -> None:
    total, chunk = 300, 25
    ana = await saved.join("ana")
    carl = await saved.join("carl")  # a witness, to pace ana
    await ana.until("*** carl joined")
    under_way = trio.Event()
    bob_is_in = trio.Event()

    async def talk() -> None:
        for start in range(0, total, chunk):
            if start + chunk == total:
                await bob_is_in.wait()  # the last chunk is surely said after bob came
            await ana.send(*(f"n{n}" for n in range(start, start + chunk)))
            await carl.until(f"ana: n{start + chunk - 1}")
            if start == 2 * chunk:
                under_way.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(talk)
        await under_way.wait()
        bob = await saved.join("bob")
        bob_is_in.set()
        lines = await bob.until(f"ana: n{total - 1}")

    end = lines.index("*** End of history")
    assert lines[0] == f"*** Last {REPLAY} messages in #lobby:"
    replayed = [int(untimed(line).removeprefix("ana: n")) for line in lines[1:end]]
    live = [
        int(line.removeprefix("ana: n")) for line in lines[end + 1 :] if line.startswith("ana:")
    ]
    seen = replayed + live
    assert len(replayed) == REPLAY
    assert seen == list(range(seen[0], total)), (replayed, live[:10])
    assert live, "bob heard nothing live"


# --- a cancel during a slow history read ------------------------------------------------


async def test_a_member_dropped_while_joining_a_room_is_not_left_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serving(tmp_path / "chat.db") as connector:
        history = connector.server.service.history
        hub = connector.server.hub
        assert history is not None
        ana, bob = await connector.members("ana", "bob")

        # A slow disk: reading #dev's history blocks (in its worker thread).
        reading, release = threading.Event(), threading.Event()
        read = history.store.recent

        def slow_read(room_key: str, limit: int, *, before: int, upto: int) -> list[Entry]:
            if room_key == "#dev":
                reading.set()
                release.wait(STEP_TIMEOUT)
            return read(room_key, limit, before=before, upto=upto)

        monkeypatch.setattr(history.store, "recent", slow_read)
        try:
            await bob.send("/join dev")
            assert await trio.to_thread.run_sync(reading.wait, STEP_TIMEOUT)
            # Meanwhile bob is dropped (as the hub does when his outbox is full).
            member = hub.find("bob")
            assert member is not None
            hub.evict(member, Reason.TOO_SLOW)
            assert await ana.line() == "*** bob left (too slow)"
        finally:
            release.set()
        await bob.expect_eof()
        assert hub.find("bob") is None
        # Not "(2: ana, bob)": an offline bob must not stay in #dev.
        assert await join_room(ana, "dev") == "*** Now in #dev (1): ana"


async def test_nobody_is_let_in_once_the_server_is_shutting_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serving(tmp_path / "chat.db") as connector:
        history = connector.server.service.history
        assert history is not None
        reading, release = threading.Event(), threading.Event()
        read = history.store.recent

        def slow_read(room_key: str, limit: int, *, before: int, upto: int) -> list[Entry]:
            reading.set()
            release.wait(STEP_TIMEOUT)
            return read(room_key, limit, before=before, upto=upto)

        monkeypatch.setattr(history.store, "recent", slow_read)
        bob = connector.open()
        assert (await bob.line()).startswith("*** Hello!")
        try:
            await bob.send("bob")
            assert await trio.to_thread.run_sync(reading.wait, STEP_TIMEOUT)
            connector.app.shutdown("test", grace=STEP_TIMEOUT)
        finally:
            release.set()
        # Not "*** Welcome, bob! ...": nobody joins a hub that has shut down.
        assert await bob.line() == "*** server shutting down"
