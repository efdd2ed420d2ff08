"""The benchmark's load generator: many chat clients in one process, on epoll.

It runs in a process of its own (``python -m trio_chat.tools.loadgen``), pinned to
its own core by ``trio-chat bench``, and speaks the line protocol to any
server (trio_chat, the threaded original, or whatever ``--target`` runs).
It uses neither trio nor threads: one ``select.epoll`` loop drives every
socket, so that the generator costs as little CPU per delivery as Python
allows and its own CPU use can be reported (a saturated generator is flagged,
not mistaken for a slow server).

Each measured message carries its send time: ``m <phase> <seq> <realtime ns>``,
stamped just before its write. A receiver's latency is the kernel's arrival
stamp of the bytes (``SO_TIMESTAMPNS``, CLOCK_REALTIME) minus that, so a socket
read after many others is not charged for the generator's own queue; the time
the loop read it is reported beside (``read_p99_ms``). Messages of the first
``--warmup`` seconds of each rate count for loss, not latency. Unlike the C
generator, this one sends from its reading loop; in the middle of each rate it
opens a newcomer and reports how long it waited to be welcomed (``newcomer_s``).
Output: one JSON object on stdout.
"""

from __future__ import annotations

import errno
import resource
import select
import socket
import struct
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

MARK = b": m "
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; SCM_TIMESTAMPNS the same
ANCILLARY = socket.CMSG_SPACE(16)  # one struct timespec


@dataclass(eq=False)
class Client:
    index: int
    sock: socket.socket
    name: bytes
    buffer: bytes = b""
    welcomed: bool = False
    synced: bool = False
    stalled: bool = False  # never reads after registering (the slow-consumer scenario)
    received: int = 0
    latencies: list[int] = field(default_factory=list)
    # When the loop read each measured line (the kernel's arrival stamp is ``latencies``).
    read_latencies: list[int] = field(default_factory=list)
    # With several servers: latencies of messages sent by a client of another server.
    crossed: list[int] = field(default_factory=list)
    outgoing: bytes = b""
    closed: bool = False
    # Opened in the middle of a measured phase, closed once welcomed: how long a
    # newcomer waits while the load runs (not a reader: its deliveries do not count).
    newcomer: bool = False
    opened_at: float = 0.0
    welcomed_at: float = 0.0


class LoadGenerator:
    def __init__(
        self, host: str, port: int, clients: int, stalled: int = 0, *, also: Sequence[int] = ()
    ) -> None:
        # Client i connects to ports[i % len(ports)]: with ``also``, spread over the servers.
        self.host, self.port, self.ports = host, port, [port, *also]
        self.epoll = select.epoll()
        self.clients: dict[int, Client] = {}
        self.count = clients
        self.stalled = stalled
        self.started = time.monotonic()
        self.phase = 0
        # Messages sent before this (realtime ns) are the warm-up: counted for loss only.
        self.counted_from = 0
        self.phase_start_ns = 0
        # Lines that came without their sender's name (the threaded original's chunks).
        self.unattributed = 0

    # --- connections ------------------------------------------------------------

    def connect_all(self, timeout: float) -> float:
        """Open every connection and register a name; returns the seconds it took."""
        start = time.monotonic()
        pending = list(range(self.count))
        while pending or not all(c.welcomed for c in self.clients.values()):
            # Keep at most 200 registrations in flight, like a crowd arriving.
            in_flight = sum(1 for c in self.clients.values() if not c.welcomed)
            while pending and in_flight < 200:
                self._open(pending.pop(0))
                in_flight += 1
            self.poll(0.05)
            if time.monotonic() - start > timeout:
                raise SystemExit(f"registration timed out ({self.welcomed()} of {self.count})")
        return time.monotonic() - start

    def welcomed(self) -> int:
        return sum(1 for c in self.clients.values() if c.welcomed)

    def _open(self, index: int) -> Client:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        if index < self.stalled:
            # A reader that stops: a small window, so the server's side fills soon.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((self.host, self.ports[index % len(self.ports)]))
        sock.setblocking(False)
        client = Client(index, sock, f"b{index}".encode())
        client.stalled = index < self.stalled
        self.clients[sock.fileno()] = client
        self.epoll.register(sock.fileno(), select.EPOLLIN)
        client.opened_at = time.monotonic()
        self.greet(client)
        return client

    def welcome(self, client: Client) -> None:
        """``client`` is in: a stalled one stops reading, a newcomer is done."""
        client.welcomed = True
        client.welcomed_at = time.monotonic()
        if client.newcomer:
            self._close(client)
        elif client.stalled:
            self.epoll.modify(client.sock.fileno(), 0)  # stop reading

    def greet(self, client: Client) -> None:
        """What a new connection sends first: its name."""
        self.send(client, client.name + b"\n")

    def say(self, client: Client, line: bytes) -> None:
        """Send one line of chat (``line`` ends in a newline)."""
        self.send(client, line)

    # --- the loop ----------------------------------------------------------------

    def poll(self, timeout: float) -> None:
        for fd, events in self.epoll.poll(timeout):
            client = self.clients.get(fd)
            if client is None:
                continue
            if events & select.EPOLLOUT:
                self._flush(client)
            if events & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                self._read(client)

    def receive(self, client: Client) -> tuple[bytes, int] | None:
        """What the socket holds and when it arrived (realtime ns); ``None``: nothing yet.

        Closes the client at the end of its stream (and returns ``b""``).
        """
        try:
            data, ancillary, _flags, _addr = client.sock.recvmsg(262144, ANCILLARY)
        except BlockingIOError:
            return None
        except OSError:
            data, ancillary = b"", []
        if not data:
            self._close(client)
            return b"", 0
        self.read_ns = time.time_ns()
        arrival = self.read_ns
        for level, kind, stamp in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(stamp) >= 16:
                seconds, nanoseconds = struct.unpack("qq", stamp[:16])
                arrival = seconds * 1_000_000_000 + nanoseconds
        return data, arrival

    read_ns = 0  # when the loop read the last bytes received (realtime ns)

    def _read(self, client: Client) -> None:
        received = self.receive(client)
        if not received or not received[0]:
            return
        data, now = received
        lines = (client.buffer + data).split(b"\n")
        client.buffer = lines.pop()
        for line in lines:
            self.line(client, line, now)

    def measured(self, client: Client, phase: bytes, sent: bytes, now: int) -> bool:
        """Count one measured message (``now``: its arrival); ``False`` if of another phase."""
        if int(phase) != self.phase or client.newcomer:
            return False  # a newcomer's replay of the room's history is no delivery
        if not self.phase_start_ns - 1_000_000_000 < int(sent) < now + 1_000_000_000:
            return False  # cut or glued by the server: a stamp from outside this rate
        client.received += 1
        if int(sent) >= self.counted_from:
            client.latencies.append(now - int(sent))
            client.read_latencies.append(self.read_ns - int(sent))
        return True

    # What marks a measured line, a welcome, and a sync line's end (the IRC generator's differ).
    mark, sync_end = MARK, b": sync"

    def is_welcome(self, line: bytes) -> bool:
        return line.startswith(b"*** Welcome")

    def line(self, client: Client, line: bytes, now: int) -> None:
        """One line received (without its newline), arrived at ``now`` (realtime ns)."""
        at = line.find(self.mark)
        unnamed = at < 0 and self.mark == MARK and line.startswith(b"m ")
        if unnamed:
            # The threaded original relays what one recv() got: a second line in it
            # comes without its "name: ". Delivered all the same.
            at, line = 0, b": " + line
        if at >= 0:
            _, phase, _, sent = line.rsplit(b" ", 3)
            if not (phase.isdigit() and sent.isdigit()):
                return  # a line cut by the server
            counted = self.measured(client, phase, sent, now)
            self.unattributed += counted and unnamed
            if counted and len(self.ports) > 1 and self._crossed(line[:at], client):
                client.crossed.append(now - int(sent))
        elif not client.welcomed and self.is_welcome(line):
            self.welcome(client)
        elif line.endswith(self.sync_end):
            client.synced = True

    def _crossed(self, sender: bytes, client: Client) -> bool:
        """Whether ``sender`` (``b<index>``) is on another server than ``client``."""
        count = len(self.ports)
        return sender[1:].isdigit() and int(sender[1:]) % count != client.index % count

    def send(self, client: Client, data: bytes) -> None:
        if client.closed:
            return
        if not client.outgoing:
            try:
                sent = client.sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._close(client)
                return
            data = data[sent:]
            if not data:
                return
            self.epoll.modify(client.sock.fileno(), select.EPOLLIN | select.EPOLLOUT)
        client.outgoing += data

    def _flush(self, client: Client) -> None:
        try:
            sent = client.sock.send(client.outgoing)
        except BlockingIOError:
            return
        except OSError:
            self._close(client)
            return
        client.outgoing = client.outgoing[sent:]
        if not client.outgoing:
            mask = 0 if client.stalled and client.welcomed else select.EPOLLIN
            self.epoll.modify(client.sock.fileno(), mask)

    def _close(self, client: Client) -> None:
        if client.closed:
            return
        client.closed = True
        fd = client.sock.fileno()
        try:
            self.epoll.unregister(fd)
        except (OSError, ValueError) as exc:  # already gone
            if getattr(exc, "errno", None) not in (None, errno.ENOENT, errno.EBADF):
                raise
        client.sock.close()

    def sync(self, timeout: float) -> float:
        """Wait until every reading client has heard a marker: all earlier lines are in."""
        start = time.monotonic()
        first = next(c for c in self.clients.values() if not c.stalled)
        self.say(first, b"sync\n")
        first.synced = True
        while not all(c.synced for c in self.clients.values() if not c.stalled and not c.closed):
            self.poll(0.05)
            if time.monotonic() - start > timeout:
                break
        return time.monotonic() - start

    # --- the measured phase ---------------------------------------------------------

    def chat(
        self,
        senders: int,
        rate: float,
        duration: float,
        drain: float,
        padding: int = 0,
        warmup: float = 0.0,
    ) -> dict[str, object]:
        """``senders`` clients send ``rate`` messages/s in all for ``duration`` s."""
        talkers = [c for c in self.clients.values() if not c.stalled][:senders]
        # Every client reading at the start hears every message but its own: one
        # dropped or disconnected on the way counts as loss.
        readers = sum(1 for c in self.clients.values() if not c.stalled and not c.closed)
        interval = senders / rate
        pad = b"x" * padding + b" " if padding else b""
        sent = 0
        start = time.monotonic()
        self.phase_start_ns = time.time_ns()
        self.counted_from = self.phase_start_ns + int(warmup * 1e9)
        self.unattributed = 0
        next_send = [start + i * interval / senders for i in range(senders)]
        cpu_start = resource.getrusage(resource.RUSAGE_SELF)
        newcomer = None
        while True:
            now = time.monotonic()
            if now - start >= duration:
                break
            if newcomer is None and now - start >= duration / 2:
                newcomer = self._open(self.count + self.phase)
                newcomer.newcomer = True
            for i, talker in enumerate(talkers):
                while next_send[i] <= now:
                    message = b"m %s%d %d %d\n" % (pad, self.phase, sent, time.time_ns())
                    self.say(talker, message)
                    sent += 1
                    next_send[i] += interval
            self.poll(max(0.0, min(next_send) - time.monotonic()))
        # Drain: let what is in flight arrive.
        expected = sent * readers - sent
        drain_end = time.monotonic() + drain
        while self._delivered() < expected and time.monotonic() < drain_end:
            self.poll(0.02)
        cpu_end = resource.getrusage(resource.RUSAGE_SELF)
        elapsed = time.monotonic() - start
        latencies = sorted(x for c in self.clients.values() for x in c.latencies)
        read = sorted(x for c in self.clients.values() for x in c.read_latencies)
        crossed = sorted(x for c in self.clients.values() for x in c.crossed)
        delivered = self._delivered()
        waited = newcomer.welcomed_at - newcomer.opened_at if newcomer else 0.0
        return {
            "newcomer_s": waited if waited > 0 else None,
            "cross_deliveries_per_s": len(crossed) / duration,
            "cross_p99_ms": _percentile(crossed, 0.99),
            "sent": sent,
            "expected_deliveries": expected,
            "deliveries": delivered,
            "lost": expected - delivered,
            "deliveries_per_s": delivered / duration,
            "messages_per_s": sent / duration,
            "p50_ms": _percentile(latencies, 0.50),
            "p99_ms": _percentile(latencies, 0.99),
            "p999_ms": _percentile(latencies, 0.999),
            "max_ms": latencies[-1] / 1e6 if latencies else None,
            "read_p50_ms": _percentile(read, 0.50),
            "read_p99_ms": _percentile(read, 0.99),
            "read_max_ms": read[-1] / 1e6 if read else None,
            "measured": len(latencies),
            "unattributed": self.unattributed,
            "warmup_s": warmup,
            "stalled": self.stalled,
            "loadgen_cpu_s": (cpu_end.ru_utime + cpu_end.ru_stime)
            - (cpu_start.ru_utime + cpu_start.ru_stime),
            "elapsed_s": elapsed,
            "stalled_dropped": self._stalled_dropped(),
            "disconnected": sum(
                1 for c in self.clients.values() if c.closed and not c.stalled and not c.newcomer
            ),
        }

    def _stalled_dropped(self) -> int:
        """How many stalled clients the server has closed (read what they hold)."""
        dropped = 0
        for client in self.clients.values():
            if not client.stalled or client.closed:
                dropped += client.closed and client.stalled
                continue
            while True:
                try:
                    data = client.sock.recv(1 << 20)
                except BlockingIOError:
                    break  # still open: nothing more for now
                except OSError:
                    data = b""
                if not data:
                    self._close(client)
                    dropped += 1
                    break
        return dropped

    def reset(self) -> None:
        """Start a new phase: late lines of an earlier one are not counted."""
        self.phase += 1
        for client in self.clients.values():
            client.received = 0
            client.latencies = []
            client.read_latencies = []
            client.crossed = []

    def _delivered(self) -> int:
        return sum(c.received for c in self.clients.values() if not c.stalled and not c.newcomer)


def _percentile(values: list[int], q: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, int(q * len(values)))] / 1e6


if __name__ == "__main__":
    from trio_chat.tools.loadgen_options import main

    sys.exit(main(__doc__.splitlines()[0]))
