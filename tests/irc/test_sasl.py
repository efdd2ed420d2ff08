"""IRCv3 sasl PLAIN against the accounts text users register, over TCP."""

from __future__ import annotations

import types

import trio

from trio_chat.irc.sasl import in_clear_from_afar
from trio_chat.irc.sasl_plain import plain_response

from ..conftest import IrcPeer, Running, running_app
from .conftest import irc_user, register_account


async def start_sasl(running: Running) -> IrcPeer:
    peer = await running.connect_irc()
    await peer.send("CAP LS 302")
    ls = await peer.until(":trio-chat CAP * LS ")
    assert "sasl=PLAIN" in ls[-1]
    await peer.send("CAP REQ :sasl", "AUTHENTICATE PLAIN")
    assert await peer.line() == ":trio-chat CAP * ACK :sasl"
    assert await peer.line() == "AUTHENTICATE +"
    return peer


async def test_a_registered_account_logs_in_and_takes_its_name() -> None:
    async with running_app(irc_port=0) as running:
        await register_account(running, "ana", "sesame")
        ana = await start_sasl(running)
        async with ana.stream:
            await ana.send(*(f"AUTHENTICATE {chunk}" for chunk in plain_response("ana", "sesame")))
            assert await ana.line() == (":trio-chat 900 * *!*@* ana :You are now logged in as ana")
            assert await ana.line() == ":trio-chat 903 * :SASL authentication successful"
            await ana.send("NICK ana", "USER ana 0 * :Ana", "CAP END")
            welcome = await ana.until(":trio-chat 001 ")
            assert welcome[-1].startswith(":trio-chat 001 ana :")
            await ana.until(":trio-chat 422 ")
            await ana.send("AUTHENTICATE PLAIN")
            assert await ana.line() == ":trio-chat 907 ana :You have already authenticated"


async def test_a_wrong_password_or_unknown_account_fails_and_the_name_stays_taken() -> None:
    async with running_app(irc_port=0) as running:
        await register_account(running, "ana", "sesame")
        peer = await start_sasl(running)
        async with peer.stream:
            await peer.send(*(f"AUTHENTICATE {c}" for c in plain_response("ana", "nope")))
            assert await peer.line() == ":trio-chat 904 * :SASL authentication failed"
            await peer.send("AUTHENTICATE PLAIN")
            assert await peer.line() == "AUTHENTICATE +"
            await peer.send(*(f"AUTHENTICATE {c}" for c in plain_response("zed", "x")))
            assert await peer.line() == ":trio-chat 904 * :SASL authentication failed"
            await peer.send("AUTHENTICATE FOO")
            assert await peer.line() == ":trio-chat 908 * PLAIN :are available SASL mechanisms"
            assert await peer.line() == ":trio-chat 904 * :SASL authentication failed"
            await peer.send("NICK ana", "USER ana 0 * :Ana", "CAP END")
            refused = await peer.line()
            assert " 433 " in refused or " 432 " in refused or "ana" in refused


def test_sasl_in_clear_only_from_this_machine_or_over_tls() -> None:
    def session(host: str, stream: object = None) -> object:
        return types.SimpleNamespace(host=host, connection=types.SimpleNamespace(stream=stream))

    assert not in_clear_from_afar(session("127.0.0.1"))  # type: ignore[arg-type]
    assert not in_clear_from_afar(session("0::1"))  # type: ignore[arg-type]
    assert in_clear_from_afar(session("192.0.2.7"))  # type: ignore[arg-type]
    tls = trio.SSLStream.__new__(trio.SSLStream)
    assert not in_clear_from_afar(session("192.0.2.7", tls))  # type: ignore[arg-type]


async def test_logging_in_after_registering_tells_account_notify_clients() -> None:
    async with running_app(irc_port=0) as running:
        await register_account(running, "ana", "sesame")
        watcher = await running.connect_irc()
        async with watcher.stream:
            await watcher.send("CAP LS 302", "CAP REQ :account-notify extended-join")
            await watcher.send("NICK wat", "USER wat 0 * :W", "CAP END", "JOIN #dev")
            await watcher.until(":trio-chat 366 wat #dev")
            peer = await running.connect_irc()
            async with peer.stream:
                await peer.send("CAP LS 302", "CAP REQ :sasl", "NICK guest", "USER g 0 * :G")
                await peer.send("CAP END", "JOIN #dev")
                await peer.until(":trio-chat 366 guest #dev")
                assert await watcher.line() == ":guest!g@127.0.0.1 JOIN #dev * :G"
                await peer.send("AUTHENTICATE PLAIN")
                await peer.until("AUTHENTICATE +")
                await peer.send(*(f"AUTHENTICATE {c}" for c in plain_response("ana", "sesame")))
                await peer.until(":trio-chat 903 ")
                assert await watcher.line() == ":guest!g@127.0.0.1 ACCOUNT ana"


async def test_account_tag_shows_who_is_logged_in() -> None:
    async with running_app(irc_port=0) as running:
        await register_account(running, "ana", "sesame")
        ana = await start_sasl(running)
        async with ana.stream, irc_user(running, "bob", "account-tag") as bob:
            await ana.send(*(f"AUTHENTICATE {c}" for c in plain_response("ana", "sesame")))
            await ana.send("NICK ana", "USER ana 0 * :Ana", "CAP END", "PRIVMSG bob :hi")
            assert await bob.line() == "@account=ana :ana!ana@127.0.0.1 PRIVMSG bob :hi"


async def test_whois_says_which_account_one_is_logged_in_as() -> None:
    async with running_app(irc_port=0) as running:
        await register_account(running, "ana", "sesame")
        ana = await start_sasl(running)
        async with ana.stream, irc_user(running, "bob") as bob:
            await ana.send(*(f"AUTHENTICATE {c}" for c in plain_response("ana", "sesame")))
            await ana.send("NICK ana", "USER ana 0 * :Ana", "CAP END")
            await ana.until(":trio-chat 422 ")
            await bob.send("WHOIS ana", "WHOIS bob")
            ana_lines = await bob.until(":trio-chat 318 bob ana ")
            assert ":trio-chat 330 bob ana ana :is logged in as" in ana_lines
            bob_lines = await bob.until(":trio-chat 318 bob bob ")
            assert not [line for line in bob_lines if " 330 " in line]
