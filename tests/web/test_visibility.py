"""What a web member may see of rooms they are not in: the core's rule, as for every door.

A room's history is read from inside it only (as IRC's CHATHISTORY and the
text door's /history); a secret room (IRC's ``+s``, whatever its key or
invitations) is not listed, and neither its members nor its topic are shown,
to anyone outside it but the server's operators (as IRC's LIST and NAMES).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
import trio

from trio_chat.core import roomrules
from trio_chat.core.history import History
from trio_chat.core.hub import Hub
from trio_chat.core.members import ScopeLink
from trio_chat.core.names import name_key
from trio_chat.core.refusals import NoSuchRoom, NotInRoom
from trio_chat.core.service import ChatService
from trio_chat.core.store import MEMORY, HistoryStore
from trio_chat.text.codec import encode

from ..conftest import running_app
from .conftest import WebConnector, WsPeer, web_server

HIDDEN = [("secret", True, ""), ("invite-only", True, ""), ("key", True, "sekrit")]


@pytest.fixture
async def door() -> AsyncIterator[tuple[WebConnector, Hub]]:
    """A web door whose service keeps history."""
    history = History(HistoryStore(MEMORY), name_key)
    await history.open()
    hub = Hub(name_key, recorder=history)
    service = ChatService(hub, history=history)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(history.run)
        yield WebConnector(web_server(service=service), nursery), hub
        nursery.cancel_scope.cancel()


async def opens(ana: WsPeer, room: str, said: str, topic: str) -> None:
    """``ana`` opens ``room``, sets its topic and says ``said`` there."""
    await ana.send(type="join", room=room)
    await ana.until("history", room=room)
    await ana.send(type="topic", room=room, text=topic)
    await ana.until("topic", room=room, text=topic)
    await ana.send(type="line", room=room, text=said)
    await ana.until("message", text=said)


async def answer(peer: WsPeer, kind: str, **request: Any) -> dict[str, Any]:
    """The answer to one request: its frame of ``kind``, or the error it got."""
    await peer.send(type=kind, **request)
    while True:
        frame = await peer.receive()
        if frame["type"] in (kind, "error"):
            return frame


async def test_a_secret_room_is_hidden_and_its_history_unread_from_outside(
    door: tuple[WebConnector, Hub],
) -> None:
    connector, hub = door
    ana = await connector.join("ana")
    await opens(ana, "#hidden", "the password is hunter2", "plans for the surprise")
    room, carol = hub.room("#hidden"), hub.find("ana")
    assert room is not None
    assert carol is not None
    roomrules.apply(room, carol, HIDDEN)  # what an IRC operator's MODE +sik does
    mallory = await connector.join("mallory")

    history = await answer(mallory, "history", room="#hidden")
    assert history["type"] == "error"
    assert history["reason"] == "not-in-room"
    assert "hunter2" not in str(history)
    members = await answer(mallory, "members", room="#hidden")
    assert members["type"] == "error"
    assert members["reason"] == "no-such-room"
    topic = await answer(mallory, "topic", room="#hidden")
    assert topic["type"] == "error"
    assert "surprise" not in str(topic)
    rooms = await answer(mallory, "rooms")
    assert [r["name"] for r in rooms["rooms"]] == ["#lobby"]
    await mallory.send(type="line", room="#lobby", text="/who")
    assert "ana" in (await mallory.until("members"))[-1]["names"]  # the lobby is no secret

    # Inside, ana sees it all.
    assert "#hidden" in [r["name"] for r in (await answer(ana, "rooms"))["rooms"]]
    inside = await answer(ana, "history", room="#hidden")
    assert [e["text"] for e in inside["entries"]] == ["the password is hunter2"]


async def test_an_open_room_shows_who_is_in_it_but_not_its_history_from_outside(
    door: tuple[WebConnector, Hub],
) -> None:
    connector, _ = door
    ana = await connector.join("ana")
    await opens(ana, "#dev", "said in dev", "the dev room")
    bob = await connector.join("bob")
    assert (await answer(bob, "members", room="#dev"))["names"] == ["ana"]
    assert (await answer(bob, "topic", room="#dev"))["text"] == "the dev room"
    history = await answer(bob, "history", room="#dev")
    assert history["type"] == "error"
    assert history["reason"] == "not-in-room"
    await bob.send(type="join", room="#dev")
    entered = (await bob.until("history", room="#dev"))[-1]
    assert [e["text"] for e in entered["entries"]] == ["said in dev"]


async def test_the_rule_is_the_services_for_every_door(door: tuple[WebConnector, Hub]) -> None:
    """The text door's /rooms and /who, IRC's LIST and NAMES ask the same service: a
    secret room is shown to its members and the server's operators only."""
    connector, hub = door
    service = connector.server.service
    ana = await connector.join("ana")
    await opens(ana, "#hidden", "hi", "t")
    room, member = hub.room("#hidden"), hub.find("ana")
    assert room is not None
    assert member is not None
    roomrules.apply(room, member, HIDDEN)
    text = service.connect("nc")  # as the text door does for a connection
    await service.take_name(text, "bob", encode, ScopeLink())
    assert [r.name for r in service.rooms(client=text)] == ["#lobby"]
    with pytest.raises(NoSuchRoom):
        service.members("#hidden", client=text)
    with pytest.raises(NoSuchRoom):
        service.topic("#hidden", client=text)
    with pytest.raises(NotInRoom):
        await service.read_history("#hidden", 10, client=text)
    text.named().operator = True  # the server's operators see it, but read it from inside
    assert "#hidden" in [r.name for r in service.rooms(client=text)]
    assert service.members("#hidden", client=text) == ["ana"]
    with pytest.raises(NotInRoom):
        await service.read_history("#hidden", 10, client=text)
    assert not roomrules.visible(room, None)  # nobody without a name yet


async def test_a_secret_room_set_on_irc_is_hidden_from_every_door_over_tcp() -> None:
    """An IRC operator's ``MODE +s``: outsiders on IRC, the page and ``nc`` alike see
    neither the room, nor who is in it, nor its topic, nor its history."""
    async with running_app(irc_port=0, web_port=0) as running, AsyncExitStack() as streams:
        carol = await running.connect_irc()
        streams.push_async_callback(carol.stream.aclose)
        await carol.register("carol")
        await carol.send("JOIN #hid", "MODE #hid +s", "TOPIC #hid :plans for the surprise")
        await carol.send("PRIVMSG #hid :the password is hunter2", "PING :set")
        await carol.until(":trio-chat PONG")
        outsider = await running.connect_irc()
        streams.push_async_callback(outsider.stream.aclose)
        await outsider.register("mal")
        await outsider.send("TOPIC #hid", "NAMES #hid", "LIST", "PING :done")
        seen = await outsider.until(":trio-chat PONG")
        assert not any("surprise" in line or "carol" in line for line in seen), seen
        assert any(" 403 mal #hid " in line for line in seen), seen  # as if there were none

        port = running.listener_of("web").socket.getsockname()[1]
        where = f"127.0.0.1:{port}"
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        streams.push_async_callback(stream.aclose)
        page = await WsPeer.open(stream, host=where, origin=f"http://{where}")
        await page.hello("mallory")
        for kind in ("history", "members", "topic"):
            assert (await answer(page, kind, room="#hid"))["type"] == "error"
        assert [r["name"] for r in (await answer(page, "rooms"))["rooms"]] == ["#lobby"]

        text = await running.connect()
        streams.push_async_callback(text.stream.aclose)
        await text.register("tex")
        await text.send("/rooms", "/history")
        listed = await text.until(("*** End of history", "*** No older"))
        assert not any("#hid" in line for line in listed), listed
