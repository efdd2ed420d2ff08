"""The web frontend: one port for the page (HTTP/1.1, h11) and the chat (WebSocket, wsproto).

Who owns what
-------------
Like the text frontend (:mod:`trio_chat.text.server`, the model): the
assembly builds it with the shared service and admission;
:meth:`WebFrontend.serve` listens and accepts connections into the handler
nursery it is given. Every TCP connection asks the admission first (the
limits count every door together). A refused one still gets an answer, in
HTTP (503, 429 or 403 with the reason), or, if it asked for the WebSocket,
a ``refused`` frame the page can show, then the close. Only the upgrade to
the WebSocket (a chat connection) draws on ``--connect-rate``: a page load
opens several HTTP connections, and reloading it must not use that up.

An admitted connection speaks HTTP/1.1 (:func:`~.exchange.exchange`, over
h11): requests answered by :class:`~.routes.Site` (sans-IO), kept alive
between requests, each within a time and size limit.

An accepted upgrade to ``/ws`` turns the connection into a
:class:`~.session.WebSession` on the same :class:`Connection`: the name
step bounded by the name timeout, then the chat phase with the member's
outbox and eviction. Every web member of a language shares one encoder
(:func:`~.protocol.encoder_for`), so the hub frames each event once for all.

With TLS each accepted connection is wrapped in a
:class:`~trio_chat.net.tlsstream.TLSStream` (HTTPS, and ``wss:`` for the page)
on the same port, which is also its direct I/O once it has handshaken.

Shutdown: :meth:`stop` does not stop accepting at once: ``/healthz`` answers
503 while the other connections drain (a load balancer watching it sees the
server going), new WebSockets are refused, and every answer closes its
connection. :meth:`shutdown` ends the connections still choosing a name;
once only this port's HTTP connections are left (or at the deadline), the
port closes and they end.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
from collections.abc import Awaitable, Iterable, Sequence

import h11
import trio

from trio_chat.core.admission import Admission, Refusal
from trio_chat.core.events import Reason
from trio_chat.core.members import Encoder
from trio_chat.core.refusals import Banned, ServerFull
from trio_chat.core.service import ChatService
from trio_chat.i18n import DEFAULT, N_, words_for
from trio_chat.net.connection import CONNECTION_ERRORS, Connection
from trio_chat.net.direct import DirectIO, PlainSocket
from trio_chat.net.listeners import (
    close_gently,
    close_now,
    enable_keepalive,
    lan_addresses,
    listen,
    peer_ip,
    peer_name,
)
from trio_chat.net.tls import NotTLS, describe_server_failure
from trio_chat.net.tlsstream import TLSStream
from trio_chat.text.session import NAME_TIMEOUT
from trio_chat.text.wording import connect_refusal
from trio_chat.web import frames
from trio_chat.web.exchange import exchange, new_connection, read_request, send_response, switch
from trio_chat.web.frames import FrameDecoder
from trio_chat.web.protocol import bye, error, refusal_code, reply
from trio_chat.web.routes import (
    MetricsSource,
    Site,
    StaticFile,
    Upgrade,
    load_static,
    text_response,
)
from trio_chat.web.session import FAREWELL_TIMEOUT, WebSession

LOGGER = logging.getLogger(__name__)

SHUTDOWN_TEXT = N_("server shutting down")
# What a browser that asked for http: on the HTTPS port reads.
_NOT_HTTPS = b"This server speaks HTTPS: open https:// instead\n"
NOT_HTTPS_REPLY = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_NOT_HTTPS), _NOT_HTTPS)
)


def machine_names() -> list[str]:
    """This machine's own names: its host name, its first label, and that with ``.local``
    (the name mDNS gives it on a LAN)."""
    name = socket.gethostname().lower().rstrip(".")
    if not name:
        return []
    label = name.partition(".")[0]
    return [name, label, f"{label}.local"]


class WebFrontend:
    """Serves the page and its WebSocket on one port.

    Args:
        service, admission, host, port, name_timeout, ssl_context: as for
            :class:`~trio_chat.text.server.TextFrontend`.
        origins: page origins allowed besides the server's own (``--web-origin``).
        hosts: names the page answers to besides IP addresses, ``localhost``,
            the origins' hosts and this machine's names (``--web-host``).
        metrics: what ``/metrics`` serves (body, content type); 404 without.
        files: the static files (default: the package's ``static/``).
        encoder: how events are framed for web members: one for all of them
            (None: one per language, the members' own).
    """

    kind = "web"

    def __init__(
        self,
        service: ChatService,
        admission: Admission | None = None,
        *,
        host: str | None = None,
        port: int = 0,
        name_timeout: float = NAME_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
        origins: Iterable[str] = (),
        hosts: Iterable[str] = (),
        metrics: MetricsSource | None = None,
        files: dict[str, StaticFile] | None = None,
        encoder: Encoder | None = None,
    ) -> None:
        self.service = service
        self.hub = service.hub
        self.admission = admission or Admission(limits=service.limits, guard=service.guard)
        self.host = host
        self.port = port
        self.name_timeout = name_timeout
        self.ssl_context = ssl_context
        self.encoder = encoder
        self.site = Site(
            load_static() if files is None else files,
            self.accepting,
            metrics=metrics,
            origins=origins,
            secure=ssl_context is not None,
            names=[*machine_names(), *hosts],
        )
        self._accept_scope = trio.CancelScope()
        self._stopping = trio.Event()
        # Cancel scopes of WebSockets choosing a name, and of HTTP connections.
        self._registering: set[trio.CancelScope] = set()
        self._http: set[trio.CancelScope] = set()

    def accepting(self) -> bool:
        """Whether the chat takes people (``/healthz``)."""
        return not self._stopping.is_set() and not self.hub.closing

    async def serve(
        self,
        handler_nursery: trio.Nursery,
        *,
        task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen, then accept connections into ``handler_nursery`` until the shutdown is over.

        Raises:
            ListenError: the port cannot be listened on (before anything started).
        """
        listeners = await listen(self.port, self.host, "--web-port")
        try:
            task_status.started(listeners)
            handler = self._handle_socket if self.ssl_context is None else self._handle_tls
            with self._accept_scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._wind_down)
                    await trio.serve_listeners(handler, listeners, handler_nursery=handler_nursery)
        finally:
            for listener in listeners:
                await trio.aclose_forcefully(listener)

    def stop(self) -> None:
        """Take no more people; HTTP goes on until the other connections are over."""
        self._stopping.set()

    def shutdown(self, deadline: float) -> None:
        """End the WebSockets still choosing a name; close the port by ``deadline``."""
        self._stopping.set()
        self._accept_scope.deadline = min(self._accept_scope.deadline, deadline)
        for scope in self._registering:
            scope.cancel()

    async def _wind_down(self) -> None:
        """Once stopping, close the port when only its own HTTP connections are left."""
        await self._stopping.wait()
        # The admission counts every door's connections, this door's HTTP ones too.
        while self.admission.connections > len(self._http):
            await self.admission.released()
        for scope in self._http:
            scope.cancel()
        self._accept_scope.cancel()

    def _handle_socket(self, stream: trio.SocketStream) -> Awaitable[None]:
        enable_keepalive(stream)
        direct = PlainSocket(stream.socket.fileno())
        return self.handle(stream, peer_name(stream), direct=direct, address=peer_ip(stream))

    def _handle_tls(self, tcp: trio.SocketStream) -> Awaitable[None]:
        assert self.ssl_context is not None
        enable_keepalive(tcp)
        # https_compatible: browsers do not always end TLS with a close_notify.
        stream = TLSStream(tcp, self.ssl_context, reply=NOT_HTTPS_REPLY, https_compatible=True)
        return self.handle(stream, peer_name(tcp), direct=stream, address=peer_ip(tcp))

    async def handle(
        self,
        stream: trio.abc.Stream,
        peer: str,
        direct: DirectIO | None = None,
        address: str | None = None,
    ) -> None:
        """Serve one connection on any stream, then close it. Never raises but Cancelled."""
        try:
            refusal = self.admission.admit(peer, address, kind=self.kind, paced=False)
            if refusal is not None:
                with self.admission.refusing() as telling:
                    if telling:
                        await self._refuse(Connection(stream, peer), refusal)
                        await close_gently(stream)
                return
            try:
                await self._serve(Connection(stream, peer, direct), address)
            finally:
                self.admission.release(address, kind=self.kind)
            await close_gently(stream)
        except CONNECTION_ERRORS as exc:
            if isinstance(exc, NotTLS):
                why = "TLS handshake failed: not a TLS client (sent plain text)"
            elif isinstance(exc.__cause__, ssl.SSLError):
                why = f"TLS handshake failed: {describe_server_failure(exc.__cause__)}"
            else:
                why = f"disconnected: {exc or type(exc).__name__}"
            LOGGER.info(
                "web %s: %s",
                peer,
                why,
                extra={"fields": {"event": "disconnected", "address": peer, "reason": why}},
            )
        except Exception:
            LOGGER.exception(
                "error serving %s", peer, extra={"fields": {"event": "error", "address": peer}}
            )
        finally:
            await close_now(stream)

    async def _serve(self, connection: Connection, address: str | None) -> None:
        with trio.CancelScope() as scope:
            self._http.add(scope)
            try:
                trailing = await exchange(connection, self.site, self._stopping.is_set)
            finally:
                self._http.discard(scope)
        if trailing is None or scope.cancelled_caught:
            return
        refusal = self.admission.pace(connection.peer, address)
        if refusal is not None:
            with trio.move_on_after(FAREWELL_TIMEOUT):
                await connection.send_now(refused_frames(refusal, self.service.lang))
            return
        await self._websocket(connection, trailing, address)

    # --- HTTP -----------------------------------------------------------------------

    async def _refuse(self, connection: Connection, refusal: Refusal) -> None:
        """Answer one request of a connection the admission refused, then end it."""
        with trio.move_on_after(FAREWELL_TIMEOUT):
            h = new_connection()
            request = await read_request(connection, h)
            if not isinstance(request, h11.Request):
                return
            answer = self.site.answer(request)
            if isinstance(answer, Upgrade):
                refused = refused_frames(refusal, self.service.lang)
                await connection.send_now(switch(h, answer) + refused)
                return
            status = (
                403
                if isinstance(refusal, Banned)
                else 503
                if isinstance(refusal, ServerFull)
                else 429
            )
            text = connect_refusal(refusal, words_for(self.service.lang))
            await send_response(connection, h, text_response(status, text, close=True))

    # --- the WebSocket --------------------------------------------------------------

    async def _websocket(
        self, connection: Connection, trailing: bytes, address: str | None
    ) -> None:
        decoder = FrameDecoder(trailing)
        session = WebSession(
            connection, self.service, decoder, address=address, encoder=self.encoder
        )
        member = None
        with trio.move_on_after(self.name_timeout) as registering:
            self._registering.add(registering)
            if self.hub.closing or self._stopping.is_set():
                registering.cancel()
            try:
                member = await session.register()
            finally:
                self._registering.discard(registering)
        closing = self.hub.closing or self._stopping.is_set()
        if registering.cancelled_caught or (member is None and closing):
            if closing:
                last = bye(Reason.SHUTDOWN, session.words(SHUTDOWN_TEXT))
                await session.close(frames.GOING_AWAY, last=last)
            else:
                LOGGER.info(
                    "%s chose no name in %.0f s: closing",
                    connection.peer,
                    self.name_timeout,
                    extra={"fields": {"event": "name_timeout", "address": connection.peer}},
                )
                seconds = f"{self.name_timeout:.0f}"
                _ = session.words
                text = _("no name chosen within {seconds} s, closing", seconds=seconds)
                await session.close(frames.POLICY, last=error(text))
            return
        if member is not None:
            await session.chat(member)


def refused_frames(refusal: Refusal, lang: str = DEFAULT) -> bytes:
    """What a WebSocket the admission refused gets: a ``refused`` the page shows, the close
    (in ``lang``: the server's default, since the page has said nothing yet)."""
    text = connect_refusal(refusal, words_for(lang))
    frame = {"type": "refused", "reason": refusal_code(refusal), "text": text}
    return reply(frame) + frames.close_frame(frames.POLICY, text)


async def announce_web(
    listeners: Sequence[trio.SocketListener], host: str | None, *, tls: bool
) -> None:
    """Log the web page's address for this PC and, if it is served to them, for the others.

    Listening on every interface: ``localhost`` here, each LAN address for the
    others. On one address: that address for everyone (``localhost`` would not
    answer), but for a loopback one, which only this PC reaches.
    """
    from trio_chat.cli_words import operator_words

    _ = operator_words()  # the operator's language
    scheme = "https" if tls else "http"
    port = listeners[0].socket.getsockname()[1]
    everywhere = host in (None, "", "0.0.0.0", "::")
    here = f"{scheme}://{'localhost' if everywhere else url_host(host or '')}:{port}/"
    LOGGER.info(
        "%s",
        _("web page on this PC:      {url}", url=here),
        extra={"fields": {"event": "web_page", "address": f"{host}:{port}"}},
    )
    if everywhere:
        # Looking up the host name may block on DNS: not in the event loop.
        others = [f"{scheme}://{a}:{port}/" for a in await trio.to_thread.run_sync(lan_addresses)]
    else:
        others = [] if is_loopback(host or "") else [here]
    for url in others:
        LOGGER.info("%s", _("web page from another PC: {url}", url=url))


def url_host(host: str) -> str:
    """``host`` as a URL writes it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this PC's own loopback (``127.0.0.1``, ``::1``, ``localhost``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
