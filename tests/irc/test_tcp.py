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
