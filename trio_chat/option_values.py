"""The values the command line's options take: each checks one and says what is wrong.

Each is an argparse ``type``: it returns the value, or raises
``argparse.ArgumentTypeError`` with the reason in the operator's language.
"""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING

from trio_chat.cli_words import operator_words
from trio_chat.i18n import N_

if TYPE_CHECKING:
    from trio_chat.core.limits import Network

# A DNS name as --web-host takes it (labels of letters, digits and inner hyphens).
HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


def host_name_arg(text: str) -> str:
    _ = operator_words()
    from trio_chat.web.routes import host_name

    name = host_name(text)
    if name is None or not HOST_NAME.fullmatch(name) or name != text.strip().lower().rstrip("."):
        raise argparse.ArgumentTypeError(
            _("{name!r} is not a host name: give the name alone, as chat.example.lan", name=text)
        )
    return name


def origin_arg(text: str) -> str:
    _ = operator_words()
    from trio_chat.web.routes import origin_of

    if origin_of(text) is None or text.rstrip("/").count("/") > 2:
        raise argparse.ArgumentTypeError(
            _(
                "{text} is not an origin: use http://HOST[:PORT] or https://HOST[:PORT]",
                text=repr(text),
            )
        )
    return text.rstrip("/")


def positive(text: str) -> int:
    _ = operator_words()
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(_("must be at least 1"))
    return value


def listen_port(text: str) -> int:
    return port_number(text, 0, N_("from 0 to 65535 (0: any free port)"))


def server_port(text: str) -> int:
    return port_number(text, 1, N_("from 1 to 65535"))


def port_number(text: str, lowest: int, which: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not lowest <= value <= 65535:
        _ = operator_words()
        raise argparse.ArgumentTypeError(
            _("{text} is not a port: use a number {which}", text=repr(text), which=_(which))
        )
    return value


def positive_float(text: str) -> float:
    _ = operator_words()
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(_("must be a number above 0"))
    return value


def networks(text: str) -> tuple[Network, ...]:
    from trio_chat.core.limits import parse_networks

    try:
        return parse_networks(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def non_negative(text: str) -> float:
    _ = operator_words()
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_("not a number: {text}", text=repr(text))) from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(_("must be 0 or more: {text}", text=repr(text)))
    return value


def replay_count(text: str) -> int:
    _ = operator_words()
    from trio_chat.text.grammar import HISTORY_MAX

    value = int(text)
    if not 0 <= value <= HISTORY_MAX:
        raise argparse.ArgumentTypeError(_("must be from 0 to {most}", most=HISTORY_MAX))
    return value
