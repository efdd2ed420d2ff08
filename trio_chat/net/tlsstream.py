"""The server's TLS connection: a trio stream with the same direct I/O as a plain socket.

Theory of operation
-------------------
:class:`TLSStream` runs TLS over an accepted TCP socket with the
``ssl`` module's sans-IO pieces (``ssl.SSLObject`` and two
``ssl.MemoryBIO``), and moves the bytes itself: ``os.read`` into the
incoming BIO, ``os.write`` from the outgoing one. So it offers the
:class:`~trio_chat.net.direct.DirectIO` a plain socket offers, and the hub's
flusher writes to a TLS member without a task, as it does for plain TCP:
``write_now`` encrypts into the outgoing BIO, writes what the kernel takes,
and keeps the rest (:attr:`owed`); only then does the connection's writer
wait for writability (and it sends nothing else before that rest).
``read_now`` decrypts what is there, reading the socket only when the
``SSLObject`` wants more.

It is also a ``trio.abc.Stream`` for the steps before (the handshake, the
name step, HTTP): ``receive_some`` and ``send_all`` wait as trio's
``SSLStream`` does, and the first of them does the handshake (so it runs
within the name timeout and the admission, like the rest of registration).
The connection's first bytes must be a TLS handshake record: anything else
is a plain-text client, answered in plain text (``reply``) and ended
(:class:`~trio_chat.net.tls.NotTLS`). Handshake failures raise
``trio.BrokenResourceError`` from the ``ssl.SSLError`` (for
:func:`~trio_chat.net.tls.describe_server_failure`), as ``SSLStream`` does.

TLS details handled here:

* **Renegotiation** is refused by the server's context
  (``OP_NO_RENEGOTIATION``), so after the handshake a write never needs
  to read (and a read never needs to write before our next write):
  ``SSLWantReadError`` only ever means "more ciphertext needed"; a write
  that wants anything would be a broken connection (an ``OSError``).
* **Session tickets** (TLS 1.3 writes them after the handshake) wait for
  the first write, as ``SSLStream`` does (OpenSSL issues 7948 and 7967).
* **close_notify**: a read returns ``b""`` after the peer's;
  :meth:`close_gently` sends ours, waits for theirs, then half-closes TCP.
* **EOF without close_notify** is an error (``ssl.SSLEOFError``, the
  connection is *lost*), or, for HTTPS (``https_compatible``, as browsers
  do it), an end like any other.

No send lock is needed: one task at a time writes (the session before it is
a member, then its writer), and every call into the ``SSLObject`` is
synchronous, so reads and writes never interleave inside OpenSSL.
"""

from __future__ import annotations

import contextlib
import os
import ssl

import trio

from trio_chat.net.direct import RECEIVE_SIZE
from trio_chat.net.listeners import LINGER_TIMEOUT, linger
from trio_chat.net.tls import NOT_TLS_REPLY, TLS_HANDSHAKE_RECORD, NotTLS, turn_away

# A memory BIO never gives back what it grew to (ssl.MemoryBIO keeps its
# high-water mark), so what goes through one at a time stays small: ciphertext
# is read from the socket 4 KiB at a time (a ClientHello, a chat line, a
# WebSocket frame fit), and plaintext encrypted in 4 KiB records (22 bytes
# of overhead each), each read out of the BIO at once. A member that once got
# a 256 KiB replay keeps ~4 KiB of BIO, not 256.
RAW_RECEIVE_SIZE = 4 * 1024
ENCRYPT_CHUNK = 4 * 1024
# Errors that mean the peer ended TLS without a close_notify.
_RAGGED = (ssl.SSLEOFError, ssl.SSLSyscallError)


class TLSStream(trio.abc.Stream):
    """A server-side TLS connection over ``transport``, with direct reads and writes.

    Args:
        transport: the accepted TCP connection (its owner closes this stream).
        context: the server's context (:func:`~trio_chat.net.tls.server_context`).
        reply: what a client that speaks plain text is told, in plain text.
        https_compatible: an EOF without close_notify is a clean end (browsers).
    """

    # One per TLS connection, thousands at once: no per-instance __dict__.
    __slots__ = (
        "_context",
        "_https",
        "_in",
        "_out",
        "_owed",
        "_ready",
        "_reply",
        "_ssl",
        "fileno",
        "transport",
    )

    def __init__(
        self,
        transport: trio.SocketStream,
        context: ssl.SSLContext,
        *,
        reply: bytes = NOT_TLS_REPLY,
        https_compatible: bool = False,
    ) -> None:
        self.transport = transport
        self.fileno = transport.socket.fileno()
        self._context = context
        self._reply = reply
        self._https = https_compatible
        # Made once the first bytes show a TLS client (a silent connection
        # holds no OpenSSL state).
        self._ssl: ssl.SSLObject | None = None
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        # Ciphertext read from the outgoing BIO that the kernel did not take yet.
        self._owed = b""
        self._ready = False

    # --- DirectIO --------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether the handshake is over (direct reads and writes may begin)."""
        return self._ready

    @property
    def owed(self) -> bool:
        return bool(self._owed) or self._out.pending > 0

    def read_now(self, max_bytes: int = RECEIVE_SIZE) -> bytes | None:
        """Decrypted bytes, now; ``b""`` at the end (close_notify); ``None``: nothing yet.

        Raises:
            OSError: a reset, broken TLS, or (not ``https_compatible``) an
                EOF without close_notify (``ssl.SSLEOFError``).
        """
        assert self._ssl is not None, "read_now before the handshake"
        while True:
            try:
                return self._ssl.read(max_bytes)
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                return b""
            except _RAGGED:
                if self._https:
                    return b""
                raise
            if self._in.eof:  # more wanted after the end: cut short (OpenSSL says so itself)
                if self._https:
                    return b""
                raise ssl.SSLEOFError(ssl.SSL_ERROR_EOF, "EOF in the middle of a record")
            if not self._feed():
                return None

    def write_now(self, data: bytes) -> int:
        """Encrypt all of ``data`` and write what the kernel takes; the rest is owed.

        Raises:
            OSError: the peer is gone, or TLS broke (an ``ssl.SSLError``).
        """
        assert self._ssl is not None, "write_now before the handshake"
        if len(data) <= ENCRYPT_CHUNK:
            if data:  # SSLObject.write(b"") would mean something else
                self._ssl.write(data)
        else:
            view = memoryview(data)
            pieces = [self._owed, self._out.read()]
            for start in range(0, len(data), ENCRYPT_CHUNK):
                self._ssl.write(view[start : start + ENCRYPT_CHUNK])
                pieces.append(self._out.read())
            self._owed = b"".join(pieces)
        self.flush_now()
        return len(data)

    def flush_now(self) -> int:
        """Write owed ciphertext (and anything OpenSSL queued) the kernel takes now."""
        if self._out.pending:
            more = self._out.read()
            self._owed = self._owed + more if self._owed else more
        sent = 0
        while self._owed:
            try:
                written = os.write(self.fileno, self._owed)
            except BlockingIOError:
                break
            sent += written
            self._owed = self._owed[written:]
        return sent

    def _feed(self) -> bool:
        """Read ciphertext the socket has into the incoming BIO; False if it has none."""
        try:
            raw = os.read(self.fileno, RAW_RECEIVE_SIZE)
        except BlockingIOError:
            return False
        if raw:
            self._in.write(raw)
        else:
            self._in.write_eof()
        return True

    # --- the handshake ---------------------------------------------------------------

    async def _handshake(self) -> None:
        """Check the first bytes are TLS, then handshake; errors as ``BrokenResourceError``."""
        try:
            if self._ssl is None:  # else resumed (a handshake cut short by a cancel)
                await self._first_bytes()
            assert self._ssl is not None
            while not self._handshake_step():
                # Outside the except clause: a pending handshake parked in
                # there would keep the exception and its traceback.
                await self._drain()
                await self._wait_feed()
            if self._ssl.version() != "TLSv1.3":
                await self._drain()  # TLS 1.2's last flight: the client waits for it
            # TLS 1.3: what is in the BIO now is session tickets, for the first write.
            self._ready = True
        except (ssl.SSLError, ssl.CertificateError) as exc:
            self._send_alert()
            raise trio.BrokenResourceError(str(exc)) from exc
        except OSError as exc:
            raise trio.BrokenResourceError(str(exc)) from exc

    def _handshake_step(self) -> bool:
        """Advance the handshake with what has arrived; whether it is over."""
        assert self._ssl is not None
        try:
            self._ssl.do_handshake()
        except ssl.SSLWantReadError:
            if self._in.eof:  # (never seen: OpenSSL raises SSLEOFError itself)
                raise ssl.SSLEOFError(ssl.SSL_ERROR_EOF, "EOF during the handshake") from None
            return False
        return True

    async def _first_bytes(self) -> None:
        """Wait for the first bytes: a TLS client's start a handshake record."""
        while True:
            await trio.lowlevel.wait_readable(self.fileno)
            try:
                raw = os.read(self.fileno, RAW_RECEIVE_SIZE)
                break
            except BlockingIOError:
                continue
        if raw and raw[0] != TLS_HANDSHAKE_RECORD:
            await turn_away(self.transport, self._reply)
            raise NotTLS
        if raw:
            self._in.write(raw)
        else:
            self._in.write_eof()  # OpenSSL says how that ends a handshake
        self._ssl = self._context.wrap_bio(self._in, self._out, server_side=True)

    async def _wait_feed(self) -> None:
        while not self._feed():
            await trio.lowlevel.wait_readable(self.fileno)

    def _send_alert(self) -> None:
        """Best effort: the alert OpenSSL wrote about a failed handshake, if the kernel takes it."""
        with contextlib.suppress(OSError):
            self.flush_now()

    async def _drain(self) -> None:
        """Write everything owed, waiting for room as needed (the writer's own way, async)."""
        self.flush_now()
        while self.owed:
            await trio.lowlevel.wait_writable(self.fileno)
            self.flush_now()

    # --- trio.abc.Stream ---------------------------------------------------------------

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Decrypted bytes (``b""`` at the end); the first call does the handshake."""
        if not self._ready:
            try:
                await self._handshake()
            except trio.BrokenResourceError as exc:
                if self._https and isinstance(exc.__cause__, _RAGGED):
                    return b""  # a browser's spare connection, closed unused
                raise
        await trio.lowlevel.checkpoint()
        try:
            data = self.read_now(max_bytes or RECEIVE_SIZE)
            while data is None:
                await trio.lowlevel.wait_readable(self.fileno)
                data = self.read_now(max_bytes or RECEIVE_SIZE)
        except OSError as exc:
            raise trio.BrokenResourceError(str(exc)) from exc
        return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt and send ``data``, waiting for room; the first call does the handshake."""
        if not self._ready:
            await self._handshake()
        await trio.lowlevel.checkpoint()
        try:
            self.write_now(bytes(data))
            await self._drain()
        except OSError as exc:
            raise trio.BrokenResourceError(str(exc)) from exc

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.wait_writable(self.fileno)

    async def aclose(self) -> None:
        """Close the TCP connection (:meth:`close_gently` ends TLS first)."""
        await self.transport.aclose()

    async def close_gently(self) -> None:
        """End TLS with close_notify both ways, then half-close TCP and let the peer close.

        The peer must see our close_notify, or its TLS library reports a
        lost connection instead of the end of the stream. Within
        LINGER_TIMEOUT; a peer that is gone or broke TLS ends it at once.
        """
        with trio.move_on_after(LINGER_TIMEOUT):
            try:
                if self._ready and self._ssl is not None:
                    await self._drain()  # what is owed goes before the close_notify
                    try:
                        self._ssl.unwrap()
                        theirs = True
                    except ssl.SSLWantReadError:
                        theirs = False  # ours is written; theirs is not here yet
                    await self._drain()
                    while not theirs:
                        data = self.read_now()
                        if data is None:
                            await trio.lowlevel.wait_readable(self.fileno)
                        theirs = data == b""
                await linger(self.transport)  # so our last bytes are read, not reset
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                return
