"""The IRC door over real TCP, in the app as ``trio-chat serve`` builds it: an IRC user
and a text user chat both ways in #lobby."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trio
import trio.testing
import trustme

from tests.conftest import IrcPeer, running_app, running_server
from trio_chat.app import ServerConfig
from trio_chat.net.listeners import ListenError
from trio_chat.startup import describe_bind_error


async def test_an_irc_user_and_a_text_user_chat_both_ways() -> None:
    async with running_app(irc_port=0) as running:
        ana = await running.connect_irc()
        welcome = await ana.register("ana")
        assert welcome[0].startswith(":trio-chat CAP * LS :")
        assert (
            ":trio-chat 001 ana :Welcome to the trio-chat IRC network ana!ana@127.0.0.1" in welcome
        )
        assert any(" 005 ana " in line and "UTF8ONLY" in line for line in welcome)
        await ana.send("JOIN #lobby")
        assert await ana.line() == ":ana!ana@127.0.0.1 JOIN #lobby"
        assert (await ana.until(":trio-chat 366 ana #lobby"))[
            0
        ] == ":trio-chat 353 ana = #lobby :ana"

        bob = await running.connect(running.listener_of("text"))
        await bob.register("bob")
        assert await ana.line() == ":bob!bob@trio-chat JOIN #lobby"
        await bob.send("hello ana", "/me waves")
        assert await ana.line() == ":bob!bob@trio-chat PRIVMSG #lobby :hello ana"
        assert await ana.line() == ":bob!bob@trio-chat PRIVMSG #lobby :\x01ACTION waves\x01"

        await ana.send("PRIVMSG #lobby :hi bob", "PRIVMSG #lobby :\x01ACTION dances\x01")
        assert await bob.line() == "ana: hi bob"
        assert await bob.line() == "* ana dances"
        await ana.send("PRIVMSG bob :just you")
        assert await bob.line() == "[private] ana: just you"
        await bob.send("/msg ana and you")
        assert await ana.line() == ":bob!bob@trio-chat PRIVMSG ana :and you"

        await ana.send("PART #lobby :lunch")
        assert await ana.line() == ":ana!ana@127.0.0.1 PART #lobby :lunch"
        assert await bob.line() == "*** ana left (lunch)"
        await ana.send("QUIT :bye now")
        assert (await ana.expect_eof())[-1] == "ERROR :Closing Link: 127.0.0.1 (Quit: bye now)"
        await ana.stream.aclose()
        await bob.stream.aclose()


async def test_joining_replays_history_with_server_time_where_negotiated() -> None:
    async with running_app(irc_port=0) as running:
        bob = await running.connect(running.listener_of("text"))
        await bob.register("bob")
        await bob.send("/join dev", "first", "/me second")
        await bob.until("*** Now in #dev")
        ana = await running.connect_irc()
        await ana.send("CAP LS 302", "CAP REQ :server-time", "NICK ana", "USER a 0 * :A", "CAP END")
        await ana.until(":trio-chat 422 ")
        await ana.send("JOIN #dev")
        await ana.until(":trio-chat 366 ana #dev ")
        first, second = await ana.line(), await ana.line()
        assert first.startswith("@time=2")
        assert first.endswith("Z :bob!bob@trio-chat PRIVMSG #dev :first")
        assert second.endswith(" :bob!bob@trio-chat PRIVMSG #dev :\x01ACTION second\x01")
        cleo = await running.connect_irc()
        await cleo.register("cleo")
        await cleo.send("JOIN #dev")
        await cleo.until(":trio-chat 366 cleo #dev ")
        line = await cleo.line()
        assert line.startswith(":bob!bob@trio-chat PRIVMSG #dev :[")
        assert line.endswith("] first")
        for peer in (ana, bob, cleo):
            await peer.stream.aclose()


async def test_irc_over_tls_on_its_own_port(tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key, authority = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(authority))
    config = {"tls_cert": str(cert), "tls_key": str(key), "irc_port": 0, "irc_tls_port": 0}
    async with running_app(**config) as running:
        _, secure = running.app.listening["irc"]
        tcp = await trio.testing.open_stream_to_socket_listener(secure)
        context = ssl.create_default_context(cafile=str(authority))
        stream = trio.SSLStream(tcp, context, server_hostname="127.0.0.1")
        ana = IrcPeer(stream)
        await ana.register("ana")
        await ana.send("JOIN #lobby")
        assert await ana.line() == ":ana!ana@127.0.0.1 JOIN #lobby"
        bob = await running.connect_irc()  # the plain port is still plain
        await bob.register("bob")
        await bob.send("JOIN #lobby", "PRIVMSG #lobby :over tcp")
        assert (await ana.until(":bob!bob@127.0.0.1 PRIVMSG"))[-2:] == [
            ":bob!bob@127.0.0.1 JOIN #lobby",
            ":bob!bob@127.0.0.1 PRIVMSG #lobby :over tcp",
        ]
        await ana.send("PRIVMSG #lobby :over tls")  # and back, through the TLS member's writes
        assert (await bob.until(":ana!ana@127.0.0.1 PRIVMSG"))[-1] == (
            ":ana!ana@127.0.0.1 PRIVMSG #lobby :over tls"
        )
        await trio.aclose_forcefully(stream)
        await bob.stream.aclose()


async def test_trio_chat_serve_opens_the_irc_door_and_says_how_to_connect() -> None:
    async with running_server("--host", "127.0.0.1") as (server, _port):
        lines = [await server.io.line()]
        while "irssi: /connect" not in lines[-1]:
            lines.append(await server.io.line())
        listening = [line for line in lines if "IRC: listening on 127.0.0.1:" in line]
        assert listening, lines
        irc_port = int(listening[0].rsplit(":", 1)[1])
        assert lines[-1].endswith(f"irssi: /connect 127.0.0.1 {irc_port}")
        stream = await trio.open_tcp_stream("127.0.0.1", irc_port)
        ana = IrcPeer(stream)
        await ana.register("ana")
        await stream.aclose()


def _leaves(group: BaseException) -> list[BaseException]:
    if isinstance(group, BaseExceptionGroup):
        return [leaf for inner in group.exceptions for leaf in _leaves(inner)]
    return [group]


async def test_a_busy_irc_port_names_the_option() -> None:
    async with running_app(irc_port=0) as running:
        port = running.listener_of("irc").socket.getsockname()[1]
        with pytest.raises(BaseExceptionGroup) as caught:
            async with running_app(irc_port=port):
                pass
    [error] = [e for e in _leaves(caught.value) if isinstance(e, ListenError)]
    message = describe_bind_error(error, ServerConfig("127.0.0.1", 5000, irc_port=port))
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in message
    assert f"--irc-port {port + 1}" in message
