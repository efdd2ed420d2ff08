"""The flusher writes at once when idle and batches under load (issue #14)."""

from __future__ import annotations

import trio
import trio.testing

from trio_chat.core.hub import LOBBY, Hub
from trio_chat.core.members import Member, ScopeLink
from trio_chat.core.names import name_key
from trio_chat.text.codec import encode


class Peer:
    """A member's socket as the flusher sees it: a direct write the kernel always takes."""

    def __init__(self) -> None:
        self.written = b""
        self.writes = 0

    def write(self, data: bytes) -> int:
        self.written += data
        self.writes += 1
        return len(data)

    def take(self) -> bytes:
        data, self.written = self.written, b""
        return data


def attach(member: Member) -> Peer:
    """Give ``member`` a socket that takes everything; no writer task should be needed."""
    peer = Peer()
    while member.outbox.next_batch():  # what it heard before (arrivals)
        pass

    def no_writer() -> None:
        raise AssertionError("the direct write took everything: no writer task")

    member.outbox.attach(no_writer, peer.write)
    return peer


async def test_a_message_reaches_an_idle_reader_without_the_clock_advancing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = Hub(name_key)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        ana, bob = (hub.join(name, encode, ScopeLink()) for name in ("ana", "bob"))
        for member in (ana, bob):
            hub.enter(member, LOBBY)
        peer = attach(bob)
        start = trio.current_time()
        for text in ("one", "two", "three"):
            # Each message right after the last one's pass: nothing holds it back.
            hub.say(ana, LOBBY, text)
            await trio.testing.wait_all_tasks_blocked()
            assert peer.take() == f"ana: {text}\n".encode()
            assert trio.current_time() == start
        nursery.cancel_scope.cancel()


async def test_what_is_said_at_once_reaches_each_reader_in_one_write(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = Hub(name_key)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        speakers = [hub.join(f"s{i}", encode, ScopeLink()) for i in range(5)]
        readers = [hub.join(f"r{i}", encode, ScopeLink()) for i in range(20)]
        for member in speakers + readers:
            hub.enter(member, LOBBY)
        peers = [attach(reader) for reader in readers]
        for speaker in speakers:  # one scheduling round: five messages
            hub.say(speaker, LOBBY, "hi")
        await trio.testing.wait_all_tasks_blocked()
        expected = b"".join(b"s%d: hi\n" % i for i in range(5))
        assert all(peer.written == expected for peer in peers)
        assert all(peer.writes == 1 for peer in peers)
        nursery.cancel_scope.cancel()
