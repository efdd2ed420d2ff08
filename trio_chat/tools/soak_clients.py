"""The soak's clients, and how their deliveries are counted (see :mod:`trio_chat.tools.soak`).

Theory of operation
-------------------
Each client runs connection after connection until the time is up:
connect, register a fresh name (``c7g3``: client 7, its 4th connection),
chat at ``--rate`` messages per second, maybe move to another room
(``#lobby``, ``#soak-a``, ``#soak-b``), then leave, by ``/quit`` or by
dropping the socket. All run in one trio loop, on real TCP.

Counting, on this process's monotonic clock (every timestamp below is taken
by the client that sees or does the thing):

* Each message is ``soak <id> <padding>``, its id unique for the run, and is
  followed on the same connection by ``/msg <own name> ack <id>``. The server
  handles a connection's lines in order, and puts a broadcast into every
  recipient's queue before it handles the next line, so when the sender
  reads its ack (``acked``) the message is in every recipient's queue.
* A client's *presence* in a room starts when it reads ``*** Welcome``
  (the lobby) or ``*** Now in #room``: the server has put it there. It ends,
  *softly*, when the client sends what takes it away: ``/join``, ``/quit``,
  or, before dropping the socket, a ``/msg <own name> sync`` whose answer it
  reads first. Whatever the server queued for it before that line arrives
  before the answer, ``*** Bye!`` or the next room's ``Now in``. It ends
  *hard* when the client reads that answer, the end of the stream or the
  next room's ``Now in``. (After the sync answer the client reads no more:
  lines that follow it in the same read are not counted.)
* A message is **expected** by every other client whose presence in its room
  started before it was sent and ended softly after its ack was read: they
  were there from before it was sent until after it was broadcast, and kept
  reading. Each expected delivery that never came is **lost**. Deliveries
  to clients present only for part of that window are counted, not
  expected. A delivery to a client that was not in the room (no presence
  there from before it arrived to a hard end after it), or a second delivery
  of one message, is an error; so is a message never acked.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field

import trio

ROOMS = ("#lobby", "#soak-a", "#soak-b")
# A connection lasts this long on average (at most a quarter of the run), give or take half.
MEAN_LIFETIME = 15.0
# No single wait of a client (welcome, room change, sync, goodbye) may take longer.
STEP_TIMEOUT = 30.0
# Deliveries quoted as lost in the report (all are counted).
SAMPLES = 5


@dataclass
class Presence:
    """One client in one room, from ``start`` to a soft and a hard end (seconds)."""

    client: str
    room: str
    start: float
    soft_end: float = math.inf
    hard_end: float = math.inf


@dataclass
class Sent:
    sender: str
    room: str
    sent: float
    acked: float | None = None


@dataclass
class Tally:
    """What :func:`account` found."""

    messages: int = 0
    unacked: int = 0
    expected: int = 0
    delivered: int = 0
    lost: int = 0
    # Delivered to a client that was there for part of the window only.
    also_delivered: int = 0
    misrouted: int = 0
    duplicates: int = 0
    lost_samples: list[str] = field(default_factory=list)
    misrouted_samples: list[str] = field(default_factory=list)


@dataclass
class Ledger:
    """Everything the clients saw and did, for :func:`account`."""

    sent: dict[str, Sent] = field(default_factory=dict)
    presences: list[Presence] = field(default_factory=list)
    # Per client: message id -> when it arrived.
    deliveries: dict[str, dict[str, float]] = field(default_factory=dict)
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)  # "! " lines, with who got them
    failures: list[str] = field(default_factory=list)  # timeouts, unexpected closes
    connections: int = 0
    leaves: Counter[str] = field(default_factory=Counter)
    room_changes: int = 0


def account(ledger: Ledger) -> Tally:
    """Count expected, delivered and lost deliveries (the rules are in the module docstring)."""
    tally = Tally(messages=len(ledger.sent), duplicates=ledger.duplicates)
    by_room: dict[str, list[Presence]] = {}
    for presence in ledger.presences:
        by_room.setdefault(presence.room, []).append(presence)
    for message_id, message in ledger.sent.items():
        if message.acked is None:
            tally.unacked += 1
            continue
        acked = message.acked
        present = [p for p in by_room.get(message.room, []) if p.client != message.sender]
        expected = {p.client for p in present if p.start < message.sent and p.soft_end > acked}
        for client in expected:
            tally.expected += 1
            if message_id in ledger.deliveries.get(client, {}):
                tally.delivered += 1
            else:
                tally.lost += 1
                if len(tally.lost_samples) < SAMPLES:
                    tally.lost_samples.append(f"{message_id} to {client}")
        for client, received in ledger.deliveries.items():
            at = received.get(message_id)
            if at is None or client in expected:
                continue
            if any(p.client == client and p.start <= at <= p.hard_end for p in present):
                tally.also_delivered += 1
            else:
                tally.misrouted += 1
                if len(tally.misrouted_samples) < SAMPLES:
                    tally.misrouted_samples.append(f"{message_id} ({message.room}) to {client}")
    return tally


class Connection:
    """One connection of one soak client: a reader task and the script that drives it."""

    def __init__(self, ledger: Ledger, name: str, stream: trio.abc.Stream) -> None:
        self.ledger = ledger
        self.name = name
        self.stream = stream
        self.room = ROOMS[0]
        self.presence: Presence | None = None
        self.received = ledger.deliveries.setdefault(name, {})
        self.arrived = trio.Event()  # welcomed, or in the new room
        self.synced = trio.Event()
        self.closed = trio.Event()
        self.leaving = False

    async def read(self) -> None:
        """Handle the server's lines until it closes the connection."""
        buffer = b""
        while True:
            try:
                data = await self.stream.receive_some(65536)
            except trio.BrokenResourceError:
                data = b""
            if not data:
                break
            lines = (buffer + data).split(b"\n")
            buffer = lines.pop()
            for line in lines:
                self.handle(line.decode("utf-8", "replace"))
        if self.presence is not None and self.presence.hard_end == math.inf:
            self.presence.hard_end = trio.current_time()
        if not self.leaving:
            self.ledger.failures.append(f"{self.name}: the server closed the connection")
        self.closed.set()

    def handle(self, line: str) -> None:
        now = trio.current_time()
        if self.synced.is_set():
            return  # about to drop the socket: what comes now is not counted
        if line.startswith("! "):
            self.ledger.errors.append(f"{self.name} got: {line}")
        elif line.startswith(f"[private] {self.name}: "):
            words = line.split()
            if words[2:3] == ["ack"] and words[3] in self.ledger.sent:
                self.ledger.sent[words[3]].acked = now
            elif words[2:3] == ["sync"]:
                if self.presence is not None:
                    self.presence.hard_end = now
                self.synced.set()
        elif line.startswith("*** Welcome, "):
            self._enter(ROOMS[0], now)
        elif line.startswith("*** Now in #"):
            self._enter(line.split()[3], now)
        else:
            sender, colon, text = line.partition(": ")
            if colon and text.startswith("soak ") and " " not in sender and sender[:1] not in "[*":
                message_id = text.split()[1]
                if message_id in self.received:
                    self.ledger.duplicates += 1
                self.received[message_id] = now

    def _enter(self, room: str, now: float) -> None:
        if self.presence is not None:
            self.presence.hard_end = now
        self.room = room
        self.presence = Presence(self.name, room, now)
        self.ledger.presences.append(self.presence)
        self.arrived.set()

    async def send(self, *lines: str) -> None:
        await self.stream.send_all("".join(line + "\n" for line in lines).encode())

    def end_presence(self) -> None:
        """What the client sends next takes it out of its room."""
        if self.presence is not None:
            self.presence.soft_end = trio.current_time()


@dataclass
class Plan:
    """What one connection does."""

    lifetime: float
    rate: float
    move_at: float | None  # when to go to another room, seconds after arriving
    drop: bool  # leave by dropping the socket, not by /quit


async def run_connection(
    ledger: Ledger, port: int, name: str, plan: Plan, rng: random.Random
) -> None:
    """Connect, chat by ``plan``, leave; any hitch is recorded as a failure."""
    step = "connecting"
    try:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        conn = Connection(ledger, name, stream)
        ledger.connections += 1
        step = "the welcome"
        async with stream, trio.open_nursery() as nursery:
            nursery.start_soon(_read_then_stop, conn, nursery.cancel_scope)
            with trio.fail_after(STEP_TIMEOUT):
                await conn.send(name)
                await conn.arrived.wait()
            step = "chatting"
            await _chat(conn, plan, rng)
            step = "leaving"
            with trio.fail_after(STEP_TIMEOUT):
                await _leave(conn, plan.drop)
            nursery.cancel_scope.cancel()
    except trio.TooSlowError:
        ledger.failures.append(f"{name}: timed out ({step})")
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
        ledger.failures.append(f"{name}: {exc or type(exc).__name__} ({step})")


async def _read_then_stop(conn: Connection, scope: trio.CancelScope) -> None:
    await conn.read()
    if not conn.leaving:
        scope.cancel()  # the server closed on us: the failure is recorded


async def _chat(conn: Connection, plan: Plan, rng: random.Random) -> None:
    start = trio.current_time()
    end = start + plan.lifetime
    move_at = start + plan.move_at if plan.move_at is not None else math.inf
    sequence = 0
    while True:
        wake = trio.current_time() + rng.expovariate(plan.rate)
        if min(wake, move_at) >= end:
            await trio.sleep_until(end)
            return
        if move_at <= wake:
            await trio.sleep_until(move_at)
            move_at = math.inf
            await _move(conn, rng.choice([r for r in ROOMS if r != conn.room]))
            continue
        await trio.sleep_until(wake)
        sequence += 1
        message_id = f"{conn.name}.{sequence}"
        padding = "x" * rng.randrange(200)
        conn.ledger.sent[message_id] = Sent(conn.name, conn.room, trio.current_time())
        await conn.send(f"soak {message_id} {padding}", f"/msg {conn.name} ack {message_id}")


async def _move(conn: Connection, room: str) -> None:
    conn.arrived = trio.Event()
    conn.end_presence()
    conn.ledger.room_changes += 1
    await conn.send(f"/join {room}")
    with trio.fail_after(STEP_TIMEOUT):
        await conn.arrived.wait()


async def _leave(conn: Connection, drop: bool) -> None:
    conn.leaving = True
    conn.end_presence()
    conn.ledger.leaves["drop" if drop else "quit"] += 1
    if drop:
        # Read everything queued before the sync, then vanish without a word.
        await conn.send(f"/msg {conn.name} sync")
        await conn.synced.wait()
    else:
        await conn.send("/quit soak")
        await conn.closed.wait()


async def run_client(
    ledger: Ledger, port: int, index: int, deadline: float, rate: float, rng: random.Random
) -> None:
    """Connection after connection until ``deadline``."""
    run_time = deadline - trio.current_time()
    mean = min(MEAN_LIFETIME, run_time / 4)
    await trio.sleep(rng.uniform(0, mean / 2))  # arrive spread out, not all at once
    generation = 0
    while (left := deadline - trio.current_time()) > 0:
        lifetime = min(left, rng.uniform(0.5, 1.5) * mean)
        move_at = rng.uniform(0, lifetime) if rng.random() < 0.5 else None
        plan = Plan(lifetime, rate, move_at, drop=rng.random() < 0.5)
        failures = len(ledger.failures)
        await run_connection(ledger, port, f"c{index}g{generation}", plan, rng)
        if len(ledger.failures) > failures:
            return  # one failure is enough to fail the soak: don't hammer a broken server
        generation += 1
