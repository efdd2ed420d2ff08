"""The server over real loopback TCP: several clients, faults, shutdown."""

from __future__ import annotations

import array
import contextlib
import fcntl
import logging
import socket
import struct
import termios
from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

from trio_chat.app import App, ServerConfig
from trio_chat.core.hub import Hub
from trio_chat.core.names import name_key
from trio_chat.net.connection import RECEIVE_SIZE, Connection
from trio_chat.net.direct import PlainSocket
from trio_chat.net.listeners import USER_TIMEOUT_MS
from trio_chat.startup import announce, describe_bind_error
from trio_chat.text.codec import LineBuffer

from ..conftest import SERVER_KEEPALIVE, Peer, keepalive_options, running_app, text_server


@pytest.fixture
async def tcp_server() -> AsyncIterator[tuple[App, trio.SocketListener]]:
    async with running_app(max_clients=20) as chat:
        yield chat.app, chat.listener


async def connect(listener: trio.SocketListener) -> Peer:
    return Peer(await trio.testing.open_stream_to_socket_listener(listener))


async def test_several_clients_chat_over_tcp(
    tcp_server: tuple[App, trio.SocketListener],
) -> None:
    server, listener = tcp_server
    peers = [await connect(listener) for _ in range(5)]
    for i, peer in enumerate(peers):
        await peer.register(f"user{i}")
    for i, peer in enumerate(peers):
        # Everyone hears about everyone who joined after them.
        for later in range(i + 1, len(peers)):
            assert await peer.line() == f"*** user{later} joined"
    await peers[2].send("hello over TCP")
    for i, peer in enumerate(peers):
        if i != 2:
            assert await peer.line() == "user2: hello over TCP"
    assert server.hub.names() == [f"user{i}" for i in range(5)]
    for peer in peers:
        await peer.stream.aclose()


async def test_a_reset_connection_is_cleaned_up_and_announced(
    tcp_server: tuple[App, trio.SocketListener],
) -> None:
    server, listener = tcp_server
    ana = await connect(listener)
    await ana.register("ana")
    bob = await connect(listener)
    await bob.register("bob")
    await ana.until("*** bob joined")
    await bob.send_bytes(b"half a li")
    # SO_LINGER 0 turns close() into a TCP reset.
    stream = bob.stream
    assert isinstance(stream, trio.SocketStream)
    stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    await stream.aclose()
    line = await ana.line()
    # The unterminated "half a li" is dropped with a reset, or delivered if
    # the server read it before the reset arrived; either way bob leaves.
    if line == "bob: half a li":
        line = await ana.line()
    assert line.startswith("*** bob left (connection")
    assert server.hub.names() == ["ana"]
    await ana.send("/who")
    assert await ana.line() == "*** In #lobby (1): ana"
    await ana.stream.aclose()


async def test_nc_style_client_that_half_closes_gets_its_answers(
    tcp_server: tuple[App, trio.SocketListener],
) -> None:
    _, listener = tcp_server
    peer = await connect(listener)
    stream = peer.stream
    assert isinstance(stream, trio.SocketStream)
    await peer.send("nc_user", "/who", "/quit")
    await stream.send_eof()
    lines = await peer.expect_eof()
    assert lines[1:] == [
        "*** Welcome, nc_user! Online: nobody else yet. Type /help for commands.",
        "*** In #lobby (1): nc_user",
        "*** Bye!",
    ]
    await stream.aclose()


async def test_server_full_over_tcp() -> None:
    async with running_app(max_clients=1) as chat:
        first = await chat.connect()
        await first.register("first")
        second = await chat.connect()
        assert await second.expect_eof() == ["! server full"]
        await first.stream.aclose()
        await second.stream.aclose()


async def test_shutdown_over_tcp_ends_run_even_with_a_client_that_never_reads() -> None:
    with trio.fail_after(10):
        async with running_app() as chat:
            port = chat.listener.socket.getsockname()[1]
            reader = await chat.connect()
            await reader.register("reader")
            # A raw socket with a tiny receive buffer that never reads: its
            # queue fills the kernel buffers and its writer blocks in send_all.
            deaf = trio.socket.socket()
            deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            await deaf.connect(("127.0.0.1", port))
            await deaf.send(b"deaf\n")
            await reader.until("*** deaf joined")
            for _ in range(50):
                await reader.send("x" * 4000)
            chat.app.shutdown(grace=0.5)
            assert await reader.expect_eof() == ["*** server shutting down"]
            # run() returns by itself: every session is over, the deaf one included.
            await chat.stopped.wait()
            assert len(chat.hub) == 0
            assert chat.app.admission.connections == 0
        deaf.close()
        await reader.stream.aclose()


async def test_port_in_use_is_explained() -> None:
    async with running_app() as chat:
        port = chat.listener.socket.getsockname()[1]
        with pytest.raises(OSError, match="in use") as caught:
            await text_server(Hub(), host="127.0.0.1", port=port).serve(chat.nursery)
        error = caught.value
        message = describe_bind_error(error, ServerConfig("127.0.0.1", port))
        assert "port is in use" in message
        assert f"--port {port + 1}" in message


async def test_announce_tells_how_to_connect(
    tcp_server: tuple[App, trio.SocketListener], caplog: pytest.LogCaptureFixture
) -> None:
    _, listener = tcp_server
    port = listener.socket.getsockname()[1]
    with caplog.at_level("INFO"):
        await announce([listener], ServerConfig("127.0.0.1", port))
    text = caplog.text
    assert f"listening on 127.0.0.1:{port}" in text
    assert f"trio-chat client --name you --port {port}" in text
    assert "--host 0.0.0.0" in text


async def test_many_short_visits_never_stop_the_server(
    tcp_server: tuple[App, trio.SocketListener],
) -> None:
    # echo ana | nc -N HOST 5000, over and over: register, then half-close.
    server, listener = tcp_server
    for i in range(60):
        peer = await connect(listener)
        stream = peer.stream
        assert isinstance(stream, trio.SocketStream)
        await peer.send(f"visitor{i}", "/quit" if i % 2 else "")
        await stream.send_eof()
        await peer.expect_eof()
        await stream.aclose()
    last = await connect(listener)
    await last.register("last")
    await last.send("/who *")
    assert await last.line() == "*** Online (1): last"
    assert len(server.hub) == 1
    await last.stream.aclose()


def writer_tasks() -> list[trio.lowlevel.Task]:
    """Every running session writer task."""
    found = []
    tasks = [trio.lowlevel.current_root_task()]
    while tasks:
        task = tasks.pop()
        assert task is not None
        if task.name.endswith("Connection._writer"):
            found.append(task)
        tasks.extend(t for nursery in task.child_nurseries for t in nursery.child_tasks)
    return found


async def test_idle_connections_have_no_writer_task(
    tcp_server: tuple[App, trio.SocketListener], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An idle connection costs one parked task, not two: the flusher writes
    # straight to sockets with room, and a writer runs only for a backlog.
    started: list[str] = []
    start_writer = Connection._start_writer

    def counting(connection: Connection) -> None:
        started.append(connection.peer)
        start_writer(connection)

    # Before anyone connects: an outbox keeps the method it was attached with.
    monkeypatch.setattr(Connection, "_start_writer", counting)
    _, listener = tcp_server
    ana = await connect(listener)
    await ana.register("ana")
    bob = await connect(listener)
    await bob.register("bob")
    await ana.until("*** bob joined")
    started.clear()  # (a writer sends what was queued while registering)
    for i in range(20):
        await bob.send(f"hello {i}")
        assert await ana.line() == f"bob: hello {i}"
    await trio.testing.wait_all_tasks_blocked()
    assert started == []  # the flusher wrote every line itself
    assert writer_tasks() == []
    # They still end cleanly: a writer starts to send the goodbye and end the session.
    await ana.send("/quit")
    assert await ana.line() == "*** Bye!"
    assert await ana.expect_eof() == []
    assert len(started) == 1
    for peer in (ana, bob):
        await peer.stream.aclose()


async def test_sessions_cancelled_together_log_no_error(caplog: pytest.LogCaptureFixture) -> None:
    # All sessions cancelled at once (a second Ctrl+C, or a test's teardown):
    # as each ends, the others' departure notices reach outboxes whose
    # sessions are ending too. Without a flusher every message starts a
    # writer, and one must never be started in a nursery already closed
    # (a RuntimeError in whichever session sent the notice).
    server = text_server(Hub(name_key))  # hub.run() not started: no flusher
    for _ in range(5):
        async with trio.open_nursery() as nursery:
            peers = []
            for i in range(20):
                client, server_side = trio.testing.memory_stream_pair()
                nursery.start_soon(server.handle, server_side, f"p{i}")
                await client.send_all(f"user{i}\n".encode())
                peers.append(client)
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
        for client in peers:
            await client.aclose()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_the_server_watches_the_connections_it_accepts_for_vanished_peers(
    tcp_server: tuple[App, trio.SocketListener], accepted: list[trio.SocketStream]
) -> None:
    # Keepalive probes an idle connection; TCP_USER_TIMEOUT bounds unacknowledged
    # sends: a laptop that vanished is dropped within about two minutes.
    _, listener = tcp_server
    ana = await connect(listener)
    await ana.register("ana")  # the handler has run: it set the options first
    assert isinstance(ana.stream, trio.SocketStream)
    [ours] = accepted
    assert ours.socket.getpeername() == ana.stream.socket.getsockname()
    assert keepalive_options(ours) == SERVER_KEEPALIVE
    assert USER_TIMEOUT_MS == 120_000
    # A socket nobody configured has none of it (the check above means something).
    assert keepalive_options(ana.stream) != SERVER_KEEPALIVE
    await ana.stream.aclose()


async def test_a_peer_streaming_bytes_without_a_newline_does_not_hold_the_loop() -> None:
    # The reader reads the socket directly: a read that makes no line (the rest
    # of one too long, being dropped) must still let the other tasks run.
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while True:
                theirs.send(b"x" * 65536)  # fill the buffer: no newline, ever
        ours.setblocking(False)
        stream = trio.SocketStream(trio.socket.from_stdlib_socket(ours))
        connection = Connection(stream, "streamer", PlainSocket(ours.fileno()))
        lines = LineBuffer()

        def unread() -> int:
            count = array.array("i", [0])
            fcntl.ioctl(ours.fileno(), termios.FIONREAD, count)
            return count[0]

        assert unread() > 20 * RECEIVE_SIZE
        turns_while_unread = 0

        async def other_task() -> None:
            nonlocal turns_while_unread
            while unread() > 0:
                turns_while_unread += 1
                await trio.lowlevel.checkpoint()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(other_task)
            first = await connection.next_message(lines)  # one error: the line too long
            assert first is not None
            assert getattr(first, "reason", "").startswith("line too long")
            theirs.shutdown(socket.SHUT_WR)
            assert await connection.next_message(lines) is None  # the rest dropped, then EOF
        # Another task ran between the reads, not only once the buffer was empty.
        assert turns_while_unread >= 10
