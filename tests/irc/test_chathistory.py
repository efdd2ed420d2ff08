"""IRCv3 draft/chathistory over TCP: the room's history in batches, by msgid and time."""

from __future__ import annotations

import re
import time

import trio

from ..conftest import IrcPeer, running_app
from .conftest import irc_user, quiet

CAPS = ("batch", "server-time", "message-tags", "echo-message", "draft/chathistory")


def batch_of(lines: list[str]) -> list[str]:
    """The texts inside the one chathistory batch of ``lines``."""
    start = next(line for line in lines if " BATCH +" in line)
    ref = start.split("+")[1].split()[0]
    end = lines.index(f":trio-chat BATCH -{ref}")
    inside = lines[lines.index(start) + 1 : end]
    assert all(line.startswith(f"@batch={ref};") for line in inside), inside
    return [line.rsplit(" :", 1)[1] for line in inside]


async def next_millisecond() -> None:
    """Until the clock (the server's: same process) is in a later millisecond."""
    start = time.time_ns() // 1_000_000
    while time.time_ns() // 1_000_000 == start:
        await trio.lowlevel.checkpoint()


async def said(peer: IrcPeer, count: int, *, apart: bool = False) -> list[str]:
    """Say "m0".."m{count-1}" in #dev; their msgids (from the echoes). ``apart``: each
    in its own millisecond, as ``timestamp=`` references tell them apart."""
    ids: list[str] = []
    for i in range(count):
        if apart and i:
            await next_millisecond()
        await peer.send(f"PRIVMSG #dev :m{i}")
        echo = await peer.line()
        found = re.search(r"msgid=(\d+)", echo)
        assert found, echo
        ids.append(found.group(1))
    return ids


async def test_latest_before_after_around_between() -> None:
    async with running_app(irc_port=0) as running, irc_user(running, "ana", *CAPS) as ana:
        await ana.send("JOIN #dev")
        await quiet(ana)
        ids = await said(ana, 6)
        ask = {
            "LATEST #dev * 3": ["m3", "m4", "m5"],
            f"LATEST #dev msgid={ids[3]} 10": ["m4", "m5"],
            f"BEFORE #dev msgid={ids[3]} 2": ["m1", "m2"],
            f"AFTER #dev msgid={ids[3]} 5": ["m4", "m5"],
            f"AROUND #dev msgid={ids[2]} 3": ["m1", "m2", "m3"],
            f"BETWEEN #dev msgid={ids[0]} msgid={ids[4]} 10": ["m1", "m2", "m3"],
            f"BETWEEN #dev msgid={ids[4]} msgid={ids[0]} 2": ["m2", "m3"],
        }
        for request, texts in ask.items():
            await ana.send(f"CHATHISTORY {request}")
            assert batch_of(await quiet(ana)) == texts, request


async def test_timestamps_targets_and_refusals() -> None:
    async with running_app(irc_port=0) as running, irc_user(running, "ana", *CAPS) as ana:
        await ana.send("JOIN #dev")
        await quiet(ana)
        await said(ana, 2, apart=True)
        await ana.send("CHATHISTORY LATEST #dev * 1")
        lines = await quiet(ana)
        when = re.search(r"time=([^;ed ]+Z)", lines[1])
        assert when, lines
        await ana.send(f"CHATHISTORY BEFORE #dev timestamp={when.group(1)} 5")
        assert batch_of(await quiet(ana)) == ["m0"]
        await ana.send(
            "CHATHISTORY TARGETS timestamp=2020-01-01T00:00:00.000Z"
            " timestamp=2262-01-01T00:00:00.000Z 10"
        )
        targets = await quiet(ana)
        assert targets[0].endswith(" :draft/chathistory-targets")
        assert targets[1].endswith(f" :trio-chat CHATHISTORY TARGETS #dev :{when.group(1)}")
        await ana.send("CHATHISTORY LATEST #elsewhere * 10", "CHATHISTORY SIDEWAYS #dev * 1")
        assert await quiet(ana) == [
            ":trio-chat FAIL CHATHISTORY INVALID_TARGET LATEST #elsewhere"
            " :You are not in that channel",
            ":trio-chat FAIL CHATHISTORY INVALID_PARAMS SIDEWAYS :Unknown subcommand",
        ]
        await ana.send("VERSION")
        isupport = " ".join(line for line in await quiet(ana) if " 005 " in line)
        assert "CHATHISTORY=100" in isupport
        assert "MSGREFTYPES=msgid,timestamp" in isupport
