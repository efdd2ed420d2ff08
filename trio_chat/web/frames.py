"""WebSocket frames, sans-IO: wsproto's parser as a Connection decoder, and shared encoders.

Theory of operation
-------------------
Nothing here does I/O or imports trio. After the HTTP upgrade
(:mod:`.routes`), a session reads the stream with
``Connection.next_message(FrameDecoder(...))``: the decoder feeds wsproto's
post-handshake connection and turns its events into what the session acts on:

* :class:`Text`: one whole text message (fragments joined);
* :class:`Binary`: a binary message (the protocol has none: an error);
* :class:`Reply`: bytes wsproto wants sent back now (a pong to a ping);
* :class:`Alive`: the peer answered a ping (the session's liveness check);
* :class:`Closing`: the connection ends: the peer closed (``reply`` is our
  half of the close handshake), broke the protocol, sent a message over
  :data:`MAX_MESSAGE_BYTES` (close code 1009), or the stream ended (1006).
  Nothing more comes after it.

Server-to-client frames are never masked and, without permessage-deflate
(never negotiated here), carry no per-connection state: :func:`text_frame`
and :func:`close_frame` make the same bytes for every connection, so a
broadcast is framed once for every web member (see :mod:`.protocol`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.frame_protocol import CloseReason, FrameProtocol

from trio_chat.core.names import MAX_TEXT_BYTES

# The biggest message a client may send, in bytes: the chat's longest text
# (4096 bytes) as JSON may write it, every byte as six ("\u0001"), with its
# fields around it. So any text the chat takes fits in a frame, and a longer one
# (4000 characters pasted into the page are up to 12,000 bytes) gets the chat's
# "too long" error rather than a closed connection.
MAX_MESSAGE_BYTES = 6 * MAX_TEXT_BYTES + 1024

NORMAL = int(CloseReason.NORMAL_CLOSURE)  # 1000
GOING_AWAY = int(CloseReason.GOING_AWAY)  # 1001: server shutting down
POLICY = int(CloseReason.POLICY_VIOLATION)  # 1008: turned away, kicked, banned...
TOO_BIG = int(CloseReason.MESSAGE_TOO_BIG)  # 1009
SERVER_ERROR = int(CloseReason.INTERNAL_ERROR)  # 1011
ABNORMAL = int(CloseReason.ABNORMAL_CLOSURE)  # 1006: no close frame (the stream ended)


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Binary:
    size: int


@dataclass(frozen=True, slots=True)
class Reply:
    data: bytes


@dataclass(frozen=True, slots=True)
class Alive:
    pass


@dataclass(frozen=True, slots=True)
class Closing:
    code: int
    reason: str
    # Our close frame, to send before closing the stream (b"": nothing to send).
    reply: bytes = b""


Incoming = Text | Binary | Reply | Alive | Closing

# One frame serializer for every connection: a server's frames are unmasked,
# and a whole message (fin=True) leaves it as it was.
_SERVER_FRAMES = FrameProtocol(client=False, extensions=[])


def text_frame(text: str) -> bytes:
    """The bytes of one unfragmented text frame, the same for every connection."""
    return bytes(_SERVER_FRAMES.send_data(text, fin=True))


def close_frame(code: int, reason: str = "") -> bytes:
    """The bytes of a close frame (``reason`` truncated to fit, as RFC 6455 wants)."""
    return bytes(_SERVER_FRAMES.close(code, reason or None))


class FrameDecoder:
    """One WebSocket connection's incoming frames (``feed(b"")``: the stream ended).

    Args:
        trailing: bytes received after the upgrade request (the first frames).
        max_message: the biggest message accepted, in bytes; a bigger one
            ends the connection with code 1009 as soon as it is known.
    """

    __slots__ = ("_done", "_max", "_parts", "_size", "_ws")

    def __init__(self, trailing: bytes = b"", max_message: int = MAX_MESSAGE_BYTES) -> None:
        self._ws = Connection(ConnectionType.SERVER)
        self._max = max_message
        self._parts: list[str] = []
        self._size = 0
        self._done = False
        self._ws.receive_data(trailing)

    @property
    def open(self) -> bool:
        """Whether messages may still be sent (no close frame sent or received)."""
        return not self._done and self._ws.state is ConnectionState.OPEN

    def feed(self, data: bytes) -> Sequence[Incoming]:
        if self._done:
            return []
        self._ws.receive_data(data if data else None)
        out: list[Incoming] = []
        for event in self._ws.events():
            item = self._handle(event)
            if item is not None:
                out.append(item)
                if isinstance(item, Closing):
                    self._done = True
                    break
        return out

    def _handle(self, event: object) -> Incoming | None:
        match event:
            case TextMessage() | BytesMessage():
                return self._message(event)
            case Ping():
                return Reply(self._ws.send(event.response()))
            case Pong():
                return Alive()
            case CloseConnection(code=code, reason=reason):
                return self._closed(code, reason or "")
        return None

    def _message(self, event: TextMessage | BytesMessage) -> Incoming | None:
        data = event.data
        self._size += len(data.encode("utf-8")) if isinstance(data, str) else len(data)
        if self._size > self._max:
            why = f"message too big (max {self._max} bytes)"
            return Closing(TOO_BIG, why, self._ws.send(CloseConnection(TOO_BIG, why)))
        if isinstance(data, str):
            self._parts.append(data)
        if not event.message_finished:
            return None
        size, text = self._size, "".join(self._parts)
        self._parts, self._size = [], 0
        return Text(text) if isinstance(event, TextMessage) else Binary(size)

    def _closed(self, code: int, reason: str) -> Closing:
        state = self._ws.state
        if state is ConnectionState.REMOTE_CLOSING:
            # The peer's close frame: ours answers it (the closing handshake).
            return Closing(code, reason, self._ws.send(CloseConnection(code)))
        if state is ConnectionState.OPEN:
            # wsproto found the peer breaking the protocol: say so, and end.
            return Closing(code, reason, self._ws.send(CloseConnection(code, reason)))
        return Closing(code, reason)  # the stream ended, or the handshake completed

    def close(self, code: int, reason: str = "") -> bytes:
        """Our close frame, to start the closing handshake (b"" if closing already)."""
        if self._ws.state is not ConnectionState.OPEN:
            return b""
        return self._ws.send(CloseConnection(code, reason or None))

    def ping(self) -> bytes:
        """A ping frame (b"" if closing)."""
        if self._ws.state is not ConnectionState.OPEN:
            return b""
        return self._ws.send(Ping())
