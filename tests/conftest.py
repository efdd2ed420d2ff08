"""Shared test helpers: a line reader with deadlines, servers and connections."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import trio
import trio.testing

from trio_chat.client.chat import DEFAULT_BACKOFF, ChatClient, ConnectFailed
from trio_chat.client.keyboard import StreamKeyboard
from trio_chat.client.rules import Backoff
from trio_chat.core.hub import Hub
from trio_chat.core.names import name_key
from trio_chat.text.server import ChatServer

# No single wait in a test may take longer than this (real or virtual seconds).
STEP_TIMEOUT = 10


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
    return ChatServer(hub, max_clients=50)


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


# --- the chat client, in memory (test_client, test_reconnect) ---------------------------


class RecordingScreen:
    """A screen that remembers lines and lets a test wait for one."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._changed = trio.Event()

    def show(self, line: str) -> None:
        self.lines.append(line)
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, wanted: str, within: float = STEP_TIMEOUT, count: int = 1) -> None:
        """Wait until ``count`` lines start with ``wanted``."""
        with trio.move_on_after(within):
            while sum(line.startswith(wanted) for line in self.lines) < count:
                await self._changed.wait()
            return
        shown = "\n".join(self.lines)
        raise AssertionError(f"no {count} line(s) {wanted!r} within {within} s; shown:\n{shown}")

    def after(self, wanted: str) -> list[str]:
        """The lines after the last one starting with ``wanted``."""
        starts = [i for i, line in enumerate(self.lines) if line.startswith(wanted)]
        return self.lines[starts[-1] + 1 :] if starts else []


class Typist:
    """A keyboard fed by the test: ``type()`` lines, ``close()`` for Ctrl+D.

    An interactive one answers password prompts with the next line typed.
    """

    def __init__(self, *, interactive: bool = False) -> None:
        self._send, receive = trio.testing.memory_stream_one_way_pair()
        self.keyboard = StreamKeyboard(receive)
        self.keyboard.interactive = interactive

    async def type(self, *lines: str) -> None:
        await self._send.send_all("".join(line + "\n" for line in lines).encode())

    async def close(self) -> None:
        await self._send.aclose()


class Dialer:
    """The client's way to connect again: to ``server`` (another one after a restart).

    ``fail`` attempts from now on are refused; ``dialed`` counts the attempts.
    """

    def __init__(self, server: ChatServer, nursery: trio.Nursery) -> None:
        self.server = server
        self.nursery = nursery
        self.fail = 0
        self.dialed = 0

    def open(self) -> trio.abc.Stream:
        client_side, server_side = trio.testing.memory_stream_pair()
        self.nursery.start_soon(self.server.handle, server_side, f"client:{self.dialed}")
        return client_side

    async def __call__(self) -> trio.abc.Stream:
        await trio.lowlevel.checkpoint()
        self.dialed += 1
        if self.fail:
            self.fail -= 1
            raise ConnectFailed("connection refused")
        return self.open()

    def restart(self, fail: int = 0) -> ChatServer:
        """Shut the server down (its clients are told) and start a new one, same accounts."""
        old = self.server
        self.server = ChatServer(Hub(name_key), guard=old.guard)
        self.fail = fail
        old.shutdown(grace=1)
        return self.server


class RunningClient:
    def __init__(
        self, client: ChatClient, typist: Typist, screen: RecordingScreen, dialer: Dialer
    ) -> None:
        self.client = client
        self.typist = typist
        self.screen = screen
        self.dialer = dialer
        self.exit_code: int | None = None
        self.done = trio.Event()

    async def run(self) -> None:
        self.exit_code = await self.client.run()
        self.done.set()

    async def wait_exit(self, within: float = STEP_TIMEOUT) -> int | None:
        with trio.fail_after(within):
            await self.done.wait()
        return self.exit_code


StartClient = Callable[..., RunningClient]


@pytest.fixture
async def start_client(connector: MemoryConnector) -> AsyncIterator[StartClient]:
    """Starts ChatClients on memory connections to ``via`` (the connector's server)."""
    async with trio.open_nursery() as nursery:

        def start(
            name: str | None,
            *,
            interactive: bool = False,
            echo: bool = False,
            via: MemoryConnector = connector,
            server_password: str | None = None,
            password: str | None = None,
            reconnect: bool = False,
            backoff: Backoff = DEFAULT_BACKOFF,
        ) -> RunningClient:
            dialer = Dialer(via.server, via.nursery)
            typist = Typist(interactive=interactive)
            screen = RecordingScreen()
            client = ChatClient(
                dialer.open(),
                typist.keyboard,
                screen,
                name,
                echo=echo,
                server_password=server_password,
                password=password,
                connect=dialer,
                reconnect=reconnect,
                backoff=backoff,
            )
            running = RunningClient(client, typist, screen, dialer)
            nursery.start_soon(running.run)
            return running

        yield start
        nursery.cancel_scope.cancel()
