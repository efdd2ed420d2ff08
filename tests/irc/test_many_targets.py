"""IRC commands with several targets and the room lists: what an IRC client sees."""

from __future__ import annotations

from tests.conftest import IrcConnector, IrcPeer


async def joined(peer: IrcPeer, channels: str) -> list[str]:
    """JOIN ``channels``; the lines up to the end of NAMES of the last."""
    await peer.send(f"JOIN {channels}")
    return await peer.until(f":trio-chat 366 {peer.nick} {channels.split(',')[-1]} ")


async def test_names_of_two_channels_ends_once(irc: IrcConnector) -> None:
    ana = await irc.join("ana")
    await joined(ana, "#a,#b")
    await ana.send("NAMES #a,#nowhere,#b")
    assert await ana.until(":trio-chat 366 ") == [
        ":trio-chat 353 ana = #a :@ana",
        ":trio-chat 353 ana = #b :@ana",
        ":trio-chat 366 ana #a,#nowhere,#b :End of /NAMES list",
    ]


async def test_kick_of_several_nicks_is_one_kick_line_each(irc: IrcConnector) -> None:
    ana = await irc.join("ana")
    await joined(ana, "#dev")
    for nick in ("bob", "cid"):
        await joined(await irc.join(nick), "#dev")
    await ana.until(":cid!cid@localhost JOIN #dev")
    await ana.send("KICK #dev bob,cid :bye", "KICK #dev,#dev ana", "KICK #dev,#x a,b,c")
    assert await ana.line() == ":ana!ana@localhost KICK #dev bob :bye"
    assert await ana.line() == ":ana!ana@localhost KICK #dev cid :bye"
    assert await ana.line() == (":trio-chat 461 ana KICK :One channel, or one for each nick")
    assert await ana.line() == (":trio-chat 461 ana KICK :One channel, or one for each nick")


async def test_targmax_says_kick_and_names_take_several(irc: IrcConnector) -> None:
    ana = irc.open()
    await ana.send("NICK ana", "USER ana 0 * :Ana")
    isupport = " ".join(line for line in await ana.until(":trio-chat 422 ") if " 005 " in line)
    assert "KICK:4," in isupport
    assert "NAMES:," in isupport


async def test_a_bare_invite_lists_ones_invitations(irc: IrcConnector) -> None:
    ana = await irc.join("ana")
    await joined(ana, "#dev,#ops")
    bob = await irc.join("bob")
    await bob.send("INVITE")
    assert await bob.line() == ":trio-chat 337 bob :End of /INVITE list"
    await ana.send("INVITE bob #ops", "INVITE bob #dev", "INVITE bob")
    assert await ana.until(":trio-chat 461 ") == [
        ":trio-chat 341 ana bob :#ops",
        ":trio-chat 341 ana bob :#dev",
        ":trio-chat 461 ana INVITE :Not enough parameters",
    ]
    await bob.until(":ana!ana@localhost INVITE bob :#dev")
    await joined(bob, "#dev")
    await bob.send("INVITE")
    assert await bob.until(":trio-chat 337 ") == [
        ":trio-chat 336 bob :#ops",
        ":trio-chat 337 bob :End of /INVITE list",
    ]


async def test_a_ban_exception_lets_its_mask_in(irc: IrcConnector) -> None:
    ana = await irc.join("ana")
    await joined(ana, "#dev")
    bar = await irc.join("bar")
    await ana.send("MODE #dev +b ba*!*@*", "MODE #dev +e *ar!*@*", "MODE #dev e")
    assert await ana.line() == ":ana!ana@localhost MODE #dev +b :ba*!*@*"
    assert await ana.line() == ":ana!ana@localhost MODE #dev +e :*ar!*@*"
    assert (await ana.line()).startswith(":trio-chat 348 ana #dev *ar!*@* ana :1")
    assert await ana.line() == ":trio-chat 349 ana #dev :End of channel exception list"
    await joined(bar, "#dev")
    baz = await irc.join("baz")
    await baz.send("JOIN #dev")
    assert await baz.line() == ":trio-chat 474 baz #dev :Cannot join channel (+b)"


async def test_an_invite_exception_opens_an_invitation_only_channel(irc: IrcConnector) -> None:
    ana = await irc.join("ana")
    await joined(ana, "#dev")
    bar, baz = await irc.join("bar"), await irc.join("baz")
    await ana.send("MODE #dev +iI bar!*@*", "MODE #dev I")
    assert await ana.line() == ":ana!ana@localhost MODE #dev +iI :bar!*@*"
    assert (await ana.line()).startswith(":trio-chat 346 ana #dev bar!*@* ana :1")
    assert await ana.line() == (":trio-chat 347 ana #dev :End of Channel Invite Exception List")
    await joined(bar, "#dev")
    await baz.send("JOIN #dev")
    assert await baz.line() == ":trio-chat 473 baz #dev :Cannot join channel (+i)"
    await ana.send("MODE #dev -I bar!*@*")
    assert (await ana.until(":ana!ana@localhost MODE"))[-1] == (
        ":ana!ana@localhost MODE #dev -I :bar!*@*"
    )
    await bar.send("PART #dev", "JOIN #dev")
    assert (await bar.until(":trio-chat 473 "))[-1] == (
        ":trio-chat 473 bar #dev :Cannot join channel (+i)"
    )
