"""Hostile clients within every limit must not hurt the others (issue #16), end to end."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

import trio
import trio.testing

from trio_chat.core.accounts import Guard
from trio_chat.core.hub import Hub
from trio_chat.core.limits import Limits
from trio_chat.core.names import name_key
from trio_chat.core.passwords import ScryptCost

from ..conftest import Peer, text_server

T = TypeVar("T")

ATTACKER = "10.0.0.66"


async def test_16_connections_at_the_line_rate_cannot_drop_a_victim_reading_50kb_a_second(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # 16 connections of one address, each just under the line rate (4.9 lines
    # a second) with 4 KB private messages: 313 KB/s at a victim reading 50 KB/s.
    # Long lines cost more of the flood budget, so the senders are paced.
    hub = Hub(name_key)
    server = text_server(hub, limits=Limits(exempt=()))
    received = bytearray()
    async with trio.open_nursery() as nursery:
        victim_side, server_side = trio.testing.lockstep_stream_pair()
        nursery.start_soon(server.handle, server_side, "memory:victim")
        victim = Peer(victim_side)
        await victim.register("victim")

        async def read_50kb_a_second() -> None:
            while data := await victim_side.receive_some(5000):
                received.extend(data)
                await trio.sleep(0.1)

        async def attack(number: int) -> None:
            client, end = trio.testing.memory_stream_pair()
            nursery.start_soon(server.handle, end, f"{ATTACKER}:{number}", None, ATTACKER)
            peer = Peer(client)
            await peer.register(f"mallory{number}")
            # Paced, and after FLOOD_PATIENCE over the rate, disconnected as flooding.
            with contextlib.suppress(trio.BrokenResourceError):
                for _ in range(int(40 * 4.9)):
                    await peer.send("/msg victim " + "x" * 4000)
                    await trio.sleep(1 / 4.9)

        nursery.start_soon(read_50kb_a_second)
        async with trio.open_nursery() as attackers:
            for number in range(16):
                attackers.start_soon(attack, number)
        assert hub.find("victim") is not None
        assert b"not reading fast enough" not in received
        assert received.count(b"[private] mallory") > 100
        nursery.cancel_scope.cancel()


async def inline(function: Callable[..., T], *args: Any, limiter: object = None) -> T:
    """Run ``function`` in the event loop (a test's stand-in for trio.to_thread.run_sync)."""
    await trio.lowlevel.checkpoint()
    return function(*args)


async def test_a_connection_looping_password_changes_is_disconnected_as_flooding(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Hashes inline: a worker thread would let the autojump clock jump past every deadline.
    guard = Guard(cost=ScryptCost(n=2**4, r=1, p=1), run_sync=inline)
    hub = Hub(name_key)
    server = text_server(hub, guard=guard, limits=Limits(exempt=()))
    async with trio.open_nursery() as nursery:
        client, end = trio.testing.memory_stream_pair()
        nursery.start_soon(server.handle, end, f"{ATTACKER}:1", None, ATTACKER)
        peer = Peer(client)
        await peer.register("mallory")
        await peer.send("/register first-password")
        sent = 0
        with contextlib.suppress(trio.BrokenResourceError):
            for i in range(2000):  # 10 a second for 200 s, unless disconnected first
                await peer.send(f"/password password-{i}")
                sent += 1
                await trio.sleep(0.1)
        lines = await peer.expect_eof()
        assert "! flooding: too many lines for too long, disconnected" in lines
        assert sent < 2000
        nursery.cancel_scope.cancel()
