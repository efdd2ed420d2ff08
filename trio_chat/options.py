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
from trio_chat.cli_words import language, language_option, operator_words
from trio_chat.option_values import (
    host_name_arg,
    listen_port,
    networks,
    non_negative,
    origin_arg,
    positive,
    positive_float,
    replay_count,
    server_port,
)

from . import __version__

if TYPE_CHECKING:
    pass


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``only``, the options of that command alone (fewer imports).

    Worded in the operator's language (:mod:`trio_chat.cli_words`).
    """
    _ = operator_words()
    parser = hints.Parser(
        prog="trio-chat", description=_("A multi-user chat server and terminal client.")
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"trio-chat {__version__}",
        help=_("show the version and exit"),
    )
    language_option(parser, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help=_("run the chat server"))
    commands.add_parser("bench", help=_("measure servers under load (see trio-chat bench -h)"))
    commands.add_parser("soak", help=_("clients come and go for minutes (see trio-chat soak -h)"))
    commands.add_parser(
        "catalogs", help=_("update the translation catalogs (see trio-chat catalogs -h)")
    )
    client = commands.add_parser("client", help=_("chat from this terminal"))
    cert = commands.add_parser(
        "cert",
        help=_("make a self-signed TLS certificate for this PC (cert.pem, key.pem)"),
        description=_(
            "Make a key (key.pem, mode 0600) and a self-signed certificate "
            "(cert.pem) valid for localhost, 127.0.0.1, ::1, this PC's host name and LAN "
            "addresses, and every --host given."
        ),
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
    _ = operator_words()
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
        help=_("address to listen on (default {host}: every IPv4 interface)", host=DEFAULT_HOST),
    )
    serve.add_argument(
        "--port",
        type=listen_port,
        default=DEFAULT_PORT,
        help=_("port (default %(default)s; 0: any free port, logged at start)"),
    )
    serve.add_argument(
        "--lang",
        type=language,
        default="en",
        metavar="LANG",
        help=_("the language of users who choose none (default %(default)s; /lang switches)"),
    )
    serve.add_argument(
        "--max-clients",
        type=positive,
        default=DEFAULT_MAX_CLIENTS,
        help=_("connections served at once (default %(default)s)"),
    )
    serve.add_argument(
        "--db",
        default=str(default_path()),
        metavar="PATH",
        help=_(
            "the SQLite file that keeps room history (default %(default)s); ':memory:' keeps none"
        ),
    )
    serve.add_argument(
        "--history",
        type=replay_count,
        default=DEFAULT_REPLAY,
        metavar="N",
        help=_("messages of a room's history shown on entering it (default %(default)s)"),
    )
    serve.add_argument(
        "--history-keep-days",
        type=non_negative,
        default=DEFAULT_KEEP_DAYS,
        metavar="DAYS",
        help=_("delete messages older than DAYS (default %(default)g; 0 keeps them forever)"),
    )
    serve.add_argument(
        "--history-max-mb",
        type=non_negative,
        default=DEFAULT_MAX_MB,
        metavar="MB",
        help=_(
            "delete the oldest messages past MB megabytes of history "
            "(default %(default)g; 0: no limit)"
        ),
    )
    serve.add_argument(
        "--no-private-history",
        action="store_true",
        help=_("keep no private messages (by default each registered user keeps their own)"),
    )
    serve.add_argument(
        "--password-file",
        metavar="FILE",
        help=_("a password to connect: the first line of FILE (clients send /pass PASSWORD)"),
    )
    serve.add_argument(
        "--oper-password-file",
        metavar="FILE",
        help=_("the operators' password: the first line of FILE (/oper PASSWORD)"),
    )
    limits = serve.add_argument_group(
        _("limits"), _("flood and connection limits; addresses in --exempt are subject to none")
    )
    limits.add_argument(
        "--flood-rate",
        type=positive_float,
        default=DEFAULT_FLOOD_RATE,
        metavar="N",
        help=_("lines a second a connection may send; more are delayed (default %(default)g)"),
    )
    limits.add_argument(
        "--flood-burst",
        type=positive,
        default=DEFAULT_FLOOD_BURST,
        metavar="N",
        help=_("lines a connection may send at once above the rate (default %(default)s)"),
    )
    limits.add_argument(
        "--max-per-address",
        type=positive,
        default=DEFAULT_MAX_PER_ADDRESS,
        metavar="N",
        help=_("connections open at once from one address (default %(default)s)"),
    )
    limits.add_argument(
        "--connect-rate",
        type=positive,
        default=DEFAULT_CONNECT_RATE,
        metavar="N",
        help=_("new connections a minute from one address (default %(default)s)"),
    )
    limits.add_argument(
        "--exempt",
        type=networks,
        default=LOOPBACK,
        metavar="CIDR[,CIDR...]",
        help=_(
            "addresses exempt from the limits above (default loopback: 127.0.0.0/8,::1); "
            "'none' limits everyone"
        ),
    )
    serve.add_argument(
        "--tls-cert",
        metavar="FILE",
        help=_("serve TLS with this PEM certificate (chain), e.g. from `trio-chat cert`"),
    )
    serve.add_argument("--tls-key", metavar="FILE", help=_("the certificate's PEM private key"))
    irc = serve.add_argument_group(
        "IRC", _("the IRC door: irssi, WeeChat, HexChat... in the same rooms")
    )
    irc.add_argument(
        "--irc-port",
        type=listen_port,
        default=DEFAULT_IRC_PORT,
        help=_("IRC port (default %(default)s; 0: any free port)"),
    )
    irc.add_argument("--no-irc", action="store_true", help=_("no IRC door"))
    irc.add_argument(
        "--irc-tls-port",
        type=listen_port,
        default=DEFAULT_IRC_TLS_PORT,
        help=_("IRC over TLS, with --tls-cert (default %(default)s; 0: any free port)"),
    )
    irc.add_argument(
        "--irc-server-name",
        default=DEFAULT_IRC_SERVER_NAME,
        metavar="NAME",
        help=_("the server's name on IRC (default %(default)s)"),
    )
    irc.add_argument(
        "--irc-server-info",
        default=DEFAULT_IRC_SERVER_INFO,
        metavar="TEXT",
        help=_("the server's description on IRC (LINKS, WHOIS)"),
    )
    irc.add_argument(
        "--irc-sasl-plaintext",
        action="store_true",
        help=_("let IRC clients log in (SASL) without TLS from other machines too"),
    )
    serve.add_argument(
        "--redis",
        metavar="URL",
        default=os.environ.get("TRIO_CHAT_REDIS") or None,
        help=_(
            "share rooms with every server using this Redis, redis://HOST:PORT/DB "
            "(default $TRIO_CHAT_REDIS; none: this server alone)"
        ),
    )
    serve.add_argument(
        "--redis-heartbeat",
        type=positive_float,
        default=2.0,
        metavar="SECONDS",
        help=_("seconds between heartbeats; a server silent for three is lost (default 2)"),
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help=_("default %(default)s"),
    )
    serve.add_argument(
        "--log-format",
        default="text",
        choices=LOG_FORMATS,
        help=_("text (default) or json: one JSON object per line, for log collectors"),
    )
    _web_options(serve)


def _web_options(serve: argparse.ArgumentParser) -> None:
    _ = operator_words()
    web = serve.add_argument_group(_("the web page (see README, Web page)"))
    web.add_argument(
        "--web-port",
        type=listen_port,
        default=DEFAULT_WEB_PORT,
        metavar="PORT",
        help=_("port of the web page and its WebSocket (default %(default)s; 0: any free port)"),
    )
    web.add_argument("--no-web", action="store_true", help=_("serve no web page"))
    web.add_argument(
        "--web-origin",
        type=origin_arg,
        action="append",
        default=[],
        metavar="URL",
        help=_("also let pages from this origin (http://host:port) use the chat; repeatable"),
    )
    web.add_argument(
        "--web-host",
        type=host_name_arg,
        action="append",
        default=[],
        metavar="NAME",
        help=_(
            "also answer to this name (chat.example.lan) besides IP addresses, localhost "
            "and this machine's name; repeatable"
        ),
    )


def _client_options(client: argparse.ArgumentParser) -> None:
    _ = operator_words()
    client.add_argument("--name", help=_("your name (asked for if not given)"))
    client.add_argument("--host", default="localhost", help=_("server address (default localhost)"))
    client.add_argument(
        "--port", type=server_port, default=DEFAULT_PORT, help=_("port (default %(default)s)")
    )
    client.add_argument(
        "--server-password-file",
        metavar="FILE",
        help=_("the server's password, first line of FILE (asked for if the server needs one)"),
    )
    client.add_argument(
        "--password-file",
        metavar="FILE",
        help=_("your registered name's password, first line of FILE (asked for if needed)"),
    )
    client.add_argument(
        "--no-reconnect",
        action="store_true",
        help=_("end when the connection is lost, instead of reconnecting (a script never does)"),
    )
    client.add_argument(
        "--no-color",
        action="store_true",
        help=_("no colours (also when NO_COLOR is set, or output is not a terminal)"),
    )
    client.add_argument(
        "--tls",
        action="store_true",
        help=_("connect with TLS, trusting the system's certificate authorities"),
    )
    client.add_argument(
        "--tls-ca",
        metavar="FILE",
        help=_("connect with TLS, trusting this PEM certificate (the server's cert.pem)"),
    )
    language_option(client)


def _cert_options(cert: argparse.ArgumentParser) -> None:
    _ = operator_words()
    from trio_chat.net.tls import DEFAULT_DAYS

    cert.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="NAME_OR_IP",
        help=_("another name or address clients use to reach this PC (repeatable)"),
    )
    cert.add_argument(
        "--out", default=".", metavar="DIR", help=_("where to write the files (default: here)")
    )
    cert.add_argument(
        "--days",
        type=positive,
        default=DEFAULT_DAYS,
        help=_("how long the certificate is valid (default %(default)s)"),
    )
    cert.add_argument("--force", action="store_true", help=_("replace existing files"))
    language_option(cert)
