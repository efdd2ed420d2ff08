"""The WebSocket on memory streams: the name step, requests, frames, limits."""

from __future__ import annotations

from .conftest import WebConnector


async def test_two_web_members_chat(web_connector: WebConnector) -> None:
    ana = await web_connector.websocket()
    frames = await ana.hello("ana")
    print(frames)
    bob = await web_connector.join("bob")
    print(await ana.until("joined", name="bob"))
    await bob.send(type="line", room="#lobby", text="hi ana")
    print(await ana.until("message"))
    print(await bob.until("message"))
    await bob.send(type="line", room="lobby", text="/who")
    print(await bob.until("members"))
    await bob.send(type="line", room="lobby", text="/help")
    print(await bob.receive())
    await bob.send(type="quit")
    print(await bob.closing(), bob.close_code)
    print(await ana.until("quit"))
