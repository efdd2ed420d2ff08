"""A real redis-server per test, on a free loopback port in the test's own folder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

from ..conftest import Running, running_app

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
# The servers' heartbeat in these tests: a lost server is noticed within a second.
HEARTBEAT = 0.1
# Starting or stopping redis-server takes milliseconds; this bounds it.
REDIS_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """A redis-server without persistence: stopped and started again, it is empty."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: trio.Process | None = None

    async def start(self) -> None:
        """Start it and wait for its 'Ready to accept connections' line."""
        process = await trio.lowlevel.open_process(
            [
                REDIS_SERVER,
                "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.folder), "--logfile", "",
            ],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        self.process = process
        assert process.stdout is not None
        seen = b""
        with trio.fail_after(REDIS_TIMEOUT):
            while b"Ready to accept connections" not in seen:
                chunk = await process.stdout.receive_some()
                assert chunk, f"redis-server ended: {seen.decode(errors='replace')}"
                seen = seen[-200:] + chunk
        # Its further output is not read: it says little, and a pipe holds 64 KiB.

    async def stop(self) -> None:
        """Stop it (as a crash would: at once) and wait until it is gone."""
        process = self.process
        if process is None:
            return
        self.process = None
        process.kill()
        with trio.fail_after(REDIS_TIMEOUT):
            await process.wait()
        if process.stdout is not None:
            await process.stdout.aclose()

    def pause(self) -> None:
        """Freeze it (SIGSTOP): commands wait, as with a very slow Redis."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)


@pytest.fixture
async def redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path)
    await server.start()
    try:
        yield server
    finally:
        with trio.CancelScope(shield=True):
            if server.process is not None:
                server.resume()
            await server.stop()


class Proxy:
    """A TCP relay to Redis for one server: :meth:`cut` partitions it, :meth:`heal` ends that."""

    def __init__(self, redis: RedisServer) -> None:
        self.redis = redis
        self.port = 0
        self.url = ""
        self.cut_off = False
        # Connections refused while cut off (each a reconnection attempt), and an
        # event set at each.
        self.refused = 0
        self._refusing = trio.Event()
        self._scopes: list[trio.CancelScope] = []

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        task_status.started()
        await trio.serve_listeners(self._relay, listeners)

    async def _relay(self, client: trio.SocketStream) -> None:
        async with client:
            if self.cut_off:
                self.refused += 1
                self._refusing.set()
                self._refusing = trio.Event()
                return
            async with await trio.open_tcp_stream("127.0.0.1", self.redis.port) as server:
                with trio.CancelScope() as scope:
                    self._scopes.append(scope)
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(_pump, client, server)
                        nursery.start_soon(_pump, server, client)

    def cut(self) -> None:
        self.cut_off = True
        self.refused = 0
        for scope in self._scopes:
            scope.cancel()
        self._scopes.clear()

    def heal(self) -> None:
        self.cut_off = False

    async def refusing(self, count: int) -> None:
        """Wait until ``count`` connections were refused since the last cut."""
        while self.refused < count:
            await self._refusing.wait()


async def _pump(source: trio.SocketStream, sink: trio.SocketStream) -> None:
    async for data in source:
        await sink.send_all(data)
    await sink.send_eof()


@asynccontextmanager
async def servers(redis: RedisServer, count: int, **config: Any) -> AsyncIterator[list[Running]]:
    """``count`` servers sharing ``redis`` (short heartbeats), in this process."""
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                running_app(redis=redis.url, redis_heartbeat=HEARTBEAT, **config)
            )
            for _ in range(count)
        ]


class WebPage:
    """A web page's WebSocket to a server's web door, over TCP: JSON frames."""

    def __init__(self, stream: trio.SocketStream, ws: WSConnection) -> None:
        self.stream = stream
        self.ws = ws
        self._pending: list[object] = []

    @classmethod
    async def open(cls, server: Running) -> WebPage:
        port = server.listener_of("web").socket.getsockname()[1]
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        where = f"127.0.0.1:{port}"
        page = cls(stream, WSConnection(ConnectionType.CLIENT))
        origin = [("Origin", f"http://{where}")]
        await stream.send_all(page.ws.send(Request(host=where, target="/ws", extra_headers=origin)))
        while not isinstance(await page._event(), AcceptConnection):
            pass
        return page

    async def _event(self) -> object:
        with trio.fail_after(REDIS_TIMEOUT):
            while not self._pending:
                self.ws.receive_data(await self.stream.receive_some(65536) or None)
                self._pending += list(self.ws.events())
        return self._pending.pop(0)

    async def send(self, **frame: Any) -> None:
        await self.stream.send_all(self.ws.send(TextMessage(data=json.dumps(frame))))

    async def until(self, kind: str, **fields: Any) -> dict[str, Any]:
        """The first frame of ``kind`` with ``fields`` (those before it are skipped)."""
        text = ""
        while True:
            event = await self._event()
            if not isinstance(event, TextMessage):
                continue
            text += event.data
            if event.message_finished:
                frame: dict[str, Any] = json.loads(text)
                text = ""
                if frame["type"] == kind and all(frame.get(k) == v for k, v in fields.items()):
                    return frame
