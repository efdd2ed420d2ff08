"""Broadcasts to web members: one frame encoded per event for all, slow members evicted."""

from __future__ import annotations

from collections import Counter

import trio

from trio_chat.core.events import ServerEvent
from trio_chat.core.hub import Hub
from trio_chat.core.names import name_key
from trio_chat.web.protocol import encode

from .conftest import WebConnector, web_server


class CountingEncoder:
    """The web encoder, counting how often each kind of event is encoded."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, event: ServerEvent) -> bytes:
        self.calls[type(event).__name__] += 1
        return encode(event)


async def test_a_broadcast_is_framed_once_for_every_web_member(hub: Hub) -> None:
    counting = CountingEncoder()
    async with trio.open_nursery() as nursery:
        door = WebConnector(web_server(hub, encoder=counting), nursery)
        peers = [await door.join(f"u{n}") for n in range(6)]
        for peer in peers[:-1]:
            await peer.until("joined", name="u5")
        counting.calls.clear()
        await peers[0].send(type="line", room="#lobby", text="to all")
        received = [(await peer.until("message"))[-1] for peer in peers]
        assert all(frame == received[0] for frame in received)
        # Five recipients, one encoding (and one for the sender's own echo).
        assert counting.calls == {"Message": 1, "Echo": 1}
        nursery.cancel_scope.cancel()
    members = [hub.find(f"u{n}") for n in range(6)]
    assert all(m is None for m in members)  # they left when the connections were cut


async def test_every_web_member_shares_the_default_encoder(
    web_connector: WebConnector, hub: Hub
) -> None:
    await web_connector.join("ana")
    await web_connector.join("bob")
    ana, bob = hub.find("ana"), hub.find("bob")
    assert ana is not None
    assert bob is not None
    assert ana.encode is bob.encode is encode


async def test_a_web_member_that_stops_reading_is_evicted_and_stalls_nobody() -> None:
    hub = Hub(name_key, outbox_messages=16, outbox_bytes=4096)
    async with trio.open_nursery() as nursery:
        door = WebConnector(web_server(hub), nursery)
        talker = await door.join("talker")
        fast = await door.join("fast")
        slow = await door.join("slow", lockstep=True)  # from now on it reads nothing
        await fast.until("joined", name="slow")
        with trio.fail_after(10):
            for n in range(100):
                await talker.send(type="line", room="#lobby", text=f"line {n} " + "x" * 100)
            frames = await fast.until("message", text="line 99 " + "x" * 100)
        texts = [f["text"].split(" x")[0] for f in frames if f["type"] == "message"]
        assert texts == [f"line {n}" for n in range(100)]  # every line, in order
        gone = [f for f in frames if f["type"] == "quit"]
        assert [(f["name"], f["reason"]) for f in gone] == [("slow", "too-slow")]
        assert hub.find("slow") is None
        assert slow.ws.state.name == "OPEN"  # it never read a thing
        nursery.cancel_scope.cancel()
