"""The chat server: accept loop, per-connection handler, limits and shutdown.

Who owns what
-------------
``run_server`` builds the :class:`~trio_chat.hub.Hub` and a
:class:`ChatServer`, then runs two things side by side: the server, and a
task that turns SIGINT/SIGTERM into a graceful shutdown (a second signal
cuts the grace period short).

``ChatServer.run`` owns one nursery for the sessions. The accept loop
(``trio.serve_listeners``) runs inside it under its own cancel scope and starts one
handler per connection in that same nursery (``handler_nursery``), so
stopping the accept loop leaves the sessions running.

With TLS each accepted connection is wrapped in a ``trio.SSLStream`` (what
``trio.SSLListener`` does): the line protocol runs inside TLS, on the same
port. The handshake happens on the first send (the greeting), so it is inside
the name timeout, counted among the connections and cancelled at shutdown
like any registration. A failed handshake is one log line. Between the two
sits :class:`TLSOnly`, which answers a client that speaks plain text with
one plain line saying so. A TLS session never gets the socket's file
descriptor: the writer's direct writes would bypass the encryption.

Shutdown, in hypercorn's order: (1) stop accepting; (2) tell every member
``*** server shutting down`` and close every outbox, so each writer sends
what is queued and ends its session; (3) give the sessions a grace period
as a deadline on their nursery, after which those still stuck sending to a
client that never reads are cancelled.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import resource
import signal
import socket
import ssl
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import trio

from .accounts import Guard, read_secret
from .events import Error, Notice
from .history import DEFAULT_REPLAY, MEMORY, History, HistoryStore
from .hub import Hub
from .limits import DEFAULT_LIMITS, AddressLimiter, Limits
from .protocol import name_key
from .session import NAME_TIMEOUT, Session
from .tls import describe_server_failure, server_context

LOGGER = logging.getLogger(__name__)

DEFAULT_HOST = "0.0.0.0"
DEFAULT_PORT = 5000
# Connections (registered or not) served at once, unless --max-clients says otherwise.
DEFAULT_MAX_CLIENTS = 10_000
# After a shutdown signal, how long sessions get to deliver what is queued.
SHUTDOWN_GRACE = 3.0
# The file descriptors the process needs besides one per client.
SPARE_FDS = 64
# How long a rejected or timed-out connection gets to receive its last line.
FAREWELL_TIMEOUT = 1.0
# How long a closing connection waits for the peer to close its side.
LINGER_TIMEOUT = 1.0
SHUTDOWN_NOTICE = "server shutting down"
# Refused connections told why at once; beyond this, more are closed without a word.
MAX_REFUSING = 32
# The key the "server full" refusals are counted under for their log line.
SERVER_FULL = "server full"
# TCP keepalive: probe after this many idle seconds, every INTERVAL, give up after COUNT.
KEEPALIVE_IDLE = 60
KEEPALIVE_INTERVAL = 15
KEEPALIVE_COUNT = 4
# A peer that acknowledges nothing we send for this long (ms) is gone.
USER_TIMEOUT_MS = (KEEPALIVE_IDLE + KEEPALIVE_INTERVAL * KEEPALIVE_COUNT) * 1000


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


class ChatServer:
    """Serves the line protocol for one hub.

    Args:
        hub: shared with any other frontend.
        max_clients: connections beyond this get ``! server full`` and are closed.
        name_timeout: seconds a connection has to choose a valid name.
        history: where room messages are kept, if anywhere.
        replay: how many messages of a room's history to show on entering it.
        limits: flood and per-address limits (loopback is exempt by default).
        guard: passwords, registered names and bans (by default: none, and
            accounts kept for the run).
        ssl_context: serve TLS with this context; plain TCP when ``None``.
    """

    def __init__(
        self,
        hub: Hub,
        *,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        name_timeout: float = NAME_TIMEOUT,
        history: History | None = None,
        replay: int = DEFAULT_REPLAY,
        limits: Limits = DEFAULT_LIMITS,
        guard: Guard | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.hub = hub
        self.limits = limits
        self._addresses = AddressLimiter(limits)
        # Refused connections still being told why (bounded: see MAX_REFUSING).
        self._refusing = 0
        self.guard = guard or Guard()
        self.ssl_context = ssl_context
        self.history = history
        self.replay = replay
        self.max_clients = max_clients
        self.name_timeout = name_timeout
        self.connections = 0
        self._accept_scope = trio.CancelScope()
        self._sessions_scope: trio.CancelScope | None = None
        # The cancel scopes of connections still choosing a name.
        self._registering: set[trio.CancelScope] = set()

    async def run(
        self,
        port: int,
        *,
        host: str | None = None,
        task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve until :meth:`shutdown` and the grace period that follows are over.

        Raises:
            OSError: the port cannot be listened on (before anything started).
        """
        listeners = await trio.open_tcp_listeners(port, host=host)
        try:
            async with trio.open_nursery() as services:
                await services.start(self.hub.run)
                async with trio.open_nursery() as sessions:
                    self._sessions_scope = sessions.cancel_scope
                    await sessions.start(self._accept, listeners, sessions)
                    task_status.started(listeners)
                # Every session is over: the flusher has nothing left to flush.
                services.cancel_scope.cancel()
        finally:
            # serve_listeners closes them, unless cancelled before its tasks ran.
            for listener in listeners:
                await trio.aclose_forcefully(listener)

    async def _accept(
        self,
        listeners: list[trio.SocketListener],
        handler_nursery: trio.Nursery,
        *,
        task_status: trio.TaskStatus[object] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        with self._accept_scope:
            if self.ssl_context is None:
                await trio.serve_listeners(
                    self._handle_socket,
                    listeners,
                    handler_nursery=handler_nursery,
                    task_status=task_status,
                )
            else:
                await trio.serve_listeners(
                    self._handle_tls,
                    listeners,
                    handler_nursery=handler_nursery,
                    task_status=task_status,
                )

    def shutdown(self, why: str = "shutdown requested", grace: float = SHUTDOWN_GRACE) -> None:
        """Stop accepting, tell everyone, and give sessions ``grace`` seconds."""
        LOGGER.info(
            "%s: shutting down, %d connection(s) open",
            why,
            self.connections,
            extra={"fields": {"event": "shutdown", "reason": why, "connections": self.connections}},
        )
        self._accept_scope.cancel()
        deadline = trio.current_time() + grace
        self.hub.shutdown(SHUTDOWN_NOTICE, deadline)
        for scope in self._registering:
            scope.cancel()
        if self._sessions_scope is not None:
            # A backstop for farewells: every session is done by then.
            self._sessions_scope.deadline = deadline + FAREWELL_TIMEOUT

    def abort(self) -> None:
        """End every session now."""
        self._accept_scope.cancel()
        if self._sessions_scope is not None:
            self._sessions_scope.cancel()

    async def _handle_socket(self, stream: trio.SocketStream) -> None:
        enable_keepalive(stream)
        await self.handle(
            stream, peer_name(stream), fileno=stream.socket.fileno(), address=peer_ip(stream)
        )

    async def _handle_tls(self, tcp: trio.SocketStream) -> None:
        assert self.ssl_context is not None
        enable_keepalive(tcp)
        # https_compatible=False: a TLS connection ends with a close_notify.
        stream = trio.SSLStream(TLSOnly(tcp), self.ssl_context, server_side=True)
        # No fileno: what the writer writes must go through the encryption.
        await self.handle(stream, peer_name(tcp), address=peer_ip(tcp))

    async def handle(
        self,
        stream: trio.abc.Stream,
        peer: str,
        fileno: int | None = None,
        address: str | None = None,
    ) -> None:
        """Serve one connection on any stream, then close it. Never raises but Cancelled.

        Args:
            peer: how the connection is named in logs.
            fileno: the stream's plain socket, for the direct read and write
                fast paths (None for a wrapped stream such as TLS).
            address: the peer's IP address, for the limits (None: not over
                IP, like the exempt loopback).
        """
        try:
            refusal = self._admit(peer, address)
            if refusal is not None:
                if self._refusing < MAX_REFUSING:
                    # Say why, then close without a reset that could destroy it.
                    self._refusing += 1
                    try:
                        await self._farewell(Session(stream, self.hub, peer), Error(refusal))
                        await close_gently(stream)
                    finally:
                        self._refusing -= 1
                # Else a storm: close at once (below), so refusals cannot
                # exhaust the file descriptors they are there to protect.
                return
            self.connections += 1
            limited = address is not None and not self.limits.is_exempt(address)
            try:
                await self._serve(
                    Session(
                        stream,
                        self.hub,
                        peer,
                        history=self.history,
                        replay=self.replay,
                        fileno=fileno,
                        flood=self.limits.flood_guard(trio.current_time()) if limited else None,
                        guard=self.guard,
                    )
                )
            finally:
                self.connections -= 1
                if limited and address is not None:
                    self._addresses.release(address)
            await close_gently(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            if isinstance(exc, NotTLS):
                why = "TLS handshake failed: not a TLS client (sent plain text)"
            elif isinstance(exc.__cause__, ssl.SSLError):
                # Only the first send (the handshake) can fail this way: receive
                # errors end a session as "connection lost" without getting here.
                why = f"TLS handshake failed: {describe_server_failure(exc.__cause__)}"
            else:
                why = f"disconnected: {exc or type(exc).__name__}"
            LOGGER.info(
                "%s %s",
                peer if why.startswith("disconnected") else f"{peer}:",
                why,
                extra={"fields": {"event": "disconnected", "address": peer, "reason": why}},
            )
        except Exception:
            # serve_listeners would crash the whole server on a handler exception:
            # log it, close this connection, keep serving everyone else.
            LOGGER.exception(
                "error serving %s", peer, extra={"fields": {"event": "error", "address": peer}}
            )
        finally:
            await trio.aclose_forcefully(stream)

    def _admit(self, peer: str, address: str | None) -> str | None:
        """Count a new connection in, or say why it is refused (and log that)."""
        if self.connections >= self.max_clients:
            # Logged at most once per REFUSAL_LOG_INTERVAL, with the count not logged.
            unlogged = self._addresses.log_refusal(SERVER_FULL, trio.current_time())
            if unlogged is not None:
                more = f" ({unlogged} more refused since the last line)" if unlogged else ""
                LOGGER.warning(
                    "refused %s: server full (%d)%s",
                    peer,
                    self.max_clients,
                    more,
                    extra={
                        "fields": {"event": "refused", "address": peer, "reason": "server full"}
                    },
                )
            return "server full"
        ban = self.guard.ban_of_peer(peer)
        if ban is not None:
            # Before any TLS handshake or greeting, and logged like other refusals.
            unlogged = self._addresses.log_refusal(address or peer, trio.current_time())
            if unlogged is not None:
                more = f" ({unlogged} more refused since the last line)" if unlogged else ""
                LOGGER.warning(
                    "refused %s: the address is banned %s%s",
                    peer,
                    ban.term(),
                    more,
                    extra={
                        "fields": {"event": "refused", "address": peer, "reason": "banned address"}
                    },
                )
            return f"you are banned ({ban.term()})"
        if address is None or self.limits.is_exempt(address):
            return None
        now = trio.current_time()
        refusal = self._addresses.admit(address, now)
        if refusal is not None:
            unlogged = self._addresses.log_refusal(address, now)
            if unlogged is not None:
                more = f" ({unlogged} more refused since the last line)" if unlogged else ""
                fields = {"event": "refused", "address": peer, "reason": refusal}
                LOGGER.warning("refused %s: %s%s", peer, refusal, more, extra={"fields": fields})
        return refusal

    async def _serve(self, session: Session) -> None:
        member = None
        with trio.move_on_after(self.name_timeout) as registering:
            self._registering.add(registering)
            try:
                member = await session.register()
            finally:
                self._registering.discard(registering)
        if registering.cancelled_caught or (member is None and self.hub.closing):
            if self.hub.closing:
                await self._farewell(session, Notice(SHUTDOWN_NOTICE))
            else:
                LOGGER.info(
                    "%s chose no name in %.0f s: closing",
                    session.peer,
                    self.name_timeout,
                    extra={"fields": {"event": "name_timeout", "address": session.peer}},
                )
                await self._farewell(
                    session, Error(f"no name chosen within {self.name_timeout:.0f} s, closing")
                )
            return
        if member is not None:
            await session.chat(member)

    async def _farewell(self, session: Session, event: Notice | Error) -> None:
        """Send a last line if the peer takes it; why it is closed is logged already."""
        # Best effort: a peer already gone (or a TLS handshake cut short) is
        # not a second event to log.
        connection_errors = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)
        with trio.move_on_after(FAREWELL_TIMEOUT), contextlib.suppress(*connection_errors):
            await session.send_now(event)


async def close_gently(stream: trio.abc.Stream) -> None:
    """Half-close a TCP connection, then read and drop what the peer still sends.

    Closing a socket that has unread input makes the kernel send a reset, and
    a reset can destroy our last lines ("*** Bye!", "*** server shutting
    down") before the peer reads them. So we send EOF first and give the peer
    up to LINGER_TIMEOUT to close its side.
    """
    if isinstance(stream, trio.SSLStream):
        await _close_tls_gently(stream)
        return
    if not isinstance(stream, trio.SocketStream):
        return  # in-memory streams lose nothing on close
    with trio.move_on_after(LINGER_TIMEOUT):
        await _linger(stream)


async def _close_tls_gently(stream: trio.SSLStream[TLSOnly]) -> None:
    """End TLS with close_notify both ways, then close TCP as :func:`close_gently` does.

    The peer must see our close_notify, or its TLS library reports a lost
    connection instead of the end of the stream. ``unwrap`` sends it and
    waits for the peer's; after that the TCP socket is ours to close.
    """
    transport: trio.abc.Stream | None = None
    try:
        with trio.move_on_after(LINGER_TIMEOUT):
            try:
                transport, _ = await stream.unwrap()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                return  # the peer is gone, or broke TLS: the caller closes the socket
            if isinstance(transport, trio.abc.HalfCloseableStream):
                await _linger(transport)
    finally:
        if transport is not None:
            await trio.aclose_forcefully(transport)


async def _linger(stream: trio.abc.HalfCloseableStream) -> None:
    """Send EOF, then read and drop what the peer sends until it closes."""
    try:
        await stream.send_eof()
        while await stream.receive_some(65536):
            pass
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass  # the peer is gone: nothing more to wait for


class NotTLS(trio.BrokenResourceError):
    """A client on the TLS port spoke plain text."""


# What a client that speaks plain text to the TLS port reads, in plain text.
NOT_TLS_REPLY = (
    b"! this server speaks TLS: connect with --tls-ca cert.pem (make client TLS_CA=cert.pem)"
    b" or --tls\n"
)
# Every TLS connection starts with a handshake record, whose type is 22.
TLS_HANDSHAKE_RECORD = 0x16


class TLSOnly(trio.abc.HalfCloseableStream):
    """The TCP connection under a server's SSLStream; turns away plain-text clients.

    Without it, a client that forgot TLS (``nc``, or ``trio-chat client``
    without ``--tls-ca``) would hear nothing: the server waits for a TLS
    handshake, the client for a greeting, until the name timeout. Its first
    bytes tell: a TLS client's are a handshake record. Anything else is
    answered with :data:`NOT_TLS_REPLY`, in plain text, and ends the
    connection (:class:`NotTLS`, a ``BrokenResourceError``).
    """

    # One per TLS connection, thousands at once: no per-instance __dict__.
    __slots__ = ("_checked", "transport")

    def __init__(self, transport: trio.SocketStream) -> None:
        self.transport = transport
        self._checked = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        data = await self.transport.receive_some(max_bytes)
        if not self._checked and data:
            self._checked = True
            if data[0] != TLS_HANDSHAKE_RECORD:
                await self._turn_away()
                raise NotTLS
        return data

    async def _turn_away(self) -> None:
        with trio.move_on_after(LINGER_TIMEOUT):
            try:
                await self.transport.send_all(NOT_TLS_REPLY)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                return
            await _linger(self.transport)  # so the reply is read, not reset

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.transport.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.transport.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await self.transport.send_eof()

    async def aclose(self) -> None:
        await self.transport.aclose()


def peer_name(stream: trio.SocketStream) -> str:
    """``host:port`` of the peer, for logs."""
    try:
        address = stream.socket.getpeername()
    except OSError:
        return "unknown peer"
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def peer_ip(stream: trio.SocketStream) -> str:
    """The peer's IP address ("" if the connection is already gone)."""
    try:
        return str(stream.socket.getpeername()[0])
    except OSError:
        return ""


def enable_keepalive(stream: trio.SocketStream) -> None:
    """Let the kernel find peers that vanished (a laptop asleep, Wi-Fi gone).

    Without it a half-open connection keeps its name until its outbox fills,
    which in a quiet room may take days. Probes start after KEEPALIVE_IDLE
    seconds of silence; the connection is closed after KEEPALIVE_COUNT
    unanswered ones. While we are sending, TCP_USER_TIMEOUT closes it once
    nothing has been acknowledged for as long (two minutes): either way a
    vanished peer is dropped, "connection lost", within about two minutes.
    """
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
        # Data we sent that stays unacknowledged this long: the peer is gone
        # (keepalive only probes an idle connection; this covers a busy one).
        ("TCP_USER_TIMEOUT", USER_TIMEOUT_MS),
    ):
        if hasattr(socket, name):
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    for level, option, value in options:
        # Not supported here: the connection works without it.
        with contextlib.suppress(OSError):
            stream.setsockopt(level, option, value)


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard one; return the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            LOGGER.warning("could not raise the open-file limit above %d: %s", soft, exc)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other PCs may reach (no packets are sent)."""
    found: set[str] = set()
    if sys.platform == "linux":
        import fcntl
        import struct

        siocgifaddr = 0x8915
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            for _, interface in socket.if_nameindex():
                request = struct.pack("256s", interface.encode()[:15])
                try:
                    reply = fcntl.ioctl(probe.fileno(), siocgifaddr, request)
                except OSError:
                    continue  # no IPv4 address on this interface
                found.add(socket.inet_ntoa(reply[20:24]))
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(str(info[4][0]))
    except OSError:
        pass
    return sorted(a for a in found if not a.startswith("127."))


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
    port_arg = "" if port == DEFAULT_PORT else f" PORT={port}"
    here = there = ""
    if config.tls_cert:
        # A self-signed certificate (trio-chat cert) is what clients must trust.
        here = f" TLS_CA={config.tls_cert}"
        there = f" TLS_CA={Path(config.tls_cert).name}  (copy the certificate there first)"
    LOGGER.info("on this PC:      make client NAME=you%s%s", port_arg, here)
    if config.host in (None, "", "0.0.0.0", "::"):
        # Looking up the host name may block on DNS: not in the event loop.
        for address in await trio.to_thread.run_sync(lan_addresses):
            alternative = there or f"  (or: nc {address} {port})"
            LOGGER.info(
                "from another PC: make client NAME=you HOST=%s%s%s", address, port_arg, alternative
            )
    else:
        LOGGER.info("only %s is served: use HOST=0.0.0.0 to let other PCs in", config.host)


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
    hub = Hub(name_key, recorder=history, topics=await history.topics())
    server = ChatServer(
        hub,
        max_clients=max_clients,
        history=history,
        replay=config.replay,
        limits=config.limits,
        guard=guard,
        ssl_context=context,
    )
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
            f"choose another with PORT={config.port + 1}"
        )
    if exc.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied (ports below 1024 need root)"
    return f"cannot listen on {where}: {exc.strerror or exc}"
