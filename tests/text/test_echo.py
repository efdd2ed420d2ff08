"""`/echo on`: a connection sees its own lines as the others see them, and only those."""

from __future__ import annotations

from trio_chat.core.events import Action, Echo, Message, Private
from trio_chat.core.hub import Hub
from trio_chat.text.codec import format_event
from trio_chat.text.grammar import EchoSetting, Invalid, parse_command

from ..conftest import MemoryConnector


def test_echo_is_parsed_and_formatted_as_the_others_see_the_line() -> None:
    assert parse_command("/echo on") == EchoSetting(True)
    assert parse_command("/ECHO Off") == EchoSetting(False)
    assert parse_command("/echo") == Invalid("usage: /echo on|off")
    assert parse_command("/echo maybe") == Invalid("usage: /echo on|off")
    assert format_event(Echo(Message("ana", "#lobby", "hi"))) == "ana: hi"
    assert format_event(Echo(Action("ana", "#lobby", "waves"))) == "* ana waves"
    assert format_event(Echo(Private("ana", "bob", "psst"))) == "[private to bob] psst"


async def test_with_echo_on_own_lines_come_back_exactly_as_the_others_see_them(
    connector: MemoryConnector,
) -> None:
    ana, bob = await connector.members("ana", "bob")
    await ana.send("/echo on")
    assert await ana.line() == "*** echo on"
    await ana.send("hi", "/me waves", "/msg bob psst", "/msg ana note to self")
    assert await bob.until("[private] ana: psst") == [
        "ana: hi",
        "* ana waves",
        "[private] ana: psst",
    ]
    assert await ana.until("[private to ana]") == [
        "ana: hi",
        "* ana waves",
        "[private to bob] psst",
        "[private] ana: note to self",
        "[private to ana] note to self",
    ]


async def test_refused_lines_get_only_their_error_with_echo_on(
    connector: MemoryConnector, hub: Hub
) -> None:
    ana, bob = await connector.members("ana", "bob")
    await ana.send("/echo on")
    assert await ana.line() == "*** echo on"
    await ana.send("x" * 4500, "/msg nobody hi")
    assert await ana.line() == "! line too long (max 4096 bytes), dropped"
    assert await ana.line() == "! nobody called nobody is online (see /who)"
    member = hub.find("ana")
    assert member is not None
    member.muted = True
    await ana.send("can you hear me?", "/me shouts", "/msg bob psst", "/who")
    assert await ana.until("*** In #lobby") == [
        "! you are muted",
        "! you are muted",
        "! you are muted",
        "*** In #lobby (2): ana, bob",
    ]
    await bob.send("/who")
    assert await bob.line() == "*** In #lobby (2): ana, bob"  # bob heard none of it


async def test_echo_off_and_connections_that_never_ask_get_no_echo(
    connector: MemoryConnector,
) -> None:
    ana, bob = await connector.members("ana", "bob")
    await ana.send("/echo on", "/echo off", "quiet again", "/msg bob psst", "/who")
    assert await ana.until("*** In #lobby") == [
        "*** echo on",
        "*** echo off",
        "*** In #lobby (2): ana, bob",
    ]
    await bob.send("plain nc user", "/who")
    assert (await bob.until("*** In #lobby"))[-1] == "*** In #lobby (2): ana, bob"
    assert await ana.line() == "bob: plain nc user"
