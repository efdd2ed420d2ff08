"""``trio-chat soak``: clients join, chat, leave and come back for minutes; nothing may be lost.

Theory of operation
-------------------
The soak starts a real ``trio-chat serve`` process (a free port, a history
file in a temporary directory, ``--log-format json``) and drives it over
real TCP with N clients in this process (:mod:`trio_chat.tools.soak_clients`,
which also defines how deliveries are counted: what is *expected*, *lost*,
*misrouted*).

The server is measured through ``/proc/PID``: open file descriptors and
RSS after a warm-up (a few clients came and went, and the server has
closed their sockets) and at the end (every client left, the server had up
to :data:`SETTLE_TIMEOUT` to close their sockets). Then it gets SIGTERM and
must exit 0. The soak fails on any lost, misrouted, duplicate or
unacknowledged message, more fds at the end than at the start (or more
sockets than before any client), any ``! `` line a client received, any
connection that failed, any WARNING or ERROR (or non-JSON) line of the
server's log, and a log that does not show one ``registered`` and one
``left`` (or ``dropped``) line per connection.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import trio

from trio_chat.net.listeners import raise_open_file_limit
from trio_chat.tools.procstat import process_cpu_s, process_peak_rss_kb, process_rss_kb
from trio_chat.tools.soak_clients import (
    SAMPLES,
    Ledger,
    Plan,
    Tally,
    account,
    run_client,
    run_connection,
)

DEFAULT_CLIENTS = 50
DEFAULT_MINUTES = 2.0
# Messages per second from each connected client.
DEFAULT_RATE = 1.0
# Clients that come and go once before the starting figures are taken.
WARMUP_CLIENTS = 5
# How long the server gets to start, and to close every socket once clients left.
START_TIMEOUT = 30.0
SETTLE_TIMEOUT = 15.0
# How often the server's file descriptors are counted while waiting for them to settle.
SETTLE_POLL = 0.1


# --- the server under test ----------------------------------------------------------


@dataclass
class Figures:
    """The server process at one moment (None: not measurable here)."""

    fds: int | None
    sockets: int | None
    rss_kb: int | None


def figures(pid: int) -> Figures:
    """Open file descriptors (and how many are sockets) and RSS, from ``/proc``."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return Figures(None, None, None)
    sockets = 0
    for fd in fds:
        try:
            sockets += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            continue  # closed while we looked
    return Figures(len(fds), sockets, process_rss_kb(pid))


async def settle(pid: int, *, sockets: int | None = None, fds: int | None = None) -> Figures:
    """The server's figures once it holds no more than ``sockets`` sockets or ``fds`` fds.

    Closing a connection takes the server a moment (it lingers up to a second
    for the peer's close), so this polls, for at most SETTLE_TIMEOUT: the
    figures then are the answer, leak or not.
    """
    now = figures(pid)
    with trio.move_on_after(SETTLE_TIMEOUT):
        while not (
            (sockets is None or now.sockets is None or now.sockets <= sockets)
            and (fds is None or now.fds is None or now.fds <= fds)
        ):
            await trio.sleep(SETTLE_POLL)  # another process's state: nothing to wait on
            now = figures(pid)
    return now


class ServerLog:
    """The server's stderr, one JSON object per line (``--log-format json``)."""

    def __init__(self) -> None:
        self.lines = 0
        self.problems: list[str] = []  # WARNING and worse, and lines that are not JSON
        self.events: Counter[str] = Counter()
        self.port: int | None = None
        self.listening = trio.Event()

    async def read(self, stream: trio.abc.ReceiveStream) -> None:
        buffer = b""
        async with stream:
            while data := await stream.receive_some(65536):
                *lines, buffer = (buffer + data).split(b"\n")
                for line in lines:
                    self.handle(line.decode("utf-8", "replace"))
        if buffer:
            self.handle(buffer.decode("utf-8", "replace"))
        self.listening.set()  # the server is gone: whoever waits must look at the port

    def handle(self, line: str) -> None:
        self.lines += 1
        try:
            entry = json.loads(line)
        except ValueError:
            self.problems.append(f"not JSON: {line}")
            return
        if not isinstance(entry, dict):
            self.problems.append(f"not a JSON object: {line}")
            return
        if entry.get("level") not in ("DEBUG", "INFO"):
            self.problems.append(f"{entry.get('level')}: {entry.get('message')}")
        event = entry.get("event")
        if event is not None and (event != "left" or entry.get("name")):
            self.events[event] += 1
        if event == "listening" and self.port is None:
            self.port = int(str(entry["address"]).rsplit(":", 1)[1])
            self.listening.set()


@dataclass
class Options:
    clients: int = DEFAULT_CLIENTS
    seconds: float = DEFAULT_MINUTES * 60
    rate: float = DEFAULT_RATE
    seed: int = 0


@dataclass
class Run:
    """What a soak measured, before judging it."""

    options: Options
    ledger: Ledger = field(default_factory=Ledger)
    log: ServerLog = field(default_factory=ServerLog)
    pid: int = 0
    elapsed_s: float = 0.0
    idle: Figures | None = None
    start: Figures | None = None
    end: Figures | None = None
    peak_rss_kb: int | None = None
    cpu_s: float = 0.0
    exit_code: int | None = None


def server_command(tmp: str) -> list[str]:
    command = [sys.executable, "-m", "trio_chat", "serve", "--host", "127.0.0.1", "--port", "0"]
    return [*command, "--no-web", "--no-irc", "--db", f"{tmp}/soak.sqlite3", "--log-format", "json"]


async def soak(options: Options) -> Run:
    """Start a server, run the clients, stop the server; return what was seen."""
    raise_open_file_limit()
    run = Run(options)
    with tempfile.TemporaryDirectory(prefix="trio-chat-soak-") as tmp:
        process = await trio.lowlevel.open_process(
            server_command(tmp),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert process.stderr is not None
        run.pid = process.pid
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(run.log.read, process.stderr)
                await _drive(run, process)
        finally:
            if process.returncode is None:
                process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()
    return run


async def _drive(run: Run, process: trio.Process) -> None:
    with trio.fail_after(START_TIMEOUT):
        await run.log.listening.wait()
    port = run.log.port
    if port is None:
        raise RuntimeError(" / ".join(run.log.problems[-3:]) or "it exited")
    options, ledger, pid = run.options, run.ledger, process.pid
    run.idle = figures(pid)
    async with trio.open_nursery() as warmup:
        for i in range(min(WARMUP_CLIENTS, options.clients)):
            plan = Plan(0.5, 10.0, None, drop=i % 2 == 1)
            warmup.start_soon(run_connection, ledger, port, f"w{i}", plan, random.Random(i))
    run.start = await settle(pid, sockets=run.idle.sockets)
    cpu = process_cpu_s(pid)
    began = trio.current_time()
    deadline = began + options.seconds
    async with trio.open_nursery() as clients:
        for i in range(options.clients):
            rng = random.Random(f"{options.seed}-{i}")
            clients.start_soon(run_client, ledger, port, i, deadline, options.rate, rng)
    run.elapsed_s = trio.current_time() - began
    run.end = await settle(pid, fds=run.start.fds)
    run.cpu_s = process_cpu_s(pid) - cpu
    run.peak_rss_kb = process_peak_rss_kb(pid)
    process.send_signal(signal.SIGTERM)
    with trio.move_on_after(START_TIMEOUT):  # else exit_code stays None: a failure
        run.exit_code = await process.wait()


# --- the report -------------------------------------------------------------------------


def judge(run: Run, tally: Tally) -> list[str]:
    """Why the soak failed; empty if it passed."""
    problems = []
    if tally.lost:
        problems.append(f"{tally.lost} expected deliveries lost")
    if tally.unacked:
        problems.append(f"{tally.unacked} messages never acknowledged")
    if tally.misrouted or tally.duplicates:
        problems.append(f"{tally.misrouted} misrouted, {tally.duplicates} duplicate deliveries")
    problems += leaks(run.idle, run.start, run.end)
    if run.ledger.errors:
        problems.append(f"clients received {len(run.ledger.errors)} error line(s)")
    if run.ledger.failures:
        problems.append(f"{len(run.ledger.failures)} connection failure(s)")
    if run.log.problems:
        problems.append(f"the server logged {len(run.log.problems)} warning/error line(s)")
    events = run.log.events
    left = events["left"] + events["dropped"]
    if not events["registered"] == left == run.ledger.connections:
        problems.append(
            f"{run.ledger.connections} connections, but the log shows "
            f"{events['registered']} registered and {left} left"
        )
    if run.exit_code != 0:
        problems.append(f"the server exited with {run.exit_code} after SIGTERM")
    return problems


def leaks(idle: Figures | None, start: Figures | None, end: Figures | None) -> list[str]:
    """What the server kept: more fds at the end than at the start, or more
    sockets than before the first client came (catches the warm-up's too)."""
    unknown = Figures(None, None, None)
    idle, start, end = idle or unknown, start or unknown, end or unknown
    found = []
    if _above(end.fds, start.fds):
        found.append(f"file descriptors leaked: {start.fds} at start, {end.fds} at end")
    if _above(end.sockets, idle.sockets):
        found.append(f"sockets leaked: {idle.sockets} before any client, {end.sockets} at end")
    return found


def _above(value: int | None, limit: int | None) -> bool:
    return value is not None and limit is not None and value > limit


def report(run: Run) -> dict[str, Any]:
    """The results as a JSON-ready dict."""
    tally = account(run.ledger)
    problems = judge(run, tally)
    ledger = run.ledger
    return {
        "passed": not problems,
        "problems": problems,
        "options": asdict(run.options),
        "elapsed_s": round(run.elapsed_s, 3),
        "connections": ledger.connections,
        "quits": ledger.leaves["quit"],
        "drops": ledger.leaves["drop"],
        "room_changes": ledger.room_changes,
        "deliveries": asdict(tally),
        "server": {
            "pid": run.pid,
            "idle": asdict(run.idle) if run.idle else None,
            "start": asdict(run.start) if run.start else None,
            "end": asdict(run.end) if run.end else None,
            "peak_rss_kb": run.peak_rss_kb,
            "cpu_s": round(run.cpu_s, 2),
            "exit_code": run.exit_code,
        },
        "client_errors": ledger.errors,
        "client_failures": ledger.failures,
        "server_log": {
            "lines": run.log.lines,
            "problems": run.log.problems,
            "events": dict(run.log.events),
        },
    }


def text(results: dict[str, Any]) -> str:
    """The results, for people."""
    o, d, s = results["options"], results["deliveries"], results["server"]
    start, end = s["start"] or {}, s["end"] or {}
    events = results["server_log"]["events"]
    lines = [
        f"trio-chat soak: {o['clients']} clients for {o['seconds']:.0f} s, "
        f"{o['rate']:g} msg/s each (seed {o['seed']})",
        f"connections  {results['connections']} ({results['quits']} quit, {results['drops']} "
        f"dropped their socket), {results['room_changes']} room changes",
        f"messages     {d['messages']} sent, {d['messages'] - d['unacked']} acknowledged",
        f"deliveries   {d['expected']} expected, {d['delivered']} delivered, {d['lost']} lost",
        f"             {d['also_delivered']} more to clients there for part of the time; "
        f"{d['misrouted']} misrouted, {d['duplicates']} duplicates",
        f"server fds   {start.get('fds')} at start, {end.get('fds')} at end "
        f"(sockets {start.get('sockets')} -> {end.get('sockets')})",
        f"server RSS   {_mib(start.get('rss_kb'))} at start, {_mib(end.get('rss_kb'))} at end "
        f"(peak {_mib(s['peak_rss_kb'])}); CPU {s['cpu_s']:.1f} s",
        f"errors       {len(results['client_errors'])} '! ' lines to clients, "
        f"{len(results['client_failures'])} connection failures",
        f"server log   {results['server_log']['lines']} lines, "
        f"{len(results['server_log']['problems'])} warnings/errors; "
        f"{events.get('registered', 0)} registered, "
        f"{events.get('left', 0) + events.get('dropped', 0)} left",
        f"server exit  {s['exit_code']} after SIGTERM",
    ]
    for title, items in (
        ("lost", d["lost_samples"]),
        ("misrouted", d["misrouted_samples"]),
        ("client error", results["client_errors"]),
        ("failure", results["client_failures"]),
        ("server log", results["server_log"]["problems"]),
    ):
        lines += [f"  {title}: {item}" for item in items[:SAMPLES]]
    verdict = "PASS" if results["passed"] else "FAIL: " + "; ".join(results["problems"])
    return "\n".join([*lines, verdict])


def _mib(kb: int | None) -> str:
    return "?" if kb is None else f"{kb / 1024:.1f} MiB"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="trio-chat soak",
        description="Clients join, chat, leave and come back against a real server; "
        "fails if a message is lost, a file descriptor leaks or an error appears.",
    )
    parser.add_argument(
        "--clients",
        type=_positive_int,
        default=DEFAULT_CLIENTS,
        metavar="N",
        help="clients at once (default %(default)s)",
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument(
        "--minutes",
        type=_positive_float,
        default=DEFAULT_MINUTES,
        metavar="M",
        help="how long (default %(default)s)",
    )
    length.add_argument("--seconds", type=_positive_float, metavar="S", help="how long, in seconds")
    parser.add_argument(
        "--rate",
        type=_positive_float,
        default=DEFAULT_RATE,
        metavar="R",
        help="messages per second from each connected client (default %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, metavar="N", help="for the clients' choices (default: random)"
    )
    parser.add_argument(
        "--json",
        default="soak-results.json",
        metavar="PATH",
        help="where to write the results (default %(default)s)",
    )
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    options = Options(args.clients, seconds, args.rate, seed)
    problem = None
    try:
        run = trio.run(soak, options)
    except* (RuntimeError, trio.TooSlowError) as group:
        problem = str(group.exceptions[0]) or "timed out"
    if problem is not None:
        print(f"trio-chat soak: the server did not start: {problem}", file=sys.stderr)
        return 2
    results = report(run)
    print(text(results))
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {args.json}")
    return 0 if results["passed"] else 1


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return number
