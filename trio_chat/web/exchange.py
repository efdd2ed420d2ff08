"""One HTTP/1.1 connection of the web door: h11's requests in, the site's answers out.

Theory of operation
-------------------
:func:`exchange` reads requests with h11 and sends what the sans-IO
:class:`~.routes.Site` answers, keeping the connection alive between
requests, until the connection ends or upgrades to the WebSocket (then it
returns the bytes that followed the upgrade request: the first frames).

Nothing is ever waited for without a bound: each request must arrive whole
within :data:`REQUEST_TIMEOUT` of the previous answer (or of the connection):
a slowloris trickle, or an idle kept-alive connection, is closed then. Each
answer must be taken within :data:`SEND_TIMEOUT`: a client that asks and never
reads (pipelined requests filling the socket's buffers) is closed too. A
request head may hold :data:`MAX_HEAD` bytes (h11 answers 431 past it), a
body :data:`MAX_BODY` (read and dropped: nothing here takes one; 413 past
it). A connection serves at most :data:`MAX_REQUESTS` requests.
"""

from __future__ import annotations

import dataclasses
import http
import logging
from collections.abc import Callable

import h11
import trio

from trio_chat.core.limits import LogThrottle, left_out
from trio_chat.net.connection import Connection
from trio_chat.web.routes import (
    HostRefused,
    OriginRefused,
    Response,
    Site,
    Upgrade,
    text_response,
)

LOGGER = logging.getLogger(__name__)

# A request (after the previous answer, or the connection) must arrive whole within this.
REQUEST_TIMEOUT = 15.0
# An answer (or the 101 of an upgrade) must be taken by the peer within this.
SEND_TIMEOUT = 15.0
# The biggest request head, and request body (read and discarded), in bytes.
MAX_HEAD = 16 * 1024
MAX_BODY = 16 * 1024
# Requests one connection may make before it is closed.
MAX_REQUESTS = 1000


def new_connection() -> h11.Connection:
    return h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)


async def exchange(connection: Connection, site: Site, closing: Callable[[], bool]) -> bytes | None:
    """Answer requests until the connection ends; after an upgrade, the bytes that followed.

    ``closing()``: the server is shutting down, every answer closes its connection.
    """
    h = new_connection()
    for served in range(1, MAX_REQUESTS + 1):
        with trio.move_on_after(REQUEST_TIMEOUT) as waiting:
            request = await read_request(connection, h)
        if waiting.cancelled_caught:
            if h.their_state is not h11.IDLE or h.trailing_data[0]:
                await send_response(connection, h, text_response(408, "too slow", close=True))
            return None
        if request is None:
            return None
        if isinstance(request, Response):
            await send_response(connection, h, request)
            return None
        answer = site.answer(request)
        if isinstance(answer, Upgrade):
            if not await send_within(connection, switch(h, answer)):
                return None
            return h.trailing_data[0]
        if isinstance(answer, OriginRefused):
            refused_origin(site.origin_log, connection.peer, answer.origin, request)
        elif isinstance(answer, HostRefused):
            refused_name(site.origin_log, connection.peer, answer.name)
        if closing() or served == MAX_REQUESTS:  # the last answer says it is (RFC 9112 9.6)
            answer = dataclasses.replace(answer, close=True)
        LOGGER.debug("%s %s %s: %d", connection.peer, request.method, request.target, answer.status)
        if not await send_response(connection, h, answer, head=request.method == b"HEAD"):
            return None
        if answer.close or h.our_state is not h11.DONE or h.their_state is not h11.DONE:
            return None
        h.start_next_cycle()
    return None


def refused_origin(
    throttle: LogThrottle, peer: str, origin: str | None, request: h11.Request
) -> None:
    """Log a WebSocket refused for its page's origin (a proxy wanting ``--web-origin``,
    or another site's page), a few lines a minute per address at most."""
    address = peer.rpartition(":")[0] or peer
    skipped = throttle.allow(address, trio.current_time())
    if skipped is None:
        return
    host = next((v.decode("latin-1") for k, v in request.headers if k == b"host"), "?")
    LOGGER.info(
        "web %s: WebSocket refused: a page of %s is not of this server (Host %s); "
        "if it is yours, allow it with --web-origin%s",
        peer,
        origin,
        host,
        left_out(skipped),
        extra={"fields": {"event": "origin_refused", "address": peer, "origin": origin}},
    )


def refused_name(throttle: LogThrottle, peer: str, name: str) -> None:
    """Log a request refused for the name it used (DNS rebinding, or a name to
    allow with ``--web-host``), a few lines a minute per address at most."""
    address = peer.rpartition(":")[0] or peer
    skipped = throttle.allow(address, trio.current_time())
    if skipped is None:
        return
    LOGGER.info(
        "web %s: refused a request for the name %s, which is not this server's; "
        "if it is, allow it with --web-host %s%s",
        peer,
        name,
        name,
        left_out(skipped),
        extra={"fields": {"event": "host_refused", "address": peer, "host": name}},
    )


def switch(h: h11.Connection, upgrade: Upgrade) -> bytes:
    """The 101 that switches the connection to the WebSocket."""
    switching = h11.InformationalResponse(
        status_code=101, headers=list(upgrade.headers), reason=b"Switching Protocols"
    )
    return h.send(switching)


async def read_request(connection: Connection, h: h11.Connection) -> h11.Request | Response | None:
    """The next request, its body read (and dropped); a Response for a bad one; None at the end."""
    request: h11.Request | None = None
    body = 0
    while True:
        try:
            event = h.next_event()
        except h11.RemoteProtocolError as exc:
            return text_response(exc.error_status_hint, f"bad request: {exc}", close=True)
        if event is h11.NEED_DATA:
            h.receive_data(await connection.receive())
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += len(event.data)
            if body > MAX_BODY:
                return text_response(413, "request body too big", close=True)
        elif isinstance(event, h11.EndOfMessage):
            return request
        else:  # ConnectionClosed (PAUSED cannot happen: an upgrade is answered first)
            return None


async def send_within(connection: Connection, data: bytes) -> bool:
    """Send ``data``; False if the peer did not take it within :data:`SEND_TIMEOUT`."""
    with trio.move_on_after(SEND_TIMEOUT) as sending:
        await connection.send_now(data)
    return not sending.cancelled_caught


async def send_response(
    connection: Connection, h: h11.Connection, response: Response, *, head: bool = False
) -> bool:
    """Send ``response`` if h11 still may; False if it could not be sent (in time).

    Not sent after a request h11 could not read.
    """
    try:
        phrase = http.HTTPStatus(response.status).phrase.encode()
        data = h.send(
            h11.Response(status_code=response.status, headers=response.h11_headers(), reason=phrase)
        )
        if response.body and not head:
            data += h.send(h11.Data(data=response.body))
        data += h.send(h11.EndOfMessage())
    except h11.LocalProtocolError:
        return False
    return await send_within(connection, data)
