"""A web member's requests and typed slash commands: the service's answers, as JSON."""

from __future__ import annotations

import trio

from trio_chat.core.accounts import Guard
from trio_chat.core.history import History
from trio_chat.core.hub import Hub
from trio_chat.core.names import name_key
from trio_chat.core.passwords import ScryptCost
from trio_chat.core.service import ChatService
from trio_chat.core.store import MEMORY, HistoryStore

from .conftest import WebConnector, web_server


async def test_join_opens_a_room_staying_in_the_lobby_and_part_leaves_it(
    web_connector: WebConnector, hub: Hub
) -> None:
    ana, bob = await web_connector.join("ana"), await web_connector.join("bob")
    await ana.send(type="join", room="dev")
    frames = await ana.until("history", room="#dev")
    assert [f["type"] for f in frames][-4:] == ["joined", "members", "topic", "history"]
    assert frames[-4] == {"type": "joined", "room": "#dev", "name": "ana"}
    await bob.send(type="line", room="#lobby", text="/join #dev")
    await ana.until("joined", room="#dev", name="bob")
    await bob.until("history", room="#dev")
    assert hub.names("#lobby") == ["ana", "bob"]  # a web member stays in the lobby too
    await bob.send(type="line", room="#dev", text="in dev")
    said = (await ana.until("message"))[-1]
    assert (said["room"], said["text"]) == ("#dev", "in dev")
    await bob.send(type="part", room="#dev")
    parted = (await ana.until("parted"))[-1]
    assert parted == {"type": "parted", "room": "#dev", "name": "bob", "text": ""}
    assert (await bob.until("parted"))[-1] == parted  # the page closes the room
    await ana.send(type="line", room="#dev", text="/part")
    await bob.send(type="line", room="#dev", text="not in dev any more")
    refused = (await bob.until("error"))[-1]
    assert refused["reason"] == "not-in-room"
    assert refused["request"] == "line"
    assert hub.room("#dev") is None  # everyone left it


async def test_me_msg_nick_and_topic_typed_in_the_message_field(
    web_connector: WebConnector,
) -> None:
    ana, bob = await web_connector.join("ana"), await web_connector.join("bob")
    await ana.until("joined", name="bob")
    await bob.send(type="line", room="#lobby", text="/me waves")
    action = (await ana.until("action"))[-1]
    assert (action["from"], action["text"]) == ("bob", "waves")
    await bob.send(type="line", room="#lobby", text="/msg ana psst")
    private = (await ana.until("private"))[-1]
    assert (private["from"], private["to"], private["text"]) == ("bob", "ana", "psst")
    echoed = (await bob.until("private"))[-1]
    assert echoed == private  # the sender sees it once the server took it
    await bob.send(type="private", to="ana", text="again")
    assert (await ana.until("private"))[-1]["text"] == "again"
    await bob.send(type="line", room="#lobby", text="/nick robert")
    assert (await ana.until("renamed"))[-1] == {"type": "renamed", "old": "bob", "new": "robert"}
    assert (await bob.until("renamed"))[-1]["new"] == "robert"
    await ana.send(type="line", room="#lobby", text="/topic board games")
    topic = (await bob.until("topic"))[-1]
    assert (topic["room"], topic["text"], topic["by"]) == ("#lobby", "board games", "ana")
    await bob.send(type="topic", room="#lobby")
    assert (await bob.until("topic"))[-1] == {
        "type": "topic",
        "room": "#lobby",
        "text": "board games",
    }
    await bob.send(type="line", room="#lobby", text="//slash")
    assert (await ana.until("message"))[-1]["text"] == "/slash"


async def test_who_rooms_help_and_unknown_commands(web_connector: WebConnector) -> None:
    ana = await web_connector.join("ana")
    await ana.send(type="line", room="#lobby", text="/who")
    assert await ana.receive() == {"type": "members", "room": "#lobby", "names": ["ana"]}
    await ana.send(type="rooms")
    rooms = await ana.receive()
    assert rooms == {"type": "rooms", "rooms": [{"name": "#lobby", "count": 1, "topic": ""}]}
    await ana.send(type="line", room="#lobby", text="/who *")
    assert await ana.receive() == {"type": "notice", "text": "Online (1): ana"}
    await ana.send(type="line", room="#lobby", text="/help")
    assert await ana.receive() == {"type": "notice", "text": "Commands:"}
    await ana.send(type="line", room="#lobby", text="/dance")
    frame = (await ana.until("error"))[-1]
    assert frame["text"] == "unknown command /dance: type /help for the list"


async def test_history_is_paged_by_id() -> None:
    history = History(HistoryStore(MEMORY), name_key)
    await history.open()
    service = ChatService(Hub(name_key, recorder=history), history=history, replay=3)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(history.run)
        door = WebConnector(web_server(service=service), nursery)
        ana = await door.join("ana")
        for n in range(5):
            await ana.send(type="line", room="#lobby", text=f"m{n}")
            await ana.until("message", text=f"m{n}")
        bob = await door.websocket()
        welcome = await bob.hello("bob")
        replay = welcome[-1]
        assert [e["text"] for e in replay["entries"]] == ["m2", "m3", "m4"]
        assert replay["more"] is True
        await bob.send(type="history", room="#lobby", before=replay["entries"][0]["id"], count=10)
        older = await bob.until("history")
        assert [e["text"] for e in older[-1]["entries"]] == ["m0", "m1"]
        assert older[-1]["more"] is False
        await bob.send(type="line", room="#lobby", text="/history 2")
        latest = (await bob.until("history"))[-1]
        assert [e["text"] for e in latest["entries"]] == ["m3", "m4"]
        nursery.cancel_scope.cancel()


async def test_operator_commands_work_from_the_page_and_a_kick_says_bye() -> None:
    guard = Guard(oper_password="sesame")
    service = ChatService(Hub(name_key), guard=guard)
    async with trio.open_nursery() as nursery:
        door = WebConnector(web_server(service=service), nursery)
        op, pest = await door.join("op"), await door.join("pest")
        await op.send(type="line", room="#lobby", text="/oper sesame")
        assert (await op.until("notice"))[-1]["text"].startswith("You are an operator now")
        await op.send(type="line", room="#lobby", text="/kick pest spam")
        frames = await pest.closing()
        assert frames[-1] == {
            "type": "bye",
            "reason": "kicked",
            "text": "you were kicked by op: spam",
        }
        assert pest.close_code == 1008
        gone = (await op.until("quit"))[-1]
        assert (gone["name"], gone["reason"], gone["text"]) == (
            "pest",
            "kicked",
            "kicked by op: spam",
        )
        await op.send(type="line", room="#lobby", text="/kick nobody")
        assert (await op.until("error"))[-1]["reason"] == "no-such-member"
        nursery.cancel_scope.cancel()


async def test_a_registered_name_needs_its_password() -> None:
    service = ChatService(Hub(name_key), guard=Guard(cost=ScryptCost(n=2**10, r=8, p=1)))
    async with trio.open_nursery() as nursery:
        door = WebConnector(web_server(service=service), nursery)
        ana = await door.join("ana")
        await ana.send(type="line", room="#lobby", text="/register s3cret-pass")
        assert "registered to you" in (await ana.until("notice"))[-1]["text"]
        await ana.send(type="quit")
        await ana.closing()
        again = await door.websocket()
        await again.send(type="hello", name="ana")
        need = await again.receive()
        assert (need["type"], need["what"]) == ("need", "password")
        await again.send(type="hello", name="ana", password="wrong")
        refused = await again.receive()
        assert refused["reason"] == "wrong-password"
        assert "2 tries left" in refused["text"]
        frames = await again.hello("ana", password="s3cret-pass")
        assert frames[0] == {"type": "welcome", "name": "ana"}
        nursery.cancel_scope.cancel()
