"""What the operator reads as the server starts: where it listens, how others reach it,
and, when it cannot listen, why and what to do instead."""

from __future__ import annotations

import errno
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from trio_chat import DEFAULT_PORT, hints
from trio_chat.irc.server import IrcFrontend, announce_irc
from trio_chat.net.listeners import ListenError, lan_addresses
from trio_chat.web.server import announce_web

if TYPE_CHECKING:
    from trio_chat.app import ServerConfig

LOGGER = logging.getLogger(__name__)


async def announce(
    listeners: Sequence[trio.SocketListener],
    config: ServerConfig,
    *,
    web: Sequence[trio.SocketListener] = (),
    irc: Sequence[IrcFrontend] = (),
) -> None:
    """Log where the server listens and how other PCs reach it (``web``: the page's
    port; ``irc``: the IRC doors)."""
    tls = "TLS, " if config.tls_cert else ""
    for listener in listeners:
        host, port = listener.socket.getsockname()[:2]
        LOGGER.info(
            "listening on %s:%s (%smax %d clients)",
            host,
            port,
            tls,
            config.max_clients,
            extra={"fields": {"event": "listening", "address": f"{host}:{port}"}},
        )
    port = listeners[0].socket.getsockname()[1]
    you: list[tuple[str, object]] = [("--name", "you")]
    port_option: list[tuple[str, object]] = [] if port == DEFAULT_PORT else [("--port", port)]
    here: list[tuple[str, object]] = []
    there: list[tuple[str, object]] = []
    if config.tls_cert:
        # A self-signed certificate (trio-chat cert) is what clients must trust.
        here = [("--tls-ca", config.tls_cert)]
        there = [("--tls-ca", Path(config.tls_cert).name)]
    LOGGER.info("on this PC:      %s", hints.command("client", *you, *port_option, *here))
    if config.host in (None, "", "0.0.0.0", "::"):
        # Looking up the host name may block on DNS: not in the event loop.
        for address in await trio.to_thread.run_sync(lan_addresses):
            where = [("--host", address), *port_option, *there]
            alternative = (
                "  (copy the certificate there first)" if there else f"  (or: nc {address} {port})"
            )
            LOGGER.info("from another PC: %s%s", hints.command("client", *you, *where), alternative)
    else:
        everyone = hints.option("serve", "--host", "0.0.0.0")
        LOGGER.info("only %s is served: use %s to let other PCs in", config.host, everyone)
    if web:
        await announce_web(web, config.host, tls=bool(config.tls_cert))
    if irc:
        await announce_irc(irc, config.host)


def describe_bind_error(exc: OSError, config: ServerConfig) -> str:
    """A one-line explanation of why the server could not listen."""
    port, flag = config.port, "--port"
    if isinstance(exc, ListenError):  # another door's port
        port, flag = exc.port, exc.option
    where = f"{config.host or '*'}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: the port is in use (another trio-chat server?); "
            f"choose another with {hints.option('serve', flag, port + 1)}"
        )
    if exc.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied (ports below 1024 need root)"
    return f"cannot listen on {where}: {exc.strerror or exc}"
