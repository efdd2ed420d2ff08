"""What issue #11's line-by-line audit found, each as a user sees it."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import trio
import trio.testing

from tests.conftest import (
    IrcConnector,
    IrcPeer,
    MemoryConnector,
    irc_door,
    running_app,
    text_server,
)
from trio_chat.core.events import Reason
from trio_chat.core.limits import FLOOD_PATIENCE, Limits
from trio_chat.irc.codec import MAX_CLIENT_TAG_BYTES, MAX_TAGS_BYTES, IrcMessage, format_message
from trio_chat.irc.wire import quit_reason

from .conftest import irc_user, quiet


async def test_a_renamed_irc_user_who_quits_leaves_no_trace_on_their_new_nick(
    connector: MemoryConnector, irc: IrcConnector
) -> None:
    ana = await irc.join("ana")
    await ana.send("NICK zoe")
    assert await ana.line() == ":ana!ana@localhost NICK zoe"
    await ana.send("QUIT :bye")
    await ana.expect_eof()
    await connector.join("zoe")  # a text user takes the nick
    bob = await irc.join("bob")
    await bob.send("WHOIS zoe", "WHOWAS zoe")
    # zoe is the text user now, not ana's ident, host and real name
    assert await bob.line() == ":trio-chat 311 bob zoe zoe trio-chat * :zoe"
    await bob.until(":trio-chat 318 ")
    # and WHOWAS remembers the IRC user who was zoe
    assert await bob.line() == ":trio-chat 314 bob zoe ana localhost * :Real ana"


async def test_irc_formatting_is_taken_out_whole_colour_digits_and_all(
    connector: MemoryConnector, irc: IrcConnector
) -> None:
    bob = await connector.join("bob")
    ana = await irc.join("ana")
    await ana.send("JOIN #lobby")
    await ana.until(":trio-chat 366 ")
    await bob.until("*** ana joined")
    await ana.send(
        "PRIVMSG #lobby :\x0304,12red\x03 and \x02bold\x02, \x1ditalic\x1d \x04FF8800hex\x0f 1,5",
        "PRIVMSG #lobby :\x01ACTION \x0309waves\x03\x01",
        "TOPIC #lobby :\x1fnews\x1f \x0312today",
    )
    assert await bob.line() == "ana: red and bold, italic hex 1,5"
    assert await bob.line() == "* ana waves"
    assert await bob.line() == "*** ana set the topic of #lobby: news today"


async def test_ctcp_other_than_action_is_not_relayed_and_the_sender_hears_which(
    connector: MemoryConnector, irc: IrcConnector
) -> None:
    bob = await connector.join("bob")
    ana = await irc.join("ana")
    cid = await irc.join("cid")
    for peer in (ana, cid):
        await peer.send("JOIN #lobby")
        await peer.until(":trio-chat 366 ")
    await ana.send(
        "PRIVMSG #lobby :\x01VERSION\x01",
        "PRIVMSG cid :\x01PING 1234\x01",
        "NOTICE cid :\x01VERSION irssi\x01",  # a NOTICE is never answered, not even so
        "PRIVMSG #lobby :\x01ACTION\x01",  # an empty /me is still a /me
        "PRIVMSG #lobby :after",
        "PING :sync",
    )
    heard = [line for line in await ana.until(":trio-chat PONG ") if " NOTICE " in line]
    assert heard == [
        ":trio-chat NOTICE ana :CTCP VERSION is not relayed here: only ACTION (/me) is",
        ":trio-chat NOTICE ana :CTCP PING is not relayed here: only ACTION (/me) is",
    ]
    said = [line for line in await bob.until("ana: after") if not line.startswith("***")]
    assert said == ["* ana ", "ana: after"]
    lines = await cid.until(":ana!ana@localhost PRIVMSG #lobby :after")
    assert lines == [
        ":ana!ana@localhost PRIVMSG #lobby :\x01ACTION \x01",
        ":ana!ana@localhost PRIVMSG #lobby :after",
    ]


async def test_the_servers_tags_come_before_the_clients_tags() -> None:
    """message-tags: "server-initiated tags MUST be included before client-only tags"."""
    async with (
        running_app(irc_port=0) as running,
        irc_user(running, "botty", "message-tags") as botty,
        irc_user(running, "ana", "message-tags", "server-time") as ana,
    ):
        await botty.send("MODE botty +B")
        await botty.line()
        await botty.send("@+draft/reply=7 PRIVMSG ana :beep", "@+typing=active TAGMSG ana")
        for command in ("PRIVMSG", "TAGMSG"):
            line = await ana.line()
            assert f":botty!botty@127.0.0.1 {command} ana" in line, line
            keys = [tag.split("=")[0] for tag in line[1:].split(" ")[0].split(";")]
            assert any(key.startswith("+") for key in keys), keys
            assert keys == sorted(keys, key=lambda key: key.startswith("+")), keys
            assert re.search(r"\btime=", line), line


async def test_lusers_counts_the_invisible_apart(
    connector: MemoryConnector, irc: IrcConnector
) -> None:
    await connector.join("bob")
    ana = await irc.join("ana")
    await ana.send("MODE ana +i", "LUSERS")
    assert await ana.line() == ":ana!ana@localhost MODE ana :+i"
    assert await ana.line() == ":trio-chat 251 ana :There are 1 users and 1 invisible on 1 servers"
    assert await ana.line() == ":trio-chat 252 ana 0 :operator(s) online"
    await ana.until(":trio-chat 255 ana :I have 2 clients and 0 servers")


def test_a_part_without_reason_names_its_channel_as_a_middle_parameter() -> None:
    # ":ana!a@h PART :#dev" is valid but trips bots that split on spaces
    assert format_message(IrcMessage("PART", ("#dev",), "ana!a@h")) == ":ana!a@h PART #dev"
    assert (
        format_message(IrcMessage("PART", ("#dev", "bye"), "ana!a@h")) == ":ana!a@h PART #dev :bye"
    )
    assert format_message(IrcMessage("QUIT", ("bye",), "ana!a@h")) == ":ana!a@h QUIT :bye"


async def test_a_message_to_more_targets_than_targmax_says_is_407_for_the_rest(
    irc: IrcConnector,
) -> None:
    ana = await irc.join("ana")
    others = [await irc.join(nick) for nick in ("b1", "b2", "b3", "b4", "b5")]
    await ana.send("PRIVMSG b1,b2,b3,b4,b5 :hi all", "NOTICE b1,b2,b3,b4,b5 :psst")
    assert await ana.line() == ":trio-chat 407 ana b5 :Too many targets (at most 4)"
    for peer in others[:4]:
        assert await peer.line() == ":ana!ana@localhost PRIVMSG " + peer.nick + " :hi all"
        assert await peer.line() == ":ana!ana@localhost NOTICE " + peer.nick + " :psst"
    await others[4].send("PING :sync")
    assert await others[4].line() == ":trio-chat PONG trio-chat :sync"  # b5 got neither
    await ana.send("PING :sync")
    assert await ana.line() == ":trio-chat PONG trio-chat :sync"  # a NOTICE is never answered


async def test_a_private_action_reaches_irc_users_as_an_action_and_text_users_as_a_line(
    connector: MemoryConnector, irc: IrcConnector
) -> None:
    bob = await connector.join("bob")
    ana = await irc.join("ana")
    cid = await irc.join("cid")
    await ana.send("PRIVMSG cid :\x01ACTION pokes you\x01", "PRIVMSG bob :\x01ACTION pokes\x01")
    assert await cid.line() == ":ana!ana@localhost PRIVMSG cid :\x01ACTION pokes you\x01"
    assert await bob.until("[private]") == ["[private] ana: * ana pokes"]
    await bob.send("/msg cid * bob waves")  # a text user's way of saying it is the same
    assert await cid.line() == ":bob!bob@trio-chat PRIVMSG cid :\x01ACTION waves\x01"
    await bob.send("/msg cid * ana is not me")  # someone else's name: a plain line
    assert await cid.line() == ":bob!bob@trio-chat PRIVMSG cid :* ana is not me"


async def test_an_irc_flood_is_paced_then_closed_as_excess_flood(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = text_server(limits=Limits(exempt=()))
    door = irc_door(server)
    async with trio.open_nursery() as nursery:
        client, end = trio.testing.memory_stream_pair()
        nursery.start_soon(door.handle, end, "10.0.0.9:1", None, "10.0.0.9")
        ana = IrcPeer(client)
        await ana.register("ana")
        await ana.send(*(f"PING :{i}" for i in range(30)))
        lines = await ana.until(":trio-chat PONG trio-chat :29")
        assert lines.count(":trio-chat NOTICE ana :Slow down: your messages are being delayed") == 1
        assert len([line for line in lines if " PONG " in line]) == 30  # delayed, none lost
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            for i in range(int(FLOOD_PATIENCE * 20)):
                await ana.send(f"PING :{i}")
        assert (await ana.until("ERROR"))[-1] == "ERROR :Closing Link: Excess Flood"
        nursery.cancel_scope.cancel()


async def test_the_longest_client_tags_are_relayed_whole_within_the_specs_total() -> None:
    async with (
        running_app(irc_port=0) as running,
        irc_user(running, "ana", "message-tags") as ana,
        irc_user(running, "bob", "message-tags", "server-time") as bob,
    ):
        value = "v" * (MAX_CLIENT_TAG_BYTES - len("+example.com/x="))
        await ana.send(
            f"@+example.com/x={value} PRIVMSG bob :hi",
            "@+y=" + "v" * (MAX_CLIENT_TAG_BYTES - 2) + " PING :x",
        )
        line = await bob.line()
        tags, _, rest = line.partition(" ")
        assert f";+example.com/x={value}" in tags
        assert len(tags.encode()) + 1 <= MAX_TAGS_BYTES
        assert rest == ":ana!ana@127.0.0.1 PRIVMSG bob :hi"
        # one byte over the client's 4094 is refused whole
        assert await ana.line() == ":trio-chat 417 ana :Input line was too long"


async def test_setname_is_advertised_with_namelen_and_cleaned_as_user_is() -> None:
    async with (
        running_app(irc_port=0) as running,
        irc_user(running, "ana", "setname") as ana,
    ):
        await ana.send("VERSION")
        isupport = " ".join(line for line in await quiet(ana) if " 005 " in line)
        assert " NAMELEN=100 " in isupport  # setname: "servers MUST provide a NAMELEN token"
        await ana.send("SETNAME :Ana \x1b[31mLima\x07", "WHOIS ana")
        assert await ana.line() == ":ana!ana@127.0.0.1 SETNAME :Ana Lima"
        assert await ana.line() == ":trio-chat 311 ana ana ana 127.0.0.1 * :Ana Lima"


async def test_a_muted_user_or_one_without_voice_in_a_moderated_room_sends_no_tagmsg(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "oper.txt"
    secret.write_text("operpass123\n")
    async with (
        running_app(irc_port=0, oper_password_file=str(secret)) as running,
        irc_user(running, "ana", "message-tags") as ana,
        irc_user(running, "bob", "message-tags") as bob,
    ):
        for peer in (ana, bob):
            await peer.send("JOIN #dev")
            await quiet(peer)
        await ana.send("OPER ana operpass123", "MODE #dev +m")
        await quiet(ana)
        await bob.send("@+typing=active TAGMSG #dev")
        assert (await quiet(bob))[-1] == ":trio-chat 404 bob #dev :Cannot send to channel (+m)"
        await ana.send("MODE #dev -m")
        await quiet(ana)
        opa = await running.connect()  # a text operator mutes bob
        async with opa.stream:
            await opa.register("opa")
            await opa.send("/oper operpass123", "/mute bob")
            await opa.until("*** opa muted bob")
        await quiet(ana)
        await bob.send("@+draft/react=x TAGMSG #dev", "@+typing=active TAGMSG ana")
        lines = [line for line in await quiet(bob) if " 404 " in line]
        assert lines == [
            ":trio-chat 404 bob #dev :You are muted",
            ":trio-chat 404 bob ana :You are muted",
        ]
        assert [line for line in await quiet(ana) if "TAGMSG" in line] == []


async def test_004_lists_every_user_mode_there_is(irc: IrcConnector) -> None:
    ana = irc.open()
    myinfo = [line for line in await ana.register("ana") if " 004 " in line]
    assert myinfo[0].split()[5] == "Biow"  # B: bot mode (ISUPPORT BOT=B), i, o, w


async def test_whowas_remembers_text_users_too(
    connector: MemoryConnector, irc: IrcConnector
) -> None:
    bob = await connector.join("bob")
    await bob.send("/nick bobby")
    await bob.until("*** bob is now known as bobby")
    await bob.send("/quit")
    await bob.expect_eof()
    ana = await irc.join("ana")
    await ana.send("WHOWAS bob", "WHOWAS bobby")
    assert await ana.line() == ":trio-chat 314 ana bob bob trio-chat * :bob"
    await ana.until(":trio-chat 369 ana bob ")
    assert await ana.line() == ":trio-chat 314 ana bobby bobby trio-chat * :bobby"


async def test_kills_ping_timeouts_and_floods_are_worded_as_irc_servers_word_them(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "oper.txt"
    secret.write_text("operpass123\n")
    async with (
        running_app(irc_port=0, oper_password_file=str(secret)) as running,
        irc_user(running, "op") as op,
        irc_user(running, "cid") as cid,
        irc_user(running, "dan") as dan,
    ):
        for peer in (op, cid, dan):
            await peer.send("JOIN #dev")
            await quiet(peer)
        await op.send("OPER op operpass123", "KILL cid :spam")
        assert (await cid.expect_eof())[-1] == "ERROR :Closing Link: Killed (op (spam))"
        assert (await dan.until(":cid!"))[-1] == ":cid!cid@127.0.0.1 QUIT :Killed (op (spam))"
    assert quit_reason(Reason.TIMEOUT) == "Ping timeout"
    assert quit_reason(Reason.FLOODING) == "Excess Flood"


async def test_a_muted_user_leaves_without_parting_words(tmp_path: Path) -> None:
    """PART and QUIT reasons are speech: someone muted, or voiceless under +m, has none."""
    secret = tmp_path / "oper.txt"
    secret.write_text("operpass123\n")
    async with (
        running_app(irc_port=0, oper_password_file=str(secret)) as running,
        irc_user(running, "ana") as ana,
        irc_user(running, "bob") as bob,
    ):
        for peer in (ana, bob):
            await peer.send("JOIN #dev", "JOIN #ads")
            await quiet(peer)
        await ana.send("OPER ana operpass123", "MODE #ads +m")
        await quiet(ana)
        await bob.send("PART #ads :buy now at spam.example")  # voiceless in a +m room
        assert ":bob!bob@127.0.0.1 PART #ads" in await quiet(ana)
        await bob.send("PART #dev :fine words")  # may speak there
        assert ":bob!bob@127.0.0.1 PART #dev :fine words" in await quiet(ana)
        await ana.send("JOIN #dev")
        await bob.send("JOIN #dev")
        await quiet(ana)
        opa = await running.connect()  # a text operator mutes bob
        async with opa.stream:
            await opa.register("opa")
            await opa.send("/oper operpass123", "/mute bob")
            await opa.until("*** opa muted bob")
            await quiet(ana)
            await bob.send("QUIT :visit spam.example")
            lines = [line for line in await quiet(ana) if " QUIT " in line]
            assert lines == [":bob!bob@127.0.0.1 QUIT :Quit"]
