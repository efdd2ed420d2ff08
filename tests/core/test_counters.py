"""The core's counters: what the hub, the service and the admission count as they work."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import pytest
import trio
import trio.testing

from trio_chat.core.admission import Admission
from trio_chat.core.counters import Counters, Histogram, counts_refusals
from trio_chat.core.events import Reason, ServerEvent
from trio_chat.core.hub import LOBBY, Hub
from trio_chat.core.limits import Limits
from trio_chat.core.members import Member, ScopeLink
from trio_chat.core.names import name_key
from trio_chat.core.outbox import Outbox
from trio_chat.core.refusals import (
    Muted,
    NameTaken,
    NoSuchMember,
    NotInRoom,
    Refused,
    ServerFull,
)
from trio_chat.core.service import ChatService
from trio_chat.text.codec import encode


def join(hub: Hub, name: str, outbox: Outbox | None = None) -> Member:
    member = hub.join(name, encode, ScopeLink(), address=f"test:{name}", outbox=outbox or Outbox())
    hub.enter(member, LOBBY)
    return member


def drain(*members: Member) -> None:
    for member in members:
        with contextlib.suppress(trio.EndOfChannel):
            while member.outbox.next_batch():
                pass


async def test_what_is_said_is_counted_by_kind_and_each_recipient_is_one_delivery() -> None:
    hub = Hub(name_key)
    ana, bob, carl = join(hub, "ana"), join(hub, "bob"), join(hub, "carl")
    drain(ana, bob, carl)
    before = hub.counters.deliveries
    hub.say(ana, LOBBY, "hello")  # bob and carl
    assert hub.counters.deliveries - before == 2
    hub.act(ana, LOBBY, "waves")
    hub.private(ana, "bob", "psst")
    hub.set_topic(ana, LOBBY, "chat")
    hub.say(bob, LOBBY, "hi")
    assert hub.counters.messages == {"message": 2, "action": 1, "private": 1, "topic": 1}
    # hello 2, waves 2, psst 1, the topic 3 (ana too), hi 2
    assert hub.counters.deliveries - before == 10


async def test_a_member_too_slow_to_take_an_event_is_no_delivery_and_one_eviction() -> None:
    hub = Hub(name_key)
    ana = join(hub, "ana")
    deaf = join(hub, "deaf", Outbox(max_messages=1))
    before = hub.counters.deliveries
    hub.say(ana, LOBBY, "one")  # fills deaf's outbox
    hub.say(ana, LOBBY, "two")  # does not fit: deaf is evicted
    # "one" to deaf, and "deaf left" to ana; not "two".
    assert hub.counters.deliveries - before == 2
    assert hub.counters.departures[Reason.TOO_SLOW] == 1
    assert not hub.is_member(deaf)


async def test_a_member_whose_encoder_fails_or_who_is_leaving_is_no_delivery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(event: ServerEvent) -> bytes:
        raise RuntimeError("a frontend's bug")

    hub = Hub(name_key)
    ana, bob, leaving = join(hub, "ana"), join(hub, "bob"), join(hub, "leaving")
    buggy = hub.join("buggy", broken, ScopeLink(), outbox=Outbox())
    hub.enter(buggy, LOBBY)
    other_buggy = hub.join("other", broken, ScopeLink(), outbox=Outbox())
    hub.enter(other_buggy, LOBBY)
    leaving.outbox.close()  # its writer is sending what is left
    drain(ana, bob)
    before = hub.counters.deliveries
    hub.say(ana, LOBBY, "hello")
    assert hub.counters.deliveries - before == 1  # bob only
    assert "encoding Message for buggy failed" in caplog.text


async def test_departures_are_counted_once_by_reason() -> None:
    hub = Hub(name_key)
    ana, bob = join(hub, "ana"), join(hub, "bob")
    hub.leave(ana, Reason.QUIT)
    hub.leave(ana, Reason.QUIT)  # idempotent: not counted twice
    hub.evict(bob, Reason.LOST)
    departed = {reason: n for reason, n in hub.counters.departures.items() if n}
    assert departed == {Reason.QUIT: 1, Reason.LOST: 1}


async def test_the_services_refusals_are_counted_once_by_class() -> None:
    service = ChatService(Hub(name_key))
    ana = service.connect("test:ana")
    await service.take_name(ana, "ana", encode, ScopeLink(), outbox=Outbox())
    bob = service.connect("test:bob")
    with pytest.raises(NameTaken):
        # take_name calls other public methods on the way: counted once all the same.
        await service.take_name(bob, "ANA", encode, ScopeLink(), outbox=Outbox())
    with pytest.raises(NotInRoom):
        service.say(ana, "#nowhere", "hello?")
    with pytest.raises(NotInRoom):
        service.say(ana, "#nowhere", "anyone?")
    with pytest.raises(NoSuchMember):
        service.private(ana, "nobody", "psst")
    assert service.hub.counters.refusals == {NameTaken: 1, NotInRoom: 2, NoSuchMember: 1}


async def test_a_refusal_passing_through_two_counting_methods_counts_once() -> None:
    @counts_refusals
    class Door:
        def __init__(self) -> None:
            self.hub = Hub(name_key)

        def outer(self) -> None:
            self.inner()

        def inner(self) -> None:
            raise Muted

        async def later(self) -> None:
            await trio.lowlevel.checkpoint()
            raise Muted

    door = Door()
    with pytest.raises(Muted):
        door.outer()
    with pytest.raises(Muted):
        await door.later()
    assert door.hub.counters.refusals == {Muted: 2}


async def test_lines_held_back_by_the_flood_limit_are_counted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limits = Limits(flood_rate=1, flood_burst=2, flood_patience=5, exempt=())
    service = ChatService(Hub(name_key), limits=limits)
    client = service.connect("test:ana", "10.0.0.1")
    for _ in range(2):  # the burst: not held back
        await service.pace(client)
    assert service.hub.counters.paced == 0
    await service.pace(client)
    await service.pace(client)
    assert service.hub.counters.paced == 2


async def test_the_admission_counts_connections_by_frontend_and_its_refusals() -> None:
    counters = Counters()
    admission = Admission(max_clients=2, counters=counters)
    assert admission.admit("a", None, kind="text") is None
    assert admission.admit("b", None, kind="web") is None
    refusal = admission.admit("c", None, kind="irc")
    assert isinstance(refusal, ServerFull)
    assert counters.connections == {"text": 1, "web": 1}
    assert counters.refusals == {ServerFull: 1}
    admission.release(None, kind="text")
    assert counters.connections == {"text": 0, "web": 1}
    assert counters.accepted == {"text": 1, "web": 1}


async def test_a_histogram_counts_each_observation_in_its_bucket() -> None:
    times = Histogram((0.001, 0.01, 0.1))
    for value in (0.0005, 0.001, 0.002, 0.05, 3.0):
        times.observe(value)
    # At most 0.001 (the bound included): 2; at most 0.01: 3; 0.1: 4; all: 5.
    assert times.cumulative() == [(0.001, 2), (0.01, 3), (0.1, 4), (float("inf"), 5)]
    assert times.count == 5
    assert times.sum == pytest.approx(3.0535)


def test_refusals_are_plain_exceptions_the_counter_can_mark() -> None:
    # Counters.refused marks a refusal it counted in its __dict__: every
    # refusal class must keep one (no __slots__).
    counters = Counters()
    refusal: Refused = NameTaken("ana")
    counters.refused(refusal)
    counters.refused(refusal)
    assert counters.refusals == {NameTaken: 1}


def test_the_core_imports_no_metrics_library() -> None:
    # The core counts with plain ints; only trio_chat/metrics.py knows Prometheus.
    core = Path(__file__).parents[2] / "trio_chat" / "core"
    modules = ", ".join(f"trio_chat.core.{path.stem}" for path in sorted(core.glob("[a-z]*.py")))
    code = f"import {modules}, sys; assert 'prometheus_client' not in sys.modules, 'imported'"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


async def test_waiting_for_a_release_ends_when_a_connection_closes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    admission = Admission()
    assert admission.admit("a:1", None, kind="web") is None
    assert admission.admit("b:1", None, kind="text") is None
    woke: list[int] = []

    async def wait() -> None:
        await admission.released()
        woke.append(admission.connections)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait)
        await trio.sleep(60)  # nothing released: nobody wakes
        assert woke == []
        admission.release(None, kind="text")
    assert woke == [1]
