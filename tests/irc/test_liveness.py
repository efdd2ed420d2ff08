"""IRC connections that go quiet, never register, read nothing, or lack a password;
and operators."""

from __future__ import annotations

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
from trio_chat.core.hub import Hub
from trio_chat.irc.session import PING_INTERVAL, PING_TIMEOUT
from trio_chat.text.session import NAME_TIMEOUT


async def test_a_silent_client_is_pinged_and_dropped_if_it_does_not_answer(
    connector: MemoryConnector, irc: IrcConnector, autojump_clock: trio.testing.MockClock
) -> None:
    ana = await irc.join("ana")
    await ana.send("JOIN #lobby")
    await ana.until(":trio-chat 366 ")
    bob = await connector.join("bob")
    assert await ana.line() == ":bob!bob@trio-chat JOIN #lobby"
    start = trio.current_time()
    assert await ana.line(within=PING_INTERVAL + 1) == "PING :trio-chat"
    assert trio.current_time() - start >= PING_INTERVAL
    await ana.send("PONG :trio-chat")
    assert await ana.line(within=PING_INTERVAL + 1) == "PING :trio-chat"
    last = await ana.expect_eof(within=PING_TIMEOUT + 1)
    assert last == [f"ERROR :Closing Link: Ping timeout: {PING_TIMEOUT:.0f} seconds"]
    assert await bob.until("*** ana left") == ["*** ana left (ping timeout)"]


async def test_a_client_that_never_registers_is_closed(
    irc: IrcConnector, autojump_clock: trio.testing.MockClock
) -> None:
    ana = irc.open()
    await ana.send("NICK ana")
    lines = await ana.expect_eof(within=NAME_TIMEOUT + 1)
    assert lines == ["ERROR :Closing Link: Registration timed out"]


async def test_a_client_that_reads_nothing_is_dropped_for_sendq() -> None:
    server = text_server(Hub(outbox_messages=16, outbox_bytes=4096))
    async with trio.open_nursery() as nursery:
        door = IrcConnector(irc_door(server), nursery)
        stuck = door.open(lockstep=True)
        await stuck.register("stuck")
        await stuck.send("JOIN #lobby")
        await stuck.until(":trio-chat 366 ")
        watcher = await door.join("watcher")
        await watcher.send("JOIN #lobby")
        await watcher.until(":trio-chat 366 ")
        ana, bob = await MemoryConnector(server, nursery).members("ana", "bob")
        # stuck reads nothing from now on; its writer blocks in send_all.
        for i in range(100):
            await ana.send(f"message {i}")
        said = [line for line in await bob.until("ana: message 99") if line.startswith("ana: ")]
        assert said == [f"ana: message {i}" for i in range(100)]
        assert "*** stuck left (too slow)" in await ana.until("*** stuck left")
        # IRC users hear it as IRC servers say it
        assert (await watcher.until(":stuck!"))[-1] == ":stuck!stuck@localhost QUIT :SendQ exceeded"
        nursery.cancel_scope.cancel()


async def test_the_server_password_is_pass(tmp_path: Path) -> None:
    secret = tmp_path / "door.txt"
    secret.write_text("sesame\n")
    async with running_app(irc_port=0, password_file=str(secret)) as running:
        wrong = await running.connect_irc()
        await wrong.send("PASS nope", "NICK ana", "USER a 0 * :A")
        assert await wrong.expect_eof() == [
            ":trio-chat 464 ana :Password incorrect",
            "ERROR :Closing Link: Bad password",
        ]
        none = await running.connect_irc()
        await none.send("NICK ana", "USER a 0 * :A")
        assert (await none.expect_eof())[0] == ":trio-chat 464 ana :Password incorrect"
        right = await running.connect_irc()
        await right.send("PASS sesame")
        assert (await right.register("ana"))[0].startswith(":trio-chat CAP * LS")
        for peer in (wrong, none, right):
            await peer.stream.aclose()


async def oper_up(peer: IrcPeer) -> None:
    await peer.send("OPER whoever wrong", "OPER whoever s3cret")
    assert await peer.line() == f":trio-chat 464 {peer.nick} :Password incorrect"
    assert await peer.line() == f":trio-chat 381 {peer.nick} :You are now an IRC operator"
    assert await peer.line() == f":{peer.nick}!{peer.nick}@127.0.0.1 MODE {peer.nick} :+o"


async def test_operators_kick_out_of_a_channel_and_kill(tmp_path: Path) -> None:
    secret = tmp_path / "oper.txt"
    secret.write_text("s3cret\n")
    async with running_app(irc_port=0, oper_password_file=str(secret)) as running:
        bob = await running.connect(running.listener_of("text"))
        await bob.register("bob")
        await bob.send("/join dev")  # bob opens #dev: he runs it
        await bob.until("*** Now in #dev")
        op = await running.connect_irc()
        await op.register("op")
        await op.send("JOIN #dev", "KICK #dev bob")
        await op.until(":trio-chat 366 ")
        assert await op.line() == ":trio-chat 482 op #dev :You're not channel operator"
        await oper_up(op)
        await op.send("NAMES #dev", "KICK #dev bob :off topic")
        assert await op.line() == ":trio-chat 353 op = #dev :@bob @op"
        await op.line()
        assert await op.line() == ":op!op@127.0.0.1 KICK #dev bob :off topic"
        assert (await bob.until("*** bob was put out of #dev"))[-1] == (
            "*** bob was put out of #dev by op: off topic"
        )
        await op.send("KICK #dev bob", "KILL bob :bye", "KILL nobody :x")
        assert await op.line() == ":trio-chat 441 op bob #dev :They aren't on that channel"
        assert await op.line() == ":trio-chat 401 op nobody :No such nick/channel"
        lines = await bob.expect_eof()
        assert lines[-1] == "! you were kicked by op: bye"
        for peer in (op, bob):
            await peer.stream.aclose()


async def test_wallops_goes_to_every_operator_and_only_from_one(tmp_path: Path) -> None:
    secret = tmp_path / "oper.txt"
    secret.write_text("s3cret\n")
    async with running_app(irc_port=0, oper_password_file=str(secret)) as running:
        op = await running.connect_irc()
        await op.register("op")
        await oper_up(op)
        text_op = await running.connect(running.listener_of("text"))
        await text_op.register("tina")
        await text_op.send("/oper s3cret")
        await text_op.until("*** You are an operator now")
        user = await running.connect_irc()
        await user.register("user")
        await user.send("MODE user +w", "WALLOPS :me too", "PING :x")
        assert (
            await user.line()
            == ":trio-chat 481 user :Permission Denied- You're not an IRC operator"
        )
        await op.send("WALLOPS :maintenance at noon")
        assert await op.line() == ":op!op@127.0.0.1 WALLOPS :maintenance at noon"
        assert await text_op.line() == "*** [to operators] op: maintenance at noon"
        assert await user.line() == ":trio-chat PONG trio-chat :x"  # nothing before it
        for peer in (op, text_op, user):
            await peer.stream.aclose()
