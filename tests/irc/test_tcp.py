"""The IRC door over real TCP, in the app as ``trio-chat serve`` builds it: an IRC user
and a text user chat both ways in #lobby."""

from __future__ import annotations

from tests.conftest import running_app


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
