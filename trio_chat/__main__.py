"""Command line: ``trio-chat serve``, ``trio-chat client`` and ``trio-chat cert``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

# Each command imports what it needs when it runs: `trio-chat cert` never loads
# the server, `trio-chat client` never loads the hub (issue #10).
from trio_chat import cli_words, hints
from trio_chat.cli_words import operator_words
from trio_chat.options import build_parser

if TYPE_CHECKING:
    pass

E = TypeVar("E", bound=BaseException)


def serve(args: argparse.Namespace) -> int:
    import trio

    from trio_chat.app import ServerConfig, run_server
    from trio_chat.backplane.registry import BackplaneError
    from trio_chat.core.datafile import HistoryError, HistoryInUse
    from trio_chat.core.history import Retention
    from trio_chat.core.limits import Limits
    from trio_chat.core.passwords import SecretFileError
    from trio_chat.logs import configure_logging
    from trio_chat.net.tls import TLSError
    from trio_chat.startup import describe_bind_error

    configure_logging(args.log_level, args.log_format)
    config = ServerConfig(
        args.host,
        args.port,
        args.max_clients,
        args.db,
        args.history,
        retention=Retention(args.history_keep_days or None, args.history_max_mb or None),
        keep_privates=not args.no_private_history,
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
        web_hosts=tuple(args.web_host),
        irc_port=None if args.no_irc else args.irc_port,
        irc_tls_port=None if args.no_irc or args.tls_cert is None else args.irc_tls_port,
        irc_server_name=args.irc_server_name,
        irc_sasl_plaintext=args.irc_sasl_plaintext,
        irc_server_info=args.irc_server_info,
        redis=args.redis,
        redis_heartbeat=args.redis_heartbeat,
        lang=args.lang,
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
        _ = operator_words()
        problems += [_("cannot serve TLS: {error}", error=error) for error in _leaves(group)]
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
    from trio_chat.core.names import BadName, check_name
    from trio_chat.core.passwords import SecretFileError
    from trio_chat.net.tls import TLSError, client_context

    _ = operator_words()
    if args.name is not None:
        try:
            check_name(args.name)
        except BadName as exc:
            # The server would say the same; no need to connect to hear it.
            from trio_chat.client.server_lines import worded

            why = worded(_, exc.args[0] if exc.args else exc)
            hints.usage_error("client", f"{hints.option('client', '--name', args.name)}: {why}")
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
            print("trio-chat: " + _("cannot use TLS: {error}", error=exc), file=sys.stderr)
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
            lang=_.lang,
        )
    )


def _secret(path: str | None, what: str) -> str | None:
    from trio_chat.core.passwords import read_secret

    return None if path is None else read_secret(path, what)


def cert(args: argparse.Namespace) -> int:
    from trio_chat.tools.certs import CertError, write_self_signed

    try:
        files = write_self_signed(Path(args.out), args.host, args.days, force=args.force)
    except CertError as exc:
        print(f"trio-chat: {exc}", file=sys.stderr)
        return 1
    _ = operator_words()
    print(_("wrote {path} (the certificate: copy it to the other PCs)", path=files.cert))
    print(_("wrote {path} (the private key, mode 0600: keep it on this PC only)", path=files.key))
    until = f"{files.not_after:%Y-%m-%d}"
    print(_("valid until {date} for: {names}", date=until, names=", ".join(files.names)))
    tls = [("--tls-cert", files.cert), ("--tls-key", files.key)]
    print(f"serve:  {hints.command('serve', *tls)}")
    # TRANSLATORS: placeholders in a command line: letters, digits and _ only (no quotes needed).
    you, address = _("you"), _("ADDRESS")
    here = [("--name", you), ("--host", address), ("--tls-ca", files.cert.name)]
    print(f"client: {hints.command('client', *here)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        from trio_chat.tools.bench import main as bench

        return bench(argv[1:])
    if argv[:1] == ["catalogs"]:
        from trio_chat.tools.catalogs import main as catalogs

        return catalogs(argv[1:])
    if argv[:1] == ["soak"]:
        from trio_chat.tools.soak import main as soak

        return soak(argv[1:])
    cli_words.use(argv)  # the language of --help, of usage errors and of what follows
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
        _ = operator_words()
        print("\n" + _("interrupted"), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
