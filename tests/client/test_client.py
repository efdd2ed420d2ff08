"""The client's logic against a real server handler, over memory streams."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from trio_chat.client.rules import EXIT_ENDED
from trio_chat.core.accounts import Guard
from trio_chat.core.hub import Hub
from trio_chat.core.passwords import ScryptCost

from ..conftest import MemoryConnector, StartClient, text_server


async def test_client_chats_and_quits_cleanly(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    bob = await connector.join("bob")
    ana = start_client("ana")
    await ana.screen.wait_for("*** Welcome, ana!")
    assert not any(line.startswith("*** Hello!") for line in ana.screen.lines)
    assert await bob.line() == "*** ana joined"
    await ana.typist.type("hi bob")
    assert await bob.line() == "ana: hi bob"
    await bob.send("hi ana")
    await ana.screen.wait_for("bob: hi ana")
    await ana.typist.type("/quit gotta go")
    assert await ana.wait_exit() == 0
    assert await bob.line() == "*** ana left (gotta go)"
    assert ana.screen.lines[-1] == "*** Bye!"


async def test_end_of_input_quits_with_exit_code_0(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    bob = await connector.join("bob")
    ana = start_client("ana")
    await ana.screen.wait_for("*** Welcome")
    await ana.typist.type("one last thing")
    await ana.typist.close()
    assert await ana.wait_exit() == 0
    assert await bob.until("*** ana left") == [
        "*** ana joined",
        "ana: one last thing",
        "*** ana left",
    ]


async def test_interrupt_quits_cleanly(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    bob = await connector.join("bob")
    ana = start_client("ana")
    await ana.screen.wait_for("*** Welcome")
    await bob.line()
    ana.client.interrupt()
    assert await ana.wait_exit() == 0
    assert await bob.line() == "*** ana left"


async def test_name_is_asked_for_when_not_given(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    bob = await connector.join("bob")
    ana = start_client(None)
    # The server's greeting is the prompt for the name.
    await ana.screen.wait_for("*** Hello! Send your name")
    await ana.typist.type("ana", "hello")
    assert await bob.until("ana: hello") == ["*** ana joined", "ana: hello"]


async def test_rejected_name_lets_an_interactive_user_try_another(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    bob = await connector.join("bob")
    user = start_client("Bob", interactive=True)
    await user.screen.wait_for("! the name Bob is taken")
    await user.typist.type("robert", "hi")
    assert await bob.until("robert: hi") == ["*** robert joined", "robert: hi"]


async def test_rejected_name_stops_a_script_without_sending_its_lines(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    bob = await connector.join("bob")
    script = start_client("bob")
    await script.typist.type("robert")  # a valid name: it must not be sent as one
    assert await script.wait_exit() == EXIT_ENDED
    assert any(line.startswith("! the name bob is taken") for line in script.screen.lines)
    await bob.send("/who")
    assert await bob.line() == "*** In #lobby (1): bob"


async def test_a_terminal_client_shows_its_own_messages_as_the_server_echoes_them(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    bob = await connector.join("bob")
    ana = start_client("ana", interactive=True, echo=True)
    await ana.screen.wait_for("*** Welcome")
    await ana.typist.type("hello", "/me waves", "/msg bob psst", "/HELP")
    await ana.screen.wait_for("*** Keys: ")
    assert [line for line in ana.screen.lines if not line.startswith("***")] == [
        "ana: hello",
        "* ana waves",
        "[private to bob] psst",
    ]
    assert "*** echo on" not in ana.screen.lines  # the client's own request
    # The client's keys follow the server's list of commands.
    help_end = next(i for i, line in enumerate(ana.screen.lines) if line.startswith("***   //"))
    assert ana.screen.lines[help_end + 1].startswith("*** Keys: ")
    assert await bob.until("[private] ana: psst") == [
        "*** ana joined",
        "ana: hello",
        "* ana waves",
        "[private] ana: psst",
    ]


async def test_a_line_the_server_refuses_is_never_shown_as_said(
    connector: MemoryConnector, start_client: StartClient, hub: Hub
) -> None:
    await connector.join("bob")
    ana = start_client("ana", interactive=True, echo=True)
    await ana.screen.wait_for("*** Welcome")
    await ana.typist.type("x" * 4500, "/msg nobody hi")
    await ana.screen.wait_for("! nobody called nobody is online")
    member = hub.find("ana")
    assert member is not None
    member.muted = True
    await ana.typist.type("can you hear me?", "/who")
    await ana.screen.wait_for("*** In #lobby")
    assert [line for line in ana.screen.lines if not line.startswith("***")] == [
        "! line too long (max 4096 bytes), dropped",
        "! nobody called nobody is online (see /who)",
        "! you are muted",
    ]


async def test_a_script_gets_no_echo_of_its_own_lines(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    bob = await connector.join("bob")
    script = start_client("bot")
    await script.screen.wait_for("*** Welcome")
    await script.typist.type("hello", "/who")
    await script.screen.wait_for("*** In #lobby")
    assert await bob.until("bot: hello") == ["*** bot joined", "bot: hello"]
    assert not any("bot: hello" in line for line in script.screen.lines)


async def test_the_client_follows_the_room_it_is_in(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    ana = start_client("ana")
    await ana.screen.wait_for("*** Welcome")
    assert ana.client.room == "#lobby"
    await ana.typist.type("/join Dev")
    await ana.screen.wait_for("*** Now in #Dev")
    assert ana.client.room == "#Dev"


# --- passwords --------------------------------------------------------------------------

CHEAP = ScryptCost(n=2**10, r=8, p=1)


@pytest.fixture
async def locked(hub: Hub) -> AsyncIterator[MemoryConnector]:
    """A server that needs the password "door-pw-1" and has ana registered ("ana-pw-12")."""
    guard = Guard(server_password="door-pw-1", cost=CHEAP)
    await guard.register("ana", "ana-pw-12")
    async with trio.open_nursery() as nursery:
        yield MemoryConnector(text_server(hub, guard=guard), nursery)
        nursery.cancel_scope.cancel()


async def test_the_client_sends_the_server_password_and_logs_in_from_its_options(
    locked: MemoryConnector, start_client: StartClient
) -> None:
    ana = start_client("ANA", via=locked, server_password="door-pw-1", password="ana-pw-12")
    await ana.screen.wait_for("*** Welcome, ana!")
    assert ana.client.name == "ana"  # as registered
    assert not any("pw" in line for line in ana.screen.lines)


async def test_an_interactive_client_asks_for_the_passwords_at_prompts_of_its_own(
    locked: MemoryConnector, start_client: StartClient
) -> None:
    ana = start_client("ana", via=locked, interactive=True)
    await ana.screen.wait_for("*** this server needs a password")
    await ana.typist.type("door-pw-1")  # at the prompt "server password: "
    await ana.screen.wait_for("*** ana is a registered name: type its password")
    await ana.typist.type("ana-pw-12")  # at the prompt "password for ana: "
    await ana.screen.wait_for("*** Welcome, ana!")
    # Nothing tells the user to send /pass or /login: the client does that.
    assert not any("/pass" in line or "/login" in line for line in ana.screen.lines)
    assert "*** server password accepted" in ana.screen.lines
    assert not any(line.startswith("! ") for line in ana.screen.lines)


async def test_enter_alone_at_the_password_prompt_chooses_another_name(
    locked: MemoryConnector, start_client: StartClient
) -> None:
    ana = start_client("ana", via=locked, interactive=True, server_password="door-pw-1")
    await ana.screen.wait_for("*** ana is a registered name")
    await ana.typist.type("", "anna")  # no password; then at the prompt "name: "
    await ana.screen.wait_for("*** Welcome, anna!")


async def test_a_wrong_password_typed_is_asked_for_again_without_the_server_password(
    locked: MemoryConnector, start_client: StartClient
) -> None:
    ana = start_client("ana", via=locked, interactive=True, server_password="door-pw-1")
    await ana.screen.wait_for("*** ana is a registered name")
    await ana.typist.type("Wrong-1", "Wrong-2", "ana-pw-12")  # three prompts
    await ana.screen.wait_for("*** Welcome, ana!")
    assert [line for line in ana.screen.lines if "wrong" in line or "try" in line] == [
        "! wrong password for ana",
        "*** try again (2 tries left)",
        "! wrong password for ana",
        "*** try again (1 try left)",
    ]
    assert ana.dialer.dialed == 0  # the server lets the login be tried again: no new connection


async def test_a_wrong_server_password_typed_is_asked_for_again(
    locked: MemoryConnector, start_client: StartClient
) -> None:
    ana = start_client("ana", via=locked, interactive=True, password="ana-pw-12")
    await ana.screen.wait_for("*** this server needs a password")
    await ana.typist.type("Wrong-door", "door-pw-1")
    await ana.screen.wait_for("*** Welcome, ana!")
    assert "*** try again (2 tries left)" in ana.screen.lines


async def test_three_wrong_passwords_end_the_client_clearly(
    locked: MemoryConnector, start_client: StartClient
) -> None:
    ana = start_client("ana", via=locked, interactive=True, server_password="door-pw-1")
    await ana.typist.type("Wrong-1", "Wrong-2", "Wrong-3", "ana-pw-12")
    assert await ana.wait_exit() == EXIT_ENDED
    assert ana.screen.lines[-1] == "! wrong password for ana"
    assert ana.dialer.dialed == 0


async def test_a_script_without_the_server_password_stops_with_the_reason(
    locked: MemoryConnector, start_client: StartClient
) -> None:
    script = start_client("bot", via=locked)
    assert await script.wait_exit() == EXIT_ENDED
    assert "! this server needs a password: send /pass PASSWORD first" in script.screen.lines


async def test_a_script_with_a_wrong_password_stops_at_once(
    locked: MemoryConnector, start_client: StartClient
) -> None:
    script = start_client("ana", via=locked, server_password="door-pw-1", password="nope-nope")
    assert await script.wait_exit() == EXIT_ENDED
    assert script.screen.lines[-1].startswith("! wrong password for ana")
    assert script.dialer.dialed == 0


def test_lines_with_a_password_stay_out_of_the_input_history() -> None:
    from trio_chat.client.keyboard import secret_free_history

    history = secret_free_history()
    typed = ["hello", "/oper Hunter-2-secret", "/REGISTER my secret", "/password new-one"]
    typed += ["/login ana pw", "/pass door", "/msg bob hi", "  /oper again"]
    for line in typed:
        history.append_string(line)
    # What Up/Down can recall (newest first).
    assert history.get_strings()[::-1] == ["/msg bob hi", "hello"]


@pytest.mark.parametrize(
    ("before", "pasted", "after", "sent", "left"),
    [
        ("", "one\ntwo\nthree", "", ["one", "two"], "three"),
        ("say ", "one\n\n  \ntwo\n", "!", ["say one!", "two"], ""),
        ("", "\nonly the rest", "", [], "only the rest"),
    ],
)
def test_a_paste_is_split_into_the_lines_it_sends_and_what_it_leaves(
    before: str, pasted: str, after: str, sent: list[str], left: str
) -> None:
    from trio_chat.client.keyboard import normal_newlines, split_paste

    assert split_paste(before, pasted, after) == (sent, left)
    assert normal_newlines("a\r\nb\rc\n") == "a\nb\nc\n"
