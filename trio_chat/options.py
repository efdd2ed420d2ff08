"""The command line's grammar: ``trio-chat``'s parser, its options and their checks.

``__main__`` parses with :func:`build_parser` and calls what the command asks
for; each option group imports only the defaults it shows, so that building the
parser loads no server module it does not need (``trio-chat cert`` loads none).
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from trio_chat import DEFAULT_PORT, DEFAULT_WEB_PORT, hints

from . import __version__

if TYPE_CHECKING:
    from trio_chat.core.limits import Network


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
    commands.add_parser(
        "catalogs", help="update the translation catalogs (see trio-chat catalogs -h)"
    )
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
