"""A server that was down writes what was said meanwhile into its history, once."""

from __future__ import annotations

import logging
from pathlib import Path

import coredis
import pytest
import trio
from coredis.tokens import PureToken

from trio_chat.backplane.catchup import BATCH, CatchUp
from trio_chat.backplane.redis import RedisBackplane
from trio_chat.backplane.registry import Keys
from trio_chat.backplane.wire import encode
from trio_chat.core.events import Message
from trio_chat.core.history import Retention
from trio_chat.core.stamps import NODES

from ..conftest import Peer, Running, running_app, running_server
from .conftest import HEARTBEAT, Proxy, RedisServer

TEST_TIMEOUT = 30


async def caught_up(server: Running) -> None:
    backplane = server.hub.backplane
    assert isinstance(backplane, RedisBackplane)
    assert backplane.catchup is not None
    await backplane.catchup.done.wait()


async def replay_of(peer: Peer) -> list[str]:
    """The lines of the lobby's history a newcomer was shown."""
    await peer.send("/who")
    lines = await peer.until("*** In #lobby")
    return [line.partition("] ")[2] for line in lines if line.startswith("[")]


async def published(redis: RedisServer, text: str) -> None:
    """Wait until an entry holding ``text`` is in the events stream (A sends it soon)."""
    client: coredis.Redis[str] = coredis.Redis.from_url(redis.url, decode_responses=True)
    events, last = Keys("").events, "0-0"
    async with client:
        while True:
            found = await client.xread({events: last}, count=100, block=1000)
            for entry in (found or {}).get(events, ()):
                last = str(entry.identifier)
                if text in entry.field_values["e"]:
                    return


async def test_a_server_stopped_and_restarted_shows_what_was_said_meanwhile_once(
    redis: RedisServer, tmp_path: Path
) -> None:
    db = str(tmp_path / "b.sqlite3")
    said = ["ana: before"]
    with trio.fail_after(TEST_TIMEOUT):
        async with running_app(redis=redis.url, redis_heartbeat=HEARTBEAT) as a:
            ana = await a.join("ana")
            async with running_app(redis=redis.url, redis_heartbeat=HEARTBEAT, db=db) as b:
                bob = await b.join("bob")
                await ana.until("*** bob joined")
                await ana.send("before")
                await bob.until("ana: before")  # recorded by B live
            for round in range(3):  # B is down: ana goes on
                lines = [f"while B was down {round}.{n}" for n in range(3)]
                await ana.send(*lines)
                await published(redis, lines[-1])  # before B starts: not live for B
                said += [f"ana: {line}" for line in lines]
                async with running_app(redis=redis.url, redis_heartbeat=HEARTBEAT, db=db) as b:
                    await caught_up(b)
                    newcomer = await b.join(f"cid{round}")
                    assert await replay_of(newcomer) == said


async def test_a_killed_server_restarted_shows_what_was_said_meanwhile_once(
    redis: RedisServer, tmp_path: Path
) -> None:
    backplane = ("--redis", redis.url, "--redis-heartbeat", str(HEARTBEAT))
    db = ("--db", str(tmp_path / "b.sqlite3"))
    with trio.fail_after(TEST_TIMEOUT):
        async with running_app(redis=redis.url, redis_heartbeat=HEARTBEAT) as a:
            ana = await a.join("ana")
            said = []
            for round in range(2):
                async with running_server(*backplane, *db) as (b, port):
                    log = b.startup
                    while round and not [line for line in log if "history: caught up" in line]:
                        log = [await b.io.line()]
                    newcomer = Peer(await trio.open_tcp_stream("127.0.0.1", port))
                    await newcomer.register(f"bob{round}")
                    assert await replay_of(newcomer) == said
                    await ana.until(f"*** bob{round} joined")
                    await ana.send("heard by B live")  # B may not note it before it dies
                    await newcomer.until("ana: heard by B live")
                    said.append("ana: heard by B live")
                    b.process.kill()  # SIGKILL: no goodbye, nothing flushed on purpose
                    await newcomer.stream.aclose()
                await ana.until(f"*** bob{round} left (server lost)")
                lines = [f"while B was dead {round}.{n}" for n in range(3)]
                await ana.send(*lines)
                await published(redis, lines[-1])
                said += [f"ana: {line}" for line in lines]


async def test_a_stream_trimmed_past_a_servers_place_is_logged_with_what_is_missing(
    redis: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = str(tmp_path / "b.sqlite3")
    with trio.fail_after(TEST_TIMEOUT):
        async with running_app(redis=redis.url, redis_heartbeat=HEARTBEAT) as a:
            ana = await a.join("ana")
            async with running_app(redis=redis.url, redis_heartbeat=HEARTBEAT, db=db) as b:
                await caught_up(b)
                await ana.send("before")
                await b.join("bob")
                await ana.until("*** bob joined")
            await ana.send("lost 1", "lost 2", "kept")
            await published(redis, '"kept"')
            client: coredis.Redis[str] = coredis.Redis.from_url(redis.url, decode_responses=True)
            async with client:  # as the cap would, had much more been said
                await client.xtrim(Keys("").events, PureToken.MAXLEN, 1)
            with caplog.at_level(logging.WARNING, "trio_chat.backplane.catchup"):
                async with running_app(redis=redis.url, redis_heartbeat=HEARTBEAT, db=db) as b:
                    await caught_up(b)
                    newcomer = await b.join("cid")
                    assert await replay_of(newcomer) == ["ana: before", "ana: kept"]
    [warning] = [r.getMessage() for r in caplog.records if "trimmed" in r.getMessage()]
    assert "may be missing here" in warning
    assert " UTC and " in warning


async def test_history_survives_every_server_and_redis_restarting(
    redis: RedisServer, tmp_path: Path
) -> None:
    files = [str(tmp_path / f"{name}.sqlite3") for name in "ab"]
    config = {"redis": redis.url, "redis_heartbeat": HEARTBEAT}
    with trio.fail_after(TEST_TIMEOUT):
        async with (
            running_app(**config, db=files[0]) as a,
            running_app(**config, db=files[1]) as b,
        ):
            ana = await a.join("ana")
            bob = await b.join("bob")
            await ana.until("*** bob joined")
            await ana.send("said on A")
            await bob.send("said on B")
            await ana.until("bob: said on B")
            await bob.until("ana: said on A")
        await redis.stop()
        await redis.start()  # empty: it kept nothing
        async with (
            running_app(**config, db=files[0]) as a,
            running_app(**config, db=files[1]) as b,
        ):
            for server, name in ((a, "cid"), (b, "dan")):
                await caught_up(server)
                newcomer = await server.join(name)
                assert await replay_of(newcomer) == ["ana: said on A", "bob: said on B"]


async def test_a_topic_set_while_a_server_was_down_is_its_topic_after(
    redis: RedisServer, tmp_path: Path
) -> None:
    db = str(tmp_path / "b.sqlite3")
    config = {"redis": redis.url, "redis_heartbeat": HEARTBEAT}
    with trio.fail_after(TEST_TIMEOUT):
        async with running_app(**config) as a:
            ana = await a.join("ana")
            async with running_app(**config, db=db) as b:
                await caught_up(b)
            await ana.send("/join dev", "/topic plans for friday", "/join lobby")
            await ana.until("*** Now in #lobby")  # #dev is closed everywhere now
            await published(redis, '"plans for friday"')
            async with running_app(**config, db=db) as b:
                await caught_up(b)
                bob = await b.join("bob")
                await bob.send("/join dev")
                seen = await bob.until("*** Now in #dev")
                seen += await bob.until("*** Topic of #dev")
                assert seen[-1] == "*** Topic of #dev: plans for friday"


async def test_a_catch_up_cut_off_half_way_goes_on_from_its_place_once_reconnected(
    redis: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 3 * BATCH + 10
    client: coredis.Redis[str] = coredis.Redis.from_url(redis.url, decode_responses=True)
    # Said on a server that is gone now.
    async with client, client.pipeline(transaction=False) as pipe:
        for n in range(count):
            said = Message("ana", "#lobby", f"line {n}", 1e9 + n, NODES * (n + 1))
            pipe.xadd(Keys("").events, encode("gone", said))
    proxy = Proxy(redis)
    cut = trio.Event()
    note = CatchUp.note

    async def note_then_cut(self: CatchUp, place: str) -> None:
        await note(self, place)
        if not cut.is_set():  # after the first batch: Redis out of reach
            proxy.cut()
            cut.set()

    monkeypatch.setattr(CatchUp, "note", note_then_cut)
    retention = Retention(keep_days=None, max_mb=None)
    with trio.fail_after(TEST_TIMEOUT):
        async with trio.open_nursery() as nursery:
            await nursery.start(proxy.serve)
            async with running_app(
                redis=proxy.url, redis_heartbeat=HEARTBEAT, db=str(tmp_path / "b.sqlite3"),
                retention=retention,
            ) as b:  # fmt: skip
                await cut.wait()
                await proxy.refusing(2)
                proxy.heal()
                await caught_up(b)
                assert b.app.history is not None
                assert await b.app.history.count() == count
                newcomer = await b.join("bob")
                replay = await replay_of(newcomer)
                assert replay == [f"ana: line {n}" for n in range(count - 50, count)]
            nursery.cancel_scope.cancel()
