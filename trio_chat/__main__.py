"""Command line: ``trio-chat serve`` and ``trio-chat client``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from functools import partial
from typing import TypeVar

import trio

from . import __version__
from .client import run_terminal_client
from .history import DEFAULT_REPLAY, HistoryError, default_path
from .logs import LOG_FORMATS, configure_logging
from .protocol import HISTORY_MAX
from .server import (
    DEFAULT_HOST,
    DEFAULT_MAX_CLIENTS,
    DEFAULT_PORT,
    ServerConfig,
    describe_bind_error,
    run_server,
)

E = TypeVar("E", bound=BaseException)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trio-chat", description="A multi-user chat server and terminal client."
    )
    parser.add_argument("--version", action="version", version=f"trio-chat {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the chat server")
    serve.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}: every IPv4 interface)",
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s)")
    serve.add_argument(
        "--max-clients",
        type=_positive,
        default=DEFAULT_MAX_CLIENTS,
        help="connections served at once (default %(default)s)",
    )
    serve.add_argument(
        "--db",
        default=str(default_path()),
        metavar="PATH",
        help="the SQLite file that keeps room history (default %(default)s); ':memory:' keeps none",
    )
    serve.add_argument(
        "--history",
        type=_replay_count,
        default=DEFAULT_REPLAY,
        metavar="N",
        help="messages of a room's history shown on entering it (default %(default)s)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="default %(default)s",
    )
    serve.add_argument(
        "--log-format",
        default="text",
        choices=LOG_FORMATS,
        help="text (default) or json: one JSON object per line, for log collectors",
    )

    commands.add_parser("bench", help="measure servers under load (see trio-chat bench -h)")
    commands.add_parser("soak", help="clients come and go for minutes (see trio-chat soak -h)")
    client = commands.add_parser("client", help="chat from this terminal")
    client.add_argument("--name", help="your name (asked for if not given)")
    client.add_argument("--host", default="localhost", help="server address (default localhost)")
    client.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s)")
    client.add_argument(
        "--no-color",
        action="store_true",
        help="no colours (also when NO_COLOR is set, or output is not a terminal)",
    )
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _replay_count(text: str) -> int:
    value = int(text)
    if not 0 <= value <= HISTORY_MAX:
        raise argparse.ArgumentTypeError(f"must be from 0 to {HISTORY_MAX}")
    return value


def serve(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, args.log_format)
    config = ServerConfig(args.host, args.port, args.max_clients, args.db, args.history)
    problems: list[str] = []
    try:
        trio.run(run_server, config)
    except* HistoryError as group:
        problems += [str(error) for error in _leaves(group)]
    except* OSError as group:
        # Only listening can fail this way: every connection's errors are handled.
        problems += [describe_bind_error(error, config) for error in _leaves(group)]
    for problem in problems[:1]:
        logging.getLogger("trio_chat").error("%s", problem)
    return 1 if problems else 0


def _leaves(group: BaseExceptionGroup[E]) -> list[E]:
    """The exceptions in a (nested) exception group."""
    found: list[E] = []
    for error in group.exceptions:
        found += _leaves(error) if isinstance(error, BaseExceptionGroup) else [error]
    return found


def client(args: argparse.Namespace) -> int:
    return trio.run(
        partial(run_terminal_client, args.host, args.port, args.name, no_color=args.no_color)
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        from .bench import main as bench

        return bench(argv[1:])
    if argv[:1] == ["soak"]:
        from .soak import main as soak

        return soak(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return serve(args) if args.command == "serve" else client(args)
    except KeyboardInterrupt:
        # Only reachable before the signal handlers are installed.
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
