"""The web door's sans-IO parts, alone: frames, the JSON protocol; no trio, no I/O."""

from __future__ import annotations

import json
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st
from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage

from trio_chat.core.events import Message, Quit, Reason
from trio_chat.core.hub import LOBBY
from trio_chat.web import protocol
from trio_chat.web.frames import (
    Alive,
    Binary,
    Closing,
    FrameDecoder,
    Reply,
    Text,
    close_frame,
    text_frame,
)
from trio_chat.web.protocol import BadRequest, Hello, Line, encode, parse_request


def client() -> Connection:
    """A browser's side of the frames (it masks what it sends)."""
    return Connection(ConnectionType.CLIENT)


def test_the_web_codecs_do_not_import_trio() -> None:
    modules = "trio_chat.web.frames, trio_chat.web.protocol, trio_chat.web.routes"
    code = f"import {modules}, sys; assert 'trio' not in sys.modules, 'trio imported'"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_lobby_of_the_protocol_is_the_hub_s() -> None:
    assert protocol.LOBBY == LOBBY


def test_a_message_fed_byte_by_byte_or_in_fragments_comes_out_whole() -> None:
    browser = client()
    data = browser.send(TextMessage(data='{"type":', message_finished=False))
    data += browser.send(TextMessage(data='"rooms"}', message_finished=True))
    decoder = FrameDecoder()
    out = []
    for byte in data:
        out += decoder.feed(bytes([byte]))
    assert out == [Text('{"type":"rooms"}')]


def test_the_bytes_after_the_upgrade_are_the_first_frames() -> None:
    browser = client()
    decoder = FrameDecoder(trailing=browser.send(TextMessage(data="early")))
    assert decoder.feed(browser.send(TextMessage(data="later"))) == [Text("early"), Text("later")]


def test_ping_close_and_the_end_of_the_stream() -> None:
    browser = client()
    decoder = FrameDecoder()
    [reply] = decoder.feed(browser.send(Ping(payload=b"x")))
    assert isinstance(reply, Reply)
    browser.receive_data(reply.data)
    assert [type(e).__name__ for e in browser.events()] == ["Pong"]
    ping = browser.send(Ping(payload=b"y"))
    assert decoder.feed(ping[:1]) == []  # incomplete
    assert [type(r) for r in decoder.feed(ping[1:])] == [Reply]
    [closing] = decoder.feed(browser.send(CloseConnection(code=1000, reason="bye")))
    assert isinstance(closing, Closing)
    assert (closing.code, closing.reason) == (1000, "bye")
    assert closing.reply  # our half of the closing handshake
    assert decoder.feed(b"anything") == []  # nothing after a close
    ended = FrameDecoder()
    assert ended.feed(b"") == [Closing(1006, "")]


def test_a_pong_is_alive_and_binary_is_told_apart() -> None:
    decoder = FrameDecoder()
    browser = client()
    browser.receive_data(decoder.ping())
    [ping] = browser.events()
    assert isinstance(ping, Ping)
    assert decoder.feed(browser.send(ping.response())) == [Alive()]
    assert decoder.feed(browser.send(BytesMessage(data=b"abc"))) == [Binary(3)]


def test_too_big_is_1009_as_soon_as_it_is_known_and_bad_utf8_1007() -> None:
    decoder = FrameDecoder(max_message=100)
    data = client().send(TextMessage(data="x" * 1000))
    [closing] = decoder.feed(data[:200])  # long before the frame's end
    assert isinstance(closing, Closing)
    assert closing.code == 1009
    assert closing.reason == "message too big (max 100 bytes)"
    # A masked text frame (mask key 0) holding invalid UTF-8.
    [broken] = FrameDecoder().feed(b"\x81\x82" + b"\x00\x00\x00\x00" + b"\xc3\x28")
    assert isinstance(broken, Closing)
    assert broken.code == 1007
    assert broken.reply  # said so, in our close frame


def test_server_frames_are_the_same_bytes_for_everyone_and_unmasked() -> None:
    frame = encode(Message("ana", "#lobby", "hi", 1.5, 7))
    assert frame == encode(Message("ana", "#lobby", "hi", 1.5, 7))
    assert frame[1] & 0x80 == 0  # no mask bit
    browser = client()
    browser.receive_data(frame)
    [event] = browser.events()
    assert isinstance(event, TextMessage)
    assert json.loads(event.data) == {
        "type": "message",
        "id": 7,
        "time": "1970-01-01T00:00:01.500Z",
        "room": "#lobby",
        "from": "ana",
        "text": "hi",
    }
    browser = client()
    browser.receive_data(close_frame(1001, "going"))
    [closed] = browser.events()
    assert isinstance(closed, CloseConnection)
    assert (closed.code, closed.reason) == (1001, "going")
    assert text_frame("é")[2:] == "é".encode()


def test_events_carry_codes_not_words_where_the_page_acts_on_them() -> None:
    quit = protocol.event_json(Quit("bob", Reason.TOO_SLOW))
    assert quit == {"type": "quit", "name": "bob", "reason": "too-slow", "text": "too slow"}


def test_requests() -> None:
    assert parse_request('{"type":"hello","name":"ana"}') == Hello("ana")
    assert parse_request('{"type":"line","text":"hi"}') == Line(LOBBY, "hi")
    assert parse_request('{"type":"hello"}') == BadRequest(
        "hello: 'name' must be a string", "hello"
    )
    assert "password" not in repr(Hello("ana", password="secret"))
    assert "secret" not in repr(Hello("ana", password="secret", server_password="secret"))


@given(st.binary(max_size=300))
def test_any_bytes_end_in_frames_or_a_close_never_an_exception(data: bytes) -> None:
    decoder = FrameDecoder(max_message=64)
    for start in range(0, len(data), 7):
        for item in decoder.feed(data[start : start + 7]):
            assert isinstance(item, Text | Binary | Reply | Alive | Closing)
    decoder.feed(b"")


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(["type", "name", "room", "text", "count"]), inner)
        ),
        max_leaves=8,
    )
)
def test_any_json_is_a_request_or_a_bad_request(value: object) -> None:
    if isinstance(value, dict) and "type" not in value:
        value["type"] = "history"
    assert parse_request(json.dumps(value)) is not None
