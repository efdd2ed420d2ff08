"""The IRC door's room rules on servers sharing one Redis: a kick holds on every server."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import trio

from trio_chat.backplane.redis import REACHABLE, UNREACHABLE

from ..conftest import running_app
from .conftest import HEARTBEAT, RedisServer, WebPage

# Every test here ends within this (real time: a real Redis).
TEST_TIMEOUT = 20


async def test_a_kick_out_of_a_channel_holds_on_the_kicked_users_server(
    redis: RedisServer,
) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with AsyncExitStack() as stack:
            a, b = [
                await stack.enter_async_context(
                    running_app(redis=redis.url, redis_heartbeat=HEARTBEAT, irc_port=0)
                )
                for _ in range(2)
            ]
            op = await a.connect_irc()
            stack.push_async_callback(op.stream.aclose)
            await op.register("op")
            await op.send("JOIN #dev")  # op opens #dev: op runs it
            await op.until(":trio-chat 366 ")
            bob, carl = await b.members("bob", "carl")
            for peer in (bob, carl):
                await peer.send("/join dev")
                await peer.until("*** Now in #dev")
            await op.until(":carl!")
            await op.send("KICK #dev bob :off topic")
            await op.until(":op!op@127.0.0.1 KICK #dev bob :off topic")
            wanted = "*** bob was put out of #dev by op: off topic"
            assert (await bob.until("*** bob was put out of #dev"))[-1] == wanted
            assert (await carl.until("*** bob was put out of #dev"))[-1] == wanted
            await carl.send("/who")
            await carl.until("*** In #dev (2): carl, op")
            await op.send("NAMES #dev")
            assert (await op.until(":trio-chat 353 "))[-1] == ":trio-chat 353 op = #dev :carl @op"


async def test_a_channels_modes_hold_on_every_server(redis: RedisServer) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with AsyncExitStack() as stack:
            a, b = [
                await stack.enter_async_context(
                    running_app(redis=redis.url, redis_heartbeat=HEARTBEAT, irc_port=0)
                )
                for _ in range(2)
            ]
            op = await a.connect_irc()
            stack.push_async_callback(op.stream.aclose)
            await op.register("op")
            await op.send("JOIN #dev")  # op opens #dev: op runs it
            await op.until(":trio-chat 366 ")
            bob = await b.join("bob")
            await bob.send("/join dev")
            await bob.until("*** Now in #dev")
            await op.until(":bob!")
            await op.send("MODE #dev +im")
            await op.until(":op!op@127.0.0.1 MODE #dev :+im")
            await bob.until("*** op changed #dev: +invite-only, +moderated")
            await bob.send("moderated?")
            assert "#dev" in (await bob.until("! "))[-1]
            carl = await b.join("carl")
            await carl.send("/join dev")
            assert (await carl.until("! "))[-1] == "! #dev is for the invited only"
            await bob.send("/topic carl is here")  # relayed after carl came online
            await op.until(":bob!")
            await op.send("INVITE carl #dev")
            await op.until(":trio-chat 341 op carl ")
            await carl.until("*** op invites you to #dev (/join #dev)")
            await carl.send("/join dev")
            await carl.until("*** Now in #dev")


async def test_words_for_operators_reach_those_of_every_server(
    redis: RedisServer, tmp_path: Path
) -> None:
    secret = tmp_path / "oper.txt"
    secret.write_text("Oper-Secret-1\n")
    config = {"redis": redis.url, "redis_heartbeat": HEARTBEAT, "irc_port": 0}
    with trio.fail_after(TEST_TIMEOUT):
        async with AsyncExitStack() as stack:
            a, b = [
                await stack.enter_async_context(
                    running_app(**config, oper_password_file=str(secret))
                )
                for _ in range(2)
            ]
            op = await a.connect_irc()
            stack.push_async_callback(op.stream.aclose)
            await op.register("op")
            await op.send("OPER op Oper-Secret-1", "JOIN #dev")
            await op.until(":trio-chat 366 ")
            bob = await b.join("bob")
            await bob.send("/oper Oper-Secret-1")
            await bob.until("*** You are an operator now")
            await bob.send("/join dev")
            await bob.until("*** Now in #dev")
            await op.until(":bob!")
            await op.send("WALLOPS :servers, listen", "NOTICE @#dev :ops of #dev, listen")
            await bob.until("*** [to operators] op: servers, listen")
            await bob.until("[to the operators of #dev] op: ops of #dev, listen")


async def test_a_server_started_later_learns_the_topics_and_modes_already_set(
    redis: RedisServer,
) -> None:
    config = {"redis": redis.url, "redis_heartbeat": HEARTBEAT, "irc_port": 0}
    with trio.fail_after(TEST_TIMEOUT):
        async with AsyncExitStack() as stack:
            a = await stack.enter_async_context(running_app(**config))
            op = await a.connect_irc()
            stack.push_async_callback(op.stream.aclose)
            await op.register("op")
            await op.send("JOIN #dev", "MODE #dev +mk door", "MODE #dev +b eve!*@*")
            await op.until(":op!op@127.0.0.1 MODE #dev +mk")
            await op.until(":op!op@127.0.0.1 MODE #dev +b")
            await op.send("TOPIC #dev :release plans")
            await op.until(":op!op@127.0.0.1 TOPIC #dev :release plans")
            b = await stack.enter_async_context(running_app(**config))  # started later
            carl = await b.connect_irc()
            stack.push_async_callback(carl.stream.aclose)
            await carl.register("carl")
            await carl.send("JOIN #dev")
            assert (await carl.until(":trio-chat 475 "))[-1].startswith(
                ":trio-chat 475 carl #dev :"
            )
            await carl.send("JOIN #dev door")
            joined = await carl.until(":trio-chat 366 ")
            assert ":trio-chat 332 carl #dev :release plans" in joined
            await carl.send("MODE #dev", "MODE #dev b")
            modes = (await carl.until(":trio-chat 324 "))[-1]
            assert modes == ":trio-chat 324 carl #dev +nmk :door"
            banned = await carl.until(":trio-chat 368 ")
            assert banned[-2].startswith(":trio-chat 367 carl #dev eve!*@* op ")
            await carl.send("PRIVMSG #dev :may I?")
            assert (await carl.until(":trio-chat 404 "))[-1].startswith(":trio-chat 404 carl #dev ")


async def test_a_page_irc_and_text_on_three_servers_share_a_room(redis: RedisServer) -> None:
    config = {"redis": redis.url, "redis_heartbeat": HEARTBEAT, "irc_port": 0, "web_port": 0}
    with trio.fail_after(TEST_TIMEOUT):
        async with AsyncExitStack() as stack:
            a, b, c = [await stack.enter_async_context(running_app(**config)) for _ in range(3)]
            ana = await WebPage.open(a)
            stack.push_async_callback(ana.stream.aclose)
            await ana.send(type="hello", name="ana")
            await ana.until("history", room="#lobby")
            bob = await b.connect_irc()
            stack.push_async_callback(bob.stream.aclose)
            await bob.register("bob")
            await bob.send("JOIN #lobby")
            await bob.until(":trio-chat 366 ")
            cid = await c.join("cid")
            await ana.until("joined", room="#lobby", name="cid")
            await bob.until(":cid!")
            await ana.send(type="line", room="#lobby", text="from the page")
            assert (await cid.until("ana:"))[-1] == "ana: from the page"
            assert (await bob.until(":ana!"))[-1].endswith(" PRIVMSG #lobby :from the page")
            await bob.send("PRIVMSG #lobby :from irc")
            assert (await cid.until("bob:"))[-1] == "bob: from irc"
            said = await ana.until("message", **{"from": "bob"})
            assert said["text"] == "from irc"
            await cid.send("/msg ana psst", "/who *")
            assert (await ana.until("private", **{"from": "cid"}))["text"] == "psst"
            await cid.until("*** Online (3): ana, bob, cid")
            await bob.send("NAMES #lobby")
            assert (await bob.until(":trio-chat 353 "))[-1].endswith(":ana bob cid")


async def test_a_server_started_after_redis_restarted_empty_learns_the_modes_too(
    redis: RedisServer,
) -> None:
    config = {"redis": redis.url, "redis_heartbeat": HEARTBEAT, "irc_port": 0}
    with trio.fail_after(TEST_TIMEOUT):
        async with AsyncExitStack() as stack:
            a = await stack.enter_async_context(running_app(**config))
            op = await a.connect_irc()
            stack.push_async_callback(op.stream.aclose)
            await op.register("op")
            await op.send("JOIN #dev")
            await op.until(":trio-chat 366 ")
            witness = await stack.enter_async_context(running_app(**config))
            wit = await witness.join("wit")
            await wit.send("/join dev")
            await op.until(":wit!")
            await op.send("MODE #dev +m", "TOPIC #dev :plans")
            await wit.until("*** op set the topic of #dev: plans")  # in Redis, then
            await redis.stop()
            while not (await op.line()).endswith(UNREACHABLE):
                pass
            await redis.start()  # empty: A writes its rooms again
            while not (await op.line()).endswith(REACHABLE):
                pass
            b = await stack.enter_async_context(running_app(**config))
            carl = await b.connect_irc()
            stack.push_async_callback(carl.stream.aclose)
            await carl.register("carl")
            await carl.send("JOIN #dev")
            assert ":trio-chat 332 carl #dev :plans" in await carl.until(":trio-chat 366 ")
            await carl.send("MODE #dev")
            assert (await carl.until(":trio-chat 324 "))[-1] == ":trio-chat 324 carl #dev :+nm"


async def test_a_room_opened_again_afresh_has_none_of_its_old_modes_for_a_later_server(
    redis: RedisServer,
) -> None:
    config = {"redis": redis.url, "redis_heartbeat": HEARTBEAT, "irc_port": 0}
    with trio.fail_after(TEST_TIMEOUT):
        async with AsyncExitStack() as stack:
            a, w = [await stack.enter_async_context(running_app(**config)) for _ in range(2)]
            op = await a.connect_irc()
            stack.push_async_callback(op.stream.aclose)
            await op.register("op")
            await op.send("JOIN #dev", "MODE #dev +m", "QUIT :bye")  # #dev closes with op
            await op.until("ERROR ")
            bob = await a.join("bob")
            await bob.send("/join dev")
            await bob.until("*** Now in #dev (1): bob")  # opened afresh: no modes
            wit = await w.join("wit")
            await wit.send("/join dev")
            await bob.until("*** wit joined")
            await bob.send("new room")
            await wit.until("bob: new room")
            c = await stack.enter_async_context(running_app(**config))
            carl = await c.connect_irc()
            stack.push_async_callback(carl.stream.aclose)
            await carl.register("carl")
            await carl.send("JOIN #dev")
            await carl.until(":trio-chat 366 ")
            await carl.send("MODE #dev")
            assert (await carl.until(":trio-chat 324 "))[-1] == ":trio-chat 324 carl #dev :+n"
