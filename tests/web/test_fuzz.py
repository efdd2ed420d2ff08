"""Fuzzing the web door: any bytes on the port, any frames on the WebSocket.

Hypothesis throws what a broken or hostile client could send: pieces of real
requests and frames mixed with random bytes, cut anywhere. The server must
answer in HTTP or close, log no error, and go on serving everyone else.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator

import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wsproto.events import BytesMessage, Ping, TextMessage

from trio_chat.core.hub import Hub
from trio_chat.core.names import name_key

from .conftest import WebConnector, web_server

SESSION = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STEP = 10

request_pieces = st.sampled_from(
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        b"Transfer-Encoding: chunked\r\n\r\nffffffff\r\n",
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n",
        b"\r\n",
        b"\x81\x85\x00\x00\x00\x00hello",
        b"HTTP/1.0 200 OK\r\n\r\n",
    ]
)
http_chunk = st.one_of(request_pieces, st.binary(min_size=1, max_size=200))


@contextlib.contextmanager
def captured_logs() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("trio_chat")
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


async def read_to_eof(stream: trio.abc.ReceiveStream) -> bytes:
    received = bytearray()
    with contextlib.suppress(trio.BrokenResourceError):
        while data := await stream.receive_some(65536):
            received += data
    return bytes(received)


@SESSION
@given(chunks=st.lists(http_chunk, min_size=1, max_size=6))
async def test_any_bytes_on_the_web_port_get_http_answers_or_a_close(chunks: list[bytes]) -> None:
    hub = Hub(name_key)
    with captured_logs() as records, trio.fail_after(STEP):
        async with trio.open_nursery() as nursery:
            door = WebConnector(web_server(hub), nursery)
            stream = door.stream()
            for chunk in chunks:
                try:
                    await stream.send_all(chunk)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    break
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await stream.send_eof()  # type: ignore[attr-defined]
            answer = await read_to_eof(stream)
            assert answer == b"" or answer.startswith(b"HTTP/1.1 "), answer[:100]
            # The door still serves everyone else.
            assert (await door.http().request("/healthz")).status == 200
            nursery.cancel_scope.cancel()
    assert not [r for r in records if r.levelno >= logging.WARNING or r.exc_info], records


page_frames = st.one_of(
    st.text(max_size=100).map(lambda t: TextMessage(data=t)),
    st.dictionaries(
        st.sampled_from(["type", "room", "text", "name", "to", "before", "count"]),
        st.one_of(
            st.sampled_from(["line", "join", "part", "history", "members", "topic", "hello"]),
            st.text(max_size=20),
            st.integers(-5, 10**12),
            st.none(),
            st.lists(st.integers(), max_size=2),
        ),
        max_size=4,
    ).map(lambda d: TextMessage(data=json.dumps(d))),
    st.binary(max_size=50).map(lambda b: BytesMessage(data=b)),
    st.binary(max_size=20).map(lambda b: Ping(payload=b)),
)


@SESSION
@given(frames=st.lists(page_frames, min_size=1, max_size=8))
async def test_any_frames_from_a_page_leave_it_connected_and_the_room_intact(
    frames: list[TextMessage | BytesMessage | Ping],
) -> None:
    hub = Hub(name_key)
    with captured_logs() as records, trio.fail_after(STEP):
        async with trio.open_nursery() as nursery:
            door = WebConnector(web_server(hub), nursery)
            bob = await door.join("bob")
            ana = await door.join("ana")
            for frame in frames:
                if isinstance(frame, TextMessage) and '"quit"' in frame.data:
                    continue  # leaving is not breaking
                await ana.stream.send_all(ana.ws.send(frame))
            await ana.send(type="line", room="#lobby", text="still here")
            said = await bob.until("message", text="still here")
            assert said[-1]["from"] in ("ana", *hub.names())  # ana may have renamed
            assert len(hub) == 2
            nursery.cancel_scope.cancel()
    assert not [r for r in records if r.levelno >= logging.WARNING or r.exc_info], records
