"""The load generator's TLS clients: the text protocol over TLS, on the epoll loop.

``python -m trio_chat.tools.loadgen --tls --tls-ca cert.pem --port TLS_PORT``. Each
client's TLS runs in an :class:`ssl.SSLObject` over memory BIOs, so the loop
still reads raw bytes with ``recvmsg`` and the kernel's arrival stamp of the
ciphertext is the latency's end (decrypting is the client's work, not the
server's). What a client says before its handshake ends waits until it does.
"""

from __future__ import annotations

import ssl

from trio_chat.tools.loadgen import Client, LoadGenerator


class _Tls:
    __slots__ = ("incoming", "outgoing", "pending", "ready", "ssl")

    def __init__(self, context: ssl.SSLContext, host: str) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.ssl = context.wrap_bio(self.incoming, self.outgoing, server_hostname=host)
        self.pending = b""
        self.ready = False


class TlsLoadGenerator(LoadGenerator):
    """Every client a text client over TLS."""

    def __init__(
        self, host: str, port: int, clients: int, stalled: int = 0, *, ca: str | None = None
    ) -> None:
        super().__init__(host, port, clients, stalled)
        self.context = ssl.create_default_context(cafile=ca)
        self.tls: dict[int, _Tls] = {}

    def greet(self, client: Client) -> None:
        tls = self.tls[client.index] = _Tls(self.context, self.host)
        self._handshake(client, tls)
        super().greet(client)

    def send(self, client: Client, data: bytes) -> None:
        tls = self.tls[client.index]
        if not tls.ready:
            tls.pending += data
            return
        tls.ssl.write(data)
        super().send(client, tls.outgoing.read())

    def _handshake(self, client: Client, tls: _Tls) -> None:
        try:
            tls.ssl.do_handshake()
            tls.ready = True
        except ssl.SSLWantReadError:
            pass
        if tls.outgoing.pending:
            super().send(client, tls.outgoing.read())
        if tls.ready and tls.pending:
            data, tls.pending = tls.pending, b""
            self.send(client, data)

    def receive(self, client: Client) -> tuple[bytes, int] | None:
        received = super().receive(client)
        if not received or not received[0]:
            return received
        raw, arrival = received
        tls = self.tls[client.index]
        tls.incoming.write(raw)
        if not tls.ready:
            self._handshake(client, tls)
        plain = []
        while tls.ready:
            try:
                chunk = tls.ssl.read(262144)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                break
            if not chunk:
                break
            plain.append(chunk)
        if tls.outgoing.pending:  # e.g. a key update's answer
            super().send(client, tls.outgoing.read())
        return b"".join(plain), arrival
