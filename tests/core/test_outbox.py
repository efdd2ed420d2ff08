"""Outboxes judge a member by whether it reads, never by what others sent at once (#16)."""

from __future__ import annotations

import contextlib

import pytest
import trio
import trio.testing

from trio_chat.core import outbox as outbox_module
from trio_chat.core.events import Notice, Reason
from trio_chat.core.hub import LOBBY, Hub
from trio_chat.core.members import Member, ScopeLink
from trio_chat.core.names import name_key
from trio_chat.core.outbox import Outbox, OutboxFull
from trio_chat.text.codec import encode

LINE = 4000  # bytes said by each sender of a burst


def join(hub: Hub, name: str) -> Member:
    member = hub.join(name, encode, ScopeLink(), address=f"test:{name}", outbox=Outbox())
    hub.enter(member, LOBBY)
    return member


def drain(member: Member) -> bytes:
    """What a fast reader's writer takes, all of it."""
    chunks: list[bytes] = []
    with contextlib.suppress(trio.EndOfChannel):
        while data := member.outbox.next_batch():
            chunks.append(data)
    return b"".join(chunks)


def crowd(hub: Hub, count: int) -> list[Member]:
    members = [join(hub, f"s{i}") for i in range(count)]
    for member in members:
        drain(member)
    return members


async def test_a_burst_of_300_long_lines_at_once_evicts_no_healthy_reader() -> None:
    # 300 senders, one 4000-byte line each, all before any writer runs: 1.2 MB
    # in every outbox, over the old 1 MiB bound that dropped everyone.
    hub = Hub(name_key)
    readers = [join(hub, name) for name in ("ana", "bob")]
    senders = crowd(hub, 300)
    for reader in readers:
        drain(reader)
    for sender in senders:
        hub.say(sender, LOBBY, "x" * LINE)
    for reader in readers:
        assert hub.is_member(reader)
        assert drain(reader).count(b"\n") == 300
    assert all(hub.is_member(sender) for sender in senders)


async def test_4300_short_lines_at_once_evict_no_healthy_reader() -> None:
    # Over the old bound of 4096 messages. (Each sender says it to ana alone:
    # the same queue as a room's, without 4300 x 4300 deliveries to the others.)
    hub = Hub(name_key)
    ana = join(hub, "ana")
    senders = [hub.join(f"s{i}", encode, ScopeLink(), outbox=Outbox()) for i in range(4300)]
    for sender in senders:
        hub.private(sender, "ana", "y" * 20)
    assert hub.is_member(ana)
    assert drain(ana).count(b": " + b"y" * 20 + b"\n") == 4300


async def test_600_private_messages_of_4kb_at_once_evict_no_healthy_victim() -> None:
    hub = Hub(name_key)
    victim = join(hub, "victim")
    senders = crowd(hub, 600)
    drain(victim)
    for sender in senders:
        hub.private(sender, "victim", "z" * LINE)
    assert hub.is_member(victim)
    assert drain(victim).count(b"[private]") == 600


async def test_a_member_that_stops_reading_is_evicted_after_the_grace_and_told_why(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = Hub(name_key)
    ana, deaf = join(hub, "ana"), join(hub, "deaf")
    drain(ana)
    # Over the soft bound, and nothing taken from it from then on.
    while deaf.outbox.queued_bytes <= outbox_module.OUTBOX_BYTES:
        hub.say(ana, LOBBY, "w" * LINE)
    await trio.sleep(outbox_module.STALL_GRACE - 1)
    hub.say(ana, LOBBY, "still within the grace")
    assert hub.is_member(deaf)
    await trio.sleep(2)
    hub.say(ana, LOBBY, "past the grace")
    assert not hub.is_member(deaf)
    assert isinstance(deaf.link, ScopeLink)
    assert deaf.link.reason is Reason.TOO_SLOW
    assert drain(deaf) == b"! you were disconnected: you are not reading fast enough\n"
    assert drain(ana) == b"*** deaf left (too slow)\n"


async def test_a_slow_reader_making_progress_stays_over_the_soft_bound(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = Hub(name_key)
    ana, slow = join(hub, "ana"), join(hub, "slow")
    drain(ana)
    for _ in range(120):  # two minutes of a queue over the soft bound, read slowly
        while slow.outbox.queued_bytes <= outbox_module.OUTBOX_BYTES + 10 * LINE:
            hub.say(ana, LOBBY, "v" * LINE)
        await trio.sleep(1)
        assert slow.outbox.next_batch(8 * 1024)  # 8 KB a second: slow, but reading
    assert hub.is_member(slow)


async def test_the_hard_bound_holds_whatever_the_progress() -> None:
    outbox = Outbox(max_bytes=3 * LINE, soft_bytes=LINE)
    for _ in range(3):
        outbox.put_nowait(b"u" * LINE)
        outbox.progressed()
    with pytest.raises(OutboxFull):
        outbox.put_nowait(b"u")


async def test_past_the_server_budget_the_biggest_holders_are_dropped_first(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = Hub(name_key, queue_budget=1_000_000)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        # The hub's own outboxes: they count in its budget.
        big, middle, small, last = (
            hub.join(name, encode, ScopeLink()) for name in ("big", "middle", "small", "last")
        )
        for member, kilobytes in ((big, 600), (middle, 300), (small, 50), (last, 100)):
            for _ in range(kilobytes):  # replies for them alone, never read
                hub.deliver(member, Notice("n" * 1000))
        await trio.sleep(1)  # the flusher's next pass
        assert not hub.is_member(big)
        assert all(hub.is_member(member) for member in (middle, small, last))
        assert hub.flusher.own_total < 1_000_000
        nursery.cancel_scope.cancel()


async def test_broadcast_bytes_do_not_count_in_the_server_budget() -> None:
    hub = Hub(name_key, queue_budget=100_000)
    members = [hub.join(f"m{i}", encode, ScopeLink()) for i in range(50)]
    for member in members:
        hub.enter(member, LOBBY)
    for member in members:
        drain(member)
    for _ in range(100):  # 100 KB said to 50 members: shared bytes, not 5 MB
        hub.say(members[0], LOBBY, "b" * 1000)
    assert all(hub.is_member(member) for member in members)


def test_a_writer_takes_a_long_queue_in_batches_in_order() -> None:
    outbox = Outbox()
    lines = [b"%04d\n" % i for i in range(1000)]  # 5000 bytes
    for line in lines:
        outbox.put_nowait(line)
    batches = []
    while batch := outbox.next_batch(1024):
        assert len(batch) <= 1024 + 5  # stops at the line that crosses the size
        batches.append(batch)
    assert b"".join(batches) == b"".join(lines)
    assert len(batches) == 5
    assert outbox.queued_bytes == 0


async def test_a_burst_relieved_at_the_soft_bound_counts_only_what_is_still_queued(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # A burst lands between two passes; crossing the soft bound writes what
    # the kernel takes at once. What was written then is not counted again:
    # the count drains to nothing and the writer takes exactly the rest.
    hub = Hub(name_key)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        member = join(hub, "ana")
        drain(member)
        outbox = Outbox(flusher=hub.flusher, soft_bytes=10 * LINE)
        written: list[bytes] = []

        def kernel(data: bytes) -> int:
            written.append(data)
            return len(data)

        outbox.attach(lambda: None, kernel)
        lines = [bytes([65 + i % 26]) * LINE for i in range(40)]
        for line in lines:  # no pass in between: nothing awaits
            outbox.put_nowait(line, own=True)
        assert written  # the soft bound was crossed: some went at once
        rest = outbox.next_batch(len(lines) * LINE)
        assert b"".join(written) + rest == b"".join(lines)  # each line once, in order
        assert outbox.queued_bytes == 0
        assert outbox.next_batch() == b""
        nursery.cancel_scope.cancel()
