"""Command line: ``trio-chat serve``, ``trio-chat client`` and ``trio-chat cert``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

# Each command imports what it needs when it runs: `trio-chat cert` never loads
# the server, `trio-chat client` never loads the hub (issue #10).
from trio_chat import DEFAULT_PORT, DEFAULT_WEB_PORT, hints

from . import __version__

if TYPE_CHECKING:
    from trio_chat.core.limits import Network

E = TypeVar("E", bound=BaseException)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``only``, the options of that command alone (fewer imports)."""
    parser = hints.Parser(
        prog="trio-chat", description="A multi-user chat server and terminal client."
    )
    parser.add_argument("--version", action="version", version=f"trio-chat {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the chat server")
    commands.add_parser("bench", help="measure servers under load (see trio-chat bench -h)")
    commands.add_parser("soak", help="clients come and go for minutes (see trio-chat soak -h)")
    client = commands.add_parser("client", help="chat from this terminal")
    cert = commands.add_parser(
        "cert",
        help="make a self-signed TLS certificate for this PC (cert.pem, key.pem)",
        description="Make a key (key.pem, mode 0600) and a self-signed certificate "
        "(cert.pem) valid for localhost, 127.0.0.1, ::1, this PC's host name and LAN "
        "addresses, and every --host given.",
    )
    for verb, options, add in (
        ("serve", serve, _serve_options),
        ("client", client, _client_options),
        ("cert", cert, _cert_options),
    ):
        if only in (None, verb):
            add(options)
    return parser


def _serve_options(serve: argparse.ArgumentParser) -> None:
    from trio_chat.app import DEFAULT_HOST
    from trio_chat.core.admission import DEFAULT_MAX_CLIENTS
    from trio_chat.core.datafile import default_path
    from trio_chat.core.history import DEFAULT_KEEP_DAYS, DEFAULT_MAX_MB, DEFAULT_REPLAY
    from trio_chat.core.limits import (
        DEFAULT_CONNECT_RATE,
        DEFAULT_FLOOD_BURST,
        DEFAULT_FLOOD_RATE,
        DEFAULT_MAX_PER_ADDRESS,
        LOOPBACK,
    )
    from trio_chat.irc.server import (
        DEFAULT_IRC_PORT,
        DEFAULT_IRC_SERVER_INFO,
        DEFAULT_IRC_SERVER_NAME,
        DEFAULT_IRC_TLS_PORT,
    )
    from trio_chat.logs import LOG_FORMATS

    serve.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}: every IPv4 interface)",
    )
    serve.add_argument(
        "--port",
        type=_listen_port,
        default=DEFAULT_PORT,
        help="port (default %(default)s; 0: any free port, logged at start)",
    )
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
        "--history-keep-days",
        type=_non_negative,
        default=DEFAULT_KEEP_DAYS,
        metavar="DAYS",
        help="delete messages older than DAYS (default %(default)g; 0 keeps them forever)",
    )
    serve.add_argument(
        "--history-max-mb",
        type=_non_negative,
        default=DEFAULT_MAX_MB,
        metavar="MB",
        help="delete the oldest messages past MB megabytes of history "
        "(default %(default)g; 0: no limit)",
    )
    serve.add_argument(
        "--password-file",
        metavar="FILE",
        help="a password to connect: the first line of FILE (clients send /pass PASSWORD)",
    )
    serve.add_argument(
        "--oper-password-file",
        metavar="FILE",
        help="the operators' password: the first line of FILE (/oper PASSWORD)",
    )
    limits = serve.add_argument_group(
        "limits", "flood and connection limits; addresses in --exempt are subject to none"
    )
    limits.add_argument(
        "--flood-rate",
        type=_positive_float,
        default=DEFAULT_FLOOD_RATE,
        metavar="N",
        help="lines a second a connection may send; more are delayed (default %(default)g)",
    )
    limits.add_argument(
        "--flood-burst",
        type=_positive,
        default=DEFAULT_FLOOD_BURST,
        metavar="N",
        help="lines a connection may send at once above the rate (default %(default)s)",
    )
    limits.add_argument(
        "--max-per-address",
        type=_positive,
        default=DEFAULT_MAX_PER_ADDRESS,
        metavar="N",
        help="connections open at once from one address (default %(default)s)",
    )
    limits.add_argument(
        "--connect-rate",
        type=_positive,
        default=DEFAULT_CONNECT_RATE,
        metavar="N",
        help="new connections a minute from one address (default %(default)s)",
    )
    limits.add_argument(
        "--exempt",
        type=_networks,
        default=LOOPBACK,
        metavar="CIDR[,CIDR...]",
        help="addresses exempt from the limits above (default loopback: 127.0.0.0/8,::1); "
        "'none' limits everyone",
    )
    serve.add_argument(
        "--tls-cert",
        metavar="FILE",
        help="serve TLS with this PEM certificate (chain), e.g. from `trio-chat cert`",
    )
    serve.add_argument("--tls-key", metavar="FILE", help="the certificate's PEM private key")
    irc = serve.add_argument_group(
        "IRC", "the IRC door: irssi, WeeChat, HexChat... in the same rooms"
    )
    irc.add_argument(
        "--irc-port",
        type=_listen_port,
        default=DEFAULT_IRC_PORT,
        help="IRC port (default %(default)s; 0: any free port)",
    )
    irc.add_argument("--no-irc", action="store_true", help="no IRC door")
    irc.add_argument(
        "--irc-tls-port",
        type=_listen_port,
        default=DEFAULT_IRC_TLS_PORT,
        help="IRC over TLS, with --tls-cert (default %(default)s; 0: any free port)",
    )
    irc.add_argument(
        "--irc-server-name",
        default=DEFAULT_IRC_SERVER_NAME,
        metavar="NAME",
        help="the server's name on IRC (default %(default)s)",
    )
    irc.add_argument(
        "--irc-server-info",
        default=DEFAULT_IRC_SERVER_INFO,
        metavar="TEXT",
        help="the server's description on IRC (LINKS, WHOIS)",
    )
    irc.add_argument(
        "--irc-sasl-plaintext",
        action="store_true",
        help="let IRC clients log in (SASL) without TLS from other machines too",
    )
    serve.add_argument(
        "--redis",
        metavar="URL",
        default=os.environ.get("TRIO_CHAT_REDIS") or None,
        help="share rooms with every server using this Redis, redis://HOST:PORT/DB "
        "(default $TRIO_CHAT_REDIS; none: this server alone)",
    )
    serve.add_argument(
        "--redis-heartbeat",
        type=_positive_float,
        default=2.0,
        metavar="SECONDS",
        help="seconds between heartbeats; a server silent for three is lost (default 2)",
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
    _web_options(serve)


def _web_options(serve: argparse.ArgumentParser) -> None:
    web = serve.add_argument_group("the web page (see README, Web page)")
    web.add_argument(
        "--web-port",
        type=_listen_port,
        default=DEFAULT_WEB_PORT,
        metavar="PORT",
        help="port of the web page and its WebSocket (default %(default)s; 0: any free port)",
    )
    web.add_argument("--no-web", action="store_true", help="serve no web page")
    web.add_argument(
        "--web-origin",
        type=_origin,
        action="append",
        default=[],
        metavar="URL",
        help="also let pages from this origin (http://host:port) use the chat; repeatable",
    )


def _origin(text: str) -> str:
    from trio_chat.web.routes import origin_of

    if origin_of(text) is None or text.rstrip("/").count("/") > 2:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an origin: use http://HOST[:PORT] or https://HOST[:PORT]"
        )
    return text.rstrip("/")


def _client_options(client: argparse.ArgumentParser) -> None:
    client.add_argument("--name", help="your name (asked for if not given)")
    client.add_argument("--host", default="localhost", help="server address (default localhost)")
    client.add_argument(
        "--port", type=_server_port, default=DEFAULT_PORT, help="port (default %(default)s)"
    )
    client.add_argument(
        "--server-password-file",
        metavar="FILE",
        help="the server's password, first line of FILE (asked for if the server needs one)",
    )
    client.add_argument(
        "--password-file",
        metavar="FILE",
        help="your registered name's password, first line of FILE (asked for if needed)",
    )
    client.add_argument(
        "--no-reconnect",
        action="store_true",
        help="end when the connection is lost, instead of reconnecting (a script never does)",
    )
    client.add_argument(
        "--no-color",
        action="store_true",
        help="no colours (also when NO_COLOR is set, or output is not a terminal)",
    )
    client.add_argument(
        "--tls",
        action="store_true",
        help="connect with TLS, trusting the system's certificate authorities",
    )
    client.add_argument(
        "--tls-ca",
        metavar="FILE",
        help="connect with TLS, trusting this PEM certificate (the server's cert.pem)",
    )


def _cert_options(cert: argparse.ArgumentParser) -> None:
    from trio_chat.net.tls import DEFAULT_DAYS

    cert.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="NAME_OR_IP",
        help="another name or address clients use to reach this PC (repeatable)",
    )
    cert.add_argument(
        "--out", default=".", metavar="DIR", help="where to write the files (default: here)"
    )
    cert.add_argument(
        "--days",
        type=_positive,
        default=DEFAULT_DAYS,
        help="how long the certificate is valid (default %(default)s)",
    )
    cert.add_argument("--force", action="store_true", help="replace existing files")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _listen_port(text: str) -> int:
    return _port(text, 0, "from 0 to 65535 (0: any free port)")


def _server_port(text: str) -> int:
    return _port(text, 1, "from 1 to 65535")


def _port(text: str, lowest: int, which: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not lowest <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: use a number {which}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a number above 0")
    return value


def _networks(text: str) -> tuple[Network, ...]:
    from trio_chat.core.limits import parse_networks

    try:
        return parse_networks(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value


def _replay_count(text: str) -> int:
    from trio_chat.text.grammar import HISTORY_MAX

    value = int(text)
    if not 0 <= value <= HISTORY_MAX:
        raise argparse.ArgumentTypeError(f"must be from 0 to {HISTORY_MAX}")
    return value


def serve(args: argparse.Namespace) -> int:
    import trio

    from trio_chat.app import ServerConfig, describe_bind_error, run_server
    from trio_chat.backplane.registry import BackplaneError
    from trio_chat.core.accounts import SecretFileError
    from trio_chat.core.datafile import HistoryError, HistoryInUse
    from trio_chat.core.history import Retention
    from trio_chat.core.limits import Limits
    from trio_chat.logs import configure_logging
    from trio_chat.net.tls import TLSError

    configure_logging(args.log_level, args.log_format)
    config = ServerConfig(
        args.host,
        args.port,
        args.max_clients,
        args.db,
        args.history,
        retention=Retention(args.history_keep_days or None, args.history_max_mb or None),
        password_file=args.password_file,
        oper_password_file=args.oper_password_file,
        limits=Limits(
            flood_rate=args.flood_rate,
            flood_burst=args.flood_burst,
            max_per_address=args.max_per_address,
            connect_rate=args.connect_rate,
            exempt=args.exempt,
        ),
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        web_port=None if args.no_web else args.web_port,
        web_origins=tuple(args.web_origin),
        irc_port=None if args.no_irc else args.irc_port,
        irc_tls_port=None if args.no_irc or args.tls_cert is None else args.irc_tls_port,
        irc_server_name=args.irc_server_name,
        irc_sasl_plaintext=args.irc_sasl_plaintext,
        irc_server_info=args.irc_server_info,
        redis=args.redis,
        redis_heartbeat=args.redis_heartbeat,
    )
    problems: list[str] = []
    try:
        trio.run(run_server, config)
    except* HistoryInUse as group:
        own_file = hints.option("serve", "--db", "PATH")
        problems += [f"{error}: {own_file}" for error in _leaves(group)]
    except* (HistoryError, SecretFileError, BackplaneError) as group:
        problems += [str(error) for error in _leaves(group)]
    except* TLSError as group:
        problems += [f"cannot serve TLS: {error}" for error in _leaves(group)]
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
    from functools import partial

    import trio

    from trio_chat.client.terminal import run_terminal_client
    from trio_chat.core.accounts import SecretFileError
    from trio_chat.core.names import BadName, check_name
    from trio_chat.net.tls import TLSError, client_context

    if args.name is not None:
        try:
            check_name(args.name)
        except BadName as exc:
            # The server would say the same; no need to connect to hear it.
            hints.usage_error("client", f"{hints.option('client', '--name', args.name)}: {exc}")
    try:
        server_password = _secret(args.server_password_file, "server password")
        password = _secret(args.password_file, "password")
    except SecretFileError as exc:
        print(f"trio-chat: {exc}", file=sys.stderr)
        return 1
    context = None
    if args.tls or args.tls_ca:
        try:
            context = client_context(args.tls_ca)
        except TLSError as exc:
            print(f"trio-chat: cannot use TLS: {exc}", file=sys.stderr)
            return 1
    return trio.run(
        partial(
            run_terminal_client,
            args.host,
            args.port,
            args.name,
            no_color=args.no_color,
            server_password=server_password,
            password=password,
            ssl_context=context,
            reconnect=not args.no_reconnect,
        )
    )


def _secret(path: str | None, what: str) -> str | None:
    from trio_chat.core.accounts import read_secret

    return None if path is None else read_secret(path, what)


def cert(args: argparse.Namespace) -> int:
    from trio_chat.tools.certs import CertError, write_self_signed

    try:
        files = write_self_signed(Path(args.out), args.host, args.days, force=args.force)
    except CertError as exc:
        print(f"trio-chat: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {files.cert} (the certificate: copy it to the other PCs)")
    print(f"wrote {files.key} (the private key, mode 0600: keep it on this PC only)")
    print(f"valid until {files.not_after:%Y-%m-%d} for: {', '.join(files.names)}")
    tls = [("--tls-cert", files.cert), ("--tls-key", files.key)]
    print(f"serve:  {hints.command('serve', *tls)}")
    here = [("--name", "you"), ("--host", "ADDRESS"), ("--tls-ca", files.cert.name)]
    print(f"client: {hints.command('client', *here)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        from trio_chat.tools.bench import main as bench

        return bench(argv[1:])
    if argv[:1] == ["soak"]:
        from trio_chat.tools.soak import main as soak

        return soak(argv[1:])
    verb = argv[0] if argv[:1] and not argv[0].startswith("-") else None
    args = build_parser(verb).parse_args(argv)
    if args.command == "serve" and (args.tls_cert is None) != (args.tls_key is None):
        both = (hints.option("serve", flag) for flag in ("--tls-cert", "--tls-key"))
        hints.usage_error("serve", " and ".join(both) + " go together")
    commands = {"serve": serve, "client": client, "cert": cert}
    try:
        return commands[args.command](args)
    except KeyboardInterrupt:
        # Only reachable before the signal handlers are installed.
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
