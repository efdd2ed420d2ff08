"""Direct, task-free reads and writes on a connection's socket: the seam under Connection.

Theory of operation
-------------------
The hub's flusher writes to thousands of members per pass. A trip through
the scheduler per member (a task, ``send_all``) costs far more than the
write itself, so a connection offers a synchronous, non-blocking
:class:`DirectIO`: ``write_now`` takes what it can at once, ``read_now``
returns what is there, and only when the kernel has no room (or nothing to
read) does a task wait, on :attr:`DirectIO.fileno`.

Two kinds provide it: :class:`PlainSocket` (``os.read`` / ``os.write`` on
a TCP socket) and :class:`~trio_chat.net.tlsstream.TLSStream` (the same
socket under ``ssl.SSLObject`` and memory BIOs: it encrypts into its
buffer, writes what the kernel takes, and *owes* the rest). Bytes a
``write_now`` took but the kernel did not are :attr:`DirectIO.owed`: the
connection's writer waits for writability and calls ``flush_now`` until
nothing is owed, before it sends anything else.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Protocol

# How much to ask the socket for at a time.
RECEIVE_SIZE = 8 * 1024


class DirectIO(Protocol):
    """Non-blocking reads and writes on a connection, without the scheduler."""

    @property
    def fileno(self) -> int:
        """The socket to wait on (``wait_readable`` / ``wait_writable``)."""
        ...

    @property
    def ready(self) -> bool:
        """Whether reads and writes may go direct (TLS: once the handshake is over)."""
        ...

    @property
    def owed(self) -> bool:
        """Whether bytes taken by :meth:`write_now` still wait for the kernel."""
        ...

    def read_now(self) -> bytes | None:
        """What the peer sent, now; ``b""`` at the end; ``None``: nothing yet.

        Raises:
            OSError: the connection failed (a reset, broken TLS, a TLS
                stream cut without close_notify where that counts).
        """
        ...

    def write_now(self, data: bytes) -> int:
        """Take what can be taken of ``data`` now, and how much that was (may be 0).

        Raises:
            OSError: the peer is gone.
        """
        ...

    def flush_now(self) -> int:
        """Send owed bytes the kernel takes now; how many (0: no room).

        Raises:
            OSError: the peer is gone.
        """
        ...


class PlainSocket:
    """A plain TCP socket's direct reads and writes (``os.read``, ``os.write``)."""

    # One per plain connection, thousands at once: no per-instance __dict__.
    __slots__ = ("fileno",)

    # A plain socket owes nothing (what the kernel did not take, the writer
    # sends itself) and needs no handshake.
    ready = True
    owed = False

    def __init__(self, fileno: int) -> None:
        self.fileno = fileno

    def read_now(self) -> bytes | None:
        # The caller waits outside any except clause: an idle connection
        # parked there would keep the BlockingIOError and its traceback.
        try:
            return os.read(self.fileno, RECEIVE_SIZE)
        except BlockingIOError:
            return None

    def write_now(self, data: bytes) -> int:
        try:
            return os.write(self.fileno, data)
        except BlockingIOError:
            return 0

    def flush_now(self) -> int:
        return 0

    @property
    def raw_write(self) -> Callable[[bytes], int]:
        """``os.write`` on the socket, raising BlockingIOError when the kernel takes nothing.

        For the hub's broadcasts (:attr:`~trio_chat.core.outbox.Outbox.direct`):
        a C call with no Python frame around it, in a loop of a write per member.
        """
        return functools.partial(os.write, self.fileno)
