"""The assembly: several frontends on one hub and one admission, and the shutdown order."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trio.testing

from trio_chat.app import SHUTDOWN_GRACE, App, ServerConfig, run_server
from trio_chat.core.admission import Admission
from trio_chat.core.hub import Hub
from trio_chat.core.limits import Limits
from trio_chat.core.names import name_key
from trio_chat.core.service import ChatService
from trio_chat.text.server import TextFrontend

from .conftest import STEP_TIMEOUT, Peer, running_app


class TwoPorts:
    """An app running two text frontends (two ports) on one hub and one admission."""

    def __init__(self, app: App, listeners: list[trio.SocketListener]) -> None:
        self.app = app
        self.listeners = listeners
        self.peers: list[Peer] = []

    async def connect(self, index: int) -> Peer:
        """A new connection to listener ``index``."""
        stream = await trio.testing.open_stream_to_socket_listener(self.listeners[index])
        self.peers.append(Peer(stream))
        return self.peers[-1]


@asynccontextmanager
async def two_ports(admission: Admission) -> AsyncIterator[TwoPorts]:
    service = ChatService(Hub(name_key), limits=admission.limits)
    frontends = [TextFrontend(service, admission, host="127.0.0.1") for _ in range(2)]
    app = App(service, admission, frontends)
    async with trio.open_nursery() as nursery:
        listeners: list[trio.SocketListener] = await nursery.start(app.run)
        assert len(listeners) == 2
        ports = TwoPorts(app, listeners)
        try:
            yield ports
        finally:
            for peer in ports.peers:
                await peer.stream.aclose()
            app.abort()


async def test_max_clients_counts_the_connections_of_every_listener_together() -> None:
    async with two_ports(Admission(max_clients=2)) as chat:
        ana = await chat.connect(0)
        await ana.register("ana")
        bob = await chat.connect(1)
        await bob.register("bob")
        # Full, on either port: two connections are open in all.
        for index in (0, 1):
            assert await (await chat.connect(index)).expect_eof() == ["! server full"]
        assert chat.app.admission.connections == 2
        # Both ports are one chat.
        await ana.until("*** bob joined")
        await bob.send("hello from the other port")
        assert await ana.line() == "bob: hello from the other port"
        await bob.send("/quit")
        await ana.until("*** bob left")
        carl = await chat.connect(0)  # a place came free, on the other port
        await carl.register("carl")


async def test_per_address_limits_count_across_listeners() -> None:
    limits = Limits(max_per_address=2, exempt=())  # loopback limited too
    async with two_ports(Admission(limits=limits)) as chat:
        await (await chat.connect(0)).register("ana")
        await (await chat.connect(1)).register("bob")
        third = await chat.connect(0)
        assert await third.expect_eof() == ["! too many connections from your address (at most 2)"]


async def test_shutdown_stops_every_listener_and_tells_everyone_on_every_port() -> None:
    async with two_ports(Admission()) as chat:
        ana = await chat.connect(0)
        await ana.register("ana")
        bob = await chat.connect(1)
        await bob.register("bob")
        await ana.until("*** bob joined")
        unnamed = await chat.connect(1)  # still choosing a name
        assert (await unnamed.line()).startswith("*** Hello!")
        ports = [listener.socket.getsockname()[1] for listener in chat.listeners]
        chat.app.shutdown("test", grace=STEP_TIMEOUT)
        for peer in (ana, bob, unnamed):
            assert await peer.expect_eof() == ["*** server shutting down"]
        for port in ports:  # nobody new gets in, on either port
            with pytest.raises(OSError, match="all attempts to connect"):
                await trio.open_tcp_stream("127.0.0.1", port)


async def test_the_last_message_before_a_shutdown_is_kept_in_the_history(
    tmp_path: Path,
) -> None:
    db = tmp_path / "chat.db"
    with trio.fail_after(STEP_TIMEOUT):
        async with running_app(db=str(db)) as chat:
            ana = await chat.connect()
            await ana.register("ana")
            await ana.send("the last words")
            # No reply to wait for: the shutdown comes right behind the line.
            chat.app.shutdown("test", grace=STEP_TIMEOUT)
            assert await ana.expect_eof() == ["*** server shutting down"]
            await chat.stopped.wait()  # run() returned by itself
            await ana.stream.aclose()
    with sqlite3.connect(db) as connection:
        texts = [row[0] for row in connection.execute("SELECT text FROM messages")]
    assert texts == ["the last words"]


async def test_a_second_signal_ends_every_connection_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="trio_chat")
    config = ServerConfig("127.0.0.1", 0, db=":memory:")
    deaf = trio.socket.socket()
    with deaf, trio.fail_after(STEP_TIMEOUT):
        async with trio.open_nursery() as nursery:
            listeners: list[trio.SocketListener] = await nursery.start(run_server, config)
            reader = Peer(await trio.testing.open_stream_to_socket_listener(listeners[0]))
            await reader.register("reader")
            # A member that never reads: its writer is stuck in a send, which the
            # grace period would end, or a second signal at once.
            deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            await deaf.connect(listeners[0].socket.getsockname()[:2])
            await deaf.send(b"deaf\n")
            await reader.until("*** deaf joined")
            await reader.send(*(["x" * 4000] * 50), "/who")
            await reader.until("*** In #lobby")
            first = trio.current_time()
            os.kill(os.getpid(), signal.SIGINT)  # trio's signal receiver takes it
            assert await reader.expect_eof() == ["*** server shutting down"]
            os.kill(os.getpid(), signal.SIGINT)
        # run_server has returned, well before the grace period would be over.
        assert trio.current_time() - first < SHUTDOWN_GRACE - 1
    messages = [record.getMessage() for record in caplog.records]
    assert "SIGINT received: shutting down, 2 connection(s) open" in messages
    assert "SIGINT received again: closing all connections now" in messages
    await reader.stream.aclose()
