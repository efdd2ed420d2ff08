"""What the operator reads as the server starts: where it listens, how others reach it,
and, when it cannot listen, why and what to do instead.

In the operator's language (:mod:`trio_chat.cli_words`): ``serve --lang`` or
the environment. The log's event names and JSON fields stay as they are; only
the human ``message`` is worded.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from trio_chat import DEFAULT_PORT, hints
from trio_chat.cli_words import operator_words
from trio_chat.irc.server import announce_irc
from trio_chat.net.listeners import ListenError, lan_addresses
from trio_chat.web.server import announce_web

if TYPE_CHECKING:
    from trio_chat.app import ServerConfig
    from trio_chat.irc.server import IrcFrontend

LOGGER = logging.getLogger(__name__)


async def announce(
    listeners: Sequence[trio.SocketListener],
    config: ServerConfig,
    *,
    web: Sequence[trio.SocketListener] = (),
    irc: Sequence[IrcFrontend] = (),
) -> None:
    """Log where the server listens and how other PCs reach it (``web``: the page's
    port; ``irc``: the IRC doors). In the operator's language (cli_words)."""
    _ = operator_words()
    for listener in listeners:
        host, port = listener.socket.getsockname()[:2]
        where, most = f"{host}:{port}", config.max_clients
        LOGGER.info(
            "%s",
            _("listening on {address} (TLS, max {n} clients)", address=where, n=most)
            if config.tls_cert
            else _("listening on {address} (max {n} clients)", address=where, n=most),
            extra={"fields": {"event": "listening", "address": where}},
        )
    port = listeners[0].socket.getsockname()[1]
    you: list[tuple[str, object]] = [("--name", _("you"))]
    port_option: list[tuple[str, object]] = [] if port == DEFAULT_PORT else [("--port", port)]
    here: list[tuple[str, object]] = []
    there: list[tuple[str, object]] = []
    if config.tls_cert:
        # A self-signed certificate (trio-chat cert) is what clients must trust.
        here = [("--tls-ca", config.tls_cert)]
        there = [("--tls-ca", Path(config.tls_cert).name)]
    here_command = hints.command("client", *you, *port_option, *here)
    LOGGER.info("%s", _("on this PC:      {command}", command=here_command))
    if config.host in (None, "", "0.0.0.0", "::"):
        # Looking up the host name may block on DNS: not in the event loop.
        for address in await trio.to_thread.run_sync(lan_addresses):
            options = [("--host", address), *port_option, *there]
            there_command = hints.command("client", *you, *options)
            LOGGER.info(
                "%s",
                _(
                    "from another PC: {command}  (copy the certificate there first)",
                    command=there_command,
                )
                if there
                else _(
                    "from another PC: {command}  (or: nc {address} {port})",
                    command=there_command,
                    address=address,
                    port=port,
                ),
            )
    else:
        everyone = hints.option("serve", "--host", "0.0.0.0")
        LOGGER.info(
            "%s",
            _(
                "only {host} is served: use {option} to let other PCs in",
                host=config.host,
                option=everyone,
            ),
        )
    if web:
        await announce_web(web, config.host, tls=bool(config.tls_cert))
    if irc:
        await announce_irc(irc, config.host)


def describe_bind_error(exc: OSError, config: ServerConfig) -> str:
    """A one-line explanation of why the server could not listen (in the operator's words)."""
    _ = operator_words()
    port, flag = config.port, "--port"
    if isinstance(exc, ListenError):  # another door's port
        port, flag = exc.port, exc.option
    where = f"{config.host or '*'}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return _(
            "cannot listen on {address}: the port is in use (another trio-chat server?); "
            "choose another with {option}",
            address=where,
            option=hints.option("serve", flag, port + 1),
        )
    if exc.errno == errno.EACCES:
        return _(
            "cannot listen on {address}: permission denied (ports below 1024 need root)",
            address=where,
        )
    return _("cannot listen on {address}: {why}", address=where, why=exc.strerror or exc)
