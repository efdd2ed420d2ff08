"""IRCv3 sasl PLAIN against the accounts text users register, over TCP."""

from __future__ import annotations

import types

import trio

from trio_chat.core.passwords import MAX_PASSWORD_CHARS
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


async def test_authenticating_again_after_registering_switches_accounts() -> None:
    async with running_app(irc_port=0) as running:
        await register_account(running, "ana", "sesame")
        await register_account(running, "jilles", "sesame2")
        ana = await start_sasl(running)
        async with ana.stream, irc_user(running, "bob", "account-tag") as bob:
            await ana.send(*(f"AUTHENTICATE {c}" for c in plain_response("ana", "sesame")))
            await ana.send("NICK ana", "USER ana 0 * :Ana", "CAP END")
            await ana.until(":trio-chat 422 ")
            # sasl-3.2: again at any time; a failure leaves the login as it was.
            await ana.send("AUTHENTICATE PLAIN")
            assert await ana.line() == "AUTHENTICATE +"
            await ana.send(*(f"AUTHENTICATE {c}" for c in plain_response("jilles", "wrong")))
            assert await ana.line() == ":trio-chat 904 ana :SASL authentication failed"
            await ana.send("PRIVMSG bob :still ana")
            assert await bob.line() == "@account=ana :ana!ana@127.0.0.1 PRIVMSG bob :still ana"
            await ana.send("AUTHENTICATE PLAIN")
            assert await ana.line() == "AUTHENTICATE +"
            await ana.send(*(f"AUTHENTICATE {c}" for c in plain_response("jilles", "sesame2")))
            assert await ana.line() == (
                ":trio-chat 900 ana ana!ana@127.0.0.1 jilles :You are now logged in as jilles"
            )
            assert await ana.line() == ":trio-chat 903 ana :SASL authentication successful"
            await ana.send("PRIVMSG bob :now jilles")
            assert await bob.line() == (
                "@account=jilles :ana!ana@127.0.0.1 PRIVMSG bob :now jilles"
            )


async def test_a_passphrase_of_a_thousand_characters_logs_in_in_chunks() -> None:
    passphrase = " ".join(["correct horse battery staple"] * 35)  # 1014 characters
    async with running_app(irc_port=0) as running:
        await register_account(running, "ana", passphrase)
        ana = await start_sasl(running)
        async with ana.stream:
            chunks = plain_response("ana", passphrase)
            assert len(chunks) == 4  # three of 400 bytes, and the rest
            await ana.send(*(f"AUTHENTICATE {chunk}" for chunk in chunks))
            assert await ana.line() == ":trio-chat 900 * *!*@* ana :You are now logged in as ana"


async def test_the_longest_password_is_the_same_rule_on_every_door() -> None:
    async with running_app(irc_port=0) as running:
        text = await running.connect(running.listener_of("text"))
        async with text.stream:
            await text.register("ana")
            await text.send(f"/register {'x' * (MAX_PASSWORD_CHARS + 1)}")
            refused = await text.line()
            assert refused == f"! a password may have at most {MAX_PASSWORD_CHARS} characters"
            await text.send(f"/register {'x' * MAX_PASSWORD_CHARS}")
            assert (await text.line()).startswith("*** ana is registered to you now")


async def test_account_tag_is_on_everything_a_logged_in_user_does() -> None:
    async with running_app(irc_port=0) as running:
        await register_account(running, "ana", "sesame")
        ana = await start_sasl(running)
        async with ana.stream, irc_user(running, "bob", "account-tag") as bob:
            await ana.send(*(f"AUTHENTICATE {c}" for c in plain_response("ana", "sesame")))
            await ana.send("NICK ana", "USER ana 0 * :Ana", "CAP END", "JOIN #dev")
            await ana.until(":trio-chat 366 ana #dev")
            await ana.send("INVITE bob :#dev")
            assert await bob.line() == "@account=ana :ana!ana@127.0.0.1 INVITE bob :#dev"
            await bob.send("JOIN #dev")
            await bob.until(":trio-chat 366 bob #dev")
            await ana.send("TOPIC #dev :plans", "PART #dev :later")
            assert await bob.line() == "@account=ana :ana!ana@127.0.0.1 TOPIC #dev :plans"
            assert await bob.line() == "@account=ana :ana!ana@127.0.0.1 PART #dev :later"
            # Not logged in: no tag.
            guest = await running.connect_irc()
            async with guest.stream:
                await guest.register("guest")
                await guest.send("JOIN #dev")
                assert await bob.line() == ":guest!guest@127.0.0.1 JOIN #dev"
