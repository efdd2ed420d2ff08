"""Helpers for the web door's tests: a web frontend, an HTTP client and a WebSocket peer.

The peers speak through h11 and wsproto's client side, as a browser would
over the wire (masked frames, the upgrade handshake), on memory streams or
real TCP.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import h11
import pytest
import trio
import trio.testing
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from trio_chat.core.admission import DEFAULT_MAX_CLIENTS, Admission
from trio_chat.core.hub import Hub
from trio_chat.core.limits import DEFAULT_LIMITS, Limits
from trio_chat.core.names import name_key
from trio_chat.core.service import ChatService
from trio_chat.web.server import WebFrontend

STEP = 10
HOST_NAME = "chat.lan"
HOST = f"{HOST_NAME}:8080"
ORIGIN = "http://chat.lan:8080"


def web_server(
    hub: Hub | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    max_clients: int = DEFAULT_MAX_CLIENTS,
    service: ChatService | None = None,
    **options: Any,
) -> WebFrontend:
    """A web frontend on a chat service over ``hub`` (a fresh one by default)."""
    if service is None:
        service = ChatService(hub if hub is not None else Hub(name_key), limits=limits)
    admission = Admission(max_clients=max_clients, limits=limits, guard=service.guard)
    options.setdefault("host", "127.0.0.1")
    options.setdefault("hosts", (HOST_NAME,))  # the name the tests' requests use
    return WebFrontend(service, admission, **options)


class HttpAnswer:
    def __init__(self, response: h11.Response, body: bytes) -> None:
        self.status = response.status_code
        self.headers = {k.decode(): v.decode() for k, v in response.headers}
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode()


class HttpClient:
    """One HTTP/1.1 connection, as a browser keeps it alive."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.h = h11.Connection(h11.CLIENT)

    async def request(
        self, path: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> HttpAnswer:
        if self.h.our_state is h11.DONE:
            self.h.start_next_cycle()
        given = headers or {}
        fields = [*([] if "Host" in given else [("Host", HOST)]), *given.items()]
        await self.stream.send_all(
            self.h.send(h11.Request(method=method, target=path, headers=fields))
        )
        await self.stream.send_all(self.h.send(h11.EndOfMessage()))
        response: h11.Response | None = None
        body = b""
        with trio.fail_after(STEP):
            while True:
                event = self.h.next_event()
                if event is h11.NEED_DATA:
                    self.h.receive_data(await self.stream.receive_some(65536))
                elif isinstance(event, h11.Response):
                    response = event
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                    assert response is not None
                    return HttpAnswer(response, body)

    async def closed(self, within: float = STEP) -> bool:
        """Whether the server closed the connection (read to the end)."""
        with trio.fail_after(within):
            return await self.stream.receive_some(65536) == b""


class Rejected(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


class WsPeer:
    """The page's end of a WebSocket: JSON frames in and out."""

    def __init__(self, stream: trio.abc.Stream, ws: WSConnection) -> None:
        self.stream = stream
        self.ws = ws
        self.pending: list[Event] = []
        self.close_code: int | None = None
        self.pings = 0

    @classmethod
    async def open(
        cls, stream: trio.abc.Stream, *, host: str = HOST, origin: str | None = ORIGIN
    ) -> WsPeer:
        """The upgrade handshake; raises Rejected with the HTTP status if refused."""
        ws = WSConnection(ConnectionType.CLIENT)
        extra = [("Origin", origin)] if origin is not None else []
        await stream.send_all(ws.send(Request(host=host, target="/ws", extra_headers=extra)))
        peer = cls(stream, ws)
        status, body = 0, b""
        accepted = False
        with trio.fail_after(STEP):
            while not accepted:
                for event in await peer._events():
                    if accepted:
                        peer.pending.append(event)  # frames right after the upgrade
                    elif isinstance(event, AcceptConnection):
                        accepted = True
                    elif isinstance(event, RejectConnection):
                        status = event.status_code
                        if not event.has_body:
                            raise Rejected(status, body)
                    elif isinstance(event, RejectData):
                        body += event.data
                        if event.body_finished:
                            raise Rejected(status, body)
                    else:
                        peer.pending.append(event)
        return peer

    async def _events(self) -> list[Event]:
        data = await self.stream.receive_some(65536)
        self.ws.receive_data(data or None)
        return list(self.ws.events())

    async def send(self, **frame: Any) -> None:
        await self.send_text(json.dumps(frame, ensure_ascii=False))

    async def send_text(self, text: str) -> None:
        await self.stream.send_all(self.ws.send(TextMessage(data=text)))

    async def event(self, within: float = STEP) -> Event:
        """The next wsproto event (pings answered, counted and passed on)."""
        with trio.fail_after(within):
            while not self.pending:
                self.pending += await self._events()
        event = self.pending.pop(0)
        if isinstance(event, Ping):
            self.pings += 1
            await self.stream.send_all(self.ws.send(event.response()))
        return event

    async def receive(self, within: float = STEP) -> dict[str, Any]:
        """The next JSON frame; raises EOFError at the close (``close_code`` set)."""
        text = ""
        while True:
            event = await self.event(within)
            if isinstance(event, CloseConnection):
                self.close_code = event.code
                raise EOFError(f"closed {event.code} {event.reason}")
            if isinstance(event, TextMessage):
                text += event.data
                if event.message_finished:
                    frame: dict[str, Any] = json.loads(text)
                    return frame

    async def until(self, kind: str, **fields: Any) -> list[dict[str, Any]]:
        """Frames up to and including the first of ``kind`` with ``fields``."""
        seen = []
        while True:
            frame = await self.receive()
            seen.append(frame)
            if frame["type"] == kind and all(frame.get(k) == v for k, v in fields.items()):
                return seen

    async def hello(self, name: str, **extra: str) -> list[dict[str, Any]]:
        """Say hello; the frames up to the lobby's history (the end of the welcome)."""
        await self.send(type="hello", name=name, **extra)
        return await self.until("history")

    async def closing(self) -> list[dict[str, Any]]:
        """Frames until the server's close frame (answered); ``close_code`` is set."""
        seen = []
        try:
            while True:
                seen.append(await self.receive())
        except EOFError:
            pass
        if self.ws.state.name == "REMOTE_CLOSING":
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await self.stream.send_all(self.ws.send(CloseConnection(code=1000)))
        return seen


class WebConnector:
    """Opens memory connections served by ``server.handle`` in a nursery."""

    def __init__(self, server: WebFrontend, nursery: trio.Nursery) -> None:
        self.server = server
        self.nursery = nursery
        self.count = 0

    def stream(self, *, lockstep: bool = False, address: str | None = None) -> trio.abc.Stream:
        """A new connection (from ``address``: None is exempt from the limits).

        ``lockstep``: the server's sends wait for the client's reads.
        """
        pair = trio.testing.lockstep_stream_pair if lockstep else trio.testing.memory_stream_pair
        client, server_side = pair()
        self.count += 1
        peer = f"memory:{self.count}"
        self.nursery.start_soon(self.server.handle, server_side, peer, None, address)
        return client

    def http(self, address: str | None = None) -> HttpClient:
        return HttpClient(self.stream(address=address))

    async def websocket(
        self, *, lockstep: bool = False, address: str | None = None, **options: Any
    ) -> WsPeer:
        return await WsPeer.open(self.stream(lockstep=lockstep, address=address), **options)

    async def join(self, name: str, *, lockstep: bool = False) -> WsPeer:
        peer = await self.websocket(lockstep=lockstep)
        await peer.hello(name)
        return peer


@pytest.fixture
def web(hub: Hub) -> WebFrontend:
    return web_server(hub, max_clients=50)


@pytest.fixture
async def web_connector(web: WebFrontend) -> AsyncIterator[WebConnector]:
    async with trio.open_nursery() as handlers:
        yield WebConnector(web, handlers)
        handlers.cancel_scope.cancel()
