"""The web port's HTTP answers, on memory streams: routes, headers, methods, limits."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

from trio_chat.core.hub import Hub
from trio_chat.web import exchange
from trio_chat.web.exchange import MAX_HEAD, REQUEST_TIMEOUT, SEND_TIMEOUT
from trio_chat.web.routes import load_static
from trio_chat.web.server import WebFrontend

from .conftest import WebConnector, web_server


async def test_the_page_is_served_with_strict_security_headers(
    web_connector: WebConnector,
) -> None:
    answer = await web_connector.http().request("/")
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert b"<html" in answer.body
    csp = answer.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"


def site_files(tmp_path: Path) -> Path:
    static = tmp_path / "static"
    (static / "img").mkdir(parents=True)
    (static / "index.html").write_text("<!doctype html><html></html>")
    (static / "app.js").write_text("console.log('hi')")
    (static / "style.css").write_text("body {}")
    (static / "img" / "logo.svg").write_text("<svg/>")
    return static


async def test_static_files_have_their_types_an_etag_and_revalidate(
    hub: Hub, tmp_path: Path
) -> None:
    server = web_server(hub, files=load_static(site_files(tmp_path)))
    async with trio.open_nursery() as nursery:
        client = WebConnector(server, nursery).http()
        types = {}
        for path in ("/app.js", "/style.css", "/img/logo.svg", "/index.html"):
            answer = await client.request(path)  # one connection, kept alive
            assert answer.status == 200, path
            assert answer.headers["cache-control"] == "no-cache"
            types[path] = answer.headers["content-type"]
        assert types == {
            "/app.js": "text/javascript; charset=utf-8",
            "/style.css": "text/css; charset=utf-8",
            "/img/logo.svg": "image/svg+xml",
            "/index.html": "text/html; charset=utf-8",
        }
        first = await client.request("/app.js")
        assert first.body == b"console.log('hi')"
        again = await client.request("/app.js", headers={"If-None-Match": first.headers["etag"]})
        assert (again.status, again.body) == (304, b"")
        assert again.headers["etag"] == first.headers["etag"]
        nursery.cancel_scope.cancel()


async def test_unknown_paths_are_404_and_nothing_outside_static_is_reachable(
    web_connector: WebConnector,
) -> None:
    client = web_connector.http()
    for path in ("/nope", "/../pyproject.toml", "/static/../server.py", "/%2e%2e/app.py", "//etc"):
        answer = await client.request(path)
        assert answer.status == 404, path
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'self'" in answer.headers["content-security-policy"]


async def test_other_methods_are_405_with_allow(web_connector: WebConnector) -> None:
    client = web_connector.http()
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        answer = await client.request("/", method=method)
        assert answer.status == 405, method
        assert answer.headers["allow"] == "GET, HEAD"


async def test_head_has_the_headers_and_no_body(web_connector: WebConnector) -> None:
    client = web_connector.http()
    page = await client.request("/")
    head = await client.request("/", method="HEAD")
    assert head.status == 200
    assert head.body == b""
    assert head.headers["content-length"] == str(len(page.body))


async def test_healthz_is_200_and_503_once_stopping(
    web: WebFrontend, web_connector: WebConnector
) -> None:
    client = web_connector.http()
    answer = await client.request("/healthz")
    assert (answer.status, answer.text) == (200, "ok\n")
    web.stop()
    answer = await client.request("/healthz")
    assert (answer.status, answer.text) == (503, "shutting down\n")
    assert answer.headers["connection"] == "close"  # no keep-alive while shutting down
    assert await client.closed()


async def test_metrics_serves_the_callable_or_is_404(hub: Hub) -> None:
    scrapes = []

    def metrics() -> tuple[bytes, str]:
        scrapes.append(1)
        return b"trio_chat_rooms 1\n", "text/plain; version=0.0.4; charset=utf-8"

    async with trio.open_nursery() as nursery:
        without = WebConnector(web_server(hub), nursery).http()
        assert (await without.request("/metrics")).status == 404
        client = WebConnector(web_server(hub, metrics=metrics), nursery).http()
        answer = await client.request("/metrics")
        assert answer.status == 200
        assert answer.body == b"trio_chat_rooms 1\n"
        assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert len(scrapes) == 1
        nursery.cancel_scope.cancel()


async def test_a_huge_request_head_is_431_and_a_body_over_the_limit_413(
    web_connector: WebConnector,
) -> None:
    stream = web_connector.stream()
    # A head that never ends: cut off as soon as it is over the limit.
    await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (MAX_HEAD + 10))
    reply = await _read_all(stream)
    assert reply.startswith(b"HTTP/1.1 431 ")
    stream = web_connector.stream()
    await stream.send_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
    await stream.send_all(b"x" * 40000)
    reply = await _read_all(stream)
    assert reply.startswith(b"HTTP/1.1 413 ")


async def test_a_slow_request_is_cut_off_slowloris_safe(
    web_connector: WebConnector, autojump_clock: trio.testing.MockClock
) -> None:
    stream = web_connector.stream()
    start = trio.current_time()
    await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the rest
    reply = await _read_all(stream, within=REQUEST_TIMEOUT * 2)
    assert trio.current_time() - start >= REQUEST_TIMEOUT
    assert reply.startswith(b"HTTP/1.1 408 ") or reply == b""
    # An idle kept-alive connection is closed after the same time.
    client = web_connector.http()
    assert (await client.request("/healthz")).status == 200
    start = trio.current_time()
    assert await client.closed(within=REQUEST_TIMEOUT * 2)
    assert trio.current_time() - start >= REQUEST_TIMEOUT


async def test_garbage_is_a_400(web_connector: WebConnector) -> None:
    stream = web_connector.stream()
    await stream.send_all(b"HELLO THERE\r\n\r\n")
    assert (await _read_all(stream)).startswith(b"HTTP/1.1 400 ")


async def test_the_websocket_path_wants_an_upgrade(web_connector: WebConnector) -> None:
    client = web_connector.http()
    answer = await client.request("/ws")
    assert answer.status == 426
    answer = await client.request("/ws", method="POST")
    assert answer.status == 405
    answer = await client.request(
        "/ws",
        headers={"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "8"},
    )
    assert (answer.status, answer.headers["sec-websocket-version"]) == (426, "13")


async def _read_all(stream: trio.abc.Stream, within: float = 10) -> bytes:
    data = b""
    with trio.fail_after(within):
        while chunk := await stream.receive_some(65536):
            data += chunk
    return data


async def test_the_upgrade_accepts_no_extension_so_frames_are_the_same_for_all(
    web_connector: WebConnector,
) -> None:
    stream = web_connector.stream()
    await stream.send_all(
        b"GET /ws HTTP/1.1\r\nHost: chat.lan:8080\r\nUpgrade: websocket\r\n"
        b"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        b"Sec-WebSocket-Protocol: chat\r\nOrigin: http://chat.lan:8080\r\n\r\n"
    )
    head = b""
    with trio.fail_after(10):
        while b"\r\n\r\n" not in head:
            head += await stream.receive_some(65536)
    status, *lines = head.split(b"\r\n\r\n")[0].decode().split("\r\n")
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines)}
    assert status == "HTTP/1.1 101 Switching Protocols"
    # RFC 6455's example key and its accept token.
    assert headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert "sec-websocket-extensions" not in headers  # no permessage-deflate
    assert "sec-websocket-protocol" not in headers


async def test_a_client_that_never_reads_its_answers_is_closed(
    web: WebFrontend, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        # Lockstep: the server's sends wait for reads that never come.
        stream = WebConnector(web, nursery).stream(lockstep=True)
        request = b"GET /app.js HTTP/1.1\r\nHost: chat.lan:8080\r\n\r\n"
        await stream.send_all(request * 3)  # pipelined, and no answer ever read
        assert web.admission.connections == 1
        await trio.sleep(SEND_TIMEOUT + 1)  # the mock clock's time: it jumps
        assert web.admission.connections == 0  # the server gave up on it
        with trio.fail_after(1):
            await _read_all(stream)  # and closed it: the stream ends, mid-answer
        nursery.cancel_scope.cancel()


async def test_the_last_request_a_connection_may_make_is_answered_with_close(
    web_connector: WebConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exchange, "MAX_REQUESTS", 3)
    client = web_connector.http()
    answers = [await client.request("/healthz") for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 200]
    assert [a.headers.get("connection") for a in answers] == [None, None, "close"]
    assert await client.closed()
