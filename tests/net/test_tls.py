"""TLS over real loopback TCP with the real ``ssl`` module: server, client, failures.

Certificates come from trustme (a throwaway CA per test module); the ones
`trio-chat cert` makes are tested in test_certs.py and test_cli.py.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trio
import trio.testing
import trustme
from cryptography.hazmat.primitives import serialization

from trio_chat.app import App, ServerConfig
from trio_chat.client.terminal import connect
from trio_chat.core.hub import Hub
from trio_chat.net import tls
from trio_chat.net.tls import NOT_TLS_REPLY
from trio_chat.startup import announce
from trio_chat.text.session import NAME_TIMEOUT

from ..conftest import SERVER_KEEPALIVE, STEP_TIMEOUT, Peer, keepalive_options, text_server

LOGGER_NAME = "trio_chat"


async def start_server(
    nursery: trio.Nursery, context: ssl.SSLContext | None, name_timeout: float = NAME_TIMEOUT
) -> tuple[App, int]:
    server = text_server(Hub(), max_clients=20, ssl_context=context, name_timeout=name_timeout)
    app = App(server.service, server.admission, [server])
    listeners: list[trio.SocketListener] = await nursery.start(app.run)
    return app, listeners[0].socket.getsockname()[1]


@pytest.fixture
async def tls_server(files: dict[str, Path]) -> AsyncIterator[tuple[App, int]]:
    context = tls.server_context(str(files["cert"]), str(files["key"]))
    async with trio.open_nursery() as nursery:
        yield await start_server(nursery, context)
        nursery.cancel_scope.cancel()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        yield caplog


def lines_about(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if text in record.getMessage()]


class LogWatch(logging.Handler):
    """Sets ``seen`` when trio_chat logs a line containing ``text`` (no polling)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = trio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


@contextmanager
def watching_log(text: str) -> Iterator[LogWatch]:
    watch = LogWatch(text)
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(watch)
    try:
        yield watch
    finally:
        logger.removeHandler(watch)


async def tls_peer(port: int, context: ssl.SSLContext, host: str = "127.0.0.1") -> Peer:
    return Peer(await connect(host, port, context))


def local_address(peer: Peer) -> str:
    stream = peer.stream
    assert isinstance(stream, trio.SSLStream)
    return "{}:{}".format(*stream.transport_stream.socket.getsockname()[:2])


async def read_until_closed(stream: trio.abc.ReceiveStream) -> bytes:
    """Everything received until the other side closes (or resets) the connection."""
    received = b""
    with trio.fail_after(STEP_TIMEOUT):
        try:
            while data := await stream.receive_some(65536):
                received += data
        except trio.BrokenResourceError:
            pass  # a reset: the server closed with our bytes unread
    return received


# --- chatting over TLS ------------------------------------------------------------


async def test_two_tls_clients_chat_through_the_server(
    tls_server: tuple[App, int], trusting: ssl.SSLContext, logs: pytest.LogCaptureFixture
) -> None:
    server, port = tls_server
    ana = await tls_peer(port, trusting)
    await ana.register("ana")
    bob = await tls_peer(port, trusting)
    assert (await bob.register("bob"))[
        -1
    ] == "*** Welcome, bob! Online: ana. Type /help for commands."
    assert await ana.line() == "*** bob joined"
    # Many lines, so that the hub's flusher writes for a parked writer: a
    # direct write to the socket would put plain text into the TLS stream.
    for i in range(50):
        await bob.send(f"hello {i}")
    for i in range(50):
        assert await ana.line() == f"bob: hello {i}"
    await ana.send("hi bob")
    assert await bob.line() == "ana: hi bob"
    # The server knows each peer by its TCP address.
    assert lines_about(logs, f"ana joined from {local_address(ana)}")
    await ana.send("/quit")
    # A clean TLS close (close_notify): a lost connection would raise here.
    assert await ana.expect_eof() == ["*** Bye!"]
    assert await bob.line() == "*** ana left"
    assert server.hub.names() == ["bob"]
    await ana.stream.aclose()
    await bob.stream.aclose()


async def test_tls_clients_hear_the_shutdown_and_a_clean_close(
    tls_server: tuple[App, int], trusting: ssl.SSLContext
) -> None:
    server, port = tls_server
    ana = await tls_peer(port, trusting)
    await ana.register("ana")
    server.shutdown("test")
    assert await ana.expect_eof() == ["*** server shutting down"]
    await ana.stream.aclose()


# --- what the server does with bad handshakes -------------------------------------


async def test_a_plain_text_client_on_the_tls_port_is_dropped_and_others_go_on(
    tls_server: tuple[App, int], trusting: ssl.SSLContext, logs: pytest.LogCaptureFixture
) -> None:
    _, port = tls_server
    ana = await tls_peer(port, trusting)
    await ana.register("ana")
    async with await trio.open_tcp_stream("127.0.0.1", port) as plain:
        address = "{}:{}".format(*plain.socket.getsockname()[:2])
        await plain.send_all(b"mal\n/who *\n")  # what `nc` would send
        # One line in plain text saying what to do, then the end: no chat in the clear.
        assert await read_until_closed(plain) == NOT_TLS_REPLY
    bob = await tls_peer(port, trusting)
    await bob.register("bob")
    assert await ana.line() == "*** bob joined"
    await bob.send("still here?")
    assert await ana.line() == "bob: still here?"
    [record] = lines_about(logs, address)
    assert record.levelno in (logging.INFO, logging.WARNING)
    assert record.getMessage() == (
        f"{address}: TLS handshake failed: not a TLS client (sent plain text)"
    )
    assert record.exc_info is None
    await ana.stream.aclose()
    await bob.stream.aclose()


async def test_a_client_that_refuses_the_certificate_is_one_log_line(
    tls_server: tuple[App, int], trusting: ssl.SSLContext, logs: pytest.LogCaptureFixture
) -> None:
    _, port = tls_server
    with watching_log("TLS handshake failed") as watch:
        # Trusts the system's authorities, not our test CA.
        with pytest.raises(tls.TLSError, match="certificate is not trusted"):
            await connect("127.0.0.1", port, tls.client_context())
        with trio.fail_after(STEP_TIMEOUT):
            await watch.seen.wait()
    ana = await tls_peer(port, trusting)
    await ana.register("ana")
    [record] = lines_about(logs, "TLS handshake failed")
    assert "refuse the certificate" in record.getMessage()
    assert record.exc_info is None
    assert "Traceback" not in logs.text
    await ana.stream.aclose()


async def test_a_client_that_never_handshakes_is_closed_at_the_name_timeout(
    files: dict[str, Path], trusting: ssl.SSLContext, logs: pytest.LogCaptureFixture
) -> None:
    context = tls.server_context(str(files["cert"]), str(files["key"]))
    async with trio.open_nursery() as nursery:
        _, port = await start_server(nursery, context, name_timeout=0.5)
        async with await trio.open_tcp_stream("127.0.0.1", port) as silent:
            address = "{}:{}".format(*silent.socket.getsockname()[:2])
            assert await read_until_closed(silent) == b""
        [record] = lines_about(logs, address)
        assert "chose no name" in record.getMessage()
        ana = await tls_peer(port, trusting)
        await ana.register("ana")
        await ana.stream.aclose()
        nursery.cancel_scope.cancel()


# --- what the client does -----------------------------------------------------------


async def test_the_client_refuses_a_certificate_for_another_host(
    ca: trustme.CA, tmp_path: Path, trusting: ssl.SSLContext
) -> None:
    leaf = ca.issue_cert("localhost")  # no IP address in it
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    context = tls.server_context(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    async with trio.open_nursery() as nursery:
        _, port = await start_server(nursery, context)
        with pytest.raises(tls.TLSError) as refused:
            await connect("127.0.0.1", port, trusting)
        message = str(refused.value)
        assert message.startswith("the server's certificate is not valid for 127.0.0.1")
        assert "trio-chat cert --force --host 127.0.0.1" in message
        # The name it does list works.
        ana = await tls_peer(port, trusting, host="localhost")
        await ana.register("ana")
        await ana.stream.aclose()
        nursery.cancel_scope.cancel()


async def test_a_tls_client_against_a_plain_server_fails_clearly(
    trusting: ssl.SSLContext,
) -> None:
    async with trio.open_nursery() as nursery:
        server, port = await start_server(nursery, None)
        with pytest.raises(tls.TLSError, match="the server does not speak TLS"):
            await connect("127.0.0.1", port, trusting)
        # The plain server goes on serving plain clients.
        ana = Peer(await trio.open_tcp_stream("127.0.0.1", port))
        await ana.register("ana")
        assert server.hub.names() == ["ana"]
        await ana.stream.aclose()
        nursery.cancel_scope.cancel()


async def test_the_client_gives_up_on_a_server_that_never_handshakes(
    autojump_clock: trio.testing.MockClock, trusting: ssl.SSLContext
) -> None:
    # Connections wait in the backlog of a listener nobody accepts from.
    [listener] = await trio.open_tcp_listeners(0, host="127.0.0.1")
    async with listener:
        port = listener.socket.getsockname()[1]
        with pytest.raises(tls.TLSError, match=r"^no TLS handshake within 10 s$"):
            await connect("127.0.0.1", port, trusting)


async def test_announce_tells_tls_clients_which_certificate_to_trust(
    tls_server: tuple[App, int], logs: pytest.LogCaptureFixture
) -> None:
    _, port = tls_server
    [listener] = await trio.open_tcp_listeners(0, host="127.0.0.1")
    async with listener:
        config = ServerConfig("0.0.0.0", port, tls_cert="/srv/chat/cert.pem", tls_key="k.pem")
        await announce([listener], config)
    text = logs.text
    assert "(TLS, max 10000 clients)" in text
    assert "trio-chat client --name you --port " in text
    assert "--tls-ca /srv/chat/cert.pem" in text
    assert " nc " not in text  # nc cannot speak TLS


# --- loading the files ----------------------------------------------------------------


def test_server_context_explains_unusable_files(ca: trustme.CA, files: dict[str, Path]) -> None:
    cert, key = str(files["cert"]), str(files["key"])
    other = ca.issue_cert("localhost")
    other_key = files["key"].with_name("other-key.pem")
    other.private_key_pem.write_to_path(str(other_key))
    cases = {
        (cert, "missing.pem"): "cannot read missing.pem: no such file",
        (key, key): f"{key} is not a PEM certificate",
        (cert, cert): f"{cert} is not a PEM private key",
        (cert, str(other_key)): f"the key {other_key} does not belong to the certificate {cert}",
        (str(files["cert"].parent), key): "it is a directory",
    }
    for (cert_file, key_file), expected in cases.items():
        with pytest.raises(tls.TLSError) as caught:
            tls.server_context(cert_file, key_file)
        assert expected in str(caught.value)
    assert isinstance(tls.server_context(cert, key), ssl.SSLContext)


def test_a_key_with_a_passphrase_is_refused_not_prompted_for(
    ca: trustme.CA, tmp_path: Path
) -> None:
    leaf = ca.issue_cert("localhost")
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    locked = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    (tmp_path / "key.pem").write_bytes(locked)
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    with pytest.raises(tls.TLSError, match="protected by a passphrase"):
        tls.server_context(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))


def test_client_context_checks_host_names_and_explains_a_missing_file(tmp_path: Path) -> None:
    assert tls.client_context().check_hostname
    with pytest.raises(tls.TLSError, match="no such file"):
        tls.client_context(str(tmp_path / "cert.pem"))
    (tmp_path / "cert.pem").write_text("hello\n")
    with pytest.raises(tls.TLSError, match="not a PEM certificate"):
        tls.client_context(str(tmp_path / "cert.pem"))


def test_server_failures_in_words() -> None:
    alert = ssl.SSLError(1, "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca")
    alert.reason = "TLSV1_ALERT_UNKNOWN_CA"  # what `openssl s_client` without the CA sends
    assert tls.describe_server_failure(alert) == (
        "the client refused the certificate (tlsv1 alert unknown ca)"
    )
    other = ssl.SSLError(1, "[SSL: NO_SHARED_CIPHER] no shared cipher")
    other.reason = "NO_SHARED_CIPHER"
    assert tls.describe_server_failure(other) == "no shared cipher"


async def test_the_tls_server_watches_its_connections_for_vanished_peers(
    tls_server: tuple[App, int], trusting: ssl.SSLContext, accepted: list[trio.SocketStream]
) -> None:
    _, port = tls_server
    ana = await tls_peer(port, trusting)
    await ana.register("ana")
    assert isinstance(ana.stream, trio.SSLStream)
    [ours] = accepted  # the TCP connection under the server's TLS
    assert ours.socket.getpeername() == ana.stream.transport_stream.socket.getsockname()
    assert keepalive_options(ours) == SERVER_KEEPALIVE
    await ana.stream.aclose()
