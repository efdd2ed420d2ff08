"""The Python load generator's command line (the C generator takes the same) and its run."""

from __future__ import annotations

import argparse
import json
import os
import resource

from trio_chat.tools.procstat import process_cpu_s, process_peak_rss_kb, process_rss_kb


def options(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--also-port",
        type=int,
        action="append",
        default=[],
        help="another server's port: "
        "clients are spread over every port given (servers sharing a Redis)",
    )
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument(
        "--rates", default="100", help="messages/s from all senders; a comma-separated list"
    )
    parser.add_argument("--server-pid", type=int, help="report this process's CPU and memory")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--stalled", type=int, default=0, help="clients that never read")
    parser.add_argument("--padding", type=int, default=0, help="extra bytes in each message")
    parser.add_argument(
        "--capacity", action="store_true", help="only register everyone; report memory per client"
    )
    parser.add_argument(
        "--web", action="store_true", help="the clients are web pages: --port is the web port"
    )
    parser.add_argument(
        "--irc", action="store_true", help="the clients speak IRC: --port is the IRC port"
    )
    parser.add_argument("--tls", action="store_true", help="text clients over TLS")
    parser.add_argument("--tls-ca", help="the certificate to trust (with --tls)")
    parser.add_argument(
        "--warmup", type=float, default=0.0, help="seconds of each rate not in the latencies"
    )
    return parser


def main(description: str, argv: list[str] | None = None) -> int:
    """Run the Python generator as its command line says; print its JSON result."""
    from trio_chat.tools.loadgen import LoadGenerator  # the generator imports this module

    args = options(description).parse_args(argv)

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.web:
        from trio_chat.tools.loadgen_web import WebLoadGenerator

        gen: LoadGenerator = WebLoadGenerator(args.host, args.port, args.clients, args.stalled)
    elif args.tls:
        from trio_chat.tools.loadgen_tls import TlsLoadGenerator

        gen = TlsLoadGenerator(args.host, args.port, args.clients, args.stalled, ca=args.tls_ca)
    elif args.irc:
        from trio_chat.tools.loadgen_irc import IrcLoadGenerator

        gen = IrcLoadGenerator(args.host, args.port, args.clients, args.stalled)
    else:
        gen = LoadGenerator(args.host, args.port, args.clients, args.stalled, also=args.also_port)
    idle_rss = process_rss_kb(args.server_pid)
    cpu_before = process_cpu_s(args.server_pid)
    registration = gen.connect_all(timeout=120)
    result: dict[str, object] = {"clients": args.clients, "registration_s": registration}
    result["generator"] = "python"
    result["sync_s"] = gen.sync(timeout=120)
    result["server_rss_kb"] = rss = process_rss_kb(args.server_pid)
    result["registration_server_cpu_s"] = process_cpu_s(args.server_pid) - cpu_before
    if idle_rss is not None and rss is not None:
        result["kb_per_client"] = (rss - idle_rss) / args.clients
    if args.capacity:
        result["phases"] = []
        print(json.dumps(result), flush=True)
        os._exit(0)
    phases = []
    for rate in [float(r) for r in args.rates.split(",")]:
        gen.reset()
        before = process_cpu_s(args.server_pid)
        phase = gen.chat(
            args.senders, rate, args.duration, 3.0, padding=args.padding, warmup=args.warmup
        )
        phase["rate"] = rate
        phase["server_cpu_s"] = process_cpu_s(args.server_pid) - before
        phase["server_peak_rss_kb"] = process_peak_rss_kb(args.server_pid)
        phases.append(phase)
        if phase["lost"]:
            break  # past what the server sustains: higher rates only lose more
    result["phases"] = phases
    print(json.dumps(result), flush=True)
    os._exit(0)  # thousands of sockets: let the kernel close them
