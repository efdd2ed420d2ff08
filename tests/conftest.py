"""Shared test helpers: a line reader with deadlines, servers and connections."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.testing

from trio_chat.core.accounts import Guard
from trio_chat.core.history import DEFAULT_REPLAY, History
from trio_chat.core.hub import Hub
from trio_chat.core.limits import DEFAULT_LIMITS, Limits
from trio_chat.core.names import name_key
from trio_chat.core.service import ChatService
from trio_chat.text.server import ChatServer

# No single wait in a test may take longer than this (real or virtual seconds).
STEP_TIMEOUT = 10


def text_server(
    hub: Hub | None = None,
    *,
    history: History | None = None,
    replay: int = DEFAULT_REPLAY,
    guard: Guard | None = None,
    limits: Limits = DEFAULT_LIMITS,
    **options: Any,
) -> ChatServer:
    """A text frontend on a chat service over ``hub`` (a fresh one by default)."""
    service = ChatService(
        hub if hub is not None else Hub(name_key),
        guard=guard,
        history=history,
        limits=limits,
        replay=replay,
    )
    return ChatServer(service, **options)


class Peer:
    """The far end of a chat connection, as a test (or `nc`) sees it."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self._buffer = bytearray()
        self.eof = False

    async def send(self, *lines: str) -> None:
        await self.stream.send_all("".join(line + "\n" for line in lines).encode())

    async def send_bytes(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def line(self, within: float = STEP_TIMEOUT) -> str:
        """The next line the server sent (without "\\n"), waiting at most ``within`` s."""
        with trio.fail_after(within):
            while b"\n" not in self._buffer:
                data = await self.stream.receive_some(65536)
                if not data:
                    self.eof = True
                    raise EOFError(f"connection closed; unread: {bytes(self._buffer)!r}")
                self._buffer += data
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        return line.decode()

    async def until(self, wanted: str) -> list[str]:
        """Lines up to and including the first one starting with ``wanted``."""
        seen: list[str] = []
        while True:
            line = await self.line()
            seen.append(line)
            if line.startswith(wanted):
                return seen

    async def expect_eof(self, within: float = STEP_TIMEOUT) -> list[str]:
        """Read until the server closes; return the lines read on the way."""
        lines: list[str] = []
        try:
            while True:
                lines.append(await self.line(within))
        except EOFError:
            return lines

    async def register(self, name: str) -> list[str]:
        """Send ``name`` and read up to the welcome line."""
        greeting = await self.line()
        assert greeting.startswith("*** Hello!"), greeting
        await self.send(name)
        return await self.until("*** Welcome")


@pytest.fixture
def hub() -> Hub:
    return Hub(name_key)


@pytest.fixture
def server(hub: Hub) -> ChatServer:
    return text_server(hub, max_clients=50)


class MemoryConnector:
    """Opens in-memory connections served by ``server.handle`` in a nursery."""

    def __init__(self, server: ChatServer, nursery: trio.Nursery) -> None:
        self.server = server
        self.nursery = nursery
        self.count = 0

    def open(self, *, lockstep: bool = False) -> Peer:
        client, server_side = (
            trio.testing.lockstep_stream_pair() if lockstep else trio.testing.memory_stream_pair()
        )
        self.count += 1
        self.nursery.start_soon(self.server.handle, server_side, f"memory:{self.count}")
        return Peer(client)

    async def join(self, name: str, **kwargs: bool) -> Peer:
        peer = self.open(**kwargs)
        await peer.register(name)
        return peer

    async def members(self, *names: str) -> list[Peer]:
        """Join ``names`` in order; everyone but the last has read up to the last's arrival."""
        peers = [await self.join(name) for name in names]
        for peer in peers[:-1]:
            await peer.until(f"*** {names[-1]} joined")
        return peers


@pytest.fixture
async def connector(server: ChatServer) -> AsyncIterator[MemoryConnector]:
    async with trio.open_nursery() as handlers:
        yield MemoryConnector(server, handlers)
        handlers.cancel_scope.cancel()
