"""``trio-chat bench``: run the load scenarios against servers, side by side.

Each scenario starts a fresh server process pinned to one core and a load
generator (``loadgen.c``, or :mod:`trio_chat.tools.loadgen`) pinned to the other,
so neither steals the other's CPU. Targets run interleaved, scenario by scenario,
so a noisy machine affects them alike; ``--compare`` puts the threaded original
and every ``--target`` beside trio_chat and prints their ratios.

A rate is *sustained* when nothing was lost and p99 latency stayed under
:data:`SUSTAINED_P99_MS`. The generator's own CPU use is reported: near 100 %
it, not the server, was the limit, and the row is flagged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from trio_chat.tools.bench_peers import peer_target
from trio_chat.tools.bench_report import (
    SUSTAINED_P99_MS,
    Run,
    methods,
    ratios,
    summary,
    sustained,
    table,
)
from trio_chat.tools.bench_scenarios import ALL, SCENARIOS, Scenario, chosen
from trio_chat.tools.bench_servers import (
    PYTHON_LOADGEN,
    Ports,
    Target,
    c_loadgen,
    original_target,
    parse_target,
    pinned,
    server_pid,
    start_servers,
    trio_chat_target,
)

__all__ = ["SCENARIOS", "SUSTAINED_P99_MS", "Run", "main", "summary", "sustained", "table"]


def loadgen_command(
    scenario: Scenario, generator: Sequence[str], ports: list[Ports], pid: int | None, tmp: str
) -> list[str]:
    if scenario.generator == "python" or scenario.servers > 1:
        generator = PYTHON_LOADGEN  # TLS, web pages and several ports: only Python's
    first = ports[0]
    port = first.web if scenario.web else first.irc if scenario.irc else first.text
    command = [*pinned(1), *generator, "--host", first.host, "--port", str(port)]
    command += ["--web"] if scenario.web else ["--irc"] if scenario.irc else []
    if scenario.mix:
        command += ["--mix", "--irc-port", str(first.irc), "--web-port", str(first.web)]
    if scenario.tls:
        command += ["--tls", "--tls-ca", str(Path(tmp) / "cert.pem")]
    command += [arg for other in ports[1:] for arg in ("--also-port", str(other.text))]
    command += ["--clients", str(scenario.clients), "--senders", str(scenario.senders)]
    command += ["--duration", str(scenario.duration), "--warmup", str(scenario.warmup)]
    command += ["--rates", ",".join(str(r) for r in scenario.rates) or "0"]
    command += ["--capacity"] if scenario.capacity else []
    command += ["--stalled", str(scenario.stalled), "--padding", str(scenario.padding)]
    command += ["--server-pid", str(pid)] if pid else []
    return command


def run_one(
    target: Target,
    scenario: Scenario,
    generator: Sequence[str] = PYTHON_LOADGEN,
    extra: Sequence[str] = (),
) -> Run:
    run = Run(target.name, scenario.name, scenario.clients)
    tmp = tempfile.TemporaryDirectory(prefix="trio-chat-bench-")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        if scenario.tls:
            from trio_chat.tools.certs import write_self_signed

            write_self_signed(Path(tmp.name))
        if scenario.mix and target.address is not None:
            raise RuntimeError("a mixed room needs a server started here (three doors)")
        ports, processes = start_servers(target, scenario, tmp.name)
        pid = server_pid(target, processes)
        command = [*loadgen_command(scenario, generator, ports, pid, tmp.name), *extra]
        done = subprocess.run(command, capture_output=True, timeout=900, check=False)
        if done.returncode != 0:
            lines = done.stderr.decode(errors="replace").strip().splitlines()
            run.error = lines[-1] if lines else f"generator exited with {done.returncode}"
            return run
        report = json.loads(done.stdout)
        run.generator = report.get("generator")
        run.registration_s = report["registration_s"]
        run.server_rss_kb = report.get("server_rss_kb")
        run.kb_per_client = report.get("kb_per_client")
        run.phases = report["phases"]
    except (RuntimeError, OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        run.error = str(exc) or type(exc).__name__
    finally:
        run.load_average = os.getloadavg()[0]
        for process in reversed(processes):
            process.kill()
            process.wait()
        tmp.cleanup()
    return run


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="trio-chat bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", choices=list(ALL), metavar="NAME")
    parser.add_argument(
        "--target",
        action="append",
        metavar="CMD|[NAME=]HOST:PORT",
        help="a server to measure instead of the defaults: a command ({port}, {ircport}, "
        "{webport}, {tmp} replaced), or a server already listening on HOST:PORT",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="trio_chat, the threaded original and every --target in one interleaved run",
    )
    parser.add_argument(
        "--peer",
        action="append",
        default=[],
        choices=["ngircd", "inspircd"],
        help="also start this C IRC server (installed) for the -irc scenarios",
    )
    parser.add_argument("--json", default="bench-results.json", help="where to write results")
    parser.add_argument(
        "--generator",
        default="c",
        metavar="c|python|PATH",
        help="the load generator: C (default, compiled into the cache; Python if no compiler),"
        " Python, or a generator's executable taking the same options",
    )
    parser.add_argument(
        "--rates", help="messages/s to run each scenario at instead of its own (e.g. 200,300)"
    )
    parser.add_argument("--duration", type=float, help="seconds per rate (default: scenario's)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        metavar="N",
        help="run every scenario's targets N times, in order then reversed (A B, B A, ...)",
    )
    parser.add_argument(
        "--warmup", type=float, help="seconds of each rate left out of the latencies"
    )
    parser.add_argument(
        "--loadgen-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="passed to the generator last (e.g. --loadgen-arg=--sender --loadgen-arg=loop)",
    )
    args = parser.parse_args(argv)
    if args.generator not in ("c", "python"):
        generator = [args.generator]
    else:
        generator = (c_loadgen() if args.generator == "c" else None) or PYTHON_LOADGEN
    generator = [*generator]
    print(f"load generator: {' '.join(generator)}", file=sys.stderr)
    scenarios = chosen(args.scenario)
    if args.rates:
        rates = tuple(float(r) for r in args.rates.split(","))
        scenarios = [replace(s, rates=rates) if s.rates else s for s in scenarios]
    if args.duration:
        scenarios = [replace(s, duration=args.duration) for s in scenarios]
    if args.warmup is not None:
        scenarios = [replace(s, warmup=args.warmup) for s in scenarios]
    given = [parse_target(spec) for spec in args.target or []]
    given += [peer_target(name) for name in args.peer]
    defaults = [trio_chat_target(), original_target()]
    targets = [*defaults, *given] if args.compare or not given else given
    runs = []
    for scenario in scenarios:
        chosen_targets = [
            target
            for target in targets
            if not (target in defaults and scenario.targets and target.name not in scenario.targets)
            and not (target.irc_only and not scenario.irc)  # a peer: only the IRC scenarios
        ]
        # The first target stays the ratios' reference in every round (ratios look it up).
        for round_ in range(args.rounds):
            order = chosen_targets if round_ % 2 == 0 else chosen_targets[::-1]
            for target in order:
                print(
                    f"running {scenario.name} against {target.name} (round {round_ + 1})...",
                    file=sys.stderr,
                    flush=True,
                )
                run = run_one(target, scenario, generator, args.loadgen_arg)
                run.round = round_
                runs.append(run)
    kind = "C" if generator[0] != PYTHON_LOADGEN[0] else "Python"
    print(f"load generator: {kind}")
    print(table(runs))
    print(summary(runs))
    print(ratios(runs, {s.name: twin for s in scenarios for twin in s.twins}))
    print(methods(runs))
    Path(args.json).write_text(json.dumps([run.__dict__ for run in runs], indent=2) + "\n")
    print(f"\nresults: {args.json}")
    return 0 if not any(run.error for run in runs) else 1
