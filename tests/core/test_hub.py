"""The hub, driven directly: real outboxes, read the way a member's writer reads them."""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable

import pytest
import trio
import trio.testing

from trio_chat.core import crowds
from trio_chat.core import flusher as flusher_module
from trio_chat.core import hub as hub_module
from trio_chat.core.events import Message, Notice, Reason, ServerEvent
from trio_chat.core.hub import LOBBY, Hub
from trio_chat.core.members import Member, ScopeLink
from trio_chat.core.names import name_key
from trio_chat.core.outbox import Flusher, Outbox
from trio_chat.core.refusals import NameTaken, NoSuchMember, ServerClosing
from trio_chat.text.codec import encode

# "ana" in fullwidth letters: a different string, but the same name.
FULLWIDTH_ANA = "\uff41\uff4e\uff41"


@pytest.fixture
def hub() -> Hub:
    return Hub(name_key)


def join(hub: Hub, name: str, outbox: Outbox | None = None) -> Member:
    """Register ``name`` with the line protocol's encoder, as a session does."""
    member = hub.join(name, encode, ScopeLink(), address=f"test:{name}", outbox=outbox or Outbox())
    hub.enter(member, LOBBY)  # where the text frontend puts everyone
    return member


def received(member: Member) -> bytes:
    """Everything queued for ``member`` so far, taken as its writer takes it."""
    chunks: list[bytes] = []
    with contextlib.suppress(trio.EndOfChannel):
        while data := member.outbox.next_batch():
            chunks.append(data)
    return b"".join(chunks)


async def test_join_is_announced_to_others_not_to_the_joiner(hub: Hub) -> None:
    ana = join(hub, "ana")
    bob = join(hub, "bob")
    assert received(ana) == b"*** bob joined\n"
    assert received(bob) == b""
    assert hub.names() == ["ana", "bob"]
    assert hub.names(LOBBY) == ["ana", "bob"]


async def test_join_records_the_member(hub: Hub) -> None:
    ana = join(hub, "ana")
    assert hub.find("ANA") is ana
    assert ana.address == "test:ana"
    assert ana.rooms == {LOBBY}
    assert len(hub) == 1


async def test_say_reaches_everyone_but_the_sender_exactly(hub: Hub) -> None:
    ana, bob, carl = join(hub, "ana"), join(hub, "bob"), join(hub, "carl")
    received(ana)
    received(bob)
    hub.say(ana, LOBBY, "hello everyone")
    assert received(bob) == b"ana: hello everyone\n"
    assert received(carl) == b"ana: hello everyone\n"
    assert received(ana) == b""


async def test_act_reaches_everyone_but_the_actor(hub: Hub) -> None:
    ana, bob = join(hub, "ana"), join(hub, "bob")
    received(ana)
    hub.act(ana, LOBBY, "waves")
    assert received(bob) == b"* ana waves\n"
    assert received(ana) == b""


async def test_say_keeps_order_of_messages(hub: Hub) -> None:
    ana, bob = join(hub, "ana"), join(hub, "bob")
    for text in ["one", "two", "three"]:
        hub.say(ana, LOBBY, text)
    assert received(bob) == b"ana: one\nana: two\nana: three\n"


@pytest.mark.parametrize("taken", ["ana", "ANA", "Ana", FULLWIDTH_ANA])
def test_names_are_unique_case_insensitively(hub: Hub, taken: str) -> None:
    ana = join(hub, "ana")
    with pytest.raises(NameTaken):
        join(hub, taken)
    assert hub.find(taken) is ana
    assert hub.names() == ["ana"]


def test_unicode_names_are_unique_in_any_case(hub: Hub) -> None:
    join(hub, "Zoë")
    with pytest.raises(NameTaken):
        join(hub, "ZOË")


def test_sharp_s_and_ss_are_two_names_as_rfc8265_says(hub: Hub) -> None:
    # CASEMAPPING=rfc8265 lower-cases (it does not case-fold): IRC clients agree.
    join(hub, "Straße")
    join(hub, "STRASSE")
    assert hub.names() == ["STRASSE", "Straße"]


async def test_failed_join_tells_nobody(hub: Hub) -> None:
    ana = join(hub, "ana")
    with pytest.raises(NameTaken):
        join(hub, "ANA")
    assert received(ana) == b""


async def test_rename_is_announced_to_everyone_including_the_renamed(hub: Hub) -> None:
    ana, bob, carl = join(hub, "ana"), join(hub, "bob"), join(hub, "carl")
    received(ana)
    received(bob)
    hub.rename(ana, "anna")
    for member in (ana, bob, carl):
        assert received(member) == b"*** ana is now known as anna\n"
    assert ana.name == "anna"
    assert hub.names() == ["anna", "bob", "carl"]
    assert hub.find("anna") is ana


async def test_rename_frees_the_old_name(hub: Hub) -> None:
    ana = join(hub, "ana")
    hub.rename(ana, "anna")
    assert hub.find("ana") is None
    newcomer = join(hub, "ANA")
    assert hub.names() == ["ANA", "anna"]
    assert hub.find("ana") is newcomer


async def test_rename_to_a_taken_name_fails_and_changes_nothing(hub: Hub) -> None:
    ana, bob = join(hub, "ana"), join(hub, "bob")
    received(ana)
    with pytest.raises(NameTaken):
        hub.rename(ana, "BOB")
    assert ana.name == "ana"
    assert hub.find("ana") is ana
    assert hub.find("bob") is bob
    assert received(ana) == b""
    assert received(bob) == b""


async def test_rename_changing_only_case_is_allowed(hub: Hub) -> None:
    ana = join(hub, "ana")
    hub.rename(ana, "Ana")
    assert received(ana) == b"*** ana is now known as Ana\n"
    assert hub.names() == ["Ana"]


async def test_renamed_member_is_heard_under_the_new_name(hub: Hub) -> None:
    ana, bob = join(hub, "ana"), join(hub, "bob")
    hub.rename(ana, "anna")
    received(bob)
    hub.say(ana, LOBBY, "hi")
    assert received(bob) == b"anna: hi\n"


async def test_private_reaches_only_the_target(hub: Hub) -> None:
    ana, bob, carl = join(hub, "ana"), join(hub, "bob"), join(hub, "carl")
    received(ana)
    received(bob)
    event = hub.private(ana, "BOB", "psst")
    assert (event.sender, event.target, event.text) == ("ana", "bob", "psst")
    assert received(bob) == b"[private] ana: psst\n"
    assert received(carl) == b""
    assert received(ana) == b""


def test_private_to_unknown_name_raises_no_such_member(hub: Hub) -> None:
    ana = join(hub, "ana")
    with pytest.raises(NoSuchMember):
        hub.private(ana, "zed", "hello?")


async def test_leave_announces_the_reason_to_the_others(hub: Hub) -> None:
    ana, bob = join(hub, "ana"), join(hub, "bob")
    received(ana)
    hub.leave(bob, Reason.QUIT, "gone fishing")
    assert received(ana) == b"*** bob left (gone fishing)\n"
    assert hub.names() == ["ana"]
    assert hub.find("bob") is None


async def test_leave_without_reason(hub: Hub) -> None:
    ana, bob = join(hub, "ana"), join(hub, "bob")
    received(ana)
    hub.leave(bob, Reason.QUIT)
    assert received(ana) == b"*** bob left\n"


async def test_leave_is_idempotent(hub: Hub) -> None:
    ana, bob = join(hub, "ana"), join(hub, "bob")
    received(ana)
    hub.leave(bob, Reason.QUIT, "bye")
    hub.leave(bob, Reason.QUIT, "bye again")
    assert received(ana) == b"*** bob left (bye)\n"
    assert hub.names() == ["ana"]


async def test_leave_of_an_old_member_does_not_remove_a_newcomer_with_the_same_name(
    hub: Hub,
) -> None:
    old = join(hub, "bob")
    hub.leave(old, Reason.CLOSED)
    new = join(hub, "bob")
    hub.leave(old, Reason.CLOSED)
    assert hub.find("bob") is new


async def test_leave_closes_the_outbox_after_queued_data(hub: Hub) -> None:
    ana, bob = join(hub, "ana"), join(hub, "bob")
    hub.say(ana, LOBBY, "last words for bob")
    hub.leave(bob, Reason.QUIT)
    assert bob.outbox.next_batch() == b"ana: last words for bob\n"
    with pytest.raises(trio.EndOfChannel):
        bob.outbox.next_batch()


async def test_member_leaving_hears_nothing_more(hub: Hub) -> None:
    ana, bob = join(hub, "ana"), join(hub, "bob")
    hub.leave(bob, Reason.CLOSED)
    hub.say(ana, LOBBY, "anyone?")
    with pytest.raises(trio.EndOfChannel):
        bob.outbox.next_batch()


async def test_member_with_full_message_queue_is_evicted_as_too_slow(hub: Hub) -> None:
    ana, bob = join(hub, "ana"), join(hub, "bob")
    slow = join(hub, "slow", Outbox(max_messages=2))
    received(ana)
    received(bob)
    hub.say(ana, LOBBY, "one")
    hub.say(ana, LOBBY, "two")
    assert hub.find("slow") is slow  # two messages fit
    hub.say(ana, LOBBY, "three")
    assert received(bob) == b"ana: one\nana: two\nana: three\n*** slow left (too slow)\n"
    assert received(ana) == b"*** slow left (too slow)\n"
    assert_told_too_slow(slow)
    assert hub.names() == ["ana", "bob"]


async def test_put_queues_a_frontends_own_bytes_and_evicts_a_member_too_slow_for_them(
    hub: Hub,
) -> None:
    ana, slow = join(hub, "ana"), join(hub, "slow", Outbox(max_messages=1))
    received(ana)
    hub.put(slow, b"pong")  # a frontend's own frame, in order with the events
    assert hub.find("slow") is slow
    hub.put(slow, b"pong")  # no room left: evicted, as from a broadcast, and told why
    assert received(ana) == b"*** slow left (too slow)\n"
    assert_told_too_slow(slow)
    hub.put(slow, b"late")  # leaving already: nothing happens, nothing raises
    assert hub.names() == ["ana"]


def assert_told_too_slow(member: Member) -> None:
    """``member`` was dropped as too slow, told why, and its writer has a little while."""
    assert isinstance(member.link, ScopeLink)
    assert member.link.reason is Reason.TOO_SLOW
    assert not member.link.scope.cancel_called
    left = member.link.scope.deadline - trio.current_time()
    assert 0 < left <= hub_module.FAREWELL_TIMEOUT
    told = b"! you were disconnected: you are not reading fast enough\n"
    assert member.outbox.next_batch() == told


async def test_evicted_member_is_told_why_instead_of_what_was_queued_then_ends(hub: Hub) -> None:
    ana = join(hub, "ana")
    slow = join(hub, "slow", Outbox(max_messages=1))
    hub.say(ana, LOBBY, "one")
    hub.say(ana, LOBBY, "two")
    assert_told_too_slow(slow)
    with pytest.raises(trio.EndOfChannel):
        slow.outbox.next_batch()


async def test_byte_budget_evicts_before_the_message_count_is_reached(hub: Hub) -> None:
    ana = join(hub, "ana")
    slow = join(hub, "slow", Outbox(max_messages=100, max_bytes=20))
    received(ana)
    hub.say(ana, LOBBY, "0123456789")  # b"ana: 0123456789\n": 16 bytes, fits
    assert hub.find("slow") is slow
    hub.say(ana, LOBBY, "x")  # 7 more bytes: 23 > 20
    assert hub.find("slow") is None
    assert_told_too_slow(slow)
    assert received(ana) == b"*** slow left (too slow)\n"


async def test_byte_budget_is_freed_as_the_writer_drains(hub: Hub) -> None:
    ana = join(hub, "ana")
    bob = join(hub, "bob", Outbox(max_messages=100, max_bytes=20))
    hub.say(ana, LOBBY, "0123456789")  # 16 bytes
    assert received(bob) == b"ana: 0123456789\n"
    hub.say(ana, LOBBY, "0123456789")  # 16 bytes again: fits only if the first was freed
    assert hub.find("bob") is bob
    assert received(bob) == b"ana: 0123456789\n"


async def test_message_exactly_filling_the_byte_budget_fits(hub: Hub) -> None:
    ana = join(hub, "ana")
    bob = join(hub, "bob", Outbox(max_bytes=len(b"ana: hi\n")))
    hub.say(ana, LOBBY, "hi")
    assert hub.find("bob") is bob
    assert received(bob) == b"ana: hi\n"


async def test_member_whose_writer_is_gone_is_evicted_as_connection_lost(hub: Hub) -> None:
    ana, bob, gone = join(hub, "ana"), join(hub, "bob"), join(hub, "gone")
    received(ana)
    received(bob)
    gone.outbox.detach()
    hub.say(ana, LOBBY, "hi")
    assert received(bob) == b"ana: hi\n*** gone left (connection lost)\n"
    assert received(ana) == b"*** gone left (connection lost)\n"
    assert gone.link.scope.cancel_called
    assert hub.names() == ["ana", "bob"]


async def test_slow_private_recipient_is_evicted(hub: Hub) -> None:
    ana = join(hub, "ana")
    slow = join(hub, "slow", Outbox(max_messages=1))
    received(ana)
    hub.private(ana, "slow", "one")
    hub.private(ana, "slow", "two")
    assert hub.find("slow") is None
    assert_told_too_slow(slow)
    assert received(ana) == b"*** slow left (too slow)\n"


async def test_broadcast_encodes_once_for_members_sharing_an_encoder(hub: Hub) -> None:
    calls: list[ServerEvent] = []

    def counting_encode(event: ServerEvent) -> bytes:
        calls.append(event)
        return encode(event)

    sender, *others = [hub.join(f"m{i}", counting_encode, ScopeLink()) for i in range(5)]
    for member in (sender, *others):
        hub.enter(member, LOBBY)
    for member in others:
        received(member)
    calls.clear()
    hub.say(sender, LOBBY, "hi")
    assert len(calls) == 1
    assert isinstance(calls[0], Message)
    assert (calls[0].sender, calls[0].room, calls[0].text) == ("m0", LOBBY, "hi")
    for member in others:
        assert received(member) == b"m0: hi\n"


async def test_shutdown_encodes_its_notice_once(hub: Hub) -> None:
    calls: list[ServerEvent] = []

    def counting_encode(event: ServerEvent) -> bytes:
        calls.append(event)
        return encode(event)

    for i in range(4):
        hub.join(f"m{i}", counting_encode, ScopeLink())
    calls.clear()
    hub.shutdown("bye")
    assert calls == [Notice("bye")]


async def test_say_encodes_once_per_encoder(hub: Hub) -> None:
    counts = {"a": 0, "b": 0}

    def encoder(tag: str) -> Callable[[ServerEvent], bytes]:
        def counting_encode(event: ServerEvent) -> bytes:
            counts[tag] += 1
            return tag.encode() + encode(event)

        return counting_encode

    encode_a, encode_b = encoder("a"), encoder("b")
    sender = hub.join("sender", encode_a, ScopeLink())
    line_members = [hub.join(f"a{i}", encode_a, ScopeLink()) for i in range(3)]
    other = hub.join("other", encode_b, ScopeLink())
    for member in (sender, *line_members, other):
        hub.enter(member, LOBBY)
    counts.update(a=0, b=0)
    hub.say(sender, LOBBY, "hi")
    assert counts == {"a": 1, "b": 1}
    for member in line_members:
        assert (received(member)).endswith(b"asender: hi\n")
    assert (received(other)).endswith(b"bsender: hi\n")


async def test_next_batch_coalesces_queued_messages() -> None:
    outbox = Outbox()
    for data in [b"one\n", b"two\n", b"three\n"]:
        outbox.put_nowait(data)
    assert outbox.next_batch() == b"one\ntwo\nthree\n"
    assert outbox.queued_bytes == 0


async def test_next_batch_stops_at_max_bytes() -> None:
    outbox = Outbox()
    for data in [b"a" * 10, b"b" * 10, b"c" * 10]:
        outbox.put_nowait(data)
    assert outbox.next_batch(max_bytes=20) == b"a" * 10 + b"b" * 10
    assert outbox.queued_bytes == 10
    assert outbox.next_batch(max_bytes=20) == b"c" * 10
    assert outbox.queued_bytes == 0


async def test_next_batch_returns_a_message_larger_than_max_bytes_whole() -> None:
    outbox = Outbox()
    outbox.put_nowait(b"x" * 50)
    outbox.put_nowait(b"y")
    assert outbox.next_batch(max_bytes=10) == b"x" * 50
    assert outbox.next_batch(max_bytes=10) == b"y"


async def test_next_batch_drains_then_raises_end_of_channel_after_close() -> None:
    outbox = Outbox()
    outbox.put_nowait(b"one\n")
    outbox.put_nowait(b"two\n")
    outbox.close()
    assert outbox.next_batch() == b"one\ntwo\n"
    with pytest.raises(trio.EndOfChannel):
        outbox.next_batch()


async def test_shutdown_tells_everyone_and_closes_every_outbox(hub: Hub) -> None:
    ana, bob = join(hub, "ana"), join(hub, "bob")
    received(ana)
    hub.shutdown("server shutting down")
    for member in (ana, bob):
        assert member.outbox.next_batch() == b"*** server shutting down\n"
        with pytest.raises(trio.EndOfChannel):
            member.outbox.next_batch()


async def test_leaving_after_shutdown_announces_nothing(hub: Hub) -> None:
    ana, bob = join(hub, "ana"), join(hub, "bob")
    received(ana)
    hub.shutdown("server shutting down")
    hub.leave(bob, Reason.SHUTDOWN)
    hub.leave(ana, Reason.SHUTDOWN)
    assert received(ana) == b"*** server shutting down\n"
    assert received(bob) == b"*** server shutting down\n"
    assert len(hub) == 0


async def test_slow_member_at_shutdown_is_evicted_quietly(hub: Hub) -> None:
    ana = join(hub, "ana")
    slow = join(hub, "slow", Outbox(max_messages=1))
    received(ana)
    hub.say(ana, LOBBY, "fills the queue")
    hub.shutdown("server shutting down")
    assert slow.link.scope.cancel_called
    assert received(ana) == b"*** server shutting down\n"
    assert received(slow) == b"ana: fills the queue\n"


async def test_hub_is_empty_after_everyone_leaves(hub: Hub) -> None:
    ana, bob = join(hub, "ana"), join(hub, "bob")
    hub.enter(ana, "#dev")
    hub.enter(bob, "#dev")
    assert hub.statistics() == {"members": 2, "rooms": 2}
    hub.leave(ana, Reason.QUIT)
    hub.leave(bob, Reason.QUIT)
    assert len(hub) == 0
    assert hub.names() == []
    assert hub.rooms() == [LOBBY]
    assert hub.statistics() == {"members": 0, "rooms": 1}


async def test_room_messages_stay_in_the_room(hub: Hub) -> None:
    ana, bob, carl = join(hub, "ana"), join(hub, "bob"), join(hub, "carl")
    hub.enter(ana, "#dev")
    hub.enter(bob, "#dev")
    received(ana)
    received(bob)
    received(carl)
    hub.say(ana, "#dev", "ship it")
    assert received(bob) == b"ana: ship it\n"
    assert received(carl) == b""
    assert hub.names("#dev") == ["ana", "bob"]


async def test_entering_a_room_whose_last_member_is_evicted_keeps_the_room(hub: Hub) -> None:
    bob = hub.join("bob", encode, ScopeLink(), outbox=Outbox(max_messages=1))
    hub.enter(bob, "#dev")
    bob.outbox.put_nowait(b"his outbox is full\n")  # bob stopped reading
    ana = hub.join("ana", encode, ScopeLink())
    hub.enter(ana, "#dev")  # the "ana joined" notice evicts bob, the room's only member
    room = hub.room("#dev")
    assert room is not None
    assert list(room.members.values()) == [ana]
    assert hub.names() == ["ana"]
    hub.leave(ana, Reason.QUIT)
    assert hub.rooms() == [LOBBY]


async def test_nobody_joins_a_hub_that_is_shutting_down(hub: Hub) -> None:
    hub.shutdown("bye")
    with pytest.raises(ServerClosing):
        hub.join("late", encode, ScopeLink())
    assert len(hub) == 0


class FakePeer:
    """A peer's kernel buffer: takes up to ``room`` bytes per write, or fails."""

    def __init__(self, room: int = 1 << 20, error: OSError | None = None) -> None:
        self.room = room
        self.error = error
        self.written = b""

    def write(self, data: bytes) -> int:
        if self.error is not None:
            raise self.error
        taken = data[: self.room]
        self.written += taken
        return len(taken)


class Writers:
    """Attaches to ``outbox`` writers that run as a session's do, in ``nursery``.

    Each drains the outbox with ``next_batch`` into ``write`` and ends when
    it is empty; ``started`` counts them, ``error`` keeps what one raised.
    """

    def __init__(
        self, nursery: trio.Nursery, outbox: Outbox, write: Callable[[bytes], int]
    ) -> None:
        self.started = 0
        self.error: BaseException | None = None
        self._nursery, self._outbox, self._write = nursery, outbox, write
        outbox.attach(self._start, write)

    def _start(self) -> None:
        self.started += 1
        self._nursery.start_soon(self._run)

    async def _run(self) -> None:
        try:
            while data := self._outbox.next_batch():
                self._write(data)
        except (trio.EndOfChannel, OSError) as exc:
            self.error = exc


async def test_a_failed_direct_write_ends_the_writer_with_the_error() -> None:
    flusher = Flusher(interval=0)
    outbox = Outbox(flusher=flusher)
    broken = FakePeer(error=BrokenPipeError(32, "Broken pipe"))
    async with trio.open_nursery() as nursery:
        await nursery.start(flusher.run)
        writers = Writers(nursery, outbox, broken.write)
        outbox.put_nowait(b"x\n")
        await trio.testing.wait_all_tasks_blocked()
        # The flusher's write failed: a writer started and ended with the error.
        assert writers.started == 1
        assert isinstance(writers.error, BrokenPipeError)
        nursery.cancel_scope.cancel()


async def test_under_load_writers_are_flushed_at_most_once_per_gap(
    autojump_clock: trio.testing.MockClock,
) -> None:
    flusher = Flusher(interval=0.05)
    flusher.cpu_clock = trio.current_time  # the jumps below are its work
    outbox = Outbox(flusher=flusher)
    peer = FakePeer()
    writes: list[tuple[float, float]] = []

    def write(data: bytes) -> int:
        start = trio.current_time()
        autojump_clock.jump(0.01)  # a pass that takes 10 ms (a big room's)
        writes.append((start, trio.current_time()))
        return peer.write(data)

    async with trio.open_nursery() as nursery:
        await nursery.start(flusher.run)
        writers = Writers(nursery, outbox, write)
        for i in range(100):  # a message every millisecond
            outbox.put_nowait(b"%d\n" % i)
            await trio.sleep(0.001)
        await trio.sleep(0.05)
        assert peer.written == b"".join(b"%d\n" % i for i in range(100))
        assert writers.started == 0  # the kernel took everything: no writer task
        # Each pass is followed by as long again for the others: a pass every
        # 20 ms at most, each writing all that was said meanwhile.
        gaps = [b[0] - a[1] for a, b in itertools.pairwise(writes)]
        assert all(gap >= 0.01 * flusher_module.FLUSH_GAP_FACTOR - 1e-9 for gap in gaps)
        # Some five messages a write (a 10 ms pass, then 5 ms for the others),
        # give or take the last one and Trio's shuffled turns; never one each.
        assert len(writes) <= 100 / 4
        nursery.cancel_scope.cancel()


async def test_a_big_room_hears_of_arrivals_and_departures_in_summaries(
    hub: Hub, monkeypatch: pytest.MonkeyPatch, autojump_clock: trio.testing.MockClock
) -> None:
    monkeypatch.setattr(crowds, "QUIET_ROOM_SIZE", 3)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        first = [join(hub, name) for name in ("a", "b", "c")]
        assert received(first[0]) == b"*** b joined\n*** c joined\n"
        crowd = [join(hub, f"n{i}") for i in range(30)]
        hub.leave(crowd[0], Reason.QUIT)
        # Nothing yet: arrivals and departures wait for the summary.
        assert received(first[0]) == b""
        await trio.sleep(crowds.SUMMARY_INTERVAL + 1)
        names = ", ".join(f"n{i}" for i in range(20))
        assert received(first[0]) == (f"*** 30 joined: {names} and 10 more; 1 left: n0\n".encode())
        # Quiet again: no empty summaries.
        await trio.sleep(crowds.SUMMARY_INTERVAL * 3)
        assert received(first[0]) == b""
        nursery.cancel_scope.cancel()


async def test_without_the_hub_task_every_join_is_announced(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(crowds, "QUIET_ROOM_SIZE", 3)
    ana = join(hub, "ana")
    for i in range(5):
        join(hub, f"n{i}")
    assert received(ana) == b"".join(b"*** n%d joined\n" % i for i in range(5))


async def test_a_stale_flush_request_and_a_close_do_not_stop_the_flusher(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    # A running writer emptied the queue itself after the outbox asked the
    # flusher; then the outbox closed in the very batch of the flusher's next
    # pass. That once raised EndOfChannel in the flusher and took the whole
    # server down.
    for _ in range(40):
        flusher = Flusher(interval=0.05)
        outbox = Outbox(flusher=flusher)
        async with trio.open_nursery() as nursery:
            await nursery.start(flusher.run)
            writers = Writers(nursery, outbox, len)
            flusher._last = trio.current_time()  # a pass just happened
            outbox.put_nowait(b"hello\n")  # asks the flusher...
            assert outbox.next_batch() == b"hello\n"  # ...but a writer takes it first
            assert outbox.next_batch() == b""
            await trio.sleep_until(flusher._last + flusher._gap)
            outbox.close()  # in the same batch as the flusher's pass
            await trio.sleep(0.2)
            assert isinstance(writers.error, trio.EndOfChannel)  # the close ended it
            nursery.cancel_scope.cancel()
    # The flusher survives a failing outbox by logging it: nothing may fail.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_arrivals_and_departures_in_a_big_room_are_told_in_order(
    hub: Hub, monkeypatch: pytest.MonkeyPatch, autojump_clock: trio.testing.MockClock
) -> None:
    monkeypatch.setattr(crowds, "QUIET_ROOM_SIZE", 2)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        watcher = join(hub, "watcher")
        join(hub, "b")
        received(watcher)
        x = join(hub, "x")  # held for the summary
        hub.leave(join(hub, "y"), Reason.QUIT)
        hub.leave(x, Reason.QUIT)  # the room is small again, but arrivals are still held
        await trio.sleep(crowds.SUMMARY_INTERVAL + 1)
        assert received(watcher) == b"*** 2 joined: x, y; 2 left: y, x\n"
        nursery.cancel_scope.cancel()


class WriterStarts:
    """Counts the writers an attached outbox asks for."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def test_an_attached_outbox_starts_one_writer_only_when_there_is_something_to_send() -> None:
    outbox = Outbox()
    starts = WriterStarts()
    outbox.attach(starts, None)
    assert starts.count == 0
    outbox.put_nowait(b"one\n")
    outbox.put_nowait(b"two\n")
    assert starts.count == 1  # one writer at a time
    assert outbox.next_batch() == b"one\ntwo\n"
    assert outbox.next_batch() == b""  # empty: that writer ends
    outbox.put_nowait(b"three\n")
    assert starts.count == 2
    assert outbox.next_batch() == b"three\n"


def test_attaching_with_messages_already_queued_starts_a_writer_at_once() -> None:
    outbox = Outbox()
    outbox.put_nowait(b"welcome\n")  # queued while the session was registering
    starts = WriterStarts()
    outbox.attach(starts, None)
    assert starts.count == 1
    assert outbox.next_batch() == b"welcome\n"


def test_closing_an_attached_idle_outbox_starts_a_writer_to_end_the_session() -> None:
    outbox = Outbox()
    starts = WriterStarts()
    outbox.attach(starts, None)
    outbox.close()
    assert starts.count == 1
    with pytest.raises(trio.EndOfChannel):
        outbox.next_batch()


def test_a_detached_outbox_starts_nothing_and_refuses_messages() -> None:
    outbox = Outbox()
    starts = WriterStarts()
    outbox.attach(starts, None)
    outbox.detach()
    with pytest.raises(trio.BrokenResourceError):
        outbox.put_nowait(b"too late\n")
    outbox.close()
    assert starts.count == 0


async def test_the_flusher_writes_directly_and_starts_a_writer_only_for_what_is_left() -> None:
    flusher = Flusher(interval=0)
    outbox = Outbox(flusher=flusher)
    peer = FakePeer()
    starts = WriterStarts()
    outbox.attach(starts, peer.write)
    async with trio.open_nursery() as nursery:
        await nursery.start(flusher.run)
        for i in range(3):
            outbox.put_nowait(b"line %d\n" % i)
        await trio.testing.wait_all_tasks_blocked()
        assert peer.written == b"line 0\nline 1\nline 2\n"
        assert starts.count == 0
        peer.room = 3  # the kernel's buffer is nearly full
        outbox.put_nowait(b"abcdef\n")
        await trio.testing.wait_all_tasks_blocked()
        assert peer.written.endswith(b"abc")
        assert starts.count == 1
        # The writer sends the rest first, still counted against the bound until then.
        assert outbox.queued_bytes == 4
        assert outbox.next_batch() == b"def\n"
        assert outbox.next_batch() == b""
        nursery.cancel_scope.cancel()


async def test_dismissing_a_member_whose_outbox_is_full_says_why_not_too_slow(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    ana = join(hub, "ana")
    bob = join(hub, "bob", Outbox(max_messages=1))
    received(ana)
    bob.outbox.put_nowait(b"his outbox is full\n")  # bob stopped reading
    hub.dismiss(bob, Reason.KICKED, trio.current_time() + 2, detail="spam", by="op")
    assert received(ana) == b"*** bob left (kicked by op: spam)\n"
    assert bob.link.scope.cancel_called  # nothing more can reach him: ended at once
    assert "too slow" not in caplog.text
    assert len([r for r in caplog.records if r.getMessage().startswith("bob")]) == 1
