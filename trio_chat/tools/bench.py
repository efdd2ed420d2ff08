"""``trio-chat bench``: run the load scenarios against servers, side by side.

Each scenario starts a fresh server process pinned to one core and a load
generator (:mod:`trio_chat.tools.loadgen`) pinned to the other, so neither steals
the other's CPU. Targets run interleaved, scenario by scenario, so a noisy
machine affects them alike; the table gives ratios from the same run.

A rate is *sustained* when nothing was lost and p99 latency stayed under
:data:`SUSTAINED_P99_MS`. The generator's own CPU use is reported: near 100 %
it, not the server, was the limit, and the row is flagged.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from trio_chat.tools.bench_report import SUSTAINED_P99_MS, Run, summary, sustained, table

__all__ = ["SUSTAINED_P99_MS", "Run", "main", "summary", "sustained", "table"]

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
THREADED_ORIGINAL = BENCHMARKS / "threaded_original.py"
C_LOADGEN = BENCHMARKS / "loadgen.c"


WEB_RATES = (250.0, 500.0, 1000.0, 2000.0)


@dataclass(frozen=True)
class Scenario:
    name: str
    clients: int
    rates: tuple[float, ...]
    senders: int = 10
    duration: float = 5.0
    stalled: int = 0
    padding: int = 0
    # Only register everyone, and measure memory per connection.
    capacity: bool = False
    # The default targets it runs against (None: all).
    targets: tuple[str, ...] | None = None
    # The clients are web pages (WebSockets on the web port), not text clients.
    web: bool = False
    # The clients are IRC users on the IRC port (compared with the scenario without "-irc").
    irc: bool = False
    # The generator it needs ("python": the only one with web pages), if not the chosen one.
    generator: str | None = None
    # Servers sharing one Redis (``--redis``), the clients spread over them.
    servers: int = 1


SCENARIOS = {
    "fanout-100": Scenario("fanout-100", 100, (500, 1000, 2000, 4000)),
    # IRC users in the same room at the same rates, right after their text twins.
    "fanout-100-irc": Scenario(
        "fanout-100-irc", 100, (500, 1000, 2000, 4000), irc=True, targets=("trio_chat",)
    ),
    "fanout-1000": Scenario("fanout-1000", 1000, (50, 100, 200, 300, 400)),
    "fanout-1000-irc": Scenario(
        "fanout-1000-irc", 1000, (50, 100, 200, 300, 400), irc=True, targets=("trio_chat",)
    ),
    # 1 KB messages, so that the stalled reader's buffers fill within the run.
    "slow-consumer": Scenario("slow-consumer", 100, (200,), duration=20.0, stalled=1, padding=1000),
    # The same load with nobody stalled: the difference in peak memory is what
    # the stalled reader cost the server (its outbox is bounded to 1 MiB).
    "slow-consumer-control": Scenario(
        "slow-consumer-control", 100, (200,), duration=20.0, padding=1000, targets=("trio_chat",)
    ),
    # The threaded original announces every join to everyone under one lock:
    # 10,000 of them would take it hours, so it is left out here.
    "capacity": Scenario("capacity", 10_000, (), capacity=True, targets=("trio_chat",)),
    # Web pages in a room of 100, beside text clients at the same rates, both driven by
    # the Python generator (the one that speaks WebSocket): what the web door costs.
    "fanout-100-web": Scenario(
        "fanout-100-web", 100, WEB_RATES, web=True, generator="python", targets=("trio_chat",)
    ),
    "fanout-100-text": Scenario(
        "fanout-100-text", 100, WEB_RATES, generator="python", targets=("trio_chat",)
    ),
    # fanout-100 on two servers sharing a local Redis, half the clients on each: every
    # message reaches half its audience through Redis (the cross-server columns).
    "fanout-100-2servers": Scenario(
        "fanout-100-2servers", 100, (500, 1000, 2000, 4000), servers=2, targets=("trio_chat",)
    ),
}
QUICK = {
    "tiny": Scenario("tiny", 5, (20,), senders=2, duration=1.0),
    "tiny-web": Scenario(
        "tiny-web",
        5,
        (20,),
        senders=2,
        duration=1.0,
        web=True,
        generator="python",
        targets=("trio_chat",),
    ),
    "tiny-irc": Scenario(
        "tiny-irc", 5, (20,), senders=2, duration=1.0, irc=True, targets=("trio_chat",)
    ),
    "tiny-2servers": Scenario(
        "tiny-2servers", 6, (20,), senders=2, duration=1.0, servers=2, targets=("trio_chat",)
    ),
}


@dataclass
class Target:
    name: str
    # "{port}" becomes the port, "{webport}" the web port, "{ircport}" the IRC port,
    # "{tmp}" a temporary directory
    command: list[str]


def default_targets() -> list[Target]:
    trio_chat = [sys.executable, "-m", "trio_chat", "serve", "--host", "127.0.0.1"]
    trio_chat += ["--port", "{port}", "--db", "{tmp}/history.sqlite3", "--log-level", "warning"]
    trio_chat += ["--web-port", "{webport}", "--irc-port", "{ircport}"]
    original = [sys.executable, str(THREADED_ORIGINAL), "{port}"]
    return [Target("trio_chat", trio_chat), Target("threaded-original", original)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)  # polling a port another process opens
    raise RuntimeError("server did not listen in time")


def pinned(core: int) -> list[str]:
    """A taskset prefix pinning to ``core``, when there are cores to spare."""
    if (os.cpu_count() or 1) < 2 or not _has("taskset"):
        return []
    return ["taskset", "-c", str(core)]


def _has(program: str) -> bool:
    return any((Path(d) / program).exists() for d in os.environ.get("PATH", "").split(":"))


def build_c_loadgen(directory: Path) -> list[str] | None:
    """Compile the C load generator; ``None`` if there is no compiler (or source)."""
    compiler = next((c for c in ("cc", "gcc", "clang") if _has(c)), None)
    if compiler is None or not C_LOADGEN.exists():
        return None
    binary = directory / "loadgen"
    build = [compiler, "-O2", "-o", str(binary), str(C_LOADGEN)]
    if subprocess.run(build, capture_output=True, check=False).returncode != 0:
        return None
    return [str(binary)]


PYTHON_LOADGEN = [sys.executable, "-m", "trio_chat.tools.loadgen"]


def start_servers(
    target: Target, scenario: Scenario, tmp: str
) -> tuple[list[tuple[int, int, int]], list[subprocess.Popen[bytes]]]:
    """The target's server(s), pinned to core 0 (with their Redis, if several), listening.

    Returns each server's (port, web port, IRC port), and the processes (Redis first).
    """
    ports = [(free_port(), free_port(), free_port()) for _ in range(scenario.servers)]
    processes: list[subprocess.Popen[bytes]] = []
    extra: list[str] = []
    if scenario.servers > 1:
        redis_port = free_port()
        redis = [*pinned(0), "redis-server", "--port", str(redis_port), "--bind", "127.0.0.1"]
        redis += ["--save", "", "--appendonly", "no", "--dir", tmp]
        processes.append(subprocess.Popen(redis, stdout=subprocess.DEVNULL))
        wait_listening(redis_port, processes[0])
        extra = ["--redis", f"redis://127.0.0.1:{redis_port}/0"]
    for port, web_port, irc_port in ports:
        home = Path(tmp) / str(port)
        home.mkdir()
        parts = [
            p.replace("{port}", str(port))
            .replace("{webport}", str(web_port))
            .replace("{ircport}", str(irc_port))
            .replace("{tmp}", str(home))
            for p in target.command
        ]
        command = [*pinned(0), *parts, *extra]
        processes.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
        wait_listening(port, processes[-1])
    return ports, processes


def run_one(target: Target, scenario: Scenario, generator: Sequence[str] = PYTHON_LOADGEN) -> Run:
    run = Run(target.name, scenario.name, scenario.clients)
    tmp = tempfile.TemporaryDirectory(prefix="trio-chat-bench-")
    processes: list[subprocess.Popen[bytes]] = []
    if scenario.generator == "python":
        generator = PYTHON_LOADGEN
    try:
        ports, processes = start_servers(target, scenario, tmp.name)
        server = processes[-1]
        port, web_port, irc_port = ports[0]
        if scenario.servers > 1:
            generator = PYTHON_LOADGEN  # the C generator speaks to one port
        loadgen = [*pinned(1), *generator]
        if scenario.web:
            wait_listening(web_port, server)
            loadgen += ["--web"]
            port = web_port
        elif scenario.irc:
            wait_listening(irc_port, server)
            loadgen += ["--irc"]
            port = irc_port
        loadgen += ["--port", str(port), "--clients", str(scenario.clients)]
        loadgen += [arg for other, *_ in ports[1:] for arg in ("--also-port", str(other))]
        loadgen += ["--senders", str(scenario.senders), "--duration", str(scenario.duration)]
        loadgen += ["--rates", ",".join(str(r) for r in scenario.rates) or "0"]
        loadgen += ["--capacity"] if scenario.capacity else []
        loadgen += ["--stalled", str(scenario.stalled), "--server-pid", str(server.pid)]
        loadgen += ["--padding", str(scenario.padding)]
        done = subprocess.run(loadgen, capture_output=True, timeout=600, check=False)
        if done.returncode != 0:
            run.error = done.stderr.decode(errors="replace").strip().splitlines()[-1:][0]
            return run
        report = json.loads(done.stdout)
        run.registration_s = report["registration_s"]
        run.server_rss_kb = report["server_rss_kb"]
        run.kb_per_client = report.get("kb_per_client")
        run.phases = report["phases"]
    except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError, IndexError) as exc:
        run.error = str(exc) or type(exc).__name__
    finally:
        for process in reversed(processes):
            process.kill()
            process.wait()
        tmp.cleanup()
    return run


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="trio-chat bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", choices=[*SCENARIOS, *QUICK])
    parser.add_argument(
        "--target",
        action="append",
        metavar="CMD",
        help="a server command to measure instead of the defaults; {port} is replaced",
    )
    parser.add_argument("--json", default="bench-results.json", help="where to write results")
    parser.add_argument(
        "--generator",
        choices=["c", "python"],
        default="c",
        help="the load generator: C (default, compiled here; Python if no compiler) or Python",
    )
    parser.add_argument(
        "--rates", help="messages/s to run each scenario at instead of its own (e.g. 200,300)"
    )
    args = parser.parse_args(argv)
    build_dir = tempfile.TemporaryDirectory(prefix="trio-chat-loadgen-")
    generator = (build_c_loadgen(Path(build_dir.name)) if args.generator == "c" else None) or (
        PYTHON_LOADGEN
    )
    print(f"load generator: {' '.join(generator)}", file=sys.stderr)
    scenarios = [{**SCENARIOS, **QUICK}[s] for s in args.scenario or SCENARIOS]
    if args.rates:
        rates = tuple(float(r) for r in args.rates.split(","))
        scenarios = [replace(s, rates=rates) if s.rates else s for s in scenarios]
    targets = (
        [Target(cmd, shlex.split(cmd)) for cmd in args.target] if args.target else default_targets()
    )
    runs = []
    for scenario in scenarios:
        for target in targets:
            if not args.target and scenario.targets and target.name not in scenario.targets:
                continue
            print(f"running {scenario.name} against {target.name}...", file=sys.stderr, flush=True)
            runs.append(run_one(target, scenario, generator))
    build_dir.cleanup()
    kind = "C" if generator is not PYTHON_LOADGEN else "Python"
    print(f"load generator: {kind}")
    print(table(runs))
    print(summary(runs))
    Path(args.json).write_text(json.dumps([run.__dict__ for run in runs], indent=2) + "\n")
    print(f"\nresults: {args.json}")
    return 0 if not any(run.error for run in runs) else 1
