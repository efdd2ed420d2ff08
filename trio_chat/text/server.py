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
import logging
import ssl

import trio

from trio_chat.core.events import Error, Notice
from trio_chat.core.limits import AddressLimiter
from trio_chat.core.service import ChatService
from trio_chat.net.connection import Connection
from trio_chat.net.listeners import close_gently, enable_keepalive, peer_ip, peer_name
from trio_chat.net.tls import NotTLS, TLSOnly, describe_server_failure
from trio_chat.text.codec import encode
from trio_chat.text.session import NAME_TIMEOUT, Session

LOGGER = logging.getLogger(__name__)

# Connections (registered or not) served at once, unless --max-clients says otherwise.
DEFAULT_MAX_CLIENTS = 10_000
# After a shutdown signal, how long sessions get to deliver what is queued.
SHUTDOWN_GRACE = 3.0
# How long a rejected or timed-out connection gets to receive its last line.
FAREWELL_TIMEOUT = 1.0
SHUTDOWN_NOTICE = "server shutting down"
# Refused connections told why at once; beyond this, more are closed without a word.
MAX_REFUSING = 32
# The key the "server full" refusals are counted under for their log line.
SERVER_FULL = "server full"


class ChatServer:
    """Serves the line protocol for one hub.

    Args:
        service: the chat service, shared with any other frontend (its limits
            apply: per address, flood, and who is exempt).
        max_clients: connections beyond this get ``! server full`` and are closed.
        name_timeout: seconds a connection has to choose a valid name.
        ssl_context: serve TLS with this context; plain TCP when ``None``.
    """

    def __init__(
        self,
        service: ChatService,
        *,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        name_timeout: float = NAME_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.service = service
        self.hub = service.hub
        self.guard = service.guard
        self.limits = service.limits
        self._addresses = AddressLimiter(self.limits)
        # Refused connections still being told why (bounded: see MAX_REFUSING).
        self._refusing = 0
        self.ssl_context = ssl_context
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
                        await self._farewell(Connection(stream, peer), Error(refusal))
                        await close_gently(stream)
                    finally:
                        self._refusing -= 1
                # Else a storm: close at once (below), so refusals cannot
                # exhaust the file descriptors they are there to protect.
                return
            self.connections += 1
            limited = address is not None and not self.limits.is_exempt(address)
            try:
                connection = Connection(stream, peer, fileno)
                await self._serve(Session(connection, self.service, address=address))
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
                await self._farewell(session.connection, Notice(SHUTDOWN_NOTICE))
            else:
                LOGGER.info(
                    "%s chose no name in %.0f s: closing",
                    session.peer,
                    self.name_timeout,
                    extra={"fields": {"event": "name_timeout", "address": session.peer}},
                )
                await self._farewell(
                    session.connection,
                    Error(f"no name chosen within {self.name_timeout:.0f} s, closing"),
                )
            return
        if member is not None:
            await session.chat(member)

    async def _farewell(self, connection: Connection, event: Notice | Error) -> None:
        """Send a last line if the peer takes it; why it is closed is logged already."""
        # Best effort: a peer already gone (or a TLS handshake cut short) is
        # not a second event to log.
        connection_errors = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)
        with trio.move_on_after(FAREWELL_TIMEOUT), contextlib.suppress(*connection_errors):
            await connection.send_now(encode(event))
