"""The flusher writes at once when idle and batches under load (issue #14).

Idle, a broadcast writes through: each reader's socket gets the bytes in the
broadcast's own loop. Under load (the last broadcast or pass took time),
what follows waits for one pass that writes it all in one write per reader.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trio_chat.core.events import Notice, Reason
from trio_chat.core.flusher import FLUSH_GAP_FACTOR
from trio_chat.core.hub import LOBBY, Hub
from trio_chat.core.members import Member, ScopeLink
from trio_chat.core.names import name_key
from trio_chat.text.codec import encode


class Peer:
    """A member's socket as the flusher sees it: a direct write the kernel always takes.

    With ``clock`` and ``cost``, each write takes ``cost`` seconds of it (a busy server).
    """

    def __init__(self, clock: trio.testing.MockClock | None = None, cost: float = 0.0) -> None:
        self.written = b""
        self.writes = 0
        # When each write began.
        self.times: list[float] = []
        self._clock = clock
        self._cost = cost

    def write(self, data: bytes) -> int:
        self.written += data
        self.writes += 1
        self.times.append(trio.current_time())
        if self._clock is not None:
            self._clock.jump(self._cost)
        return len(data)

    def take(self) -> bytes:
        data, self.written = self.written, b""
        return data


def attach(member: Member, peer: Peer | None = None) -> Peer:
    """Give ``member`` a socket that takes everything; no writer task should be needed."""
    peer = peer or Peer()
    while member.outbox.next_batch():  # what it heard before (arrivals)
        pass

    def no_writer() -> None:
        raise AssertionError("the direct write took everything: no writer task")

    member.outbox.attach(no_writer, peer.write)
    return peer


def attach_full(member: Member) -> list[None]:
    """Give ``member`` a socket whose kernel buffer is full; returns a log of writers started.

    Like ``os.write`` on a full non-blocking socket, its write raises BlockingIOError.
    """
    starts: list[None] = []

    def full(data: bytes) -> int:
        raise BlockingIOError

    member.outbox.attach(lambda: starts.append(None), full)
    return starts


async def in_lobby(hub: Hub, *names: str) -> list[Member]:
    """``names`` join and enter the lobby; what they heard of each other is taken."""
    members = [hub.join(name, encode, ScopeLink()) for name in names]
    for member in members:
        hub.enter(member, LOBBY)
    await trio.testing.wait_all_tasks_blocked()
    for member in members:
        while member.outbox.next_batch():
            pass
    return members


async def test_a_message_reaches_an_idle_reader_without_the_clock_advancing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = Hub(name_key)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        ana, bob = await in_lobby(hub, "ana", "bob")
        peer = attach(bob)
        start = trio.current_time()
        for text in ("one", "two", "three"):
            # Written through: on the socket when the broadcast returns, before
            # any other task ran, and nothing holds the next one back.
            hub.say(ana, LOBBY, text)
            assert peer.take() == f"ana: {text}\n".encode()
            await trio.testing.wait_all_tasks_blocked()
            assert peer.take() == b""
            assert trio.current_time() == start
        nursery.cancel_scope.cancel()


async def test_what_is_said_while_busy_reaches_each_reader_in_one_write(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = Hub(name_key)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        speakers = await in_lobby(hub, *(f"s{i}" for i in range(5)))
        readers = await in_lobby(hub, *(f"r{i}" for i in range(20)))
        # Each write takes a millisecond: the first broadcast takes 20. (The
        # flusher counts its CPU time; here, the clock's.)
        hub.flusher.cpu_clock = trio.current_time
        peers = [attach(reader, Peer(autojump_clock, 0.001)) for reader in readers]
        for speaker in speakers:  # one scheduling round: five messages
            hub.say(speaker, LOBBY, "hi")
        # The first went out at once; the other four wait for the gap after
        # its writing (half as long), and then go in one write per reader.
        assert all(peer.take() == b"s0: hi\n" for peer in peers)
        await trio.sleep(1)
        gap = 0.02 * FLUSH_GAP_FACTOR
        assert all(peer.times[1] - peer.times[0] >= 0.02 + gap for peer in peers)
        expected = b"".join(b"s%d: hi\n" % i for i in range(1, 5))
        assert all(peer.written == expected for peer in peers)
        assert all(peer.writes == 2 for peer in peers)
        nursery.cancel_scope.cancel()


async def test_a_broadcast_waits_behind_what_a_reader_has_queued(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = Hub(name_key)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        ana, bob, cid = await in_lobby(hub, "ana", "bob", "cid")
        bob_peer, cid_peer = attach(bob), attach(cid)
        hub.deliver(bob, Notice("for bob alone"))  # queued for the next pass
        hub.say(ana, LOBBY, "hi")
        # cid had nothing queued: written through. bob's comes after his notice.
        assert cid_peer.take() == b"ana: hi\n"
        assert bob_peer.take() == b""
        await trio.testing.wait_all_tasks_blocked()
        assert bob_peer.take() == b"*** for bob alone\nana: hi\n"
        assert bob_peer.writes == 1
        nursery.cancel_scope.cancel()


async def test_what_the_kernel_did_not_take_of_a_broadcast_goes_to_a_writer(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = Hub(name_key)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        ana, bob = await in_lobby(hub, "ana", "bob")
        taken: list[bytes] = []
        writers: list[bytes] = []

        def half(data: bytes) -> int:
            taken.append(data[:4])
            return 4

        def writer() -> None:
            writers.append(bob.outbox.next_batch())

        bob.outbox.attach(writer, half)
        hub.say(ana, LOBBY, "hello there")
        assert taken == [b"ana:"]
        assert writers == [b" hello there\n"]
        nursery.cancel_scope.cancel()


async def test_time_other_processes_took_does_not_hold_back_what_follows(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A broadcast preempted for 20 ms that did 2 ms of work is followed 2 ms later."""
    hub = Hub(name_key)
    work = [0.0]
    hub.flusher.cpu_clock = lambda: work[0]

    class Preempted(Peer):
        def write(self, data: bytes) -> int:
            work[0] += 0.0001  # its own CPU time...
            autojump_clock.jump(0.001)  # ...and ten times as long without the CPU
            return super().write(data)

    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        ana, *readers = await in_lobby(hub, "ana", *(f"r{i}" for i in range(20)))
        peers = [attach(reader, Preempted()) for reader in readers]
        hub.say(ana, LOBBY, "one")
        assert all(peer.take() == b"ana: one\n" for peer in peers)
        await trio.sleep(0.003)  # past its 2 ms of work, long before 20 ms
        hub.say(ana, LOBBY, "two")
        assert all(peer.take() == b"ana: two\n" for peer in peers)  # written through
        nursery.cancel_scope.cancel()


async def test_a_write_through_that_fails_oddly_queues_for_the_writer_and_the_others_hear(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    hub = Hub(name_key)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        ana, bob, cid = await in_lobby(hub, "ana", "bob", "cid")
        cid_peer = attach(cid)
        woken: list[bytes] = []

        def broken(data: bytes) -> int:
            raise RuntimeError("a bug in a stream")

        bob.outbox.attach(lambda: woken.append(bob.outbox.next_batch()), broken)
        hub.say(ana, LOBBY, "hi")
        assert cid_peer.take() == b"ana: hi\n"  # the broadcast went on
        assert "writing a broadcast through failed" in caplog.text
        await trio.testing.wait_all_tasks_blocked()
        # bob's bytes were queued: the flusher's pass fails the same way and
        # wakes his writer, which gets them.
        assert woken == [b"ana: hi\n"]
        nursery.cancel_scope.cancel()


async def test_a_reader_whose_writer_runs_gets_the_broadcast_queued_behind_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = Hub(name_key)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        ana, bob = await in_lobby(hub, "ana", "bob")
        room = [4]  # the kernel takes four bytes, then nothing
        starts: list[None] = []

        def socket(data: bytes) -> int:
            taken, room[0] = min(room[0], len(data)), room[0] - min(room[0], len(data))
            return taken

        bob.outbox.attach(lambda: starts.append(None), socket)
        hub.say(ana, LOBBY, "one")
        assert len(starts) == 1  # a writer for the rest of "ana: one"
        hub.say(ana, LOBBY, "two")  # the writer is busy: queued behind it
        assert len(starts) == 1
        assert bob.outbox.next_batch() == b" one\n"
        assert bob.outbox.next_batch() == b"ana: two\n"
        nursery.cancel_scope.cancel()


async def test_a_dropped_readers_last_word_follows_the_rest_of_a_half_written_line(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = Hub(name_key)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        ana, bob = await in_lobby(hub, "ana", "bob")
        bob.outbox.attach(lambda: None, lambda data: 4)  # the kernel takes four bytes
        hub.say(ana, LOBBY, "one")  # "ana:" went out
        hub.evict(bob, Reason.TOO_SLOW)
        # The rest of the line first, then the reason: never "ana:! you were...".
        assert bob.outbox.next_batch() == b" one\n"
        assert (
            bob.outbox.next_batch() == b"! you were disconnected: you are not reading fast enough\n"
        )
        nursery.cancel_scope.cancel()


async def test_a_full_socket_during_a_write_through_leaves_the_whole_line_to_the_writer(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # A plain socket's direct write is os.write itself: a full kernel buffer
    # raises BlockingIOError, which means "took nothing", not "gone".
    hub = Hub(name_key)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        ana, bob, cid = await in_lobby(hub, "ana", "bob", "cid")
        cid_peer = attach(cid)
        starts = attach_full(bob)
        hub.say(ana, LOBBY, "one")
        hub.say(ana, LOBBY, "two")
        assert cid_peer.take() == b"ana: one\nana: two\n"
        assert len(starts) == 1  # one writer, for all of it, in order
        assert bob.outbox.next_batch() == b"ana: one\n"
        assert bob.outbox.next_batch() == b"ana: two\n"
        nursery.cancel_scope.cancel()


async def test_a_full_socket_during_a_pass_leaves_the_batch_to_the_writer(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = Hub(name_key)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        [bob] = await in_lobby(hub, "bob")
        starts = attach_full(bob)
        # Bytes for bob alone (a replay, a listing) never write through: a pass sends them.
        bob.outbox.put_nowait(b"*** queued\n", own=True)
        assert starts == []
        await trio.testing.wait_all_tasks_blocked()  # the pass: the kernel takes nothing
        assert len(starts) == 1
        assert bob.outbox.next_batch() == b"*** queued\n"
        nursery.cancel_scope.cancel()
