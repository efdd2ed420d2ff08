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
