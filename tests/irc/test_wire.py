"""Core events as IRC lines: one shared encoder per set of wire capabilities."""

from __future__ import annotations

from tests.conftest import IrcConnector
from trio_chat.core.events import Action, Message, Past, Quit, Reason, Renamed
from trio_chat.irc.wire import Person, Wire


def test_members_with_the_same_wire_capabilities_share_one_encoder() -> None:
    wire = Wire("srv")
    plain = wire.encoder(set())
    assert wire.encoder({"echo-message"}) is plain  # not a wire capability
    timed = wire.encoder({"server-time", "echo-message"})
    assert timed is wire.encoder(["server-time"])
    assert timed is not plain


def test_events_as_irc_lines() -> None:
    wire = Wire("srv")
    wire.people.add("ana", Person("a", "10.0.0.2", "Ana"))
    plain, tagged = wire.encoder(()), wire.encoder({"server-time", "message-tags"})
    said = Message("ana", "#dev", "hi", time=1764593000.25, id=42)
    assert plain(said) == b":ana!a@10.0.0.2 PRIVMSG #dev :hi\r\n"
    assert tagged(said) == (
        b"@time=2025-12-01T12:43:20.250Z;msgid=42 :ana!a@10.0.0.2 PRIVMSG #dev :hi\r\n"
    )
    assert plain(Action("bob", "#dev", "waves")) == (
        b":bob!bob@trio-chat PRIVMSG #dev :\x01ACTION waves\x01\r\n"
    )
    assert plain(Past(said)).startswith(b":ana!a@10.0.0.2 PRIVMSG #dev :[2025-12-01 ")
    assert plain(Quit("bob", Reason.TOO_SLOW)) == b":bob!bob@trio-chat QUIT :SendQ exceeded\r\n"
    assert plain(Renamed("ana", "anna")) == b":ana!a@10.0.0.2 NICK anna\r\n"


async def test_cap_req_after_registration_changes_the_encoder(irc: IrcConnector) -> None:
    ana = await irc.join("ana")
    member = irc.server.service.member("ana")
    before = member.encode
    await ana.send("CAP REQ :server-time")
    assert await ana.line() == ":trio-chat CAP ana ACK :server-time"
    assert member.encode is not before
    bob = await irc.join("bob")
    await bob.send("CAP REQ :server-time")
    await bob.line()
    assert irc.server.service.member("bob").encode is member.encode
