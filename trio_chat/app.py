"""Assembly: builds the hub, history and accounts, runs the servers, owns shutdown.

``run_server`` builds the :class:`~trio_chat.core.hub.Hub` and a
:class:`~trio_chat.text.server.ChatServer`, then runs two things side by
side: the server, and a task that turns SIGINT/SIGTERM into a graceful
shutdown (a second signal cuts the grace period short).
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import trio

from trio_chat import DEFAULT_PORT as DEFAULT_PORT
from trio_chat import hints
from trio_chat.core.accounts import Guard, read_secret
from trio_chat.core.history import DEFAULT_REPLAY, MEMORY, History, HistoryStore
from trio_chat.core.hub import Hub
from trio_chat.core.limits import DEFAULT_LIMITS, Limits
from trio_chat.core.names import name_key
from trio_chat.core.service import ChatService
from trio_chat.net.listeners import lan_addresses, raise_open_file_limit
from trio_chat.net.tls import server_context
from trio_chat.text.server import DEFAULT_MAX_CLIENTS, ChatServer

LOGGER = logging.getLogger(__name__)

DEFAULT_HOST = "0.0.0.0"
# The file descriptors the process needs besides one per client.
SPARE_FDS = 64


@dataclass(frozen=True)
class ServerConfig:
    host: str | None = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_clients: int = DEFAULT_MAX_CLIENTS
    # The history file; ":memory:" keeps none.
    db: str = MEMORY
    # Messages of a room's history shown on entering it.
    replay: int = DEFAULT_REPLAY
    # Flood and per-address limits, and who is exempt from them.
    limits: Limits = DEFAULT_LIMITS
    # Files whose first line is the server's password and the operators' password.
    password_file: str | None = None
    oper_password_file: str | None = None
    # PEM files of the certificate (chain) and its key: serve TLS when set.
    tls_cert: str | None = None
    tls_key: str | None = None


async def announce(listeners: Sequence[trio.SocketListener], config: ServerConfig) -> None:
    """Log where the server listens and how other PCs reach it."""
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


async def run_server(
    config: ServerConfig,
    *,
    task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the server until SIGINT or SIGTERM, then shut down gracefully."""
    fd_limit = raise_open_file_limit()
    max_clients = config.max_clients
    if fd_limit - SPARE_FDS < max_clients:
        max_clients = max(1, fd_limit - SPARE_FDS)
        LOGGER.warning("open-file limit %d: serving at most %d clients", fd_limit, max_clients)
        config = dataclasses.replace(config, max_clients=max_clients)
    context = None
    if config.tls_cert and config.tls_key:
        # Before the history and the port: a bad file stops the server at once.
        context = await trio.to_thread.run_sync(server_context, config.tls_cert, config.tls_key)
    # Password files first: a missing one stops the server before any file is made.
    password, oper_password = await read_secrets(config)
    history = await open_history(config.db)
    guard = Guard(history, server_password=password, oper_password=oper_password)
    await guard.open()
    if guard.needs_password:
        LOGGER.info("a password is needed to connect (--password-file)")
    if guard.has_operators:
        LOGGER.info("operators: /oper with the password of --oper-password-file")
    hub = Hub(name_key, recorder=history, topics=await history.topics(), last_id=history.last_seq)
    service = ChatService(
        hub, guard=guard, history=history, limits=config.limits, replay=config.replay
    )
    server = ChatServer(service, max_clients=max_clients, ssl_context=context)
    async with trio.open_nursery() as storage:
        await storage.start(history.run)
        try:
            await _serve_until_signal(server, config, task_status)
        finally:
            # The writer flushes every pending message, then returns.
            history.close()


async def read_secrets(config: ServerConfig) -> tuple[str | None, str | None]:
    """The server's and the operators' passwords, from the files ``config`` names.

    Raises:
        SecretFileError: a file is missing, unreadable or empty; the message says which.
    """
    password = oper_password = None
    if config.password_file is not None:
        password = await trio.to_thread.run_sync(read_secret, config.password_file, "password")
    if config.oper_password_file is not None:
        oper_password = await trio.to_thread.run_sync(
            read_secret, config.oper_password_file, "operator password"
        )
    return password, oper_password


async def open_history(db: str) -> History:
    """Open (creating or migrating) the history file, and log where it is.

    Raises:
        HistoryError: it cannot be used; the message says why.
    """
    store = await trio.to_thread.run_sync(HistoryStore, db)
    history = History(store, name_key)
    await history.open()
    if db == MEMORY:
        LOGGER.info("history: kept in memory only (--db :memory:), lost at exit")
    else:
        LOGGER.info("history: %s (%d messages)", db, history.last_seq)
    return history


async def _serve_until_signal(
    server: ChatServer,
    config: ServerConfig,
    task_status: trio.TaskStatus[list[trio.SocketListener]],
) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_on_signals, signals, server)
            async with trio.open_nursery() as serving:
                listeners: list[trio.SocketListener] = await serving.start(
                    partial(server.run, config.port, host=config.host)
                )
                await announce(listeners, config)
                task_status.started(listeners)
            # server.run() returned: the shutdown is complete.
            nursery.cancel_scope.cancel()


async def _on_signals(signals: AsyncIterator[int], server: ChatServer) -> None:
    """First signal: graceful shutdown. Second: stop at once."""
    stopping = False
    async for signum in signals:
        name = signal.Signals(signum).name
        if not stopping:
            stopping = True
            server.shutdown(f"{name} received")
        else:
            LOGGER.warning("%s received again: closing all connections now", name)
            server.abort()


def describe_bind_error(exc: OSError, config: ServerConfig) -> str:
    """A one-line explanation of why the server could not listen."""
    where = f"{config.host or '*'}:{config.port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: the port is in use (another trio-chat server?); "
            f"choose another with {hints.option('serve', '--port', config.port + 1)}"
        )
    if exc.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied (ports below 1024 need root)"
    return f"cannot listen on {where}: {exc.strerror or exc}"
