"""/nick on servers sharing one Redis: a new name is claimed in the one registry first."""

from __future__ import annotations

from contextlib import AsyncExitStack

import trio
import trio.testing

from ..conftest import IrcPeer, Peer, running_app
from .conftest import HEARTBEAT, RedisServer

TEST_TIMEOUT = 20


async def test_two_renames_to_one_name_on_two_servers_at_once_one_succeeds(
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
            ana = await a.join("ana")
            bob = await b.connect_irc()
            stack.push_async_callback(bob.stream.aclose)
            await bob.register("bob")
            await bob.send("JOIN #lobby")
            await bob.until(":trio-chat 366 ")
            await ana.until("*** bob joined")
            outcomes: dict[str, str] = {}

            async def text_rename(peer: Peer) -> None:
                await peer.send("/nick zed")
                line = await peer.until(("*** ana is now known as zed", "! "))
                outcomes["text"] = "renamed" if line[-1].startswith("***") else line[-1]

            async def irc_rename(peer: IrcPeer) -> None:
                await peer.send("NICK zed")
                line = (await peer.until((":bob!bob@127.0.0.1 NICK zed", ":trio-chat 433 ")))[-1]
                outcomes["irc"] = "renamed" if " NICK " in line else line

            # Redis frozen: what each server knows of the other cannot help, the claim must.
            redis.pause()
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(text_rename, ana)
                    nursery.start_soon(irc_rename, bob)
                    await trio.testing.wait_all_tasks_blocked(cushion=0.05)
                    redis.resume()
            finally:
                redis.resume()
            taken = {
                "text": "! the name zed is taken",
                "irc": ":trio-chat 433 bob zed :Nickname is already in use",
            }
            assert sorted(outcomes.values()).count("renamed") == 1, outcomes
            [loser] = [door for door, outcome in outcomes.items() if outcome != "renamed"]
            assert outcomes[loser] == taken[loser]
            # On the winner's server, at once: the winner is zed, the loser kept their name.
            winner, kept = (b, "ana") if loser == "text" else (a, "bob")
            assert winner.hub.names() == [kept, "zed"]
