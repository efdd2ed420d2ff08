"""Listening sockets and accepted connections: the accept loop, keepalive, gentle
closes, peer names.

Nothing here knows a chat protocol; every stream frontend uses it.

:func:`serve_listeners` is ``trio.serve_listeners`` with two differences that
matter when thousands connect at once: it accepts every connection waiting
(up to :data:`ACCEPT_BATCH`) each time the listening socket is ready, where
Trio's accepts one per scheduling round (a round that, in a crowd, runs
thousands of other tasks); and the handler's own coroutine is the task, with
no wrapper frame parked under every connection.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import resource
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import NoReturn, Protocol, runtime_checkable

import trio

LOGGER = logging.getLogger(__name__)

# How long a closing connection waits for the peer to close its side.
LINGER_TIMEOUT = 1.0
# TCP keepalive: probe after this many idle seconds, every INTERVAL, give up after COUNT.
KEEPALIVE_IDLE = 60
KEEPALIVE_INTERVAL = 15
KEEPALIVE_COUNT = 4
# A peer that acknowledges nothing we send for this long (ms) is gone.
USER_TIMEOUT_MS = (KEEPALIVE_IDLE + KEEPALIVE_INTERVAL * KEEPALIVE_COUNT) * 1000


@runtime_checkable
class ClosesGently(Protocol):
    """A stream with its own gentle close (TLS: close_notify first, see net/tlsstream.py)."""

    async def close_gently(self) -> None: ...


# Connections accepted in one go before others get a turn.
ACCEPT_BATCH = 256
# The accept errors that mean the process or the system is out of something:
# wait this long, then try again (as trio.serve_listeners does).
ACCEPT_CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
ACCEPT_RETRY = 0.1
# The accept errors that are about one connection only (gone before it was accepted).
_IGNORED = "ECONNABORTED EPROTO EPERM ENETDOWN ENOPROTOOPT EHOSTDOWN ENONET EHOSTUNREACH"
ACCEPT_IGNORED_ERRNOS = frozenset(
    getattr(errno, name)
    for name in f"{_IGNORED} EOPNOTSUPP ENETUNREACH ETIMEDOUT ECONNRESET".split()
    if hasattr(errno, name)
)
# Every connection's task has this name (a name made per task costs ~90 bytes each).
HANDLER_TASK = "trio_chat connection"


class ListenError(OSError):
    """A door's port cannot be listened on, with the option that chose it (``--web-port``)."""

    def __init__(self, error: OSError, port: int, option: str) -> None:
        super().__init__(error.errno, error.strerror)
        self.port = port
        self.option = option


async def listen(port: int, host: str | None, option: str) -> list[trio.SocketListener]:
    """A door's listeners on ``port``; a port that cannot be used names ``option``.

    Raises:
        ListenError: the port is in use, forbidden, ... (before anything started).
    """
    try:
        return await trio.open_tcp_listeners(port, host=host)
    except OSError as exc:
        raise ListenError(exc, port, option) from exc


async def serve_listeners(
    handler: Callable[[trio.SocketStream], Awaitable[object]],
    listeners: list[trio.SocketListener],
    *,
    handler_nursery: trio.Nursery,
) -> NoReturn:
    """Accept connections on ``listeners`` until cancelled, one ``handler`` task each.

    The handler owns the stream: it must close it (whatever happens). The
    listeners are closed on the way out.
    """
    async with trio.open_nursery() as nursery:
        for listener in listeners:
            nursery.start_soon(_accept_loop, listener, handler, handler_nursery)
    raise AssertionError("accept loops never return")  # pragma: no cover


async def _accept_loop(
    listener: trio.SocketListener,
    handler: Callable[[trio.SocketStream], Awaitable[object]],
    nursery: trio.Nursery,
) -> NoReturn:
    # A second descriptor of the listening socket, to accept with the plain
    # (non-blocking) call: as many as wait, without a scheduling round each.
    own = listener.socket
    raw = socket.socket(own.family, own.type, own.proto, fileno=os.dup(own.fileno()))
    raw.setblocking(False)
    async with listener:
        with raw:
            while True:
                await trio.lowlevel.wait_readable(raw)
                try:
                    while _accept_some(raw, handler, nursery):
                        await trio.lowlevel.checkpoint()  # a full batch: others' turn
                except OSError as exc:
                    if exc.errno not in ACCEPT_CAPACITY_ERRNOS:
                        raise
                    LOGGER.error(
                        "accept: %s; retrying in %.1f s", os.strerror(exc.errno), ACCEPT_RETRY
                    )
                    await trio.sleep(ACCEPT_RETRY)


def _accept_some(
    raw: socket.socket,
    handler: Callable[[trio.SocketStream], Awaitable[object]],
    nursery: trio.Nursery,
) -> bool:
    """Accept up to ACCEPT_BATCH connections; whether there may be more waiting.

    Raises:
        OSError: out of file descriptors or memory (ACCEPT_CAPACITY_ERRNOS).
    """
    for _ in range(ACCEPT_BATCH):
        try:
            sock, _ = raw.accept()
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno in ACCEPT_IGNORED_ERRNOS:
                continue
            raise
        nursery.start_soon(handler, accepted_stream(sock), name=HANDLER_TASK)
    return True


def accepted_stream(sock: socket.socket) -> trio.SocketStream:
    """The stream of an accepted connection (what the handler gets)."""
    return trio.SocketStream(trio.socket.from_stdlib_socket(sock))


async def close_gently(stream: trio.abc.Stream) -> None:
    """Half-close a TCP connection, then read and drop what the peer still sends.

    Closing a socket that has unread input makes the kernel send a reset, and
    a reset can destroy our last lines ("*** Bye!", "*** server shutting
    down") before the peer reads them. So we send EOF first and give the peer
    up to LINGER_TIMEOUT to close its side.
    """
    if isinstance(stream, ClosesGently):
        await stream.close_gently()
        return
    if not isinstance(stream, trio.SocketStream):
        return  # in-memory streams lose nothing on close
    with trio.move_on_after(LINGER_TIMEOUT):
        await linger(stream)


async def close_now(stream: trio.abc.Stream) -> None:
    """Close ``stream`` at once, as :func:`trio.aclose_forcefully` does.

    A plain socket closes synchronously; closing it so, rather than in a
    cancelled scope, spares each connection's end a Cancelled exception
    (thousands leaving at once paid a third of their time for those).
    """
    if type(stream) is trio.SocketStream:
        stream.socket.close()
        await trio.lowlevel.cancel_shielded_checkpoint()
    else:
        await trio.aclose_forcefully(stream)


async def linger(stream: trio.abc.HalfCloseableStream) -> None:
    """Send EOF, then read and drop what the peer sends until it closes."""
    try:
        await stream.send_eof()
        while await stream.receive_some(65536):
            pass
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass  # the peer is gone: nothing more to wait for


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
