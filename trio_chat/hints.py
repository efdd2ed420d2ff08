"""Hints in the words the user typed: ``make serve PORT=5001`` or ``trio-chat serve --port 5001``.

The Makefile runs ``trio-chat`` with ``TRIO_CHAT_VIA_MAKE=1`` in its
environment (only its serve, client and cert recipes: not ``make test``);
every hint that names an option or a command asks this module how to say it.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from typing import NoReturn

from trio_chat.cli_words import operator_words

VIA_MAKE = "TRIO_CHAT_VIA_MAKE"

# Each command's options with a make variable (the Makefile's), and whether the
# option takes a value (an option without one is VARIABLE=1 under make).
MAKE_VARIABLES: dict[str, dict[str, tuple[str, bool]]] = {
    "serve": {
        "--host": ("HOST", True),
        "--port": ("PORT", True),
        "--max-clients": ("MAX_CLIENTS", True),
        "--db": ("DB", True),
        "--history": ("HISTORY", True),
        "--history-keep-days": ("HISTORY_KEEP_DAYS", True),
        "--history-max-mb": ("HISTORY_MAX_MB", True),
        "--no-private-history": ("NO_PRIVATE_HISTORY", False),
        "--password-file": ("PASSWORD_FILE", True),
        "--oper-password-file": ("OPER_PASSWORD_FILE", True),
        "--flood-rate": ("FLOOD_RATE", True),
        "--flood-burst": ("FLOOD_BURST", True),
        "--max-per-address": ("MAX_PER_ADDRESS", True),
        "--connect-rate": ("CONNECT_RATE", True),
        "--exempt": ("EXEMPT", True),
        "--tls-cert": ("TLS_CERT", True),
        "--tls-key": ("TLS_KEY", True),
        "--log-level": ("LOG_LEVEL", True),
        "--log-format": ("LOG_FORMAT", True),
        "--web-port": ("WEB_PORT", True),
        "--no-web": ("NO_WEB", False),
        "--web-origin": ("WEB_ORIGIN", True),
        "--web-host": ("WEB_HOST", True),
        "--irc-port": ("IRC_PORT", True),
        "--no-irc": ("NO_IRC", False),
        "--irc-tls-port": ("IRC_TLS_PORT", True),
        "--irc-server-name": ("IRC_SERVER_NAME", True),
        "--irc-server-info": ("IRC_SERVER_INFO", True),
        "--redis": ("REDIS", True),
        "--redis-heartbeat": ("REDIS_HEARTBEAT", True),
        "--lang": ("SERVER_LANG", True),
        "--irc-sasl-plaintext": ("IRC_SASL_PLAINTEXT", False),
    },
    "client": {
        "--name": ("NAME", True),
        "--host": ("HOST", True),
        "--port": ("PORT", True),
        "--server-password-file": ("SERVER_PASSWORD_FILE", True),
        "--password-file": ("PASSWORD_FILE", True),
        "--tls-ca": ("TLS_CA", True),
        "--tls": ("TLS", False),
        "--no-color": ("NO_COLOR", False),
        "--no-reconnect": ("NO_RECONNECT", False),
        "--lang": ("CLIENT_LANG", True),
    },
    "cert": {
        "--host": ("HOSTS", True),
        "--out": ("CERT_DIR", True),
        "--days": ("DAYS", True),
        "--force": ("FORCE", False),
        "--lang": ("CERT_LANG", True),
    },
}


def via_make() -> bool:
    """Whether this process was started by the Makefile."""
    return os.environ.get(VIA_MAKE, "") not in ("", "0")


def spelled(command: str, flag: str) -> str:
    """What the user calls an option: ``PORT`` under make, else ``--port``."""
    variable = MAKE_VARIABLES.get(command, {}).get(flag)
    return variable[0] if variable and via_make() else flag


def option(command: str, flag: str, value: object = None) -> str:
    """One option as typed: ``PORT=5001`` or ``--port 5001``.

    Without ``value``, an option that takes one is named alone (``TLS_CERT=``,
    ``--tls-cert``); one that takes none is ``FORCE=1`` or ``--force``.
    """
    variable = MAKE_VARIABLES.get(command, {}).get(flag)
    if variable and via_make():
        given, takes_value = variable
        shown = "1" if not takes_value else "" if value is None else shlex.quote(str(value))
        return f"{given}={shown}"
    return flag if value is None else f"{flag} {shlex.quote(str(value))}"


def command(verb: str, *options: tuple[str, object]) -> str:
    """A whole command line: ``make client NAME=you`` or ``trio-chat client --name you``."""
    program = "make" if via_make() else "trio-chat"
    return " ".join([program, verb, *(option(verb, flag, value) for flag, value in options)])


class Parser(argparse.ArgumentParser):
    """Under make, a usage error is one line in make's words (``make serve: PORT: ...``)."""

    def error(self, message: str) -> NoReturn:
        verb = self.prog.split()[-1]
        if not via_make() or verb not in MAKE_VARIABLES:
            super().error(message)
        # argparse's "argument --port: ..." in the operator's words (cli_words).
        argument = operator_words()("argument %(argument_name)s: %(message)s")
        lead = re.escape(argument.split("%(argument_name)s", 1)[0])
        flags = re.compile(lead + r"(--[\w-]+)(?:/-\w)?:")
        usage_error(verb, flags.sub(lambda m: spelled(verb, m[1]) + ":", message))


def usage_error(verb: str, message: str) -> NoReturn:
    """Stop with a one-line usage error (exit 2): ``trio-chat serve: error: ...``."""
    _ = operator_words()
    where = f"make {verb}" if via_make() else _("trio-chat {verb}: error", verb=verb)
    print(f"{where}: {message}", file=sys.stderr)
    sys.exit(2)
