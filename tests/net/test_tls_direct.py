"""TLS members get the flusher's direct writes, as plain TCP ones do; TLS ends, clean or not.

Real loopback TCP and the real ``ssl`` module: the server's TLSStream against
trio's SSLStream as the client.
"""

from __future__ import annotations

import socket
import ssl
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trio.testing

from trio_chat.app import App
from trio_chat.core.hub import Hub
from trio_chat.core.names import name_key
from trio_chat.net import tls
from trio_chat.net.tlsstream import TLSStream

from ..conftest import STEP_TIMEOUT, Peer, text_server


class Writers(trio.abc.Instrument):
    """Counts the connection writer tasks started while it is installed."""

    def __init__(self) -> None:
        self.started = 0

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        if task.name.endswith("Connection._writer"):
            self.started += 1


@pytest.fixture
def context(files: dict[str, Path]) -> ssl.SSLContext:
    return tls.server_context(str(files["cert"]), str(files["key"]))


@pytest.fixture
async def port(context: ssl.SSLContext) -> AsyncIterator[tuple[Hub, int]]:
    """A TLS text server whose outboxes hold 256 KiB (a deaf reader is soon too slow)."""
    hub = Hub(name_key, outbox_bytes=256 * 1024)
    server = text_server(hub, max_clients=20, ssl_context=context)
    app = App(server.service, server.admission, [server])
    async with trio.open_nursery() as nursery:
        listeners: list[trio.SocketListener] = await nursery.start(app.run)
        yield hub, listeners[0].socket.getsockname()[1]
        nursery.cancel_scope.cancel()


async def member(port: int, trusting: ssl.SSLContext, name: str, rcvbuf: int = 0) -> Peer:
    """A TLS client that joined as ``name`` (``rcvbuf``: a small receive window)."""
    sock = trio.socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    await sock.connect(("127.0.0.1", port))
    stream = trio.SSLStream(trio.SocketStream(sock), trusting, server_hostname="127.0.0.1")
    peer = Peer(stream)
    await peer.register(name)
    return peer


def transport(peer: Peer) -> trio.SocketStream:
    assert isinstance(peer.stream, trio.SSLStream)
    tcp = peer.stream.transport_stream
    assert isinstance(tcp, trio.SocketStream)
    return tcp


async def test_a_tls_members_deliveries_take_the_direct_path(
    port: tuple[Hub, int], trusting: ssl.SSLContext
) -> None:
    _, number = port
    ana = await member(number, trusting, "ana")
    bob = await member(number, trusting, "bob")
    assert await ana.line() == "*** bob joined"
    writers = Writers()
    trio.lowlevel.add_instrument(writers)
    try:
        for i in range(50):
            await bob.send(f"hello {i}")
        for i in range(50):
            assert await ana.line() == f"bob: hello {i}"
        await ana.send("hi bob")
        assert await bob.line() == "ana: hi bob"
    finally:
        trio.lowlevel.remove_instrument(writers)
    # The kernel had room for every line: the flusher encrypted and wrote them
    # itself, with no writer task for either member.
    assert writers.started == 0
    for peer in (ana, bob):
        await peer.stream.aclose()


async def test_a_tls_member_that_stops_reading_is_dropped_and_the_others_lose_nothing(
    port: tuple[Hub, int], trusting: ssl.SSLContext, accepted: list[trio.SocketStream]
) -> None:
    hub, number = port
    ana = await member(number, trusting, "ana")
    bob = await member(number, trusting, "bob")
    deaf = await member(number, trusting, "deaf", rcvbuf=4096)
    # The server's side of deaf's connection: a small send buffer, soon full.
    accepted[2].socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    for peer in (ana, bob):
        await peer.until("*** deaf joined")
    writers = Writers()
    trio.lowlevel.add_instrument(writers)
    heard: list[str] = []
    sent: list[str] = []

    async def listen() -> None:
        while (line := await ana.line()) != "bob: the end":
            heard.append(line)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(listen)
            for i in range(2000):  # 2 MB: far more than deaf's queue and buffers
                sent.append(f"{i:04} " + "x" * 1000)
                await bob.send(sent[-1])
                if "deaf" not in hub.names():
                    break
            assert "deaf" not in hub.names()
            await bob.send("the end")
    finally:
        trio.lowlevel.remove_instrument(writers)
    assert [line for line in heard if line.startswith("bob: ")] == [f"bob: {s}" for s in sent]
    assert "*** deaf left (too slow)" in heard
    # Deaf's TLS records waited for room in a writer task (partial writes).
    assert writers.started > 0
    for peer in (ana, bob, deaf):
        await trio.aclose_forcefully(peer.stream)


async def test_tls_ends_with_close_notify_without_it_and_by_a_reset(
    port: tuple[Hub, int], trusting: ssl.SSLContext
) -> None:
    _, number = port
    ana = await member(number, trusting, "ana")
    watchers = {name: await member(number, trusting, name) for name in ("bob", "carl", "dan")}
    for name in ("carl", "dan"):
        await ana.until(f"*** {name} joined")
    await watchers["bob"].stream.aclose()  # close_notify, then FIN
    assert await ana.line() == "*** bob left (connection closed)"
    await transport(watchers["carl"]).aclose()  # FIN without close_notify
    assert await ana.line() == "*** carl left (connection lost)"
    linger = struct.pack("ii", 1, 0)  # close() sends a reset
    transport(watchers["dan"]).socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    await transport(watchers["dan"]).aclose()
    assert await ana.line() == "*** dan left (connection lost)"
    # The server's own end: close_notify after the last line (else this raises).
    await ana.send("/quit")
    assert await ana.expect_eof() == ["*** Bye!"]
    await ana.stream.aclose()


async def test_a_handshake_left_halfway_ends_at_the_name_timeout(
    context: ssl.SSLContext, trusting: ssl.SSLContext
) -> None:
    server = text_server(Hub(name_key), ssl_context=context, name_timeout=0.5)
    app = App(server.service, server.admission, [server])
    async with trio.open_nursery() as nursery:
        [listener] = await nursery.start(app.run)
        number = listener.socket.getsockname()[1]
        # A ClientHello, then nothing: the server answers and waits for the rest.
        outgoing = ssl.MemoryBIO()
        hello = trusting.wrap_bio(ssl.MemoryBIO(), outgoing, server_hostname="127.0.0.1")
        with pytest.raises(ssl.SSLWantReadError):
            hello.do_handshake()
        async with await trio.open_tcp_stream("127.0.0.1", number) as stalled:
            await stalled.send_all(outgoing.read())
            with trio.fail_after(STEP_TIMEOUT):
                while await stalled.receive_some(65536):  # its flight, then the end
                    pass
        assert server.admission.connections == 0
        ana = await member(number, trusting, "ana")
        await ana.stream.aclose()
        nursery.cancel_scope.cancel()


# --- the stream itself ---------------------------------------------------------------


def tcp_pair(sndbuf: int = 0) -> tuple[trio.SocketStream, trio.SocketStream]:
    """Two ends of a loopback TCP connection; small buffers (``sndbuf``) both ways."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        theirs = socket.socket()
        if sndbuf:  # before connecting: a window once offered cannot shrink
            theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, sndbuf)
        theirs.connect(listener.getsockname())
        ours, _ = listener.accept()
    if sndbuf:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    ends = [trio.SocketStream(trio.socket.from_stdlib_socket(s)) for s in (ours, theirs)]
    return ends[0], ends[1]


async def handshaken(
    context: ssl.SSLContext, trusting: ssl.SSLContext, *, https: bool = False, sndbuf: int = 0
) -> tuple[TLSStream, trio.SSLStream[trio.SocketStream]]:
    ours, theirs = tcp_pair(sndbuf)
    server = TLSStream(ours, context, https_compatible=https)
    client = trio.SSLStream(theirs, trusting, server_hostname="127.0.0.1")
    with trio.fail_after(STEP_TIMEOUT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.do_handshake)
            await server.send_all(b"hello\n")
        assert await client.receive_some() == b"hello\n"
    assert server.ready
    return server, client


async def read_now(server: TLSStream) -> bytes:
    """What read_now gives once there is something (it never blocks)."""
    with trio.fail_after(STEP_TIMEOUT):
        while (data := server.read_now()) is None:
            await trio.lowlevel.wait_readable(server.fileno)
    return data


async def test_what_the_kernel_does_not_take_is_owed_then_sent_in_order(
    context: ssl.SSLContext, trusting: ssl.SSLContext
) -> None:
    server, client = await handshaken(context, trusting, sndbuf=4096)
    data = bytes(range(256)) * 4096  # 1 MiB: far more than the socket's buffers
    assert server.write_now(data) == len(data)  # all taken: encrypted, partly written
    assert server.owed
    received = bytearray()

    async def read() -> None:
        while len(received) < len(data):
            received.extend(await client.receive_some(65536))

    with trio.fail_after(STEP_TIMEOUT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            while server.owed:
                await trio.lowlevel.wait_writable(server.fileno)
                server.flush_now()
    assert received == data
    await client.send_all(b"and back\n")
    assert await read_now(server) == b"and back\n"
    await server.aclose()
    await client.aclose()


async def test_read_now_ends_at_close_notify_and_fails_at_a_cut(
    context: ssl.SSLContext, trusting: ssl.SSLContext
) -> None:
    server, client = await handshaken(context, trusting)
    assert server.read_now() is None  # nothing sent: no wait, no data
    await client.aclose()  # close_notify
    assert await read_now(server) == b""
    await server.aclose()
    for https in (False, True):
        server, client = await handshaken(context, trusting, https=https)
        await client.transport_stream.aclose()  # no close_notify
        if https:  # as browsers end it: an end like any other
            assert await read_now(server) == b""
        else:
            with pytest.raises(ssl.SSLEOFError):
                await read_now(server)
        await server.aclose()


async def test_close_gently_sends_close_notify_and_waits_for_the_peers(
    context: ssl.SSLContext, trusting: ssl.SSLContext
) -> None:
    server, client = await handshaken(context, trusting)
    with trio.fail_after(STEP_TIMEOUT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server.close_gently)
            # The client sees a clean end (SSLStream raises on a missing close_notify)...
            assert await client.receive_some() == b""
            await client.aclose()  # ...and answers with its own: close_gently returns
    await server.aclose()


async def test_a_tls_1_2_client_gets_the_last_flight_and_chats(
    context: ssl.SSLContext, files: dict[str, Path]
) -> None:
    older = tls.client_context(str(files["ca"]))
    older.maximum_version = ssl.TLSVersion.TLSv1_2
    server, client = await handshaken(context, older)  # would hang without our Finished
    assert client.version() == "TLSv1.2"
    assert server.write_now(b"hi\n") == 3
    assert await client.receive_some() == b"hi\n"
    await client.send_all(b"hello\n")
    assert await read_now(server) == b"hello\n"
    await server.aclose()
    await client.aclose()
