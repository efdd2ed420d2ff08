"""Small IRCv3 extensions as clients see them: away-notify, setname, extended-join,
userhost-in-names, and history on joining as a chathistory batch."""

from __future__ import annotations

from ..conftest import IrcPeer, running_app
from .conftest import irc_user, quiet


async def test_away_notify_tells_those_sharing_a_channel_only_if_they_asked() -> None:
    async with (
        running_app(irc_port=0) as running,
        irc_user(running, "ana", "away-notify") as ana,
        irc_user(running, "bob") as bob,
        irc_user(running, "cy", "away-notify") as cy,
    ):
        for peer in (ana, bob):
            await peer.send("JOIN #dev")
            await quiet(peer)
        await quiet(ana)
        await bob.send("AWAY :lunch")
        assert await ana.line() == ":bob!bob@127.0.0.1 AWAY :lunch"
        await bob.send("AWAY")
        assert await ana.line() == ":bob!bob@127.0.0.1 AWAY"
        assert await quiet(cy) == []  # shares no channel with bob
        await bob.send("AWAY :gone again")
        await quiet(ana)
        await cy.send("JOIN #dev")
        lines = await quiet(cy)
        assert ":cy!cy@127.0.0.1 JOIN #dev" in lines
        await ana.until(":cy!cy@127.0.0.1 JOIN #dev")
        await bob.send("PART #dev", "JOIN #dev")
        assert await ana.until(":bob!bob@127.0.0.1 AWAY :gone again")


async def test_setname_changes_the_real_name_and_tells_who_asked() -> None:
    async with (
        running_app(irc_port=0) as running,
        irc_user(running, "ana", "setname") as ana,
        irc_user(running, "bob", "setname") as bob,
    ):
        for peer in (ana, bob):
            await peer.send("JOIN #dev")
            await quiet(peer)
        await quiet(ana)
        await ana.send("SETNAME :Ana Lovelace")
        assert await ana.line() == ":ana!ana@127.0.0.1 SETNAME :Ana Lovelace"
        assert await bob.line() == ":ana!ana@127.0.0.1 SETNAME :Ana Lovelace"
        await bob.send("WHOIS ana")
        assert any(line.endswith(":Ana Lovelace") for line in await quiet(bob))
        await ana.send("SETNAME :" + "x" * 200)
        assert (
            await ana.line() == ":trio-chat FAIL SETNAME INVALID_REALNAME :Real name is not valid"
        )


async def test_extended_join_and_userhost_in_names() -> None:
    async with (
        running_app(irc_port=0) as running,
        irc_user(running, "ana", "extended-join", "userhost-in-names") as ana,
        irc_user(running, "bob") as bob,
    ):
        await ana.send("JOIN #dev")
        lines = await quiet(ana)
        assert lines[0] == ":ana!ana@127.0.0.1 JOIN #dev * :Real ana"
        assert ":trio-chat 353 ana = #dev :@ana!ana@127.0.0.1" in lines  # its creator: @
        await bob.send("JOIN #dev")
        assert await ana.line() == ":bob!bob@127.0.0.1 JOIN #dev * :Real bob"


async def test_joining_replays_history_as_a_chathistory_batch_where_negotiated() -> None:
    async with running_app(irc_port=0) as running:
        text = await running.connect(running.listener_of("text"))
        async with text.stream:
            await text.register("tex")
            await text.send("/join dev", "one", "two")
            await text.until("*** Now in #dev")
            caps = ("batch", "server-time", "message-tags")
            async with irc_user(running, "ana", *caps) as ana, irc_user(running, "bob") as bob:
                await ana.send("JOIN #dev")
                lines = await quiet(ana)
                start = next(line for line in lines if " BATCH +" in line)
                ref = start.split("+")[1].split()[0]
                assert start == f":trio-chat BATCH +{ref} chathistory :#dev"
                inside = lines[lines.index(start) + 1 : lines.index(f":trio-chat BATCH -{ref}")]
                assert [line.rsplit(" :", 1)[1] for line in inside] == ["one", "two"]
                assert all(line.startswith(f"@batch={ref};") for line in inside)
                assert all("time=" in line and "msgid=" in line for line in inside)
                await bob.send("JOIN #dev")
                plain = await quiet(bob)
                assert not any("BATCH" in line for line in plain)
                assert any(line.endswith(" one") for line in plain)


async def test_tagmsg_and_client_tags_reach_message_tags_clients_only() -> None:
    caps = ("message-tags", "echo-message")
    async with (
        running_app(irc_port=0) as running,
        irc_user(running, "ana", *caps) as ana,
        irc_user(running, "bob", "message-tags") as bob,
        irc_user(running, "cy") as cy,
    ):
        for peer in (ana, bob, cy):
            await peer.send("JOIN #dev")
            await quiet(peer)
        await quiet(ana)
        await quiet(bob)
        await ana.send("@+draft/react=yes;+draft/reply=1 TAGMSG #dev")
        echo = await ana.line()
        delivered = await bob.line()
        assert echo == delivered
        assert delivered.startswith("@msgid=")  # the server's tags first (message-tags)
        assert ";+draft/react=yes;+draft/reply=1 :" in delivered
        assert delivered.endswith(" :ana!ana@127.0.0.1 TAGMSG #dev")
        assert await quiet(cy) == []
        await ana.send("@+draft/reply=7 PRIVMSG #dev :hi", "NOTICE #dev :psst")
        said = await bob.line()
        assert said.startswith("@msgid=")
        assert ";+draft/reply=7 " in said
        assert said.endswith(":ana!ana@127.0.0.1 PRIVMSG #dev :hi")
        assert (await bob.line()).endswith(":ana!ana@127.0.0.1 NOTICE #dev :psst")
        assert await cy.line() == ":ana!ana@127.0.0.1 PRIVMSG #dev :hi"
        assert await cy.line() == ":ana!ana@127.0.0.1 NOTICE #dev :psst"


async def test_whox_answers_the_fields_asked_in_their_order() -> None:
    async with (
        running_app(irc_port=0) as running,
        irc_user(running, "ana") as ana,
        irc_user(running, "bob") as bob,
    ):
        await bob.send("JOIN #dev")
        await quiet(bob)
        await ana.send("WHO bob %rnt,42", "WHO bob %tcuihsnfdlaor,7")
        short, end, full, _ = await quiet(ana)
        assert short == ":trio-chat 354 ana 42 bob :Real bob"
        assert end == ":trio-chat 315 ana bob :End of WHO list"
        assert full.split(" ", 3)[3].split() == [
            "7", "*", "bob", "255.255.255.255", "127.0.0.1", "trio-chat", "bob", "H", "0", "0",
            "0", "n/a", ":Real", "bob",
        ]  # fmt: skip
        await ana.send("WHO bob")
        assert (await quiet(ana))[0].startswith(":trio-chat 352 ana ")
        assert any(" WHOX " in line or line.endswith(" WHOX") for line in await _isupport(ana))


async def _isupport(peer: IrcPeer) -> list[str]:
    await peer.send("VERSION")
    return [line for line in await quiet(peer) if " 005 " in line]


async def test_bot_mode_tags_the_bots_messages_and_shows_in_whois_and_who() -> None:
    async with (
        running_app(irc_port=0) as running,
        irc_user(running, "botty") as botty,
        irc_user(running, "ana", "message-tags") as ana,
    ):
        await botty.send("MODE botty +B")
        assert await botty.line() == ":botty!botty@127.0.0.1 MODE botty :+B"
        await botty.send("PRIVMSG ana :beep")
        assert ";bot :botty!botty@127.0.0.1 PRIVMSG ana :beep" in await ana.line()
        await ana.send("WHOIS botty", "WHO botty")
        lines = await quiet(ana)
        assert ":trio-chat 335 ana botty :is a bot" in lines
        assert any(
            line.startswith(":trio-chat 352 ana * botty ") and " HB " in line for line in lines
        )
        assert "BOT=B" in " ".join(await _isupport(ana))


async def test_read_markers_only_go_forward_and_come_with_a_join() -> None:
    async with (
        running_app(irc_port=0) as running,
        irc_user(running, "ana", "draft/read-marker") as ana,
    ):
        await ana.send("JOIN #dev")
        lines = await quiet(ana)
        assert lines.index(":trio-chat MARKREAD #dev :*") < lines.index(
            ":trio-chat 366 ana #dev :End of /NAMES list"
        )
        later, earlier = "2026-12-01T12:00:00.000Z", "2026-12-01T11:00:00.000Z"
        await ana.send(f"MARKREAD #dev timestamp={later}", f"MARKREAD #dev timestamp={earlier}")
        assert await quiet(ana) == [f":trio-chat MARKREAD #dev :timestamp={later}"] * 2
        await ana.send("MARKREAD", "MARKREAD #dev *")
        assert await quiet(ana) == [
            ":trio-chat FAIL MARKREAD NEED_MORE_PARAMS :Missing parameters",
            ":trio-chat FAIL MARKREAD INVALID_PARAMS :Invalid timestamp",
        ]


async def test_multi_prefix_shows_every_prefix_in_names_and_who() -> None:
    async with running_app(irc_port=0) as running, irc_user(running, "ana", "multi-prefix") as ana:
        await ana.send("JOIN #dev", "MODE #dev +v ana")
        await quiet(ana)
        await ana.send("NAMES #dev", "WHO #dev")
        lines = await quiet(ana)
        assert ":trio-chat 353 ana = #dev :@+ana" in lines
        assert any(
            line.startswith(":trio-chat 352 ana #dev ana ") and " H@+ " in line for line in lines
        )
