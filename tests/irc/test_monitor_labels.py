"""IRCv3 MONITOR and labeled-response, as an IRC client sees them (over TCP)."""

from __future__ import annotations

from ..conftest import IrcPeer, running_app
from .conftest import irc_user, quiet


async def test_monitor_hears_a_text_user_come_rename_and_go() -> None:
    async with running_app(irc_port=0) as running, irc_user(running, "ana") as ana:
        await ana.send("MONITOR + bob,carl")
        assert await quiet(ana) == [":trio-chat 731 ana :bob,carl"]
        bob = await running.connect(running.listener_of("text"))
        async with bob.stream:
            await bob.register("bob")
            assert await ana.line() == ":trio-chat 730 ana :bob!bob@trio-chat"
            await ana.send("MONITOR S")
            assert sorted(await quiet(ana)) == [
                ":trio-chat 730 ana :bob!bob@trio-chat",
                ":trio-chat 731 ana :carl",
            ]
            await bob.send("/nick carl")
            assert await ana.line() == ":trio-chat 731 ana :bob"
            assert await ana.line() == ":trio-chat 730 ana :carl!carl@trio-chat"
            await bob.send("/quit")
            assert await ana.line() == ":trio-chat 731 ana :carl"


async def test_monitor_lists_removes_and_clears() -> None:
    async with running_app(irc_port=0) as running, irc_user(running, "ana") as ana:
        await ana.send("MONITOR + bob,carl", "MONITOR - bob")
        await quiet(ana)
        await ana.send("MONITOR L")
        assert await quiet(ana) == [
            ":trio-chat 732 ana :carl",
            ":trio-chat 733 ana :End of MONITOR list",
        ]
        await ana.send("MONITOR C", "MONITOR L", "MONITOR + *!*@*")
        assert await quiet(ana) == [
            ":trio-chat 733 ana :End of MONITOR list",
            ":trio-chat 432 ana *!*@* :Erroneous nickname",
        ]
        assert "MONITOR=100" in " ".join(await _isupport(ana))


async def _isupport(ana: IrcPeer) -> list[str]:
    await ana.send("VERSION")
    return [line for line in await quiet(ana) if " 005 " in line]


async def test_a_labeled_command_is_answered_labeled() -> None:
    caps = ("labeled-response", "batch", "echo-message")
    async with running_app(irc_port=0) as running, irc_user(running, "ana", *caps) as ana:
        await ana.send("@label=one PING :x")
        assert await ana.line() == "@label=one :trio-chat PONG trio-chat :x"
        await ana.send("@label=two PONG :x")
        assert await ana.line() == "@label=two :trio-chat ACK"
        await ana.send("@label=three NOSUCHCOMMAND")
        assert await ana.line() == "@label=three :trio-chat 421 ana NOSUCHCOMMAND :Unknown command"
        await ana.send("@label=four JOIN #dev")
        start = await ana.line()
        assert start.startswith("@label=four :trio-chat BATCH +")
        ref = start.split("+")[1].split()[0]
        assert start.endswith(" :labeled-response"), start
        lines = await ana.until(f":trio-chat BATCH -{ref}")
        assert lines[0] == f"@batch={ref} :ana!ana@127.0.0.1 JOIN #dev"
        assert all(line.startswith(f"@batch={ref} ") for line in lines[:-1])
        # The echo of one's own message is the one line of its answer.
        await ana.send("@label=five PRIVMSG #dev :hello")
        echo = await ana.line()
        assert echo.startswith("@label=five")
        assert echo.endswith(":ana!ana@127.0.0.1 PRIVMSG #dev :hello")


async def test_labels_are_not_sent_without_the_capability() -> None:
    async with running_app(irc_port=0) as running, irc_user(running, "ana") as ana:
        await ana.send("@label=one PING :x")
        assert await ana.line() == ":trio-chat PONG trio-chat :x"


async def test_extended_monitor_tells_watchers_of_away_and_setname_without_a_channel() -> None:
    async with (
        running_app(irc_port=0) as running,
        irc_user(running, "ana", "extended-monitor", "away-notify") as ana,
        irc_user(running, "bob") as bob,
        irc_user(running, "cy", "away-notify") as cy,
    ):
        await ana.send("MONITOR + bob")
        await cy.send("MONITOR + bob")
        await quiet(ana)
        await quiet(cy)
        await bob.send("AWAY :out", "SETNAME :Bob B")
        await quiet(bob)
        assert await quiet(ana) == [":bob!bob@127.0.0.1 AWAY :out"]  # no setname cap
        assert await quiet(cy) == []  # no extended-monitor
