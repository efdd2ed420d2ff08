"""Real IRC clients in the same rooms as text (nc) users, over real TCP.

ii (Debian's), jaraco's ``irc`` library (PyPI), irssi and WeeChat (in tmux) each join a
room where a text user already spoke: they get that history on joining, then
chat both ways with the text user. The text user is a raw TCP connection, as
``nc`` would be.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from ..conftest import Peer, Running, running_app
from .conftest import ii_client, irc_port, irssi_client, jaraco_client, weechat_client


@asynccontextmanager
async def text_user(running: Running, name: str, room: str) -> AsyncIterator[Peer]:
    """A text user ``name`` in ``room`` (its "Now in" line read), as with nc."""
    peer = await running.connect()
    async with peer.stream:
        await peer.register(name)
        await peer.send(f"/join {room}")
        await saw(peer, f"*** Now in #{room}")
        yield peer


async def saw(peer: Peer, text: str) -> str:
    """Read the text user's lines up to the first one containing ``text``."""
    seen: list[str] = []
    try:
        while True:
            seen.append(await peer.line())
            if text in seen[-1]:
                return seen[-1]
    except trio.TooSlowError:
        lines = "\n".join(seen)
        raise AssertionError(f"the text user saw no {text!r}; it saw:\n{lines}") from None


async def test_ii_chats_with_a_text_user_both_ways_and_gets_the_history(tmp_path: Path) -> None:
    async with running_app(irc_port=0) as running, text_user(running, "ana", "dev") as ana:
        await ana.send("said before ii came")
        async with ii_client(irc_port(running), "iris", tmp_path / "ii") as ii:
            server = await ii.follow()
            await server.wait_for("iris")  # the welcome, once registered
            await ii.say("/j #dev")
            dev = await ii.follow("#dev")
            replayed = await dev.wait_for("said before ii came")
            assert replayed.split(" ", 2)[1] == "<ana>", replayed  # "<unix time> <ana> [when] ..."
            await saw(ana, "iris joined")
            await ana.send("hello iris")
            await dev.wait_for("<ana> hello iris")
            await ii.say("hello ana, from ii", "#dev")
            await saw(ana, "iris: hello ana, from ii")
            await ii.say("/j ana psst")  # a private message to the text user
            await saw(ana, "psst")


async def test_the_irc_library_chats_with_a_text_user_both_ways() -> None:
    async with running_app(irc_port=0) as running, text_user(running, "ana", "dev") as ana:
        await ana.send("history for the bot")
        async with jaraco_client(irc_port(running), "botty") as bot:
            await bot.wait_for_type("welcome")
            bot.connection.join("#dev")
            names = await bot.wait_for_type("namreply")
            assert {"ana", "botty"} <= {n.lstrip("@+") for n in names.arguments[-1].split()}
            replayed = await bot.wait_for(
                lambda e: e.type == "pubmsg" and e.arguments[0].endswith("history for the bot"),
                "the history replayed",
            )
            assert replayed.source.nick == "ana"
            await saw(ana, "botty joined")
            await ana.send("hi botty")
            live = await bot.wait_for_type("pubmsg", "hi botty")
            assert (live.source.nick, live.target) == ("ana", "#dev")
            bot.connection.privmsg("#dev", "hi ana")
            await saw(ana, "botty: hi ana")
            bot.connection.action("#dev", "waves")
            await saw(ana, "* botty waves")
            await ana.send("/msg botty a secret")
            private = await bot.wait_for_type("privmsg", "a secret")
            assert (private.source.nick, private.target) == ("ana", "botty")


async def test_irssi_chats_with_a_text_user_both_ways_and_gets_the_history(
    tmp_path: Path,
) -> None:
    async with running_app(irc_port=0) as running, text_user(running, "ana", "dev") as ana:
        await ana.send("from before irssi")
        async with irssi_client(irc_port(running), "issa", tmp_path / "irssi") as irssi:
            await irssi.wait_for_text("Welcome")
            await irssi.type_line("/join #dev")
            await irssi.wait_for_text("from before irssi")
            await saw(ana, "issa joined")
            await ana.send("hello issa")
            await irssi.wait_for_text("hello issa")
            await irssi.type_line("hello ana, from irssi")
            await saw(ana, "issa: hello ana, from irssi")
            await irssi.type_line("/me waves")
            await saw(ana, "* issa waves")
            await irssi.type_line("/quit see you")
            await saw(ana, "issa")


async def test_weechat_chats_with_a_text_user_both_ways_and_gets_the_history(
    tmp_path: Path,
) -> None:
    async with running_app(irc_port=0) as running, text_user(running, "ana", "dev") as ana:
        await ana.send("from before weechat")
        async with weechat_client(irc_port(running), "wena", tmp_path / "weechat") as weechat:
            await weechat.wait_for_text("Welcome to the trio-chat IRC network wena")
            await weechat.type_line("/join #dev")
            await weechat.wait_for_text("ana | from before weechat")  # "@ana | ...": its sender
            await saw(ana, "wena joined")
            await ana.send("hello wena")
            await weechat.wait_for_text("ana | hello wena")
            await weechat.type_line("hello ana, from weechat")
            await saw(ana, "wena: hello ana, from weechat")
            await weechat.type_line("/me waves")
            await saw(ana, "* wena waves")
            await weechat.type_line("/quit see you")
            await saw(ana, "wena left (see you)")
