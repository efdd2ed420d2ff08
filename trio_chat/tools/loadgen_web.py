"""The load generator's web pages: the same clients, speaking the WebSocket protocol.

``python -m trio_chat.tools.loadgen --web --port WEB_PORT`` drives the web door
with the epoll loop of :mod:`.loadgen`: each client upgrades ``/ws``, says
``hello``, and sends its lines as ``{"type":"line"}`` frames; what it
receives is parsed only as far as the measurement needs (the frame header,
then the marker in the JSON text), so the generator stays cheap per delivery.

Its frames are masked, as a browser's must be, with the all-zero key: masking
then leaves the bytes as they are, and the server unmasks them as any other.
A web member hears its own messages back (the page shows a line once the
server took it): those are not counted, so the expected deliveries are the
same as for the text protocol.
"""

from __future__ import annotations

import json

from trio_chat.tools.loadgen import Client, LoadGenerator

UPGRADE = (
    "GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
MARK = b'"text":"m '
SYNC = b'"text":"sync"'
WELCOME = b'{"type":"welcome"'
TEXT, CLOSE, PING = 0x1, 0x8, 0x9


def masked(payload: bytes, opcode: int = TEXT) -> bytes:
    """A client's frame holding ``payload`` (masked with the zero key)."""
    size = len(payload)
    head = bytes([0x80 | opcode])
    if size < 126:
        head += bytes([0x80 | size])
    elif size < 1 << 16:
        head += bytes([0x80 | 126]) + size.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + size.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


def frames(buffer: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """The whole (unmasked, server) frames at the start of ``buffer``, and what is left."""
    out = []
    offset = 0
    while len(buffer) - offset >= 2:
        size = buffer[offset + 1] & 0x7F
        start = offset + 2
        if size == 126:
            size, start = int.from_bytes(buffer[start : start + 2], "big"), start + 2
        elif size == 127:
            size, start = int.from_bytes(buffer[start : start + 8], "big"), start + 8
        if len(buffer) < start + size:
            break
        out.append((buffer[offset] & 0x0F, buffer[start : start + size]))
        offset = start + size
    return out, buffer[offset:]


class WebLoadGenerator(LoadGenerator):
    """Every client a web page on the web port."""

    def __init__(self, host: str, port: int, clients: int, stalled: int = 0) -> None:
        super().__init__(host, port, clients, stalled)
        self._upgraded: set[int] = set()

    def greet(self, client: Client) -> None:
        self.send(client, UPGRADE.format(host=self.host, port=self.port).encode())

    def say(self, client: Client, line: bytes) -> None:
        frame = {"type": "line", "room": "#lobby", "text": line.rstrip(b"\n").decode()}
        self.send(client, masked(json.dumps(frame).encode()))

    def _read(self, client: Client) -> None:
        got = self.receive(client)
        if not got or not got[0]:
            return
        data, now = got
        buffer = client.buffer + data
        if client.index not in self._upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                client.buffer = buffer
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self._close(client)
                return
            self._upgraded.add(client.index)
            buffer = buffer[end + 4 :]
            hello = {"type": "hello", "name": client.name.decode()}
            self.send(client, masked(json.dumps(hello).encode()))
        received, client.buffer = frames(buffer)
        own = b'"from":"' + client.name + b'"'
        for opcode, payload in received:
            if opcode == TEXT:
                self._frame(client, payload, now, own)
            elif opcode == PING:
                self.send(client, masked(payload, 0xA))
            elif opcode == CLOSE:
                self._close(client)
                return

    def _frame(self, client: Client, payload: bytes, now: int, own: bytes) -> None:
        at = payload.find(MARK)
        if at >= 0:
            if own in payload:
                return  # our own message, back: not a delivery to count
            end = payload.find(b'"', at + len(MARK))
            _, phase, _, sent = payload[at + len(MARK) - 2 : end].rsplit(b" ", 3)
            self.measured(client, phase, sent, now)
        elif not client.welcomed and payload.startswith(WELCOME):
            self.welcome(client)
        elif SYNC in payload:
            client.synced = True
