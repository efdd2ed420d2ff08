"""What users see when a server dies, when Redis stops, and when Redis is slow."""

from __future__ import annotations

import logging

import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from trio_chat.backplane.redis import REACHABLE, UNREACHABLE, RedisBackplane

from ..conftest import Peer, Running, running_app, running_server
from .conftest import HEARTBEAT, Proxy, RedisServer, servers

TEST_TIMEOUT = 20


def backplane_of(server: Running) -> RedisBackplane:
    backplane = server.hub.backplane
    assert isinstance(backplane, RedisBackplane)
    return backplane


async def test_a_killed_servers_users_are_shown_leaving_and_their_names_freed(
    redis: RedisServer,
) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with (
            running_app(redis=redis.url, redis_heartbeat=HEARTBEAT) as b,
            running_server("--redis", redis.url, "--redis-heartbeat", str(HEARTBEAT)) as (a, port),
        ):
            bob = await b.join("bob")
            ana = Peer(await trio.open_tcp_stream("127.0.0.1", port))
            await ana.register("ana")
            await bob.until("*** ana joined")
            a.process.kill()  # SIGKILL: no goodbye
            await ana.stream.aclose()
            await bob.until("*** ana left (server lost)")
            await bob.send("/who *")
            await bob.until("*** Online (1): bob")
            again = await b.join("ana")
            await again.send("/who *")
            await again.until("*** Online (2): ana, bob")


async def test_redis_stopped_each_server_serves_its_own_then_resynchronises(
    redis: RedisServer,
) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with servers(redis, 2) as (a, b):
            ana, carl = await a.members("ana", "carl")
            bob = await b.join("bob")
            for peer in (ana, carl):
                await peer.until("*** bob joined")
            await redis.stop()
            for peer in (ana, carl, bob):
                await peer.until(f"*** {UNREACHABLE}")
            await ana.send("only for A")
            await carl.until("ana: only for A")
            await bob.send("only for B")
            await redis.start()
            for peer in (ana, carl, bob):
                await peer.until(f"*** {REACHABLE}")
            # Names are claimed again: ana's is still taken on B.
            other = b.open()
            await other.line()
            await other.send("ana")
            assert "taken" in await other.line()
            await ana.send("back again")
            seen_by_bob = await bob.until("ana: back again")
            await carl.send("/who *")
            await carl.until("*** Online (3): ana, bob, carl")
            await bob.send("/who *")
            seen_by_bob += await bob.until("*** Online (3): ana, bob, carl")
    # Nobody was announced again, nothing was said twice, and one notice each way.
    assert not [line for line in seen_by_bob if "joined" in line or "left" in line]
    assert "ana: only for A" not in seen_by_bob


async def test_a_private_message_to_a_server_out_of_reach_is_refused_not_lost(
    redis: RedisServer,
) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with servers(redis, 2) as (a, b):
            ana, carl = await a.members("ana", "carl")
            bob = await b.join("bob")
            await ana.until("*** bob joined")
            await redis.stop()
            await ana.until(f"*** {UNREACHABLE}")
            await ana.send("/msg bob are you there?")
            refused = (await ana.until("! "))[-1]
            assert refused == (
                "! bob is on another server, which cannot be reached now: try again later"
            )
            await ana.send("/msg carl still here")  # this server's own: delivered
            await carl.until("[private] ana: still here")
            await redis.start()
            await ana.until(f"*** {REACHABLE}")
            await ana.send("/msg bob now?")
            heard = await bob.until("[private] ana: now?")
    assert not [line for line in heard if "are you there" in line]


async def test_a_slow_redis_never_stalls_local_delivery(redis: RedisServer) -> None:
    lines = [f"line {n}" for n in range(30)]
    with trio.fail_after(TEST_TIMEOUT):
        async with servers(redis, 2) as (a, b):
            ana, carl = await a.members("ana", "carl")
            bob = await b.join("bob")
            await ana.until("*** bob joined")
            backplane = backplane_of(a)
            backplane.queue_size = 5
            redis.pause()
            try:
                await ana.send(*lines)
                with trio.fail_after(2):  # far less than Redis is given to answer
                    heard = await carl.until("ana: line 29")
            finally:
                redis.resume()
            assert [x for x in heard if x.startswith("ana:")] == [f"ana: {x}" for x in lines]
            assert backplane.dropped >= len(lines) - 3 * backplane.queue_size
            body, _ = a.app.metrics.render()
            [family] = [
                f
                for f in text_string_to_metric_families(body.decode())
                if f.name == "trio_chat_backplane_dropped"
            ]
            assert family.samples[0].value == backplane.dropped
            # What was queued goes out once Redis answers again; the rest was dropped.
            sent = len(lines) - backplane.dropped
            seen_by_bob = await bob.until(f"ana: line {sent - 1}")
            await ana.send("after")
            seen_by_bob += await bob.until("ana: after")
    assert [x for x in seen_by_bob if x.startswith("ana:")] == [
        *(f"ana: {x}" for x in lines[:sent]),
        "ana: after",
    ]


async def test_a_server_cut_off_from_redis_is_lost_for_the_others_then_back(
    redis: RedisServer,
) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with trio.open_nursery() as nursery:
            proxy = Proxy(redis)
            await nursery.start(proxy.serve)
            async with (
                running_app(redis=redis.url, redis_heartbeat=HEARTBEAT) as a,
                running_app(redis=proxy.url, redis_heartbeat=HEARTBEAT) as b,
            ):
                ana = await a.join("ana")
                bob = await b.join("bob")
                await ana.until("*** bob joined")
                proxy.cut()
                await bob.until(f"*** {UNREACHABLE}")
                await ana.until("*** bob left (server lost)")
                await ana.send("while you were away")
                proxy.heal()
                await bob.until(f"*** {REACHABLE}")
                await ana.until("*** bob joined")
                # B reads on from where it stopped: what A said meanwhile reaches bob.
                await bob.until("ana: while you were away")
                await bob.send("back")
                await ana.until("bob: back")
            nursery.cancel_scope.cancel()


async def test_while_redis_is_out_of_reach_users_are_told_once_and_then_only_what_changed(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with trio.open_nursery() as nursery:
            proxies = [Proxy(redis), Proxy(redis)]
            for proxy in proxies:
                await nursery.start(proxy.serve)
            async with (
                running_app(redis=proxies[0].url, redis_heartbeat=HEARTBEAT) as a,
                running_app(redis=proxies[1].url, redis_heartbeat=HEARTBEAT) as b,
            ):
                ana, carl = await a.members("ana", "carl")
                bob = await b.join("bob")
                await ana.until("*** bob joined")
                await bob.send("/who *")
                await bob.until("*** Online (3): ana, bob, carl")
                with caplog.at_level(logging.WARNING, "trio_chat.backplane"):
                    for proxy in proxies:
                        proxy.cut()
                    seen = await bob.until(f"*** {UNREACHABLE}")
                    for proxy in proxies:  # each server retried three times meanwhile
                        await proxy.refusing(3)
                    await carl.send("/quit")
                    await ana.until("*** carl left")
                    dan = await a.join("dan")
                    for proxy in proxies:
                        proxy.heal()
                    seen += await bob.until(f"*** {REACHABLE}")
                    await dan.send("/who *")
                    await dan.until("*** Online (3): ana, bob, dan")
                    await bob.send("/who *")
                    seen += await bob.until("*** Online (3): ana, bob, dan")
            nursery.cancel_scope.cancel()
    told = [line for line in seen if line.startswith("*** ") and "Online" not in line]
    assert told.count(f"*** {UNREACHABLE}") == 1
    assert told.count(f"*** {REACHABLE}") == 1
    changes = sorted(line for line in told if " left" in line or " joined" in line)
    assert changes == ["*** carl left", "*** dan joined"], told
    logged = [r.getMessage() for r in caplog.records if " is unreachable " in r.getMessage()]
    assert len(logged) == 2  # once for each server
