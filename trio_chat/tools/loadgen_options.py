"""The Python load generator's command line (the C generator's options are the same)."""

from __future__ import annotations

import argparse


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
