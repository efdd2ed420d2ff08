"""The web door in the real app over TCP: with text users, at shutdown, with TLS, at start."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trio
import trio.testing
import trustme
from prometheus_client.parser import text_string_to_metric_families

from trio_chat.app import ServerConfig
from trio_chat.net import tls
from trio_chat.net.listeners import ListenError
from trio_chat.startup import announce, describe_bind_error
from trio_chat.web.server import announce_web

from ..conftest import Peer, Running, running_app
from .conftest import HttpClient, Rejected, WsPeer


def port_of(running: Running, kind: str) -> int:
    port: int = running.listener_of(kind).socket.getsockname()[1]
    return port


async def web_peer(port: int, stream: trio.abc.Stream | None = None) -> WsPeer:
    if stream is None:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
    where = f"127.0.0.1:{port}"
    return await WsPeer.open(stream, host=where, origin=f"http://{where}")


async def test_a_web_member_and_a_text_member_chat_both_ways_over_tcp() -> None:
    async with running_app(web_port=0) as running:
        web_port = port_of(running, "web")
        assert web_port != port_of(running, "text")
        ana = await web_peer(web_port)
        await ana.hello("ana")
        bob = await running.connect()
        await bob.register("bob")
        await ana.until("joined", name="bob")
        await ana.send(type="line", room="#lobby", text="hi from the page")
        assert await bob.until("ana:") == ["ana: hi from the page"]
        await bob.send("hi from nc")
        said = (await ana.until("message", **{"from": "bob"}))[-1]
        assert (said["room"], said["text"]) == ("#lobby", "hi from nc")
        # And in another room.
        await ana.send(type="join", room="dev")
        await ana.until("history", room="#dev")
        await bob.send("/join dev")
        await ana.until("joined", room="#dev", name="bob")
        await bob.send("dev talk")
        said = (await ana.until("message", room="#dev"))[-1]
        assert said["text"] == "dev talk"
        await ana.send(type="line", room="#dev", text="/me agrees")
        assert (await bob.until("* ana"))[-1] == "* ana agrees"
        await ana.send(type="quit", text="dinner")
        assert (await bob.until("*** ana"))[-1] == "*** ana left (dinner)"
        await ana.closing()
        assert ana.close_code == 1000
        await ana.stream.aclose()
        await bob.stream.aclose()


async def test_the_page_itself_over_tcp() -> None:
    async with running_app(web_port=0) as running:
        stream = await trio.open_tcp_stream("127.0.0.1", port_of(running, "web"))
        answer = await HttpClient(stream).request("/")
        assert answer.status == 200
        assert b"<html" in answer.body
        await stream.aclose()


async def test_healthz_is_503_during_the_shutdown_grace_then_the_port_closes() -> None:
    async with running_app(web_port=0) as running:
        port = port_of(running, "web")
        app = running.app
        # A connection of another door still draining (one that never reads, say).
        assert app.admission.admit("elsewhere", None, kind="text") is None
        app.shutdown("test", grace=30)
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        client = HttpClient(stream)
        answer = await client.request("/healthz")
        assert (answer.status, answer.text) == (503, "shutting down\n")
        assert await client.closed()
        await stream.aclose()
        refused = await trio.open_tcp_stream("127.0.0.1", port)
        with pytest.raises(Rejected) as turned_away:
            await web_peer(port, refused)  # no new chat
        assert turned_away.value.status == 503
        await refused.aclose()
        app.admission.release(
            None, kind="text"
        )  # the last one is over: the port closes, the app ends
        with trio.fail_after(5):
            await running.stopped.wait()
        with pytest.raises(OSError, match=r"[Cc]onnect"):
            await trio.open_tcp_stream("127.0.0.1", port)


async def test_a_web_member_hears_bye_and_1001_at_shutdown() -> None:
    async with running_app(web_port=0) as running:
        ana = await web_peer(port_of(running, "web"))
        await ana.hello("ana")
        running.app.shutdown("test", grace=5)
        frames = await ana.closing()
        assert frames[-2:] == [
            {"type": "notice", "text": "server shutting down"},
            {"type": "bye", "reason": "shutdown", "text": "server shutting down"},
        ]
        assert ana.close_code == 1001
        await ana.stream.aclose()
        with trio.fail_after(5):
            await running.stopped.wait()


async def test_https_and_wss_on_the_same_port_with_a_certificate(tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    cert, key, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    trusting = tls.client_context(str(ca_file))
    async with running_app(web_port=0, tls_cert=str(cert), tls_key=str(key)) as running:
        port = port_of(running, "web")

        async def secure() -> trio.SSLStream[trio.SocketStream]:
            tcp = await trio.open_tcp_stream("127.0.0.1", port)
            return trio.SSLStream(tcp, trusting, server_hostname="127.0.0.1")

        async with await secure() as stream:
            answer = await HttpClient(stream).request("/healthz")
            assert answer.status == 200
        where = f"127.0.0.1:{port}"
        async with await secure() as stream:
            with pytest.raises(Rejected) as refused:  # the page's origin is https: now
                await WsPeer.open(stream, host=where, origin=f"http://{where}")
            assert refused.value.status == 403
        async with await secure() as stream:
            ana = await WsPeer.open(stream, host=where, origin=f"https://{where}")
            frames = await ana.hello("ana")
            assert frames[0] == {"type": "welcome", "name": "ana"}
            # Chat both ways with a text member (TLS too, on the text port).
            tcp = await trio.testing.open_stream_to_socket_listener(running.listener)
            bob = Peer(trio.SSLStream(tcp, trusting, server_hostname="127.0.0.1"))
            await bob.register("bob")
            await ana.until("joined", name="bob")
            await ana.send(type="line", room="#lobby", text="hi over wss")
            assert await bob.until("ana:") == ["ana: hi over wss"]
            await bob.send("hi over tls")
            said = (await ana.until("message", **{"from": "bob"}))[-1]
            assert said["text"] == "hi over tls"
            await bob.stream.aclose()
        async with await trio.open_tcp_stream("127.0.0.1", port) as plain:  # http: by mistake
            answer = await HttpClient(plain).request("/")
            assert (answer.status, answer.text) == (
                400,
                "This server speaks HTTPS: open https:// instead\n",
            )


async def test_announce_gives_the_page_s_address(caplog: pytest.LogCaptureFixture) -> None:
    async with running_app(web_port=0) as running:
        config = ServerConfig("0.0.0.0", 0, web_port=0)
        with caplog.at_level(logging.INFO, logger="trio_chat"):
            await announce(running.app.listening["text"], config, web=running.app.listening["web"])
        port = port_of(running, "web")
        messages = [r.getMessage() for r in caplog.records]
        assert messages[0].startswith("listening on")  # the text door's line stays first
        assert f"web page on this PC:      http://localhost:{port}/" in messages
        assert any(m.startswith("web page from another PC: http://") for m in messages)


@pytest.mark.parametrize(
    ("host", "here", "others"),
    [
        ("192.0.2.7", "http://192.0.2.7:{port}/", ["http://192.0.2.7:{port}/"]),
        ("2001:db8::7", "http://[2001:db8::7]:{port}/", ["http://[2001:db8::7]:{port}/"]),
        ("127.0.0.1", "http://127.0.0.1:{port}/", []),
        ("::1", "http://[::1]:{port}/", []),
    ],
)
async def test_on_one_address_the_log_gives_that_address_not_localhost(
    caplog: pytest.LogCaptureFixture, host: str, here: str, others: list[str]
) -> None:
    """``--host 192.168.1.23``: localhost does not answer, the other PCs do."""
    async with running_app(web_port=0) as running:
        port = port_of(running, "web")
        with caplog.at_level(logging.INFO, logger="trio_chat"):
            await announce_web(running.app.listening["web"], host, tls=False)
        messages = [r.getMessage() for r in caplog.records]
        assert messages[0] == f"web page on this PC:      {here.format(port=port)}"
        assert messages[1:] == [f"web page from another PC: {u.format(port=port)}" for u in others]


async def test_a_busy_web_port_names_the_option() -> None:
    async with running_app(web_port=0) as running:
        port = port_of(running, "web")
        with pytest.raises(BaseExceptionGroup) as caught:
            async with running_app(web_port=port):
                pass
        [error] = [e for e in _leaves(caught.value) if isinstance(e, ListenError)]
        message = describe_bind_error(error, ServerConfig("127.0.0.1", 5000, web_port=port))
        assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in message
        assert f"--web-port {port + 1}" in message


async def test_without_web_port_there_is_no_web_door() -> None:
    async with running_app() as running:
        assert "web" not in running.app.listening


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


async def test_metrics_scrape_over_the_web_port_and_move_when_web_members_chat() -> None:
    async with running_app(web_port=0) as running:
        port = port_of(running, "web")

        async def scrape() -> dict[str, float]:
            async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
                answer = await HttpClient(stream).request("/metrics")
            assert answer.status == 200
            assert answer.headers["content-type"].startswith("text/plain; version=")
            samples = {}
            for family in text_string_to_metric_families(answer.text):
                for sample in family.samples:
                    labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                    samples[f"{sample.name}{{{labels}}}"] = sample.value
            return samples

        before = await scrape()
        ana, bob = await web_peer(port), await web_peer(port)
        await ana.hello("ana")
        await bob.hello("bob")
        await ana.send(type="line", room="#lobby", text="counted")
        await bob.until("message", text="counted")
        after = await scrape()
        assert after["trio_chat_deliveries_total{}"] > before["trio_chat_deliveries_total{}"]
        web = [k for k in after if k.startswith("trio_chat_connections{") and "web" in k]
        assert web, sorted(after)
        await ana.stream.aclose()
        await bob.stream.aclose()
