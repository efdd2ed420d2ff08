"""Faults over real loopback TCP: clients that break the rules must not hurt the others.

Each test runs the real app, registers well-behaved members, lets one
client misbehave (reset mid-burst, half-close, never read, storm the accept
loop, stop mid-line, send binary garbage) while the others chat, and checks
what they see: nothing lost, nothing out of order, and the server still
answers. It also checks the log: one line for the fault, and no traceback.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import re
import socket
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from trio_chat.app import App
from trio_chat.core.admission import MAX_REFUSING
from trio_chat.core.hub import Hub
from trio_chat.core.names import name_key
from trio_chat.core.outbox import FLUSH_INTERVAL
from trio_chat.text.codec import MAX_LINE_BYTES
from trio_chat.text.session import NAME_TIMEOUT

from ..conftest import STEP_TIMEOUT, Peer, assert_well_formed, run_app, text_server


@pytest.fixture(autouse=True)
def server_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="trio_chat")
    return caplog


class Lab:
    """A real server on a free loopback port, and the clients connected to it."""

    def __init__(self, server: App, listener: trio.SocketListener) -> None:
        self.server = server
        self.listener = listener
        self.streams: list[trio.abc.Stream] = []

    async def connect(self) -> Peer:
        stream = await trio.testing.open_stream_to_socket_listener(self.listener)
        self.streams.append(stream)
        return Peer(stream)

    async def members(self, *names: str) -> list[Peer]:
        """Register ``names`` in order; return them once each has heard of the last one."""
        peers = []
        for name in names:
            peer = await self.connect()
            await peer.register(name)
            peers.append(peer)
        for peer in peers[:-1]:
            await peer.until(f"*** {names[-1]} joined")
        return peers


@asynccontextmanager
async def serving(
    *,
    max_clients: int = 50,
    name_timeout: float = NAME_TIMEOUT,
    flush_interval: float = FLUSH_INTERVAL,
) -> AsyncIterator[Lab]:
    """Serve until the block ends, then close every client.

    ``flush_interval=0``: the hub never waits between flushes, so members
    chat even while virtual time stands still (frozen_clock).
    """
    hub = Hub(name_key, flush_interval=flush_interval)
    server = text_server(hub, max_clients=max_clients, name_timeout=name_timeout)
    async with run_app(server) as (app, listener):
        lab = Lab(app, listener)
        try:
            yield lab
        finally:
            for stream in lab.streams:
                await trio.aclose_forcefully(stream)


def socket_of(peer: Peer) -> trio.socket.SocketType:
    stream = peer.stream
    assert isinstance(stream, trio.SocketStream)
    return stream.socket


def address_of(peer: Peer) -> str:
    """The peer's address as the server logs it."""
    host, port = socket_of(peer).getsockname()[:2]
    return f"{host}:{port}"


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds, for at most STEP_TIMEOUT seconds.

    For what no event announces (a counter, the process's open files).
    """
    with trio.fail_after(STEP_TIMEOUT):
        while not condition():  # noqa: ASYNC110 - no event to wait on
            await trio.sleep(0.005)


def logged(caplog: pytest.LogCaptureFixture, *needles: str) -> list[str]:
    """The server's log lines that mention any of ``needles``; no traceback anywhere."""
    records = caplog.records
    assert not [r for r in records if r.exc_info or r.levelno >= logging.ERROR], caplog.text
    lines = [r.getMessage() for r in records if any(n in r.getMessage() for n in needles)]
    assert all("\n" not in line for line in lines)
    return lines


async def still_served(speaker: Peer, hearer: Peer, names: str) -> None:
    """The server still relays chat (``speaker`` is the first of ``names``) and answers."""
    await speaker.send("are you there?")
    await hearer.until(f"{names.split(', ')[0]}: are you there?")
    await hearer.send("/who")
    assert await hearer.line() == f"*** In #lobby ({len(names.split(', '))}): {names}"


async def until_all(peer: Peer, *wanted: str) -> list[str]:
    """Lines up to the one where every line in ``wanted`` has been seen."""
    seen: list[str] = []
    while not set(wanted) <= set(seen):
        seen.append(await peer.line())
    return seen


class Collector:
    """Reads a member's lines in the background, as a live client does."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.lines: list[str] = []

    async def read_until(self, last: str) -> None:
        while True:
            line = await self.peer.line()
            self.lines.append(line)
            if line == last:
                return

    def said_by(self, name: str) -> list[str]:
        return [line for line in self.lines if line.startswith(f"{name}: ")]


# --- the tests ------------------------------------------------------------------------


async def test_a_client_reset_in_the_middle_of_a_burst_disturbs_nobody(
    server_logs: pytest.LogCaptureFixture,
) -> None:
    async with serving() as lab:
        ana, bob, rst = await lab.members("ana", "bob", "rst")
        address = address_of(rst)
        server_logs.clear()
        burst = [f"burst {i:04} " + "b" * 500 for i in range(2000)]
        left = "*** rst left (connection lost)"

        async def burst_then_reset() -> None:
            with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
                await rst.send("".join(line + "\n" for line in burst) + "half a li")

        async with trio.open_nursery() as nursery:
            ana_hears = Collector(ana)
            nursery.start_soon(ana_hears.read_until, left)
            nursery.start_soon(burst_then_reset)
            lines = await bob.until("rst: burst 0100")
            await ana.send("while rst bursts")
            # SO_LINGER 0 turns close() into a TCP reset, with data still in flight.
            rst_socket = socket_of(rst)
            rst_socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            await rst.stream.aclose()
            await ana.send("after the reset")
            lines += await until_all(bob, left, "ana: after the reset")
        assert_well_formed(lines)
        # Whatever of the burst got through came whole and in order; the
        # unterminated line did not come at all.
        from_rst = [line.removeprefix("rst: ") for line in lines if line.startswith("rst: ")]
        assert from_rst == burst[: len(from_rst)]
        assert [line for line in lines if line.startswith("ana: ")] == [
            "ana: while rst bursts",
            "ana: after the reset",
        ]
        assert ana_hears.said_by("rst") == [line for line in lines if line.startswith("rst: ")]
        await still_served(ana, bob, "ana, bob")
        # Found by the reader ("left") or by a write ("dropping"): one line either way.
        assert logged(server_logs, "rst", address) in (
            [f"rst ({address}) left: connection lost"],
            [f"dropping rst ({address}): connection lost"],
        )
        assert lab.server.admission.connections == 2


async def test_a_half_closed_client_still_gets_its_answers_and_leaves_cleanly(
    server_logs: pytest.LogCaptureFixture,
) -> None:
    async with serving() as lab:
        ana, bob, half = await lab.members("ana", "bob", "half")
        address = address_of(half)
        server_logs.clear()
        await half.send("/who", "bye for now")
        await ana.send("hello half")
        # shutdown(SHUT_WR): half sends no more, but keeps reading.
        assert isinstance(half.stream, trio.SocketStream)
        await half.stream.send_eof()
        received = await half.expect_eof()
        assert received[0] == "*** In #lobby (3): ana, bob, half"
        assert_well_formed(received)
        assert set(received[1:]) <= {"ana: hello half"}

        left = "*** half left (connection closed)"
        lines = await until_all(bob, "ana: hello half", left)
        assert [line for line in lines if line != "ana: hello half"] == ["half: bye for now", left]
        await half.stream.aclose()
        await still_served(ana, bob, "ana, bob")
        assert logged(server_logs, "half", address) == [f"half ({address}) left: connection closed"]
        await wait_until(lambda: lab.server.admission.connections == 2)


async def test_a_client_that_never_reads_is_dropped_and_the_others_lose_nothing(
    server_logs: pytest.LogCaptureFixture,
) -> None:
    async with serving() as lab:
        ana, bob, carl = await lab.members("ana", "bob", "carl")
        # A raw socket with a small receive window that never reads a byte.
        with trio.socket.socket() as deaf:
            deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            await deaf.connect(lab.listener.socket.getsockname())
            await deaf.send(b"deaf\n")
            for peer in (ana, bob, carl):
                await peer.until("*** deaf joined")
            server_logs.clear()

            collectors = [Collector(bob), Collector(carl)]
            sent: list[str] = []
            async with trio.open_nursery() as nursery:
                for collector in collectors:
                    nursery.start_soon(collector.read_until, "ana: the end")
                # Flood the room until the deaf client's queue (1 MiB) overflows;
                # 20 MiB is far more than that plus every kernel buffer.
                for i in range(20_000):
                    sent.append(f"{i:05} " + "x" * 1000)
                    await ana.send(sent[-1])
                    if "deaf" not in lab.server.hub.names():
                        break
                assert "deaf" not in lab.server.hub.names()
                sent += [f"after {i}" for i in range(10)] + ["the end"]
                await ana.send(*sent[-11:])

            for collector in collectors:
                assert collector.said_by("ana") == [f"ana: {text}" for text in sent]
                assert "*** deaf left (too slow)" in collector.lines
                assert_well_formed(collector.lines)
            assert await ana.line() == "*** deaf left (too slow)"
            await still_served(ana, bob, "ana, bob, carl")
            await wait_until(lambda: lab.server.admission.connections == 3)
            assert logged(server_logs, "deaf") == [
                f"dropping deaf (127.0.0.1:{deaf.getsockname()[1]}): too slow"
            ]


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_a_connection_storm_beyond_max_clients_is_refused_and_the_chat_goes_on(
    server_logs: pytest.LogCaptureFixture, frozen_clock: trio.testing.MockClock
) -> None:
    # All at once, and none closes before every one has its answer: the first
    # MAX_REFUSING are told why, the others closed at once (test_limits). Time
    # stands still during the storm, so no refusal's linger ends and frees a
    # place early, however slow the machine: the count is exact.
    storm = MAX_REFUSING + 8
    async with serving(max_clients=4, flush_interval=0) as lab:
        ana, bob, carl, dan = await lab.members("ana", "bob", "carl", "dan")
        server_logs.clear()
        files = open_files()
        refused: list[list[str]] = []
        answered = trio.Event()

        async def intruder() -> None:
            peer = await lab.connect()
            refused.append(await peer.expect_eof())
            if len(refused) == storm:
                answered.set()
            await answered.wait()
            await peer.stream.aclose()

        async with trio.open_nursery() as nursery:
            for _ in range(storm):
                nursery.start_soon(intruder)
            # The registered members chat through the storm.
            for i in range(20):
                await ana.send(f"during the storm {i}")
            for peer in (bob, carl, dan):
                assert [await peer.line() for _ in range(20)] == [
                    f"ana: during the storm {i}" for i in range(20)
                ]
        assert sorted(refused) == [[]] * (storm - MAX_REFUSING) + [["! server full"]] * MAX_REFUSING
        assert lab.server.admission.connections == 4
        frozen_clock.rate, frozen_clock.autojump_threshold = 1, math.inf  # real time again
        # Every refused connection is closed on the server's side too.
        await wait_until(lambda: open_files() <= files)
        # One line for the storm (not one per refusal), and nothing else.
        lines = logged(server_logs, "")
        assert len(lines) == 1
        assert re.fullmatch(r"refused 127\.0\.0\.1:\d+: server full \(4\)", lines[0])
        # The storm's refusals are over: the next one is told why again.
        newcomer = await lab.connect()
        assert await newcomer.expect_eof() == ["! server full"]

        # A slot freed by a leaver is free again.
        await dan.send("/quit")
        assert await dan.expect_eof() == ["*** Bye!"]
        await wait_until(lambda: lab.server.admission.connections == 3)
        (eve,) = await lab.members("eve")
        await ana.until("*** eve joined")
        await still_served(ana, eve, "ana, bob, carl, eve")


async def test_a_partial_line_then_silence_holds_nobody_up(
    server_logs: pytest.LogCaptureFixture,
) -> None:
    async with serving() as lab:
        ana, bob, quiet = await lab.members("ana", "bob", "quiet")
        address = address_of(quiet)
        server_logs.clear()
        await quiet.send_bytes(b"half a li")
        for i in range(10):
            await ana.send(f"ana {i}")
            await bob.send(f"bob {i}")
            assert await bob.line() == f"ana: ana {i}"
            assert await ana.line() == f"bob: bob {i}"
        # The silent one still hears everything, in order.
        heard = [await quiet.line() for _ in range(20)]
        assert heard == [f"{who}: {who} {i}" for i in range(10) for who in ("ana", "bob")]
        assert logged(server_logs, "quiet", address) == []
        # The rest of its line, whenever it comes, completes it.
        await quiet.send_bytes(b"ne\nlast wor")
        assert await bob.line() == "quiet: half a line"
        await quiet.stream.aclose()
        assert await bob.line() == "quiet: last wor"
        assert await bob.line() == "*** quiet left (connection closed)"
        await still_served(ana, bob, "ana, bob")
        assert logged(server_logs, "quiet", address) == [
            f"quiet ({address}) left: connection closed"
        ]
        await wait_until(lambda: lab.server.admission.connections == 2)


async def test_a_partial_name_then_silence_is_closed_after_the_name_timeout(
    server_logs: pytest.LogCaptureFixture,
) -> None:
    async with serving(name_timeout=1.0) as lab:
        ana, bob = await lab.members("ana", "bob")
        mute = await lab.connect()
        address = address_of(mute)
        server_logs.clear()
        await mute.send_bytes(b"mut")
        await ana.send("still talking")
        assert await bob.line() == "ana: still talking"
        # The server closes it on its own after a second (a real one: real TCP).
        lines = await mute.expect_eof()
        assert lines[0].startswith("*** Hello!")
        assert lines[1:] == ["! no name chosen within 1 s, closing"]
        await mute.stream.aclose()
        await still_served(ana, bob, "ana, bob")
        assert logged(server_logs, address) == [f"{address} chose no name in 1 s: closing"]
        assert lab.server.admission.connections == 2


async def test_binary_garbage_is_refused_line_by_line_and_disturbs_nobody(
    server_logs: pytest.LogCaptureFixture,
) -> None:
    garbage = random.Random(5000).randbytes(200_000) + b"\xff" * (2 * MAX_LINE_BYTES)
    async with serving() as lab:
        ana, bob = await lab.members("ana", "bob")
        # Garbage before a name: refused, and the name that follows still works.
        junk = await lab.connect()
        assert (await junk.line()).startswith("*** Hello!")
        await junk.send_bytes(b"\x00\xff\xfe\r\n\x1b[2J\n")
        assert await junk.line() == "! invalid UTF-8, line dropped"
        assert (await junk.line()).startswith("! invalid character ")
        await junk.send("junk")
        await junk.until("*** Welcome, junk!")
        await ana.until("*** junk joined")
        await bob.until("*** junk joined")
        address = address_of(junk)
        server_logs.clear()

        junk_hears = Collector(junk)
        async with trio.open_nursery() as nursery:
            # junk reads its answers meanwhile, as a live client does.
            nursery.start_soon(junk_hears.read_until, "ana: the end")
            await junk.send_bytes(garbage)
            await ana.send("during the garbage")
            await junk.send("\nstill here")
            heard = await until_all(bob, "ana: during the garbage", "junk: still here")
            await ana.send("the end")
            heard += await bob.until("ana: the end")
        assert [line for line in heard if line.startswith("ana: ")] == [
            "ana: during the garbage",
            "ana: the end",
        ]
        assert_well_formed(heard)
        assert_well_formed(junk_hears.lines)
        errors = [line for line in junk_hears.lines if line.startswith("! ")]
        assert "! invalid UTF-8, line dropped" in errors
        assert f"! line too long (max {MAX_LINE_BYTES} bytes), dropped" in errors
        await junk.stream.aclose()
        assert (await ana.until("*** junk left"))[-1] == "*** junk left (connection closed)"
        await still_served(ana, bob, "ana, bob")
        assert logged(server_logs, "junk", address) == [f"junk ({address}) left: connection closed"]
        await wait_until(lambda: lab.server.admission.connections == 2)
