"""IRC sessions in memory: what an IRC client (and a text user beside it) sees."""

from __future__ import annotations

import pytest

from tests.conftest import IrcConnector, IrcPeer, MemoryConnector


async def joined(peer: IrcPeer, channels: str) -> list[str]:
    """JOIN ``channels``; the lines up to the end of NAMES of the last."""
    await peer.send(f"JOIN {channels}")
    return await peer.until(f":trio-chat 366 {peer.nick} {channels.split(',')[-1]} ")


# --- registration ----------------------------------------------------------------------


async def test_registration_burst_ends_with_the_motd_numeric(irc: IrcConnector) -> None:
    ana = irc.open()
    await ana.send("NICK ana", "USER ana 0 * :Ana Lima")
    lines = await ana.until(":trio-chat 422 ")
    numerics = [line.split()[1] for line in lines]
    assert numerics[:4] == ["001", "002", "003", "004"]
    assert "005" in numerics
    assert "251" in numerics
    assert "255" in numerics
    isupport = " ".join(line for line in lines if " 005 " in line)
    for token in ("CASEMAPPING=rfc8265", "CHANTYPES=#", "NICKLEN=32", "PREFIX=(ov)@+", "UTF8ONLY"):
        assert token in isupport


async def test_cap_ls_holds_registration_until_cap_end(irc: IrcConnector) -> None:
    ana = irc.open()
    await ana.send("CAP LS 302", "NICK ana", "USER ana 0 * :Ana")
    ls = await ana.line()
    assert ls.startswith(":trio-chat CAP * LS :")
    assert "server-time" in ls
    await ana.send("CAP REQ :server-time echo-message", "CAP REQ :no-such-cap", "CAP LIST")
    assert await ana.line() == ":trio-chat CAP ana ACK :server-time echo-message"
    assert await ana.line() == ":trio-chat CAP ana NAK :no-such-cap"
    assert await ana.line() == ":trio-chat CAP ana LIST :echo-message server-time"
    await ana.send("CAP END")
    assert (await ana.line()).startswith(":trio-chat 001 ana ")


async def test_commands_before_registration_get_451(irc: IrcConnector) -> None:
    ana = irc.open()
    await ana.send("JOIN #lobby", "PRIVMSG #lobby :hi")
    assert await ana.line() == ":trio-chat 451 * :You have not registered"
    assert await ana.line() == ":trio-chat 451 * :You have not registered"


async def test_a_nick_taken_by_a_text_user_is_433_in_any_case(
    connector: MemoryConnector, irc: IrcConnector
) -> None:
    await connector.join("Bob")
    ana = irc.open()
    await ana.send("NICK bob")
    assert await ana.line() == ":trio-chat 433 * bob :Nickname is already in use"
    await ana.send("NICK 9lives")
    assert (await ana.line()).startswith(":trio-chat 432 * 9lives :Erroneous nickname")
    await ana.send("NICK", "NICK ana", "USER ana 0 * :Ana")
    assert await ana.line() == ":trio-chat 431 * :No nickname given"
    assert (await ana.line()).startswith(":trio-chat 001 ana ")


async def test_missing_parameters_and_unknown_commands(irc: IrcConnector) -> None:
    ana = await irc.join("ana")
    await ana.send("USER x", "FROB a b", "JOIN", "USER a b c d")
    assert await ana.line() == ":trio-chat 461 ana USER :Not enough parameters"
    assert await ana.line() == ":trio-chat 421 ana FROB :Unknown command"
    assert await ana.line() == ":trio-chat 461 ana JOIN :Not enough parameters"
    assert await ana.line() == ":trio-chat 462 ana :You may not reregister"


# --- chatting ----------------------------------------------------------------------------


async def test_text_users_and_irc_users_share_rooms(
    connector: MemoryConnector, irc: IrcConnector
) -> None:
    ana = await irc.join("ana")
    names = await joined(ana, "#lobby,#dev")
    assert names[0] == ":ana!ana@localhost JOIN #lobby"
    assert ":ana!ana@localhost JOIN #dev" in names
    bob = await connector.join("bob")
    assert await ana.line() == ":bob!bob@trio-chat JOIN #lobby"
    await bob.send("/join dev")
    assert await ana.line() == ":bob!bob@trio-chat JOIN #dev"
    assert await ana.line() == ":bob!bob@trio-chat PART #lobby :went to #dev"
    await ana.send("PRIVMSG #dev :hello")
    assert await bob.until("ana: hello")
    await bob.send("/nick bobby")
    assert await ana.line() == ":bob!bob@trio-chat NICK bobby"
    await ana.send("NICK anna")
    assert await ana.line() == ":ana!ana@localhost NICK anna"
    assert await bob.until("*** ana is now known as anna")
    await ana.send("JOIN 0")
    assert await ana.line() == ":anna!ana@localhost PART #dev :Left all channels"
    assert await ana.line() == ":anna!ana@localhost PART #lobby :Left all channels"


async def test_message_errors_are_numerics(irc: IrcConnector) -> None:
    ana = await irc.join("ana")
    await joined(ana, "#lobby")
    await ana.send(
        "PRIVMSG nobody :hi",
        "PRIVMSG #nowhere :hi",
        "PRIVMSG",
        "PRIVMSG #lobby",
        "NOTICE nobody :no reply to a notice",
        "PART #lobby2",
    )
    assert await ana.line() == ":trio-chat 401 ana nobody :No such nick/channel"
    assert await ana.line() == ":trio-chat 403 ana #nowhere :No such channel"
    assert await ana.line() == ":trio-chat 411 ana :No recipient given (PRIVMSG)"
    assert await ana.line() == ":trio-chat 412 ana :No text to send"
    assert await ana.line() == ":trio-chat 403 ana #lobby2 :No such channel"
    bob = await irc.join("bob")
    await joined(bob, "#dev")
    await ana.send("PRIVMSG #dev :let me in", "PART #dev")
    assert await ana.line() == ":trio-chat 404 ana #dev :Cannot send to channel"
    assert await ana.line() == ":trio-chat 442 ana #dev :You're not on that channel"


async def test_topic_names_and_list(connector: MemoryConnector, irc: IrcConnector) -> None:
    ana = await irc.join("ana")
    await joined(ana, "#dev")
    await ana.send("TOPIC #dev", "TOPIC #dev :shipping friday", "TOPIC #dev")
    assert await ana.line() == ":trio-chat 331 ana #dev :No topic is set"
    assert await ana.line() == ":ana!ana@localhost TOPIC #dev :shipping friday"
    assert await ana.line() == ":trio-chat 332 ana #dev :shipping friday"
    assert (await ana.line()).startswith(":trio-chat 333 ana #dev ana :17")
    await connector.join("bob")
    await ana.send("NAMES #lobby", "LIST")
    assert await ana.line() == ":trio-chat 353 ana = #lobby :bob"
    assert await ana.line() == ":trio-chat 366 ana #lobby :End of /NAMES list"
    assert await ana.line() == ":trio-chat 321 ana Channel :Users  Name"
    assert await ana.line() == ":trio-chat 322 ana #dev 1 :shipping friday"
    assert await ana.line() == ":trio-chat 322 ana #lobby 1 :"
    assert await ana.line() == ":trio-chat 323 ana :End of /LIST"


async def test_a_long_text_message_reaches_irc_in_several_lines(
    connector: MemoryConnector, irc: IrcConnector
) -> None:
    ana = await irc.join("ana")
    await joined(ana, "#lobby")
    bob = await connector.join("bob")
    await ana.line()  # bob joined
    text = "é" * 1500  # 3000 bytes
    await bob.send(text)
    pieces = []
    while sum(len(p) for p in pieces) < len(text):
        line = await ana.line()
        assert len(line.encode()) + 2 <= 512
        prefix = ":bob!bob@trio-chat PRIVMSG #lobby :"
        assert line.startswith(prefix)
        pieces.append(line.removeprefix(prefix))
    assert "".join(pieces) == text


async def test_an_irc_line_too_long_to_relay_is_417_not_cut(irc: IrcConnector) -> None:
    ana = await irc.join("ana")
    await joined(ana, "#lobby")
    await ana.send("PRIVMSG #lobby :" + "a" * 480)
    assert await ana.line() == ":trio-chat 417 ana :Input line was too long"
    await ana.send("PRIVMSG #lobby :" + "a" * 600)
    assert await ana.line() == ":trio-chat 417 ana :Input line was too long"
    await ana.send_bytes(b"PRIVMSG #lobby :caf\xe9\r\nPING :still here\r\n")
    assert await ana.line() == (
        ":trio-chat FAIL PRIVMSG INVALID_UTF8 :Message rejected: this server is UTF-8 only"
    )
    assert await ana.line() == ":trio-chat PONG trio-chat :still here"


# --- who is who -------------------------------------------------------------------------


async def test_whois_who_ison_userhost_and_away(
    connector: MemoryConnector, irc: IrcConnector
) -> None:
    await connector.join("bob")
    ana = await irc.join("ana")
    await joined(ana, "#lobby")
    await ana.send("WHOIS bob")
    assert await ana.until(":trio-chat 318 ") == [
        ":trio-chat 311 ana bob bob trio-chat * :bob",
        ":trio-chat 319 ana bob :#lobby",
        ":trio-chat 312 ana bob trio-chat :trio_chat",
        ":trio-chat 318 ana bob :End of /WHOIS list",
    ]
    await ana.send("WHO #lobby")
    assert await ana.until(":trio-chat 315 ") == [
        ":trio-chat 352 ana #lobby ana localhost trio-chat ana H :0 Real ana",
        ":trio-chat 352 ana #lobby bob trio-chat trio-chat bob H :0 bob",
        ":trio-chat 315 ana #lobby :End of WHO list",
    ]
    await ana.send("ISON bob nobody ana", "USERHOST bob", "AWAY :lunch", "WHOIS nobody")
    assert await ana.line() == ":trio-chat 303 ana :bob ana"
    assert await ana.line() == ":trio-chat 302 ana :bob=+bob@trio-chat"
    assert await ana.line() == ":trio-chat 306 ana :You have been marked as being away"
    assert await ana.line() == ":trio-chat 401 ana nobody :No such nick/channel"
    assert await ana.line() == ":trio-chat 318 ana nobody :End of /WHOIS list"
    cleo = await irc.join("cleo")
    await cleo.send("PRIVMSG ana :there?", "AWAY")
    assert await cleo.line() == ":trio-chat 301 cleo ana :lunch"
    assert await cleo.line() == ":trio-chat 305 cleo :You are no longer marked as being away"


async def test_whowas_remembers_irc_users(irc: IrcConnector) -> None:
    ana = await irc.join("ana")
    await ana.send("QUIT")
    await ana.expect_eof()
    bob = await irc.join("bob")
    await bob.send("WHOWAS ana", "WHOWAS zed")
    assert await bob.line() == ":trio-chat 314 ana ana ana localhost * :Real ana".replace(
        "314 ana ana", "314 bob ana"
    )
    assert await bob.line() == ":trio-chat 312 bob ana trio-chat :trio_chat"
    assert await bob.line() == ":trio-chat 369 bob ana :End of WHOWAS"
    assert await bob.line() == ":trio-chat 406 bob zed :There was no such nickname"


async def test_modes_are_answered(irc: IrcConnector) -> None:
    ana = await irc.join("ana")
    await joined(ana, "#dev")
    bob = await irc.join("bob")
    await ana.send("MODE ana", "MODE ana +i", "MODE ana", "MODE bob", "MODE #dev", "MODE #dev b")
    assert await ana.line() == ":trio-chat 221 ana :+"
    assert await ana.line() == ":ana!ana@localhost MODE ana :+i"
    assert await ana.line() == ":trio-chat 221 ana :+i"
    assert await ana.line() == ":trio-chat 502 ana :Can't change mode for other users"
    assert await ana.line() == ":trio-chat 324 ana #dev :+n"
    assert (await ana.line()).startswith(":trio-chat 329 ana #dev :17")
    assert await ana.line() == ":trio-chat 368 ana #dev :End of channel ban list"
    await ana.send("MODE #dev +mk-x sesame", "MODE #nope", "MODE #dev")
    assert await ana.line() == ":trio-chat 472 ana x :is unknown mode char to me"
    assert await ana.line() == ":ana!ana@localhost MODE #dev +mk :sesame"
    assert await ana.line() == ":trio-chat 403 ana #nope :No such channel"
    assert await ana.line() == ":trio-chat 324 ana #dev +nmk :sesame"
    await ana.line()  # 329
    await bob.send("MODE #dev -m", "JOIN #dev", "JOIN #dev sesame", "PRIVMSG #dev :hi")
    assert await bob.line() == ":trio-chat 482 bob #dev :You're not channel operator"
    assert await bob.line() == ":trio-chat 475 bob #dev :Cannot join channel (+k)"
    await bob.until(":trio-chat 366 bob #dev ")
    assert await bob.line() == ":trio-chat 404 bob #dev :Cannot send to channel (+m)"
    await ana.send("MODE #dev +v bob")
    assert await bob.line() == ":ana!ana@localhost MODE #dev +v :bob"
    await bob.send("PRIVMSG #dev :now I may")
    assert (await ana.until(":bob!bob@localhost PRIVMSG"))[-1].endswith(" :now I may")


# --- the server's own -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "numerics"),
    [
        ("PING :abc", [":trio-chat PONG trio-chat :abc"]),
        ("VERSION", ["351"]),
        ("TIME", ["391"]),
        ("INFO", ["371", "371", "374"]),
        ("ADMIN", ["256", "257", "258", "259"]),
        ("HELP", ["704", "705", "706"]),
        ("HELP FROB", ["524"]),
        ("LUSERS", ["251", "252", "253", "254", "255", "265", "266"]),
        ("MOTD", ["422"]),
        ("LINKS", [":trio-chat 364 ana trio-chat trio-chat :0 trio_chat", "365"]),
        ("VERSION other.server", ["402"]),
    ],
)
async def test_server_queries(irc: IrcConnector, command: str, numerics: list[str]) -> None:
    ana = await irc.join("ana")
    await ana.send(command)
    for expected in numerics:
        line = await ana.line()
        assert line == expected if expected.startswith(":") else line.split()[1] == expected


async def test_invitations_bans_and_limits_as_irc_users_see_them(irc: IrcConnector) -> None:
    ana = await irc.join("ana")
    await joined(ana, "#dev")
    bob = await irc.join("bob")
    await ana.send("MODE #dev +il 5", "MODE #dev +b bob!*@*", "MODE #dev b")
    assert await ana.line() == ":ana!ana@localhost MODE #dev +il :5"
    assert await ana.line() == ":ana!ana@localhost MODE #dev +b :bob!*@*"
    assert (await ana.line()).startswith(":trio-chat 367 ana #dev bob!*@* ana :17")
    assert await ana.line() == ":trio-chat 368 ana #dev :End of channel ban list"
    await bob.send("JOIN #dev", "INVITE ana #dev")
    assert await bob.line() == ":trio-chat 473 bob #dev :Cannot join channel (+i)"
    assert await bob.line() == ":trio-chat 442 bob #dev :You're not on that channel"
    await ana.send("INVITE bob #dev", "INVITE nobody #dev")
    assert await ana.line() == ":trio-chat 341 ana bob :#dev"
    assert await ana.line() == ":trio-chat 401 ana nobody :No such nick/channel"
    assert await bob.line() == ":ana!ana@localhost INVITE bob :#dev"
    await bob.send("JOIN #dev")  # invited: past +i and the ban, once
    assert await bob.line() == ":bob!bob@localhost JOIN #dev"
    await ana.send("INVITE bob #dev", "KICK #dev bob :out", "MODE #dev -i")
    assert await ana.until(":trio-chat 443 ") == [
        ":bob!bob@localhost JOIN #dev",
        ":trio-chat 443 ana bob #dev :is already on channel",
    ]
    assert await ana.line() == ":ana!ana@localhost KICK #dev bob :out"
    await bob.send("JOIN #dev")
    assert (await bob.until(":trio-chat 474 "))[-1] == (
        ":trio-chat 474 bob #dev :Cannot join channel (+b)"
    )


async def test_list_filters_by_name_mask_and_size(irc: IrcConnector) -> None:
    ana = await irc.join("ana")
    await joined(ana, "#dev,#design,#ops")
    bob = await irc.join("bob")
    await joined(bob, "#ops")

    async def listed(command: str) -> list[str]:
        await ana.send(command)
        lines = await ana.until(":trio-chat 323 ")
        return [line.split()[3] for line in lines if " 322 " in line]

    assert await listed("LIST") == ["#design", "#dev", "#ops"]
    assert await listed("LIST #ops,#dev") == ["#dev", "#ops"]
    assert await listed("LIST #de*") == ["#design", "#dev"]
    assert await listed("LIST !#de*") == ["#ops"]
    assert await listed("LIST >1") == ["#ops"]
    assert await listed("LIST <2") == ["#design", "#dev"]


async def test_a_line_for_a_channels_operators_only(
    connector: MemoryConnector, irc: IrcConnector
) -> None:
    ana = await irc.join("ana")
    await joined(ana, "#dev")  # ana runs #dev
    bob = await irc.join("bob")
    await joined(bob, "#dev")
    await ana.line()  # bob joined
    await bob.send("PRIVMSG @#dev :ops, a word", "PRIVMSG #dev :everyone")
    assert await ana.line() == ":bob!bob@localhost PRIVMSG @#dev :ops, a word"
    assert await ana.line() == ":bob!bob@localhost PRIVMSG #dev :everyone"
    await bob.send("PING :x")
    assert await bob.line() == ":trio-chat PONG trio-chat :x"  # bob does not run #dev


async def test_notices_stay_notices_and_are_never_answered(
    connector: MemoryConnector, irc: IrcConnector
) -> None:
    ana = await irc.join("ana")
    await joined(ana, "#lobby")
    bob = await irc.join("bob")
    await joined(bob, "#lobby")
    carl = await connector.join("carl")
    await ana.until(":carl!carl@trio-chat JOIN")
    await ana.send("NOTICE #lobby :bot here", "NOTICE nobody :x", "NOTICE #nowhere :x", "PING :p")
    assert (await bob.until(":ana!ana@localhost NOTICE"))[-1].endswith("NOTICE #lobby :bot here")
    assert await carl.until("ana: bot here")
    assert await ana.line() == ":trio-chat PONG trio-chat :p"  # no error before it
