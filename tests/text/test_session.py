"""The protocol as a user sees it, over in-memory streams (no sockets)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trio_chat.core.events import Notice, Reason
from trio_chat.core.hub import Hub
from trio_chat.text.codec import MAX_LINE_BYTES
from trio_chat.text.server import TextFrontend

from ..conftest import MemoryConnector, Peer, shut_down, text_server


async def test_welcome_names_who_is_online_and_others_hear_the_join(
    connector: MemoryConnector,
) -> None:
    ana = await connector.join("ana")
    bob = connector.open()
    await bob.line()  # greeting
    await bob.send("bob")
    welcome = await bob.line()
    assert welcome == "*** Welcome, bob! Online: ana. Type /help for commands."
    assert await ana.line() == "*** bob joined"


async def test_chat_reaches_everyone_else_exactly_and_is_not_echoed(
    connector: MemoryConnector,
) -> None:
    ana, bob, carl = await connector.members("ana", "bob", "carl")
    await ana.send("hello everyone")
    assert await bob.line() == "ana: hello everyone"
    assert await carl.line() == "ana: hello everyone"
    # No echo: ana's next line is the answer to her next command.
    await ana.send("/who")
    assert await ana.line() == "*** In #lobby (3): ana, bob, carl"


async def test_blank_lines_are_ignored_and_double_slash_sends_a_literal_slash(
    connector: MemoryConnector,
) -> None:
    ana, bob = await connector.members("ana", "bob")
    await ana.send("", "   ", "//etc/hosts is a file")
    assert await bob.line() == "ana: /etc/hosts is a file"


async def test_lines_after_the_name_in_the_same_chunk_are_chat(
    connector: MemoryConnector,
) -> None:
    bob = await connector.join("bob")
    ana = connector.open()
    await ana.line()
    await ana.send_bytes(b"ana\r\nfirst\r\nsecond\n")
    assert await bob.line() == "*** ana joined"
    assert await bob.line() == "ana: first"
    assert await bob.line() == "ana: second"


async def test_name_rules_give_a_reason_and_let_the_user_try_again(
    connector: MemoryConnector,
) -> None:
    await connector.join("Ana")
    peer = connector.open()
    await peer.line()
    await peer.send("")
    assert (await peer.line()).startswith("! a name is needed")
    await peer.send("bad name")
    assert (await peer.line()).startswith("! invalid character ' ' in name")
    await peer.send("x" * 33)
    assert (await peer.line()).startswith("! name too long (max 32 characters)")
    await peer.send("ANA")
    assert await peer.line() == "! the name ANA is taken; try another name"
    await peer.send("\uff41\uff4e\uff41")  # fullwidth "ana": the same name after NFKC
    assert (await peer.line()).startswith("! the name")
    await peer.send("José")
    assert (await peer.line()).startswith("*** Welcome, José!")


async def test_commands(connector: MemoryConnector) -> None:
    ana, bob, carl = await connector.members("ana", "bob", "carl")

    await ana.send("/me waves")
    assert await bob.line() == "* ana waves"
    assert await carl.line() == "* ana waves"

    await ana.send("/msg bob just for you")
    assert await bob.line() == "[private] ana: just for you"
    await ana.send("/msg nobody hello")
    assert await ana.line() == "! nobody called nobody is online (see /who)"

    await ana.send("/nick anita")
    for peer in (ana, bob, carl):
        assert await peer.line() == "*** ana is now known as anita"
    await bob.send("/msg anita hi")
    assert await ana.line() == "[private] bob: hi"
    await bob.send("/nick CARL")
    assert await bob.line() == "! the name CARL is taken"
    await bob.send("/nick")
    assert await bob.line() == "! usage: /nick NEW"
    # A bad name says which rule it breaks, one word or several.
    await bob.send("/nick bad!", "/nick bad name!")
    rule = "in name: use letters, digits and _-[]\\`^{}|"
    assert [await bob.line() for _ in range(2)] == [
        f"! invalid character '!' {rule}",
        f"! invalid character ' ' {rule}",
    ]

    await ana.send("/help")
    help_lines = await ana.until("***   //TEXT")
    assert help_lines[0] == "*** Commands:"
    for command in ("/who", "/msg NAME TEXT", "/me ACTION", "/nick NEW", "/quit", "/help"):
        assert any(command in line for line in help_lines), command

    await ana.send("/dance")
    assert await ana.line() == "! unknown command /dance: type /help for the list"

    await carl.send("/quit see you")
    assert await carl.expect_eof() == ["*** Bye!"]
    assert await ana.line() == "*** carl left (see you)"
    assert await bob.line() == "*** carl left (see you)"


async def test_over_long_line_is_refused_and_the_connection_stays_usable(
    connector: MemoryConnector,
) -> None:
    ana, bob = await connector.members("ana", "bob")
    await ana.send("x" * (MAX_LINE_BYTES + 1), "still here")
    assert await ana.line() == f"! line too long (max {MAX_LINE_BYTES} bytes), dropped"
    assert await bob.line() == "ana: still here"
    await ana.send("y" * MAX_LINE_BYTES)
    assert await bob.line() == "ana: " + "y" * MAX_LINE_BYTES


async def test_invalid_utf8_is_refused_and_control_characters_never_reach_others(
    connector: MemoryConnector,
) -> None:
    ana, bob = await connector.members("ana", "bob")
    await ana.send_bytes(b"caf\xe9\n")
    assert await ana.line() == "! invalid UTF-8, line dropped"
    await ana.send_bytes("\x1b[2J\x1b]0;pwned\x07red \x1b[31mtext\x1b[0m\x08\x00\x9b1m!\n".encode())
    assert await bob.line() == "ana: red text!"
    await ana.send("/me \x1b[5mblinks\u202e")
    assert await bob.line() == "* ana blinks"


async def test_a_client_that_stops_reading_is_dropped_and_others_lose_nothing() -> None:
    hub = Hub(outbox_messages=16, outbox_bytes=4096)
    server = text_server(hub)
    async with trio.open_nursery() as nursery:
        connector = MemoryConnector(server, nursery)
        stalled = await connector.join("stalled", lockstep=True)
        ana, bob = await connector.members("ana", "bob")
        # stalled reads nothing from now on; its writer blocks in send_all.
        for i in range(200):
            await ana.send(f"message {i}")
        lines = [line for line in await bob.until("ana: message 199") if line.startswith("ana: ")]
        assert lines == [f"ana: message {i}" for i in range(200)]
        assert hub.names() == ["ana", "bob"]
        assert "*** stalled left (too slow)" in await ana.until("*** stalled left")
        del stalled
        nursery.cancel_scope.cancel()


async def test_a_paste_of_hundreds_of_lines_in_one_read_does_not_drop_a_reader(
    connector: MemoryConnector,
) -> None:
    ana, bob = await connector.members("ana", "bob")
    paste = [f"line {i}: " + "z" * 100 for i in range(800)]
    await ana.send(*paste)  # one send_all: one receive_some on the server
    received = [await bob.line() for _ in paste]
    assert received == [f"ana: {line}" for line in paste]


async def test_eof_mid_line_delivers_the_line_and_announces_the_leave(
    connector: MemoryConnector, hub: Hub
) -> None:
    ana, bob = await connector.members("ana", "bob")
    await ana.send_bytes(b"last words")
    await ana.stream.aclose()
    assert await bob.line() == "ana: last words"
    assert await bob.line() == "*** ana left (connection closed)"
    assert hub.names() == ["bob"]


async def test_half_close_still_delivers_replies(connector: MemoryConnector) -> None:
    client, server_side = trio.testing.memory_stream_pair()
    connector.nursery.start_soon(connector.server.handle, server_side, "half")

    peer = Peer(client)
    await peer.send("ana", "/who")
    await client.send_eof()
    lines = await peer.expect_eof()
    assert lines[-1] == "*** In #lobby (1): ana"


async def test_no_name_within_the_timeout_closes_the_connection(
    connector: MemoryConnector, autojump_clock: trio.testing.MockClock
) -> None:
    peer = connector.open()
    start = trio.current_time()
    lines = await peer.expect_eof(within=120)
    assert lines[-1] == "! no name chosen within 60 s, closing"
    assert trio.current_time() - start >= 60


async def test_server_full(hub: Hub) -> None:
    server = text_server(hub, max_clients=2)
    async with trio.open_nursery() as nursery:
        connector = MemoryConnector(server, nursery)
        await connector.join("ana")
        await connector.join("bob")
        third = connector.open()
        assert await third.expect_eof() == ["! server full"]
        nursery.cancel_scope.cancel()


async def test_shutdown_tells_everyone_and_closes_every_connection(
    hub: Hub, autojump_clock: trio.testing.MockClock
) -> None:
    server = text_server(hub)
    async with trio.open_nursery() as nursery:
        connector = MemoryConnector(server, nursery)
        ana = await connector.join("ana")
        bob = await connector.join("bob")
        deaf = await connector.join("deaf", lockstep=True)  # never reads again
        unnamed = connector.open()
        await unnamed.line()
        await ana.until("*** deaf joined")
        await bob.until("*** deaf joined")
        shut_down(server, grace=3)
        assert await ana.expect_eof() == ["*** server shutting down"]
        assert await bob.expect_eof() == ["*** server shutting down"]
        assert await unnamed.expect_eof() == ["*** server shutting down"]
        del deaf
    # The nursery is done: the deaf client's session was cut at the grace deadline.
    assert len(hub) == 0
    assert server.admission.connections == 0


async def test_hub_is_empty_and_no_task_is_left_after_everyone_leaves(
    server: TextFrontend, hub: Hub
) -> None:
    async with trio.open_nursery() as nursery:
        connector = MemoryConnector(server, nursery)
        peers = [await connector.join(name) for name in ("ana", "bob", "carl")]
        await peers[0].send("/quit")
        await peers[1].stream.aclose()
        await peers[2].send_bytes(b"/QUIT\r\n")
        await peers[0].expect_eof()
        await peers[2].expect_eof()
        await trio.testing.wait_all_tasks_blocked()
        assert len(hub) == 0
        assert server.admission.connections == 0
        assert len(nursery.child_tasks) == 0


async def test_a_flood_of_short_lines_in_one_read_drops_no_healthy_reader(
    connector: MemoryConnector, hub: Hub
) -> None:
    ana, bob = await connector.members("ana", "bob")
    # 6000 lines in one write: more than an outbox holds (4096 messages).
    await ana.send_bytes(b"".join(b"%d\n" % i for i in range(6000)))
    received = [await bob.line() for _ in range(6000)]
    assert received == [f"ana: {i}" for i in range(6000)]
    assert hub.names() == ["ana", "bob"]


async def test_a_member_dropped_mid_chunk_says_nothing_more() -> None:
    hub = Hub(outbox_messages=64)
    server = text_server(hub)
    async with trio.open_nursery() as nursery:
        connector = MemoryConnector(server, nursery)
        bob = await connector.join("bob")
        # mallory never reads: her own /help answers fill her outbox.
        mallory = await connector.join("mallory", lockstep=True)
        await bob.until("*** mallory joined")
        nursery.start_soon(
            mallory.send_bytes, b"/help\n" * 50 + b"I was dropped but still talk\n/nick zed\n"
        )
        assert await bob.line() == "*** mallory left (too slow)"
        await bob.send("/who *")
        assert await bob.line() == "*** Online (1): bob"
        assert hub.names() == ["bob"]
        nursery.cancel_scope.cancel()


async def test_a_crowd_is_summed_up_in_the_welcome_and_listed_over_several_lines(
    hub: Hub,
) -> None:
    async with trio.open_nursery() as nursery:
        connector = MemoryConnector(text_server(hub, max_clients=100), nursery)
        crowd = [await connector.join(f"user{i:02}") for i in range(60)]
        await crowd_arrives(connector, crowd)
        nursery.cancel_scope.cancel()


async def crowd_arrives(connector: MemoryConnector, crowd: list[Peer]) -> None:
    ana = connector.open()
    await ana.line()
    await ana.send("ana")
    assert await ana.line() == (
        "*** Welcome, ana! Online: 60 others (/who * lists them). Type /help for commands."
    )
    await ana.send("/who *")
    assert await ana.line() == "*** Online (61):"
    first, second = await ana.line(), await ana.line()
    assert first.startswith("***   ana, user00, ")
    assert len(first.split(", ")) == 50
    assert len(second.split(", ")) == 11


async def test_names_in_scripts_with_combining_marks(connector: MemoryConnector) -> None:
    peer = connector.open()
    await peer.line()
    await peer.send("नमस्ते")
    assert (await peer.line()).startswith("*** Welcome, नमस्ते!")


async def test_an_over_long_topic_is_refused(connector: MemoryConnector) -> None:
    ana = await connector.join("ana")
    await ana.send("/topic " + "t" * 301)
    assert await ana.line() == "! topic too long (max 300 characters)"
    await ana.send("/topic " + "t" * 300)
    assert (await ana.line()).startswith("*** ana set the topic of #lobby: ttt")


async def test_a_dismissed_member_that_keeps_sending_ends_by_the_dismissal_deadline(
    server: TextFrontend, autojump_clock: trio.testing.MockClock
) -> None:
    # Kicked while not reading: its writer may deliver the reason until the
    # deadline given. A line it sends meanwhile ends its reader, which must
    # not push that deadline later (to the usual drain time after a /quit).
    client, server_side = trio.testing.lockstep_stream_pair()
    ana = Peer(client)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.handle, server_side, "memory:1")
        await ana.register("ana")
        member = server.hub.find("ana")
        assert member is not None
        server.hub.deliver(member, Notice("x" * 100))  # stuck: ana does not read
        start = trio.current_time()
        server.hub.dismiss(member, Reason.KICKED, start + 2.0, by="op")
        await ana.send("hello?")
    # The session (and its handler) ended at the dismissal's deadline.
    assert trio.current_time() - start == pytest.approx(2.0)


async def test_a_connection_arriving_as_the_server_shuts_down_hears_only_that(
    server: TextFrontend, connector: MemoryConnector
) -> None:
    server.hub.shutdown("server shutting down")
    server.shutdown(trio.current_time() + 3)  # as the app does, before this one came
    peer = connector.open()
    assert await peer.expect_eof() == ["*** server shutting down"]
