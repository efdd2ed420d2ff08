"""Two and three servers sharing one Redis: users on different servers chat as if on one."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import trio
import trio.testing

from trio_chat.backplane.redis import RedisBackplane
from trio_chat.core.stamps import NODES, Stamps

from ..conftest import Peer, Running, run_trio_chat, running_app
from .conftest import HEARTBEAT, RedisServer, servers

# Every test here ends within this (real time: a real Redis).
TEST_TIMEOUT = 20


async def test_users_on_two_servers_chat_in_one_room(redis: RedisServer) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with servers(redis, 2) as (a, b):
            ana = await a.join("ana")
            bob = await b.join("bob")
            await ana.until("*** bob joined")
            await ana.send("hello from A")
            await bob.until("ana: hello from A")
            await bob.send("/me waves")
            await ana.until("* bob waves")
            await bob.send("/who *")
            await bob.until("*** Online (2): ana, bob")
            await ana.send("/msg bob psst")
            await bob.until("[private] ana: psst")
            await bob.send("/msg ana yes?")
            await ana.until("[private] bob: yes?")


async def test_rooms_topics_and_departures_cross_servers(redis: RedisServer) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with servers(redis, 2) as (a, b):
            ana = await a.join("ana")
            bob = await b.join("bob")
            await ana.until("*** bob joined")
            await bob.send("/join dev")
            await bob.until("*** Now in #dev")  # before ana's join can reach B
            await ana.send("/join dev")
            await bob.until("*** ana joined")
            await ana.send("/topic trio things")
            await bob.until("*** ana set the topic of #dev: trio things")
            await bob.send("/rooms")
            assert "trio things" in (await bob.until("***   #dev (2)"))[-1]
            await ana.send("/nick anna")
            await bob.until("*** ana is now known as anna")
            await bob.send("/join lobby")
            await ana.until("*** bob left (went to #lobby)")
            await ana.send("/who")
            await ana.until("*** In #dev (1): anna")
            await ana.send("/join lobby")
            await bob.until("*** anna joined")
            await ana.send("/quit bye all")
            await bob.until("*** anna left (bye all)")
            await bob.send("/who *")
            await bob.until("*** Online (1): bob")


async def test_three_servers_keep_each_senders_order(redis: RedisServer) -> None:
    lines = [f"line {n}" for n in range(100)]
    with trio.fail_after(TEST_TIMEOUT):
        async with servers(redis, 3) as (a, b, c):
            ana = await a.join("ana")
            bob = await b.join("bob")
            cid = await c.join("cid")
            await ana.until("*** cid joined")
            await bob.until("*** cid joined")
            await ana.send(*lines)
            await bob.send("from B")
            heard = {peer: await peer.until("ana: line 99") for peer in (bob, cid)}
            for seen in heard.values():
                assert [line for line in seen if "ana:" in line] == [f"ana: {x}" for x in lines]
            if "bob: from B" not in heard[cid]:
                await cid.until("bob: from B")
            await cid.send("/who *")
            await cid.until("*** Online (3): ana, bob, cid")


async def test_a_name_is_unique_across_servers_until_released(redis: RedisServer) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with servers(redis, 2) as (a, b):
            ana = await a.join("ana")
            bob = await b.join("bob")
            await ana.until("*** bob joined")
            other = b.open()
            await other.line()  # the greeting
            await other.send("ANA")
            assert "taken" in await other.line()
            await ana.send("/quit")
            await bob.until("*** ana left")
            await other.send("ana")
            await other.until("*** Welcome")
            await bob.until("*** ana joined")


async def test_history_said_on_one_server_is_replayed_on_another(redis: RedisServer) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with servers(redis, 2) as (a, b):
            ana = await a.join("ana")
            bob = await b.join("bob")
            await ana.until("*** bob joined")
            await ana.send("remember this")
            await bob.until("ana: remember this")
            carl = b.open()
            await carl.register("carl")
            await carl.send("/history")
            lines = await carl.until("[")
            assert lines[-1].endswith("] ana: remember this"), lines


def test_ids_of_servers_sharing_a_backplane_never_meet() -> None:
    first, second = Stamps(1000, node=3), Stamps(1000, node=4)
    ids = [stamps.stamp()[1] for _ in range(100) for stamps in (first, second)]
    assert len(set(ids)) == len(ids)
    assert {i % NODES for i in ids[::2]} == {3}
    assert {i % NODES for i in ids[1::2]} == {4}
    assert ids[::2] == sorted(ids[::2])
    assert min(ids) > 1000


async def test_an_operator_kicks_a_user_of_another_server(
    redis: RedisServer, tmp_path: Path
) -> None:
    secret = tmp_path / "oper.txt"
    secret.write_text("Oper-Secret-1\n")
    with trio.fail_after(TEST_TIMEOUT):
        async with servers(redis, 2, oper_password_file=str(secret)) as (a, b):
            op = await a.join("op")
            bob, carl = await b.members("bob", "carl")
            await op.until("*** carl joined")
            await op.send("/oper Oper-Secret-1")
            await op.until("*** You are an operator now")
            await op.send("/kick bob stop spamming")
            await op.until("*** bob left (kicked by op: stop spamming)")
            assert await bob.expect_eof() == ["! you were kicked by op: stop spamming"]
            await carl.until("*** bob left (kicked by op: stop spamming)")
            await carl.send("/who *")
            await carl.until("*** Online (2): carl, op")


async def test_a_server_that_cannot_reach_redis_stops_saying_so(redis: RedisServer) -> None:
    await redis.stop()
    ran = await run_trio_chat(
        "serve", "--port", "0", "--no-web", "--no-irc", "--db", ":memory:", "--redis", redis.url
    )
    assert ran.returncode == 1
    errors = ran.stderr.decode()
    assert f"cannot use Redis at {redis.url}: " in errors
    # The reason, not the words of the exception group that carries it.
    assert "Exceptions from Trio nursery" not in errors
    assert "connect" in errors.split(f"cannot use Redis at {redis.url}: ")[1].lower()


async def shared_by(server: Running, done: Callable[[], object]) -> None:
    """Wait until ``done()``: another server's change has been applied on ``server``."""
    backplane = server.hub.backplane
    assert isinstance(backplane, RedisBackplane)
    while not done():
        await backplane.shared.adopted.wait()


async def test_bans_mutes_and_accounts_hold_on_every_server(
    redis: RedisServer, tmp_path: Path
) -> None:
    secret = tmp_path / "oper.txt"
    secret.write_text("Oper-Secret-1\n")
    config = {"oper_password_file": str(secret)}
    with trio.fail_after(TEST_TIMEOUT):
        async with servers(redis, 2, **config) as (a, b):
            op = await a.join("op")
            bob = await b.join("bob")
            await op.until("*** bob joined")
            await op.send("/oper Oper-Secret-1", "/ban eve", "/mute bob", "/register Op-Secret-2")
            await op.until("*** op muted bob")
            await op.until("*** op is registered to you now")
            await shared_by(b, lambda: b.app.service.guard.registered_name("op"))
            await shared_by(b, lambda: b.hub.find("bob").muted)  # type: ignore[union-attr]
            await bob.send("still here?")
            await bob.until("! you are muted")  # (after op's arrival, if B heard it late)
            eve = b.open()
            await eve.line()
            await eve.send("eve")
            assert (await eve.line()).startswith("! you are banned")
            # A server started later has them too, from its first connection.
            async with running_app(redis=redis.url, redis_heartbeat=HEARTBEAT, **config) as c:
                again = c.open()
                await again.line()
                await again.send("eve")
                assert (await again.line()).startswith("! you are banned")
                await op.send("/quit")
                await bob.until("*** op left")
                login = c.open()
                await login.line()
                await login.send("/login op Op-Secret-2")
                await login.until("*** Welcome")


async def test_one_name_asked_on_two_servers_at_once_goes_to_one(redis: RedisServer) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with servers(redis, 2) as (a, b):
            peers = [a.open(), b.open()]
            for peer in peers:
                await peer.line()  # the greeting
            outcomes: list[str] = []

            async def ask(peer: Peer) -> None:
                await peer.send("zed")
                line = await peer.line()
                while not line.startswith("*** Welcome") and "taken" not in line:
                    line = await peer.line()
                outcomes.append("in" if line.startswith("*** Welcome") else "taken")

            # Redis frozen: what each server knows of the other cannot help, the claim must.
            redis.pause()
            try:
                async with trio.open_nursery() as nursery:
                    for peer in peers:
                        nursery.start_soon(ask, peer)
                    await trio.testing.wait_all_tasks_blocked(cushion=0.05)
                    redis.resume()
            finally:
                redis.resume()
            assert sorted(outcomes) == ["in", "taken"]


async def test_an_address_banned_on_one_server_is_shown_out_of_the_others(
    redis: RedisServer, tmp_path: Path
) -> None:
    secret = tmp_path / "oper.txt"
    secret.write_text("Oper-Secret-1\n")
    with trio.fail_after(TEST_TIMEOUT):
        async with servers(redis, 2, oper_password_file=str(secret)) as (a, b):
            op = await a.join("op")  # in memory: no address of its own
            bob = await b.connect()  # over TCP, from 127.0.0.1
            await bob.register("bob")
            await op.until("*** bob joined")
            await op.send("/oper Oper-Secret-1", "/ban 127.0.0.1")
            lines = await bob.expect_eof()
            assert any("banned" in line for line in lines), lines
            await op.until("*** bob left (banned by op)")
            await bob.stream.aclose()


async def test_logging_in_on_another_server_ends_the_session_on_the_first(
    redis: RedisServer,
) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with servers(redis, 2) as (a, b):
            ana, carl = await a.members("ana", "carl")
            await ana.send("/register Ana-Secret-1")
            await ana.until("*** ana is registered to you now")
            await shared_by(b, lambda: b.app.service.guard.registered_name("ana"))
            again = b.open()
            await again.line()
            await again.send("/login ana Ana-Secret-1")
            await again.until("*** Welcome")
            lines = await ana.expect_eof()
            assert any("elsewhere" in line for line in lines), lines
            await carl.until("*** ana left (logged in from elsewhere)")
            await carl.until("*** ana joined")
            await again.send("hello from B")
            await carl.until("ana: hello from B")


async def test_a_port_in_use_with_redis_is_one_clear_line(redis: RedisServer) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        ran = await run_trio_chat(
            "serve", "--host", "127.0.0.1", "--port", port, "--no-web", "--no-irc",
            "--db", ":memory:", "--redis", redis.url,
        )  # fmt: skip
    errors = ran.stderr.decode()
    assert ran.returncode == 1, errors
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in errors, errors
    assert "Traceback" not in errors, errors
