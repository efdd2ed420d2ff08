"""How the soak counts deliveries: expected, lost, delivered in passing, misrouted."""

from __future__ import annotations

import math

import trio
import trio.testing

from trio_chat.tools.soak_clients import Connection, Ledger, Presence, Sent, account

from ..conftest import ledger_with


def test_a_client_there_throughout_expects_the_message() -> None:
    there = Presence("ana", "#lobby", start=5.0, soft_end=20.0, hard_end=21.0)
    tally = account(ledger_with(there, ana={"s.1": 10.5}))
    assert (tally.expected, tally.delivered, tally.lost) == (1, 1, 0)
    tally = account(ledger_with(there, ana={}))
    assert (tally.expected, tally.delivered, tally.lost) == (1, 0, 1)
    assert tally.lost_samples == ["s.1 to ana"]


def test_clients_there_for_part_of_the_window_are_not_expected_but_may_receive() -> None:
    late = Presence("late", "#lobby", start=10.2)  # arrived after the send
    early = Presence("early", "#lobby", start=1.0, soft_end=10.8, hard_end=10.9)  # left before ack
    sender = Presence("s", "#lobby", start=1.0)
    tally = account(ledger_with(late, early, sender, late={"s.1": 10.5}, early={}, s={}))
    assert (tally.expected, tally.lost, tally.also_delivered, tally.misrouted) == (0, 0, 1, 0)


def test_a_delivery_outside_the_room_or_twice_is_an_error() -> None:
    elsewhere = Presence("bob", "#dev", start=1.0)
    gone = Presence("cy", "#lobby", start=1.0, soft_end=5.0, hard_end=6.0)
    tally = account(ledger_with(elsewhere, gone, bob={"s.1": 10.5}, cy={"s.1": 10.5}))
    assert tally.misrouted == 2
    ledger = ledger_with()
    ledger.sent["s.2"] = Sent("s", "#lobby", sent=12.0)
    ledger.duplicates = 1
    tally = account(ledger)
    assert (tally.unacked, tally.duplicates) == (1, 1)


async def test_a_connection_reads_arrivals_deliveries_acks_and_errors() -> None:
    ledger = Ledger()
    ledger.sent["n.1"] = Sent("n", "#lobby", sent=trio.current_time())
    stream, _ = trio.testing.memory_stream_pair()
    conn = Connection(ledger, "n", stream)
    for line in [
        "*** Welcome, n! Online: c1g0. Type /help for commands.",
        "[12:00] c1g0: soak c1g0.1 from the history: not live",
        "c1g0: soak c1g0.2 xxx",
        "c1g0: soak c1g0.2 xxx",
        "[private] n: ack n.1",
        "! something went wrong",
        "*** Now in #soak-a (2): n, c2g0",
        "c2g0: soak c2g0.1",
    ]:
        conn.handle(line)
    assert [(p.client, p.room) for p in ledger.presences] == [("n", "#lobby"), ("n", "#soak-a")]
    lobby, room = ledger.presences
    assert lobby.start <= ledger.deliveries["n"]["c1g0.2"] <= lobby.hard_end <= room.start
    assert room.hard_end == math.inf
    assert set(ledger.deliveries["n"]) == {"c1g0.2", "c2g0.1"}
    assert ledger.duplicates == 1
    assert ledger.sent["n.1"].acked is not None
    assert ledger.errors == ["n got: ! something went wrong"]


async def test_nothing_is_counted_after_the_sync_before_a_drop() -> None:
    ledger = Ledger()
    stream, _ = trio.testing.memory_stream_pair()
    conn = Connection(ledger, "n", stream)
    conn.handle("*** Welcome, n! Online: c1g0. Type /help for commands.")
    conn.handle("[private] n: sync")
    # Broadcast after the sync, in the same read: the client is gone as far as it counts.
    conn.handle("c1g0: soak c1g0.1")
    [presence] = ledger.presences
    assert presence.hard_end < math.inf
    assert conn.synced.is_set()
    assert ledger.deliveries["n"] == {}
