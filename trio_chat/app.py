"""Assembly: builds the service and admission, runs the frontends, owns shutdown.

Who owns what
-------------
:func:`build_app` builds every shared piece from a :class:`ServerConfig`:
the history, the :class:`~trio_chat.core.accounts.Guard`, the
:class:`~trio_chat.core.hub.Hub` and the
:class:`~trio_chat.core.service.ChatService` over them, one
:class:`~trio_chat.core.admission.Admission` for every listener, and the
frontends (today the text protocol, on plain TCP or TLS). :meth:`App.run`
starts the history's writer and the hub's background tasks once, then every
frontend side by side, their connections in one handler nursery.

Shutdown, in hypercorn's order (:meth:`App.shutdown`): (1) stop every
listener; (2) tell everyone: every member hears ``*** server shutting
down`` and every outbox is closed, so each writer sends what is queued and
ends its session, and every frontend ends its connections still choosing a
name; (3) give the sessions a grace period as a deadline on the handler
nursery, after which those still stuck sending to a client that never reads
are cancelled; (4) once every connection is over, stop the hub's tasks and
close the history (its writer flushes what is queued, then returns).

:func:`run_server` runs the app beside a task that turns SIGINT/SIGTERM
into that shutdown (a second signal ends every connection at once).
``__main__`` only parses arguments and calls it.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import trio

from trio_chat import DEFAULT_PORT as DEFAULT_PORT
from trio_chat.cli_words import operator_words
from trio_chat.core.accounts import Guard
from trio_chat.core.admission import DEFAULT_MAX_CLIENTS, Admission
from trio_chat.core.history import DEFAULT_REPLAY, DEFAULT_RETENTION, History, Retention
from trio_chat.core.hub import Hub
from trio_chat.core.limits import DEFAULT_LIMITS, Limits
from trio_chat.core.names import name_key
from trio_chat.core.passwords import ScryptCost, read_secret
from trio_chat.core.service import ChatService
from trio_chat.core.store import MEMORY, HistoryStore
from trio_chat.irc.server import (
    DEFAULT_IRC_SERVER_INFO,
    DEFAULT_IRC_SERVER_NAME,
    IrcFrontend,
    irc_doors,
)
from trio_chat.metrics import Metrics
from trio_chat.net.listeners import raise_open_file_limit
from trio_chat.net.tls import server_context
from trio_chat.startup import announce
from trio_chat.text.server import FAREWELL_TIMEOUT, SHUTDOWN_NOTICE, TextFrontend
from trio_chat.text.session import NAME_TIMEOUT
from trio_chat.web.server import WebFrontend

if TYPE_CHECKING:
    from trio_chat.backplane.redis import RedisBackplane

LOGGER = logging.getLogger(__name__)

DEFAULT_HOST = "0.0.0.0"
# The file descriptors the process needs besides one per client.
SPARE_FDS = 64
# After a shutdown signal, how long sessions get to deliver what is queued.
SHUTDOWN_GRACE = 3.0


@dataclass(frozen=True)
class ServerConfig:
    host: str | None = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_clients: int = DEFAULT_MAX_CLIENTS
    # The history file; ":memory:" keeps none.
    db: str = MEMORY
    # Messages of a room's history shown on entering it.
    replay: int = DEFAULT_REPLAY
    # How old and how big the history may get (oldest messages deleted first).
    retention: Retention = DEFAULT_RETENTION
    # Whether private messages are kept for their registered users (core/conversations.py).
    keep_privates: bool = True
    # Flood and per-address limits, and who is exempt from them.
    limits: Limits = DEFAULT_LIMITS
    # Files whose first line is the server's password and the operators' password.
    password_file: str | None = None
    oper_password_file: str | None = None
    # PEM files of the certificate (chain) and its key: serve TLS when set.
    tls_cert: str | None = None
    tls_key: str | None = None
    # Seconds a connection has to choose a valid name.
    name_timeout: float = NAME_TIMEOUT
    # The web page's port (None: no web door; the CLI's default is 8080), and
    # page origins allowed besides its own (--web-origin).
    web_port: int | None = None
    web_origins: tuple[str, ...] = ()
    # Names the page answers to besides IP addresses, localhost and this
    # machine's names (--web-host).
    web_hosts: tuple[str, ...] = ()
    # IRC: plain and TLS ports (None: that door is closed; the CLI opens 6667),
    # and the name the server gives itself on IRC.
    irc_port: int | None = None
    irc_tls_port: int | None = None
    irc_server_name: str = DEFAULT_IRC_SERVER_NAME
    irc_sasl_plaintext: bool = False
    irc_server_info: str = DEFAULT_IRC_SERVER_INFO
    # redis://HOST:PORT/DB: share rooms with the servers using the same Redis.
    redis: str | None = None
    # Seconds between the backplane's heartbeats (a server is lost after three).
    redis_heartbeat: float = 2.0
    # The language of users who choose none (they switch with /lang; the page says its own).
    lang: str = "en"


class Frontend(Protocol):
    """One way in to the chat: its listeners and its connections' handlers."""

    # Which door this is ("text", "irc", "web"): the key of App.listening.
    kind: str

    async def serve(
        self,
        handler_nursery: trio.Nursery,
        *,
        task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen (raising OSError if it cannot), report the listeners, then
        accept connections into ``handler_nursery`` until :meth:`stop`."""
        ...

    def stop(self) -> None:
        """Stop accepting; the connections go on."""
        ...

    def shutdown(self, deadline: float) -> None:
        """The hub has told its members: end the connections it does not know yet."""
        ...


class App:
    """The running server: the shared pieces, the frontends, the shutdown order.

    Args:
        service: what every frontend asks; its hub's background tasks run
            here, and its history (if any) is written to while the app runs
            and closed once every connection is over.
        admission: counts and limits the connections of every listener.
        frontends: run side by side, their connections in one nursery.
        metrics: what ``/metrics`` shows (by default, over the service's
            hub and history); each frontend's connections count from 0.
    """

    def __init__(
        self,
        service: ChatService,
        admission: Admission,
        frontends: Sequence[Frontend],
        metrics: Metrics | None = None,
    ) -> None:
        self.service = service
        self.hub = service.hub
        self.history = service.history
        self.admission = admission
        self.frontends = list(frontends)
        self.metrics = metrics or Metrics(self.hub, self.history)
        for frontend in self.frontends:
            self.hub.counters.expect(frontend.kind)
        # The handler nursery's scope: a deadline on it is the grace period.
        self._handlers = trio.CancelScope()
        # Each kind of frontend's listeners, once they listen.
        self.listening: dict[str, list[trio.SocketListener]] = {}

    async def run(
        self,
        *,
        task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve until :meth:`shutdown` and the grace period that follows are over.

        Reports every frontend's listeners, in order, once all listen.

        Raises:
            ExceptionGroup: holding the OSError of a frontend that cannot
                listen (the others are stopped; nothing else can fail so).
        """
        async with trio.open_nursery() as storage:
            if self.history is not None:
                await storage.start(self.history.run)
            # Other servers (--redis): synchronised before the first connection.
            await storage.start(self.hub.backplane.run)
            try:
                await self._serve(task_status)
            finally:
                # The backplane sends what is queued (the members' departures) and
                # says goodbye; the history's writer flushes every pending message.
                self.hub.backplane.close()
                if self.history is not None:
                    self.history.close()

    async def _serve(self, task_status: trio.TaskStatus[list[trio.SocketListener]]) -> None:
        async with trio.open_nursery() as services:
            await services.start(self.hub.run)
            with self._handlers:
                async with trio.open_nursery() as handlers:
                    listeners: list[trio.SocketListener] = []
                    for frontend in self.frontends:
                        started = await handlers.start(frontend.serve, handlers)
                        self.listening.setdefault(frontend.kind, []).extend(started)
                        listeners += started
                    task_status.started(listeners)
            # Every connection is over: the flusher has nothing left to flush.
            services.cancel_scope.cancel()

    def shutdown(self, why: str = "shutdown requested", grace: float = SHUTDOWN_GRACE) -> None:
        """Stop accepting, tell everyone, and give sessions ``grace`` seconds."""
        LOGGER.info(
            "%s: shutting down, %d connection(s) open",
            why,
            self.admission.connections,
            extra={
                "fields": {
                    "event": "shutdown",
                    "reason": why,
                    "connections": self.admission.connections,
                }
            },
        )
        for frontend in self.frontends:
            frontend.stop()
        deadline = trio.current_time() + grace
        self.hub.shutdown(SHUTDOWN_NOTICE, deadline)
        for frontend in self.frontends:
            frontend.shutdown(deadline)
        # A backstop for farewells: every session is done by then.
        self._handlers.deadline = deadline + FAREWELL_TIMEOUT

    def abort(self) -> None:
        """End every connection now."""
        for frontend in self.frontends:
            frontend.stop()
        self._handlers.cancel()


async def build_app(
    config: ServerConfig,
    *,
    scrypt_cost: ScryptCost | None = None,
    clock: Callable[[], float] = time.time,
) -> App:
    """Build every piece ``config`` asks for, logging what matters; nothing runs yet.

    Args:
        scrypt_cost: the cost of new password hashes (tests use a cheap one).
        clock: the time, for bans that expire (tests inject their own).

    Raises:
        TLSError, SecretFileError, HistoryError: a file named in ``config``
            cannot be used; the message says why (before the port is opened).
    """
    fd_limit = raise_open_file_limit()
    max_clients = config.max_clients
    if fd_limit - SPARE_FDS < max_clients:
        max_clients = max(1, fd_limit - SPARE_FDS)
        LOGGER.warning("open-file limit %d: serving at most %d clients", fd_limit, max_clients)
    context = None
    if config.tls_cert and config.tls_key:
        # Before the history and the port: a bad file stops the server at once.
        context = await trio.to_thread.run_sync(server_context, config.tls_cert, config.tls_key)
    # Password files first: a missing one stops the server before any file is made.
    password, oper_password = await read_secrets(config)
    history = await open_history(config.db, config.retention)
    guard = Guard(
        history,
        server_password=password,
        oper_password=oper_password,
        cost=scrypt_cost or ScryptCost(),
        clock=clock,
    )
    await guard.open()
    _ = operator_words()  # start-up lines: in the operator's language
    names = _.ngettext("{n} registered name", "{n} registered names", len(guard.accounts()))
    LOGGER.info("%s, %s", names, _.ngettext("{n} ban", "{n} bans", len(guard.bans())))
    if guard.needs_password:
        LOGGER.info("%s", _("a password is needed to connect (--password-file)"))
    if guard.has_operators:
        LOGGER.info("%s", _("operators: /oper with the password of --oper-password-file"))
    backplane = await open_backplane(config)
    hub = Hub(
        name_key,
        recorder=history,
        topics=await history.topics(),
        last_id=history.last_seq,
        backplane=backplane,
    )
    if backplane is not None:
        backplane.attach(hub, history, name_key, guard)
    service = ChatService(
        hub,
        guard=guard,
        history=history,
        limits=config.limits,
        replay=config.replay,
        lang=config.lang,
        keep_privates=config.keep_privates,
    )
    # One admission for every listener: --max-clients and the per-address
    # limits count the connections of all of them together.
    admission = Admission(
        max_clients=max_clients, limits=config.limits, guard=guard, counters=hub.counters
    )
    # Scraped on the web frontend's /metrics (metrics.render).
    metrics = Metrics(hub, history)
    text = TextFrontend(
        service,
        admission,
        host=config.host,
        port=config.port,
        name_timeout=config.name_timeout,
        ssl_context=context,
    )
    frontends: list[Frontend] = [text]
    if config.web_port is not None:
        web = WebFrontend(
            service,
            admission,
            host=config.host,
            port=config.web_port,
            name_timeout=config.name_timeout,
            ssl_context=context,
            origins=config.web_origins,
            hosts=config.web_hosts,
            metrics=metrics.render,
        )
        frontends.append(web)
    irc = irc_doors(
        service,
        admission,
        host=config.host,
        ports=(config.irc_port, config.irc_tls_port),
        ssl_context=context,
        server_name=config.irc_server_name,
        server_info=config.irc_server_info,
        name_timeout=config.name_timeout,
        sasl_plaintext=config.irc_sasl_plaintext,
    )
    frontends += irc
    return App(service, admission, frontends, metrics)


async def run_server(
    config: ServerConfig,
    *,
    task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the server until SIGINT or SIGTERM, then shut down gracefully."""
    app = await build_app(config)
    limit = app.admission.max_clients
    if limit != config.max_clients:  # the open-file limit lowered it
        config = dataclasses.replace(config, max_clients=limit)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_on_signals, signals, app)
            async with trio.open_nursery() as serving:
                listeners: list[trio.SocketListener] = await serving.start(app.run)
                text = app.listening.get("text", listeners)
                irc = [door for door in app.frontends if isinstance(door, IrcFrontend)]
                await announce(text, config, web=app.listening.get("web", ()), irc=irc)
                task_status.started(listeners)
            # app.run() returned: the shutdown is complete.
            nursery.cancel_scope.cancel()


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


async def open_backplane(config: ServerConfig) -> RedisBackplane | None:
    """The Redis backplane ``config`` asks for (reached once), or None.

    Raises:
        BackplaneError: Redis cannot be reached; the message says where.
    """
    if not config.redis:
        return None
    from trio_chat.backplane.redis import RedisBackplane

    backplane = RedisBackplane(config.redis, heartbeat=config.redis_heartbeat)
    await backplane.open()
    return backplane


async def open_history(db: str, retention: Retention = DEFAULT_RETENTION) -> History:
    """Open (creating or migrating) the history file, and log where it is.

    Raises:
        HistoryError: it cannot be used; the message says why.
    """
    store = await trio.to_thread.run_sync(HistoryStore, db)
    history = History(store, name_key, retention)
    await history.open()
    _ = operator_words()  # a start-up line: in the operator's language
    if db == MEMORY:
        LOGGER.info("%s", _("history: kept in memory only (--db :memory:), lost at exit"))
    else:
        count = await history.count()
        LOGGER.info(
            "%s",
            _.ngettext(
                "history: {path} ({n} message)", "history: {path} ({n} messages)", count, path=db
            ),
        )
    return history


async def _on_signals(signals: AsyncIterator[int], app: App) -> None:
    """First signal: graceful shutdown. Second: stop at once."""
    stopping = False
    async for signum in signals:
        name = signal.Signals(signum).name
        if not stopping:
            stopping = True
            app.shutdown(f"{name} received")
        else:
            LOGGER.warning("%s received again: closing all connections now", name)
            app.abort()
