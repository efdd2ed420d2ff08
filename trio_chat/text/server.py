"""The text frontend: listeners, one handler per connection, the line protocol.

Who owns what
-------------
The assembly (:mod:`trio_chat.app`) builds the chat service, the shared
:class:`~trio_chat.core.admission.Admission` and this frontend, runs the
hub's background tasks, and owns the shutdown. :meth:`TextFrontend.serve`
opens the frontend's listeners and runs the accept loop
(:func:`~trio_chat.net.listeners.serve_listeners`, which accepts every
connection waiting at once) under the frontend's own cancel scope, starting
one handler per connection in the nursery it is given (``handler_nursery``):
:meth:`TextFrontend.stop` ends the accept loop and leaves the connections
running.

A handler asks the admission first; a refused connection is told why in
one line (the wording is the frontend's) and closed. An admitted one gets a
:class:`~trio_chat.net.connection.Connection` (the socket's file descriptor
too, for the direct reads and writes, on plain TCP) and a text
:class:`~trio_chat.text.session.Session`: registration bounded by the name
timeout, then the chat phase.

With TLS each accepted connection is wrapped in a
:class:`~trio_chat.net.tlsstream.TLSStream`: the line protocol runs inside
TLS, on the same port. The handshake happens on the first send (the
greeting) or receive, so it is inside the name timeout, counted among the
connections and cancelled at shutdown like any registration. A failed
handshake is one log line; a client that speaks plain text is answered with
one plain line saying so. After the handshake the TLS stream is the
connection's direct I/O, as the socket is for plain TCP: the flusher's
writes encrypt without a task.

At shutdown the assembly stops every frontend, tells the hub (every member
hears ``*** server shutting down``), then calls :meth:`TextFrontend.shutdown`,
which ends the connections still choosing a name, with the same line.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import Awaitable
from typing import Protocol

import trio

from trio_chat.core.admission import Admission, Refusal
from trio_chat.core.events import Error, Notice
from trio_chat.core.limits import address_key, left_out
from trio_chat.core.members import Member
from trio_chat.core.phrases import Phrase
from trio_chat.core.service import ChatService
from trio_chat.i18n import N_, words_for
from trio_chat.net.connection import CONNECTION_ERRORS, Connection
from trio_chat.net.direct import DirectIO, PlainSocket
from trio_chat.net.listeners import (
    close_gently,
    close_now,
    enable_keepalive,
    listen,
    peer_ip,
    peer_name,
    serve_listeners,
)
from trio_chat.net.tls import NotTLS, describe_server_failure
from trio_chat.net.tlsstream import TLSStream
from trio_chat.text.codec import encode
from trio_chat.text.session import NAME_TIMEOUT, Session
from trio_chat.text.wording import connect_refusal, phrase

LOGGER = logging.getLogger(__name__)

# How long a rejected or timed-out connection gets to receive its last line.
FAREWELL_TIMEOUT = 1.0
# Worded in each member's language by their encoder.
SHUTDOWN_NOTICE = Phrase(N_("server shutting down"))


class FrontSession(Protocol):
    """What a frontend's session does for the handler: register, then chat."""

    @property
    def connection(self) -> Connection: ...

    @property
    def peer(self) -> str: ...

    async def register(self) -> Member | None: ...

    def chat(self, member: Member) -> Awaitable[None]: ...


class TextFrontend:
    """Serves the line protocol on its listeners.

    Args:
        service: the chat service, shared with any other frontend.
        admission: who may connect, shared with any other frontend (by
            default one of its own, with the service's limits and bans).
        host, port: where to listen (``port`` 0: any free port).
        name_timeout: seconds a connection has to choose a valid name.
        ssl_context: serve TLS with this context; plain TCP when ``None``.
    """

    kind = "text"

    def __init__(
        self,
        service: ChatService,
        admission: Admission | None = None,
        *,
        host: str | None = None,
        port: int = 0,
        name_timeout: float = NAME_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.service = service
        self.hub = service.hub
        self.admission = admission or Admission(limits=service.limits, guard=service.guard)
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.name_timeout = name_timeout
        self._accept_scope = trio.CancelScope()
        # Where it listens, once it does.
        self.listeners: list[trio.SocketListener] = []
        # The cancel scopes of connections still choosing a name.
        self._registering: set[trio.CancelScope] = set()

    async def serve(
        self,
        handler_nursery: trio.Nursery,
        *,
        task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen, then accept connections into ``handler_nursery`` until :meth:`stop`.

        Raises:
            OSError: the port cannot be listened on (before anything started).
        """
        listeners = await listen(self.port, self.host, self.port_option())
        self.listeners = listeners
        try:
            # The listeners queue connections from here on: ready.
            task_status.started(listeners)
            handler = self._handle_socket if self.ssl_context is None else self._handle_tls
            with self._accept_scope:
                await serve_listeners(handler, listeners, handler_nursery=handler_nursery)
        finally:
            # serve_listeners closes them, unless cancelled before its tasks ran.
            for listener in listeners:
                await trio.aclose_forcefully(listener)

    def port_option(self) -> str:
        """The option that chose this door's port, for a port already in use."""
        return "--port"

    def stop(self) -> None:
        """Stop accepting; the connections go on."""
        self._accept_scope.cancel()

    def shutdown(self, deadline: float) -> None:
        """The server is shutting down: end the connections still choosing a name.

        They hear ``*** server shutting down`` (within FAREWELL_TIMEOUT);
        members are the hub's to tell, and end by ``deadline``.
        """
        for scope in self._registering:
            scope.cancel()

    def _handle_socket(self, stream: trio.SocketStream) -> Awaitable[None]:
        # A plain function returning handle()'s coroutine: one frame less
        # parked in every connection (0.25 KiB).
        enable_keepalive(stream)
        direct = PlainSocket(stream.socket.fileno())
        return self.handle(stream, peer_name(stream), direct=direct, address=peer_ip(stream))

    def _handle_tls(self, tcp: trio.SocketStream) -> Awaitable[None]:
        assert self.ssl_context is not None
        enable_keepalive(tcp)
        # A TLS connection ends with a close_notify (not https_compatible).
        stream = TLSStream(tcp, self.ssl_context)
        # Its direct reads and writes decrypt and encrypt (once it has handshaken).
        return self.handle(stream, peer_name(tcp), direct=stream, address=peer_ip(tcp))

    async def handle(
        self,
        stream: trio.abc.Stream,
        peer: str,
        direct: DirectIO | None = None,
        address: str | None = None,
    ) -> None:
        """Serve one connection on any stream, then close it. Never raises but Cancelled.

        Args:
            peer: how the connection is named in logs.
            direct: the stream's direct reads and writes, for the fast paths
                (a plain socket's, or the TLS stream itself).
            address: the peer's IP address, for the limits (None: not over
                IP, like the exempt loopback).
        """
        # Few locals here, the rest in helpers: this frame is parked under
        # every idle connection, twice (the coroutine and its frame object).
        try:
            refusal = self.admission.admit(peer, address, kind=self.kind)
            if refusal is not None:
                await self._refuse(stream, peer, refusal)
                return
            try:
                session = self.session(Connection(stream, peer, direct), address)
                member = await self._register(session)
                if member is not None:
                    # Here, not in a helper: every idle connection parks one frame less.
                    await session.chat(member)
            finally:
                self.admission.release(address, kind=self.kind)
            await close_gently(stream)
        except CONNECTION_ERRORS as exc:
            self._disconnected(exc, peer, address)
        except Exception:
            # serve_listeners would crash the whole server on a handler exception:
            # log it, close this connection, keep serving everyone else.
            LOGGER.exception(
                "error serving %s", peer, extra={"fields": {"event": "error", "address": peer}}
            )
        finally:
            await close_now(stream)

    async def _refuse(self, stream: trio.abc.Stream, peer: str, refusal: Refusal) -> None:
        """Tell a refused connection why, unless refusals are a storm (then close it at once)."""
        with self.admission.refusing() as telling:
            if telling:
                # Say why, then close without a reset that could destroy it.
                words = words_for(self.service.lang)
                refused = Error(connect_refusal(refusal, words))
                await self._farewell(Connection(stream, peer), refused)
                await close_gently(stream)
        # Else a storm: the caller closes it at once, so that refusals cannot
        # exhaust the file descriptors they are there to protect.

    def _disconnected(self, exc: BaseException, peer: str, address: str | None) -> None:
        """Log a connection that failed (throttled per address)."""
        if isinstance(exc, NotTLS):
            why = "TLS handshake failed: not a TLS client (sent plain text)"
        elif isinstance(exc.__cause__, ssl.SSLError):
            # Only the first send (the handshake) can fail this way: receive
            # errors end a session as "connection lost" without getting here.
            why = f"TLS handshake failed: {describe_server_failure(exc.__cause__)}"
        else:
            why = f"disconnected: {exc or type(exc).__name__}"
        skipped = self._routine(why.split(":", 1)[0], address)
        if skipped is not None:
            LOGGER.info(
                "%s %s%s",
                peer if why.startswith("disconnected") else f"{peer}:",
                why,
                left_out(skipped),
                extra={"fields": {"event": "disconnected", "address": peer, "reason": why}},
            )

    def session(self, connection: Connection, address: str | None) -> FrontSession:
        """The protocol's session on an admitted connection (the IRC door has its own)."""
        return Session(connection, self.service, address=address)

    def timeout_line(self) -> Error:
        seconds = f"{self.name_timeout:.0f}"
        return Error(Phrase(N_("no name chosen within {seconds} s, closing"), seconds=seconds))

    def line(self, event: Notice | Error) -> bytes:
        """A last line (a refusal, a timeout, the shutdown) in the protocol's words."""
        return encode(event)

    def _routine(self, event: str, address: str | None) -> int | None:
        """Whether to log a routine ``event`` from ``address`` (throttled; exempt ones never)."""
        if address is None or self.service.limits.is_exempt(address):
            return 0
        key = f"{event} {address_key(address)}"
        return self.service.log_throttle.allow(key, trio.current_time())

    async def _register(self, session: FrontSession) -> Member | None:
        """The name step, within the name timeout; the member, or None (told why)."""
        member = None
        with trio.move_on_after(self.name_timeout) as registering:
            self._registering.add(registering)
            if self.hub.closing:
                # Accepted as the shutdown began, after shutdown() ended the others.
                registering.cancel()
            try:
                member = await session.register()
            finally:
                self._registering.discard(registering)
        if registering.cancelled_caught or (member is None and self.hub.closing):
            if self.hub.closing:
                await self._farewell(session.connection, _worded(session, Notice(SHUTDOWN_NOTICE)))
            else:
                LOGGER.info(
                    "%s chose no name in %.0f s: closing",
                    session.peer,
                    self.name_timeout,
                    extra={"fields": {"event": "name_timeout", "address": session.peer}},
                )
                await self._farewell(session.connection, _worded(session, self.timeout_line()))
            return None
        return member

    async def _farewell(self, connection: Connection, event: Notice | Error) -> None:
        """Send a last line if the peer takes it; why it is closed is logged already."""
        # Best effort: a peer already gone (or a TLS handshake cut short) is
        # not a second event to log.
        with trio.move_on_after(FAREWELL_TIMEOUT), contextlib.suppress(*CONNECTION_ERRORS):
            await connection.send_now(self.line(event))


def _worded(session: FrontSession, event: Notice | Error) -> Notice | Error:
    """``event`` in the text session's language (another door's session words its own)."""
    if not isinstance(session, Session):
        return event
    return type(event)(phrase(session.words, event.text))
