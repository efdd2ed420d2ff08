"""The per-connection machinery: receive, the chat phase, and closing it."""

from __future__ import annotations

import socket
import struct

import trio
import trio.testing

from trio_chat.core.events import Notice, Reason
from trio_chat.core.hub import Hub
from trio_chat.core.members import Member, ScopeLink
from trio_chat.core.names import name_key
from trio_chat.net.connection import Connection
from trio_chat.net.direct import PlainSocket
from trio_chat.text.codec import Line, LineBuffer, encode

from ..conftest import STEP_TIMEOUT, Peer


class Idle:
    """A session whose reader waits until told to stop (or forever); records leaves."""

    def __init__(self, hub: Hub, member: Member) -> None:
        self.hub = hub
        self.member = member
        self.left: list[str] = []
        self.stop = trio.Event()

    async def read(self) -> str:
        await self.stop.wait()
        return "done reading"

    def leave(self, reason: str) -> None:
        self.left.append(reason)


def joined(hub: Hub, name: str = "ana") -> Member:
    return hub.join(name, encode, ScopeLink())


def tcp_pair() -> tuple[socket.socket, socket.socket]:
    """Two ends of a loopback TCP connection (a socketpair cannot be reset)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        theirs = socket.create_connection(listener.getsockname())
        ours, _ = listener.accept()
    ours.setblocking(False)
    return ours, theirs


async def test_receive_tells_a_reset_from_a_clean_end() -> None:
    for reset in (False, True):
        ours, theirs = tcp_pair()
        with ours, theirs:
            stream = trio.SocketStream(trio.socket.from_stdlib_socket(ours))
            for direct in (PlainSocket(ours.fileno()), None):  # direct reads, and the stream's
                connection = Connection(stream, "peer", direct)
                theirs.send(b"hello\n")
                with trio.fail_after(STEP_TIMEOUT):
                    assert await connection.receive() == b"hello\n"
            connection = Connection(stream, "peer", PlainSocket(ours.fileno()))
            if reset:  # linger 0: close() sends an RST instead of a FIN
                theirs.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            theirs.close()
            with trio.fail_after(STEP_TIMEOUT):
                assert await connection.receive() == b""
            assert connection.lost is reset


async def serve(connection: Connection, session: Idle) -> None:
    await connection.serve_member(session.member, session.read, session.leave, "cut short")


def idle(hub: Hub) -> tuple[Connection, Idle, Peer]:
    """A connection in memory, a member of ``hub``, an idle session, the far end."""
    client, server_side = trio.testing.memory_stream_pair()
    return Connection(server_side, "memory"), Idle(hub, joined(hub)), Peer(client)


async def test_close_ends_the_chat_phase_and_keeps_its_reason() -> None:
    hub = Hub(name_key)
    connection, session, peer = idle(hub)
    with trio.fail_after(STEP_TIMEOUT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve, connection, session)
            await trio.testing.wait_all_tasks_blocked()
            hub.deliver(session.member, Notice("last words"))
            await trio.testing.wait_all_tasks_blocked()
            connection.close(Reason.KICKED)
    assert connection.reason is Reason.KICKED
    assert session.left == ["cut short"]  # the member leaves once, whatever ended it
    # What was queued before the close was written.
    assert await peer.line() == "*** last words"


async def test_a_close_asked_before_the_chat_phase_applies_when_it_starts() -> None:
    connection, session, _ = idle(Hub(name_key))
    connection.close(Reason.SHUTDOWN)
    with trio.fail_after(STEP_TIMEOUT):
        await serve(connection, session)  # ends at once: the reader never returns
    assert connection.reason is Reason.SHUTDOWN
    assert session.left == ["cut short"]


async def test_a_close_with_a_deadline_lets_the_chat_phase_run_until_then(
    autojump_clock: trio.testing.MockClock,
) -> None:
    connection, session, _ = idle(Hub(name_key))
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, connection, session)
        await trio.testing.wait_all_tasks_blocked()
        connection.close(Reason.BANNED, trio.current_time() + 7)
        await trio.sleep(6)
        assert nursery.child_tasks  # still running: the deadline is not there yet
    assert trio.current_time() - start == 7


async def test_the_reader_returning_leaves_and_ends_the_phase() -> None:
    connection, session, _ = idle(Hub(name_key))
    session.stop.set()
    with trio.fail_after(STEP_TIMEOUT):
        await serve(connection, session)
    assert session.left == ["done reading"]
    connection.close(Reason.LOST)  # after the phase: nothing to end, no error


async def test_an_idle_connection_holds_no_list_of_pending_messages() -> None:
    # Thousands of idle connections (issue #14): once the lines received are
    # handed out, the connection keeps no list of its own for the next ones.
    client, server_side = trio.testing.memory_stream_pair()
    connection = Connection(server_side, "memory")
    lines = LineBuffer()
    with trio.fail_after(STEP_TIMEOUT):
        await client.send_all(b"one\ntwo\n")
        assert await connection.next_message(lines) == Line("one")
        assert await connection.next_message(lines) == Line("two")
        other = Connection(trio.testing.memory_stream_pair()[1], "other")
        assert connection._pending is other._pending  # one shared, empty list
        assert connection._pending == []
        await client.send_all(b"three\n")
        assert await connection.next_message(lines) == Line("three")
