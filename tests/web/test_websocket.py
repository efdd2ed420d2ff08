"""The WebSocket on memory streams: handshake, the name step, frames and their limits."""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong

from trio_chat.core.accounts import Guard
from trio_chat.core.hub import Hub
from trio_chat.core.limits import LOG_BURST
from trio_chat.core.names import name_key
from trio_chat.core.service import ChatService
from trio_chat.web.frames import MAX_MESSAGE_BYTES
from trio_chat.web.session import PING_INTERVAL

from .conftest import Rejected, WebConnector, WsPeer, web_server


async def test_hello_gets_welcome_and_the_lobby_and_members_chat(
    web_connector: WebConnector,
) -> None:
    ana = await web_connector.websocket()
    frames = await ana.hello("ana")
    assert [f["type"] for f in frames] == ["welcome", "joined", "members", "topic", "history"]
    assert frames[0] == {"type": "welcome", "name": "ana"}
    assert frames[1] == {"type": "joined", "room": "#lobby", "name": "ana"}
    assert frames[2] == {"type": "members", "room": "#lobby", "names": ["ana"]}
    bob = await web_connector.join("bob")
    assert await ana.until("joined") == [{"type": "joined", "room": "#lobby", "name": "bob"}]
    await bob.send(type="line", room="#lobby", text="hi ana")
    [said] = await ana.until("message")
    assert {k: said[k] for k in ("room", "from", "text")} == {
        "room": "#lobby",
        "from": "bob",
        "text": "hi ana",
    }
    assert said["time"].endswith("Z")
    # The sender gets their own message once the server took it: the same id.
    [own] = await bob.until("message")
    assert own == said


async def test_an_origin_from_another_site_is_refused_before_the_upgrade(hub: Hub) -> None:
    allowed = "https://chat.example.org"
    server = web_server(hub, origins=[allowed])
    async with trio.open_nursery() as nursery:
        door = WebConnector(server, nursery)
        with pytest.raises(Rejected) as refused:
            await door.websocket(origin="http://evil.example")
        assert refused.value.status == 403
        with pytest.raises(Rejected):
            await door.websocket(origin="http://chat.lan:9999")  # another port: another origin
        assert len(hub) == 0
        for origin in ("http://chat.lan:8080", allowed, None):  # own, allowed, not a browser
            peer = await door.websocket(origin=origin)
            await peer.hello(f"u{len(hub)}")
        assert len(hub) == 3
        nursery.cancel_scope.cancel()


async def test_a_refused_origin_is_logged_naming_the_option_a_few_times_a_minute(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    """Behind a proxy the page only sees its WebSocket fail: the log says why."""
    async with trio.open_nursery() as nursery:
        door = WebConnector(web_server(hub), nursery)
        with caplog.at_level(logging.INFO, logger="trio_chat.web"):
            for _ in range(LOG_BURST + 5):
                with pytest.raises(Rejected):
                    await door.websocket(origin="https://chat.example.org")
        lines = [r.getMessage() for r in caplog.records if "WebSocket refused" in r.getMessage()]
        assert len(lines) == LOG_BURST  # a page retrying in a loop does not fill the log
        assert "https://chat.example.org" in lines[0]
        assert "Host chat.lan:8080" in lines[0]
        assert "--web-origin" in lines[0]
        nursery.cancel_scope.cancel()


async def test_a_frame_over_the_limit_closes_with_1009(web_connector: WebConnector) -> None:
    ana = await web_connector.join("ana")
    await ana.send_text('{"type":"line","text":"' + "x" * MAX_MESSAGE_BYTES + '"}')
    await ana.closing()
    assert ana.close_code == 1009


async def test_any_line_the_chat_takes_fits_in_a_frame_however_json_writes_it(
    web_connector: WebConnector,
) -> None:
    ana, bob = await web_connector.join("ana"), await web_connector.join("bob")
    quotes = '"\\' * 2048  # 4096 bytes of text; JSON writes each byte as two
    await ana.send(type="line", room="#lobby", text=quotes)
    assert (await bob.until("message", **{"from": "ana"}))[-1]["text"] == quotes
    # 4000 characters typed or pasted in the page (its field's maxlength): 12,000 bytes.
    await ana.send(type="line", room="#lobby", text="漢" * 4000)
    refused = (await ana.until("error"))[-1]
    assert refused["reason"] == "too-long"
    await ana.send(type="line", room="#lobby", text="still here")
    assert (await bob.until("message"))[-1]["text"] == "still here"


async def test_a_line_over_4096_bytes_is_an_error_and_the_connection_stays(
    web_connector: WebConnector,
) -> None:
    ana = await web_connector.join("ana")
    await ana.send(type="line", room="#lobby", text="é" * 2100)  # 4200 bytes
    frame = await ana.receive()
    assert frame["type"] == "error"
    assert frame["reason"] == "too-long"
    assert "4096" in frame["text"]
    await ana.send(type="line", room="#lobby", text="still here")
    assert (await ana.until("message"))[-1]["text"] == "still here"


@pytest.mark.parametrize(
    ("sent", "said"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"type": "dance"}', "unknown type 'dance'"),
        ('{"type": "join"}', "join: 'room' must be a string"),
        ('{"type": "history", "count": -1}', "'count' must be a whole number"),
        # Under the frame limit, but deeper than Python's recursion limit.
        ("[" * 3000 + "]" * 3000, "not JSON: nested too deeply"),
        ('{"a":' * 1200 + "1" + "}" * 1200, "not JSON: nested too deeply"),
    ],
)
async def test_bad_requests_are_errors_and_the_connection_stays(
    web_connector: WebConnector, sent: str, said: str
) -> None:
    ana = await web_connector.join("ana")
    await ana.send_text(sent)
    frame = await ana.receive()
    assert frame["type"] == "error"
    assert said in frame["text"]
    await ana.send(type="members", room="#lobby")
    assert await ana.receive() == {"type": "members", "room": "#lobby", "names": ["ana"]}


async def test_a_binary_frame_is_an_error(web_connector: WebConnector) -> None:
    ana = await web_connector.join("ana")
    await ana.stream.send_all(ana.ws.send(BytesMessage(data=b"\x00")))
    frame = await ana.receive()
    assert frame["type"] == "error"
    assert "JSON text frames" in frame["text"]


async def test_pings_are_answered_and_a_silent_peer_is_pinged_then_dropped(
    web_connector: WebConnector, hub: Hub, autojump_clock: trio.testing.MockClock
) -> None:
    ana = await web_connector.join("ana")
    await ana.stream.send_all(ana.ws.send(Ping(payload=b"are you there")))
    pong = await ana.event()
    assert isinstance(pong, Pong)
    assert pong.payload == b"are you there"
    # Silent: pinged after PING_INTERVAL; answering keeps the connection.
    start = trio.current_time()
    ping = await ana.event(within=PING_INTERVAL * 2)  # answered by the helper
    assert isinstance(ping, Ping)
    assert trio.current_time() - start >= PING_INTERVAL
    # Not answering: the connection is lost after another interval.
    await ana.send(type="quit")
    await ana.closing()
    bob = await web_connector.join("bob")
    start = trio.current_time()
    bob_events = []
    with trio.fail_after(PING_INTERVAL * 3):
        while True:
            data = await bob.stream.receive_some(65536)  # read, but never answer
            if not data:
                break
            bob.ws.receive_data(data)
            bob_events += list(bob.ws.events())
    assert any(isinstance(e, Ping) for e in bob_events)
    assert trio.current_time() - start >= 2 * PING_INTERVAL
    assert hub.find("bob") is None


async def test_the_close_handshake_is_answered(web_connector: WebConnector) -> None:
    ana = await web_connector.join("ana")
    bob = await web_connector.join("bob")
    await ana.stream.send_all(ana.ws.send(CloseConnection(code=1000, reason="tab closed")))
    answer = await ana.event()
    while not isinstance(answer, CloseConnection):  # bob's arrival came first
        answer = await ana.event()
    assert answer.code == 1000
    frame = (await bob.until("quit"))[-1]
    assert (frame["name"], frame["reason"]) == ("ana", "closed")


async def test_a_taken_name_is_refused_and_another_hello_may_follow(
    web_connector: WebConnector,
) -> None:
    await web_connector.join("ana")
    second = await web_connector.websocket()
    await second.send(type="hello", name="ANA")
    frame = await second.receive()
    assert frame["type"] == "refused"
    assert frame["reason"] == "name-taken"
    assert "taken" in frame["text"]
    await second.send(type="hello", name="bad name!")
    assert (await second.receive())["reason"] == "invalid-name"
    frames = await second.hello("ana2")
    assert frames[0] == {"type": "welcome", "name": "ana2"}


async def test_requests_before_hello_are_errors(web_connector: WebConnector) -> None:
    ana = await web_connector.websocket()
    await ana.send(type="line", text="hi")
    frame = await ana.receive()
    assert frame == {"type": "error", "text": 'send "hello" first', "request": "line"}


async def test_a_server_password_is_needed_then_given() -> None:
    guard = Guard(server_password="door")
    service = ChatService(Hub(name_key), guard=guard)
    async with trio.open_nursery() as nursery:
        door = WebConnector(web_server(service=service), nursery)
        ana = await door.websocket()
        await ana.send(type="hello", name="ana")
        need = await ana.receive()
        assert (need["type"], need["what"]) == ("need", "server_password")
        frames = await ana.hello("ana", server_password="door")
        assert frames[0]["type"] == "welcome"
        bob = await door.websocket()
        await bob.send(type="hello", name="bob", server_password="wrong")
        frames = await bob.closing()
        assert frames == [
            {"type": "refused", "reason": "wrong-server-password", "text": "wrong server password"}
        ]
        assert bob.close_code == 1008
        nursery.cancel_scope.cancel()


async def test_memory_peer_helper_is_wsproto(web_connector: WebConnector) -> None:
    # The helper speaks a real client's side: masked frames a server must unmask.
    peer = await web_connector.websocket()
    assert isinstance(peer, WsPeer)
    assert peer.ws.state.name == "OPEN"
