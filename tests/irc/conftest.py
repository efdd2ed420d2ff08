"""Real IRC clients for the IRC door's tests: ii, jaraco's irc library, irssi and WeeChat.

Each helper here drives a real client over real TCP against the app that
``running_app(irc_port=0)`` runs in this process, and cleans it up at the end
of its block whatever happened (a leftover ii or irssi would keep its nick and
its files). Waiting is always on the client's own output, under a deadline:
ii's files are followed with ``tail -F`` (woken by the file changing), jaraco's
reactor waits in ``select`` on its socket, and irssi's and WeeChat's screens
(in tmux), which have no event to wait on, are polled as
tests/client/test_terminal.py polls its pane.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import irc.client
import pytest
import trio
import trio.testing

from trio_chat.irc.sasl_plain import plain_response

from ..conftest import STEP_TIMEOUT, IrcPeer, Peer, Running

SCREEN_POLL = 0.05


def irc_port(running: Running) -> int:
    """The port of the app's IRC door."""
    port: int = running.listener_of("irc").socket.getsockname()[1]
    return port


def needs(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"{program} is not installed: these tests need it (.ci/run installs it)")
    return path


# --- ii: files and FIFOs --------------------------------------------------------------------


class FollowedFile:
    """The lines of a file another program appends to, as they come (``tail -F``)."""

    def __init__(self, process: trio.Process) -> None:
        assert process.stdout is not None
        self.process = process
        self.reader = Peer(trio.StapledStream(trio.testing.MemorySendStream(), process.stdout))
        self.seen: list[str] = []

    async def wait_for(self, text: str) -> str:
        """The first line (from the start of the file) containing ``text``."""
        for line in self.seen:
            if text in line:
                return line
        try:
            while True:
                line = await self.reader.line(STEP_TIMEOUT)
                self.seen.append(line)
                if text in line:
                    return line
        except trio.TooSlowError:
            seen = "\n".join(self.seen)
            raise AssertionError(f"no {text!r} in the file; it has:\n{seen}") from None


class Ii:
    """One ii process: ``in`` FIFOs to write, ``out`` files to follow."""

    def __init__(self, home: Path, followers: list[trio.Process]) -> None:
        self.server_dir = home / "127.0.0.1"
        self.followers = followers

    async def say(self, line: str, where: str = "") -> None:
        """Write ``line`` into the ``in`` FIFO of the server (or of channel/query ``where``)."""
        fifo = (self.server_dir / where / "in") if where else self.server_dir / "in"
        # (ii makes a channel's FIFO as it joins: wait for the join in its out file first.)
        with trio.fail_after(STEP_TIMEOUT):
            async with await trio.open_file(fifo, "w") as pipe:
                await pipe.write(line + "\n")

    async def follow(self, where: str = "") -> FollowedFile:
        """The ``out`` file of the server (or of channel/query ``where``)."""
        out = (self.server_dir / where / "out") if where else self.server_dir / "out"
        process = await trio.lowlevel.open_process(
            ["tail", "-n", "+1", "-F", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.followers.append(process)
        return FollowedFile(process)


@asynccontextmanager
async def ii_client(port: int, nick: str, home: Path) -> AsyncIterator[Ii]:
    """``ii -s 127.0.0.1 -p PORT -n NICK -i HOME``, killed (with its tails) at the end."""
    ii = needs("ii")
    process = await trio.lowlevel.open_process(
        [ii, "-s", "127.0.0.1", "-p", str(port), "-n", nick, "-i", str(home), "-f", nick],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    followers: list[trio.Process] = []
    try:
        yield Ii(home, followers)
    finally:
        for child in [process, *followers]:
            if child.returncode is None:
                child.kill()
            with trio.CancelScope(shield=True):
                await child.wait()
            if child.stdout is not None:
                await child.stdout.aclose()


# --- jaraco's irc library, in this process --------------------------------------------------


class Jaraco:
    """A client of the PyPI ``irc`` library; its reactor waits on the socket in a thread."""

    def __init__(self) -> None:
        self.reactor = irc.client.Reactor()
        self.events: list[irc.client.Event] = []
        self.reactor.add_global_handler("all_events", self._record, -10)
        self.connection = self.reactor.server()

    def _record(self, connection: Any, event: irc.client.Event) -> None:
        self.events.append(event)

    async def wait_for(
        self, predicate: Callable[[irc.client.Event], bool], what: str
    ) -> irc.client.Event:
        """The first event (since the start) that ``predicate`` accepts."""
        checked = 0
        with trio.move_on_after(STEP_TIMEOUT):
            while True:
                for event in self.events[checked:]:
                    if predicate(event):
                        return event
                checked = len(self.events)
                await trio.to_thread.run_sync(self.reactor.process_once, SCREEN_POLL)
        seen = "\n".join(f"{e.type} {e.source} {e.target} {e.arguments}" for e in self.events)
        raise AssertionError(f"no {what}; the events:\n{seen}")

    async def wait_for_type(self, kind: str, *arguments: str) -> irc.client.Event:
        return await self.wait_for(
            lambda e: e.type == kind and list(e.arguments[: len(arguments)]) == list(arguments),
            f"{kind} {arguments}",
        )


@asynccontextmanager
async def jaraco_client(port: int, nick: str) -> AsyncIterator[Jaraco]:
    client = Jaraco()
    await trio.to_thread.run_sync(
        lambda: client.connection.connect("127.0.0.1", port, nick, username=nick, ircname=nick)
    )
    try:
        yield client
    finally:
        client.connection.close()


# --- irssi and WeeChat in tmux --------------------------------------------------------------


class Tmux:
    """One program in a detached tmux pane on a tmux server of its own (``-L``)."""

    def __init__(self) -> None:
        self.socket_name = f"trio-chat-irc-{os.getpid()}-{uuid.uuid4().hex[:12]}"

    async def tmux(self, *args: str, check: bool = True) -> str:
        env = {key: value for key, value in os.environ.items() if key != "TMUX"}
        result = await trio.run_process(
            ["tmux", "-L", self.socket_name, "-f", "/dev/null", *args],
            capture_stdout=True,
            capture_stderr=True,
            check=check,
            env=env,
        )
        return result.stdout.decode("utf-8", "replace")

    async def type_line(self, text: str) -> None:
        await self.tmux("send-keys", "-t", "irc", "-l", text)
        await self.tmux("send-keys", "-t", "irc", "Enter")

    async def screen(self) -> str:
        return await self.tmux("capture-pane", "-p", "-t", "irc", "-S", "-")

    async def wait_for_text(self, text: str) -> str:
        screen = ""
        with trio.move_on_after(STEP_TIMEOUT):
            while True:
                screen = await self.screen()
                if text in screen:
                    return screen
                await trio.sleep(SCREEN_POLL)
        raise AssertionError(f"no {text!r} on the client's screen:\n{screen}")


IRSSI_CONFIG = """settings = {
  core = { real_name = "%(nick)s"; user_name = "%(nick)s"; nick = "%(nick)s"; };
  "fe-common/core" = { theme = "default"; show_nickmode = "no"; timestamps = "no"; };
};
"""


@asynccontextmanager
async def tmux_client(command: list[str]) -> AsyncIterator[Tmux]:
    """``command`` in a 120x30 tmux pane of its own; the tmux server is killed at the end."""
    needs("tmux")
    terminal = Tmux()
    socket_path = ""
    try:
        shell = ("sh", "-c", shlex.join(command))
        await terminal.tmux("new-session", "-d", "-s", "irc", "-x", "120", "-y", "30", *shell)
        socket_path = (await terminal.tmux("display-message", "-p", "#{socket_path}")).strip()
        yield terminal
    finally:
        with trio.CancelScope(shield=True):
            await terminal.tmux("kill-server", check=False)
        if socket_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(socket_path)


@asynccontextmanager
async def irssi_client(port: int, nick: str, home: Path) -> AsyncIterator[Tmux]:
    """irssi with a config of its own in ``home``, connected to the door, in a tmux pane."""
    irssi = needs("irssi")
    await trio.Path(home).mkdir(parents=True, exist_ok=True)
    await trio.Path(home / "config").write_text(IRSSI_CONFIG % {"nick": nick})
    command = [irssi, f"--home={home}", "-n", nick, "-c", "127.0.0.1", "-p", str(port)]
    async with tmux_client(command) as terminal:
        yield terminal


@asynccontextmanager
async def weechat_client(port: int, nick: str, home: Path) -> AsyncIterator[Tmux]:
    """WeeChat with an empty home of its own (``--dir``, no user config), connected to the
    door as the server ``lan`` by its ``-r`` commands, in a tmux pane."""
    weechat = needs("weechat")
    await trio.Path(home).mkdir(parents=True, exist_ok=True)
    commands = [
        f"/server add lan 127.0.0.1/{port} -notls",
        f"/set irc.server.lan.nicks {nick}",
        f"/set irc.server.lan.username {nick}",
        "/connect lan",
    ]
    async with tmux_client([weechat, "--dir", str(home), "-r", ";".join(commands)]) as terminal:
        yield terminal


# --- raw IRC users with IRCv3 capabilities --------------------------------------------------


@asynccontextmanager
async def irc_user(running: Running, nick: str, *caps: str) -> AsyncIterator[IrcPeer]:
    """``nick`` registered on the IRC door with ``caps`` (ACKed), after its MOTD."""
    peer = await running.connect_irc()
    async with peer.stream:
        await peer.send("CAP LS 302")
        await peer.until(":trio-chat CAP * LS ")
        if caps:
            await peer.send(f"CAP REQ :{' '.join(caps)}")
            ack = await peer.line()
            assert ack == f":trio-chat CAP * ACK :{' '.join(caps)}", ack
        await peer.send(f"NICK {nick}", f"USER {nick} 0 * :Real {nick}", "CAP END")
        await peer.until(":trio-chat 422 ")
        yield peer


async def register_account(running: Running, name: str, password: str) -> None:
    """Register ``name`` with ``password`` through the text door, as a text user would."""
    text = await running.connect(running.listener_of("text"))
    async with text.stream:
        await text.register(name)
        await text.send(f"/register {password}")
        await text.until(f"*** {name} is registered to you now")
        await text.send("/quit")
        await text.expect_eof()


@asynccontextmanager
async def sasl_user(
    running: Running, nick: str, password: str, *caps: str
) -> AsyncIterator[IrcPeer]:
    """``nick`` logged in to its account with SASL PLAIN and registered, with ``caps`` too."""
    peer = await running.connect_irc()
    async with peer.stream:
        wanted = " ".join(("sasl", *caps))
        await peer.send("CAP LS 302", f"CAP REQ :{wanted}", "AUTHENTICATE PLAIN")
        await peer.until(f":trio-chat CAP * ACK :{wanted}")
        assert await peer.line() == "AUTHENTICATE +"
        await peer.send(*(f"AUTHENTICATE {chunk}" for chunk in plain_response(nick, password)))
        await peer.until(":trio-chat 903 ")
        await peer.send(f"NICK {nick}", f"USER {nick} 0 * :Real {nick}", "CAP END")
        await peer.until(":trio-chat 422 ")
        yield peer


async def quiet(peer: IrcPeer) -> list[str]:
    """Everything the server sent ``peer`` until now: PING, then the lines up to its PONG."""
    await peer.send("PING :sync")
    lines = await peer.until(":trio-chat PONG ")
    return [line for line in lines[:-1]]
