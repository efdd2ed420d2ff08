"""Flood control and per-address connection limits: the rules, then as users meet them."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator
from functools import partial

import pytest
import trio
import trio.testing

from trio_chat.app import App
from trio_chat.core.accounts import Guard
from trio_chat.core.admission import MAX_REFUSING
from trio_chat.core.hub import Hub
from trio_chat.core.limits import (
    ADDRESSES_REMEMBERED,
    LOOPBACK,
    AddressLimiter,
    FloodGuard,
    Flooding,
    Limits,
    TokenBucket,
    is_exempt,
    parse_networks,
)
from trio_chat.core.names import name_key
from trio_chat.core.refusals import TooManyConnections, TooManyNewConnections
from trio_chat.net.listeners import LINGER_TIMEOUT
from trio_chat.text.server import TextFrontend
from trio_chat.text.session import FLOODING

from ..conftest import Peer, run_app, running_app, text_server

# --- the rules, with time passed in -----------------------------------------------


def test_a_token_bucket_starts_full_and_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=2, burst=3, now=0)
    assert [bucket.take(0) for _ in range(3)] == [0, 0, 0]
    assert bucket.take(0) == pytest.approx(0.5)  # in debt by one token: wait 1/rate
    assert bucket.take(0.5) == pytest.approx(0.5)  # the debt was paid; one more
    assert [bucket.take(10) for _ in range(3)] == [0, 0, 0]  # refilled, never beyond the burst
    assert bucket.take(10) > 0


def test_try_take_never_runs_into_debt() -> None:
    bucket = TokenBucket(rate=1, burst=2, now=0)
    assert bucket.try_take(0)
    assert bucket.try_take(0)
    assert not bucket.try_take(0.5)
    assert bucket.try_take(1.0)


def test_the_flood_guard_delays_lines_over_the_rate_and_warns_once() -> None:
    guard = FloodGuard(rate=2, burst=3, patience=10, now=0)
    assert [guard.check(0) for _ in range(3)] == [(0, False)] * 3
    delay, warn = guard.check(0)
    assert (delay, warn) == (pytest.approx(0.5), True)
    # The reader waited; the next line is still over the rate: delayed, no new warning.
    assert guard.check(0.5) == (pytest.approx(0.5), False)
    # A pause long enough ends the episode: the next one warns again.
    assert [guard.check(5) for _ in range(3)] == [(0, False)] * 3
    assert guard.check(5)[1] is True


def test_sending_over_the_rate_for_longer_than_the_patience_is_a_flood() -> None:
    guard = FloodGuard(rate=2, burst=1, patience=3, now=0)
    now = 0.0
    guard.check(now)

    def keep_sending() -> None:
        nonlocal now
        for _ in range(100):
            delay, _ = guard.check(now)
            now += delay  # the reader waits, then handles the next line at once

    with pytest.raises(Flooding):
        keep_sending()
    assert now == pytest.approx(3.0)


def test_exempt_networks_parse_and_match() -> None:
    assert parse_networks("127.0.0.0/8,::1") == LOOPBACK
    assert parse_networks("none") == ()
    assert parse_networks("192.168.1.7, 10.0.0.0/8") == (
        ipaddress.ip_network("192.168.1.7/32"),
        ipaddress.ip_network("10.0.0.0/8"),
    )
    with pytest.raises(ValueError, match=r"'10\.0\.0\.x'"):
        parse_networks("10.0.0.x")
    assert is_exempt("127.0.0.1", LOOPBACK)
    assert is_exempt("::1", LOOPBACK)
    assert is_exempt("::ffff:127.0.0.5", LOOPBACK)  # IPv4 on a dual-stack socket
    assert not is_exempt("192.168.1.20", LOOPBACK)
    assert not is_exempt("127.0.0.1", ())
    assert not is_exempt("", LOOPBACK)  # an unknown peer is not trusted
    assert is_exempt(None, ())  # not over IP at all (in-memory): local


def test_the_address_limiter_counts_open_connections_per_address() -> None:
    limiter = AddressLimiter(Limits(max_per_address=2, connect_rate=100))
    assert limiter.admit("10.0.0.1", 0) is None
    assert limiter.admit("10.0.0.1", 0) is None
    refusal = limiter.admit("10.0.0.1", 0)
    assert refusal == TooManyConnections(2)
    assert limiter.admit("10.0.0.2", 0) is None  # others are not affected
    limiter.release("10.0.0.1")
    assert limiter.admit("10.0.0.1", 0) is None  # a place came free
    assert limiter.admit("10.0.0.1", 0) is not None  # and only one


def test_the_address_limiter_limits_new_connections_a_minute() -> None:
    limiter = AddressLimiter(Limits(max_per_address=100, connect_rate=3))
    for _ in range(3):
        assert limiter.admit("10.0.0.1", 0) is None
        limiter.release("10.0.0.1")
    assert limiter.admit("10.0.0.1", 0) == TooManyNewConnections(3)
    assert limiter.admit("10.0.0.1", 20) is None  # one more every 20 s


def test_addresses_count_per_host_and_mapped_exempt_networks_work() -> None:
    limiter = AddressLimiter(Limits(max_per_address=1))
    assert limiter.admit("2001:db8:1:2::a", 0) is None
    assert limiter.admit("2001:db8:1:2::a", 0) is not None
    # Another host of the same LAN (the same /64) has a budget of its own.
    assert limiter.admit("2001:db8:1:2::b", 0) is None
    assert limiter.admit("::ffff:10.0.0.1", 0) is None
    assert limiter.admit("10.0.0.1", 0) is not None  # the same IPv4 host
    networks = parse_networks("::ffff:10.0.0.0/104")
    assert networks == (ipaddress.ip_network("10.0.0.0/8"),)
    assert is_exempt("10.1.2.3", networks)
    assert is_exempt("::ffff:10.1.2.3", networks)
    with pytest.raises(ValueError, match="no network given"):
        parse_networks(" , ")


def test_a_storm_of_new_addresses_is_remembered_within_a_bound() -> None:
    limiter = AddressLimiter(Limits(connect_rate=1))
    for n in range(ADDRESSES_REMEMBERED + 500):
        address = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        assert limiter.admit(address, 0) is None
        limiter.release(address)
        assert limiter.log_refusal(address, 0) == 0
    assert limiter.remembered() == ADDRESSES_REMEMBERED
    # The most recent are remembered: 10.0.0.1 was forgotten, the last one is not.
    assert limiter.admit("10.0.0.1", 0) is None
    last = ADDRESSES_REMEMBERED + 499
    assert limiter.admit(f"10.0.{last >> 8 & 255}.{last & 255}", 0) is not None


def test_refusals_are_logged_once_per_address_per_interval_with_a_count() -> None:
    limiter = AddressLimiter(Limits())
    assert limiter.log_refusal("10.0.0.1", 0) == 0
    assert limiter.log_refusal("10.0.0.1", 1) is None
    assert limiter.log_refusal("10.0.0.1", 2) is None
    assert limiter.log_refusal("10.0.0.2", 2) == 0
    assert limiter.log_refusal("10.0.0.1", 10.5) == 2


# --- as users meet them (in memory, virtual time) --------------------------------------


class Connector:
    """Connections to ``server`` from a given IP address, over memory streams."""

    def __init__(self, server: TextFrontend, nursery: trio.Nursery) -> None:
        self.server = server
        self.nursery = nursery
        self.count = 0

    async def join(self, name: str, address: str) -> Peer:
        client, server_side = trio.testing.memory_stream_pair()
        self.count += 1
        peer = f"{address}:{self.count}"
        self.nursery.start_soon(partial(self.server.handle, server_side, peer, address=address))
        me = Peer(client)
        await me.register(name)
        return me


OPER_SECRET = "oper-Secret-42"


@pytest.fixture
async def limited() -> AsyncIterator[Connector]:
    limits = Limits(flood_rate=2, flood_burst=3, flood_patience=10)
    server = text_server(Hub(name_key), limits=limits, guard=Guard(oper_password=OPER_SECRET))
    async with trio.open_nursery() as nursery:
        yield Connector(server, nursery)
        nursery.cancel_scope.cancel()


async def test_lines_over_the_rate_are_delayed_with_one_warning_and_none_lost(
    limited: Connector, autojump_clock: trio.testing.MockClock
) -> None:
    ana = await limited.join("ana", "192.168.1.10")
    bob = await limited.join("bob", "192.168.1.11")
    await ana.until("*** bob joined")
    start = trio.current_time()
    await bob.send(*(f"line {i}" for i in range(9)))
    heard = [await ana.line() for _ in range(9)]
    assert heard == [f"bob: line {i}" for i in range(9)]  # all of them, in order
    # The name line took one of the burst of 3; 2 more at once, then 2 a
    # second: the last of 9 arrives 3.5 s later.
    assert trio.current_time() - start == pytest.approx(3.5)
    assert await bob.line() == "! slow down: over 2 lines a second; lines are delayed"
    await bob.send("/who")
    assert (await bob.line()).startswith("*** In #lobby (2)")  # one warning, not one per line


async def test_sending_over_the_rate_for_too_long_disconnects(
    limited: Connector, autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    ana = await limited.join("ana", "192.168.1.10")
    bob = await limited.join("bob", "192.168.1.11")
    await ana.until("*** bob joined")

    async def flood() -> None:
        try:
            while True:
                await bob.send("spam")
                await trio.sleep(0.1)  # 10 lines a second, 5 times the rate
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    async with trio.open_nursery() as nursery:
        nursery.start_soon(flood)
        lines = await ana.until("*** bob left")
        nursery.cancel_scope.cancel()
    assert lines[-1] == "*** bob left (flooding)"
    spam = lines[:-1]
    # What was left of the burst (2), then 2 a second for the 10 s of patience.
    assert spam == ["bob: spam"] * len(spam)
    assert 2 + 2 * 10 - 1 <= len(spam) <= 2 + 2 * 10 + 1
    assert f"! {FLOODING}" in await bob.expect_eof()
    flood_lines = [r for r in caplog.records if "flooding" in r.getMessage()]
    assert [r.getMessage() for r in flood_lines] == ["bob (192.168.1.11:2) left: flooding"]
    assert flood_lines[0].levelno == logging.WARNING


async def test_a_flood_of_name_attempts_is_paced_too(
    limited: Connector, autojump_clock: trio.testing.MockClock
) -> None:
    client, server_side = trio.testing.memory_stream_pair()
    limited.nursery.start_soon(
        partial(limited.server.handle, server_side, "192.168.1.12:1", address="192.168.1.12")
    )
    peer = Peer(client)
    await peer.line()  # the greeting
    start = trio.current_time()
    await peer.send(*(["bad name!"] * 5))
    answers = [await peer.line() for _ in range(6)]
    # 3 at once (the burst), then 2 a second.
    assert trio.current_time() - start == pytest.approx(1.0)
    assert answers.count("! slow down: over 2 lines a second; lines are delayed") == 1
    bad = "! invalid character ' ' in name: use letters, digits and _-[]\\`^{}|; try another name"
    assert answers.count(bad) == 5


async def test_loopback_is_exempt_by_default(autojump_clock: trio.testing.MockClock) -> None:
    server = text_server(Hub(name_key), limits=Limits(flood_rate=1, flood_burst=1))
    async with trio.open_nursery() as nursery:
        connector = Connector(server, nursery)
        ana = await connector.join("ana", "192.168.1.10")
        local = await connector.join("tool", "127.0.0.1")
        await ana.until("*** tool joined")
        start = trio.current_time()
        await local.send(*(f"m{i}" for i in range(50)))
        assert [await ana.line() for _ in range(50)] == [f"tool: m{i}" for i in range(50)]
        assert trio.current_time() == start  # not one delay
        nursery.cancel_scope.cancel()


async def test_operators_are_exempt_from_flood_control(
    limited: Connector, autojump_clock: trio.testing.MockClock
) -> None:
    ana = await limited.join("ana", "192.168.1.10")
    op = await limited.join("op", "192.168.1.11")
    await ana.until("*** op joined")
    await op.send(f"/oper {OPER_SECRET}")
    await op.until("*** You are an operator now")
    await trio.sleep(60)  # let the /oper line's token come back
    start = trio.current_time()
    await op.send(*(f"notice {i}" for i in range(30)))
    assert [await ana.line() for _ in range(30)] == [f"op: notice {i}" for i in range(30)]
    assert trio.current_time() == start


# --- per-address limits over real TCP ------------------------------------------------


@pytest.fixture
async def strict_tcp() -> AsyncIterator[tuple[App, trio.SocketListener]]:
    # Loopback is exempt by default; these tests need it limited.
    async with running_app(limits=Limits(max_per_address=2, connect_rate=4, exempt=())) as chat:
        yield chat.app, chat.listener


async def test_one_address_may_hold_only_so_many_connections(
    strict_tcp: tuple[App, trio.SocketListener], caplog: pytest.LogCaptureFixture
) -> None:
    server, listener = strict_tcp
    ana = Peer(await trio.testing.open_stream_to_socket_listener(listener))
    await ana.register("ana")
    bob = Peer(await trio.testing.open_stream_to_socket_listener(listener))
    await bob.register("bob")
    third = Peer(await trio.testing.open_stream_to_socket_listener(listener))
    assert await third.expect_eof() == ["! too many connections from your address (at most 2)"]
    # Everyone already in keeps chatting.
    await ana.send("still here")
    assert await bob.line() == "ana: still here"
    await bob.stream.aclose()
    await ana.until("*** bob left")
    carl = Peer(await trio.testing.open_stream_to_socket_listener(listener))
    await carl.register("carl")  # a place came free
    refused = [r for r in caplog.records if "too many connections" in r.getMessage()]
    assert len(refused) == 1
    assert refused[0].levelno == logging.WARNING
    assert server.admission.connections == 2
    for peer in (ana, third, carl):
        await peer.stream.aclose()


async def test_a_connection_storm_is_refused_and_logged_once(
    strict_tcp: tuple[App, trio.SocketListener], caplog: pytest.LogCaptureFixture
) -> None:
    _, listener = strict_tcp
    ana = Peer(await trio.testing.open_stream_to_socket_listener(listener))
    await ana.register("ana")
    first_lines = []
    for _ in range(20):
        peer = Peer(await trio.testing.open_stream_to_socket_listener(listener))
        first_lines.append(await peer.line())
        await peer.stream.aclose()
    # 4 new connections a minute: ana took one, 3 more were greeted, the rest refused.
    refusal = "! too many new connections from your address (at most 4 a minute); try again later"
    assert first_lines == [first_lines[0]] * 3 + [refusal] * 17
    assert first_lines[0].startswith("*** Hello!")
    storm_lines = [r for r in caplog.records if "too many new connections" in r.getMessage()]
    assert len(storm_lines) == 1  # not 16 lines in the log
    await ana.send("/who")
    assert await ana.line() == "*** In #lobby (1): ana"
    await ana.stream.aclose()


async def test_a_storm_of_refusals_cannot_hold_many_sockets_open(
    frozen_clock: trio.testing.MockClock,
) -> None:
    # A refused connection is told why, then lingers up to LINGER_TIMEOUT for
    # the peer to close; past MAX_REFUSING at once, more are closed at once.
    # Time stands still while the storm arrives, so no linger ends early
    # however slow the machine: exactly MAX_REFUSING are told.
    server = text_server(Hub(name_key, flush_interval=0), max_clients=1)
    async with run_app(server) as (_, listener):

        async def connect() -> Peer:
            return Peer(await trio.testing.open_stream_to_socket_listener(listener))

        ana = await connect()
        await ana.register("ana")
        # Nobody in the storm closes its side: each refusal told lingers.
        storm = [await connect() for _ in range(MAX_REFUSING + 8)]
        answers = [await peer.expect_eof() for peer in storm]
        assert sorted(answers) == [[]] * 8 + [["! server full"]] * MAX_REFUSING
        # Until the lingers end, the refusals hold their places: one more is
        # closed without a word.
        frozen_clock.jump(LINGER_TIMEOUT * 0.99)
        late = await connect()
        assert await late.expect_eof() == []
        # Then they end, storm or not, and the next one is told why again.
        frozen_clock.jump(LINGER_TIMEOUT)
        await trio.testing.wait_all_tasks_blocked()
        later = await connect()
        assert await later.expect_eof() == ["! server full"]
        await ana.send("/who")
        assert await ana.line() == "*** In #lobby (1): ana"
        for peer in (ana, *storm, late, later):
            await peer.stream.aclose()
