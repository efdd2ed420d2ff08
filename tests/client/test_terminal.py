"""The interactive client in a real terminal: `trio-chat client` inside tmux.

Each test starts the real server, runs the client in a detached tmux session
on a private socket (``tmux -L``, never the user's tmux), types with
``send-keys`` and reads the screen with ``capture-pane``. Polling the screen of
an external terminal is the only way to wait for it, so ``wait_for_screen``
polls, always under a deadline. Another participant, bob, is a raw TCP
connection from the test; it reads with ``until`` so that informational
lines the server may add (rooms, history) do not matter.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trio

from trio_chat.client.rules import EXIT_ENDED
from trio_chat.client.server_lines import NAME_TAKEN, WELCOME
from trio_chat.i18n import Words, words_for

from ..conftest import STEP_TIMEOUT, TRIO_CHAT, Peer, running_server

WIDTH, HEIGHT = 100, 20
POLL_INTERVAL = 0.05
# The shell's `echo EXIT=$?` after the client; at a line start if the client
# left the terminal in a sane state (it may be followed by junk if not).
EXIT_LINE = re.compile(r"^EXIT=(\d+)", re.MULTILINE)
# What must never be on the screen: Python's and prompt_toolkit's error reports.
ERROR_MARKERS = ("Traceback", "Unhandled exception", "Press ENTER to continue")


def lines_of(screen: str) -> list[str]:
    """The screen's lines without trailing blanks, and without the empty lines below."""
    lines = [line.rstrip() for line in screen.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def said_by(name: str, screen: str) -> list[str]:
    """The live chat lines of ``name`` on the screen (after their time)."""
    return [line for line in lines_of(screen) if re.match(rf"\[\d\d:\d\d\] {name}: ", line)]


def assert_clean(screen: str) -> None:
    for marker in ERROR_MARKERS:
        assert marker not in screen, f"{marker!r} on the screen:\n{screen}"


def assert_in_order(screen: str, *wanted: str) -> None:
    """Each of ``wanted`` is a whole line of the screen (after its time), in this order."""
    lines = [re.sub(r"^\[\d\d:\d\d\] ", "", line) for line in lines_of(screen)]
    start = 0
    for line in wanted:
        assert line in lines[start:], f"no line {line!r} (after {start}); the screen:\n{screen}"
        start = lines.index(line, start) + 1


class Terminal:
    """A tmux pane running one command, on a tmux server of its own."""

    def __init__(self, socket_name: str) -> None:
        self.socket_name = socket_name
        self.target = "chat"

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

    async def start(self, command: str) -> None:
        await self.tmux(
            "new-session",
            "-d",
            "-s",
            self.target,
            "-x",
            str(WIDTH),
            "-y",
            str(HEIGHT),
            # argv form: tmux runs sh itself, whatever the user's $SHELL is.
            "sh",
            "-c",
            command,
        )

    async def send_keys(self, *keys: str) -> None:
        """Named keys, as tmux spells them: "Enter", "C-c", "C-d"."""
        await self.tmux("send-keys", "-t", self.target, *keys)

    async def type(self, text: str) -> None:
        """Literal text, no Enter."""
        await self.tmux("send-keys", "-t", self.target, "-l", text)

    async def paste(self, text: str) -> None:
        """Paste ``text`` as a terminal does (bracketed, if the program asked for that)."""
        await self.tmux("set-buffer", "-b", "paste", "--", text)
        await self.tmux("paste-buffer", "-p", "-d", "-b", "paste", "-t", self.target)

    async def screen(self) -> str:
        """The whole pane, scrolled-off history included."""
        return await self.tmux("capture-pane", "-p", "-t", self.target, "-S", "-")

    async def wait_for_screen(self, predicate: Callable[[str], bool], what: str = "") -> str:
        """Poll the pane until ``predicate(screen)``; return that screen."""
        screen = ""
        try:
            with trio.fail_after(STEP_TIMEOUT):
                while True:
                    screen = await self.screen()
                    if predicate(screen):
                        return screen
                    await trio.sleep(POLL_INTERVAL)
        except trio.TooSlowError:
            raise AssertionError(
                f"timed out waiting for {what or predicate!r}; the screen:\n{screen}"
            ) from None

    async def wait_for_text(self, text: str) -> str:
        return await self.wait_for_screen(lambda screen: text in screen, repr(text))

    async def wait_for_prompt(self, prompt: str) -> str:
        """Wait until the last non-empty line is ``prompt`` (typed text included)."""
        return await self.wait_for_screen(
            lambda screen: lines_of(screen)[-1:] == [prompt.rstrip()], f"prompt {prompt!r}"
        )

    async def exit_code(self) -> tuple[int, str]:
        """Wait for the client to end; its exit code and the screen."""
        screen = await self.wait_for_screen(
            lambda screen: EXIT_LINE.search(screen) is not None, "EXIT=<code> at a line start"
        )
        match = EXIT_LINE.search(screen)
        assert match is not None
        code = int(match.group(1))
        assert f"EXIT={code}" in lines_of(screen), f"junk after EXIT={code}:\n{screen}"
        return code, screen

    async def assert_usable(self, screen: str) -> None:
        """After the client: no error report, and typing is echoed (cooked mode again)."""
        assert_clean(screen)
        await self.type("still echoing")
        after = await self.wait_for_screen(
            lambda screen: "still echoing" in screen.partition("EXIT=")[2],
            "typed text echoed after the client exited (is the terminal still raw?)",
        )
        assert_clean(after)


@dataclass(frozen=True)
class Speaker:
    """Who types at the client: the language, and how the client learns it."""

    lang: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def words(self) -> Words:
        return words_for(self.lang)


ENGLISH = Speaker("en")
SPANISH_BY_OPTION = Speaker("es", ("--lang", "es"))
# LC_CTYPE keeps the terminal UTF-8 where no es_ES locale is installed.
SPANISH_BY_LOCALE = Speaker("es", env={"LANG": "es_ES.UTF-8", "LC_CTYPE": "C.UTF-8"})


@asynccontextmanager
async def terminal_client(
    port: int, *extra: str, speaker: Speaker = ENGLISH
) -> AsyncIterator[Terminal]:
    """`trio-chat client --host 127.0.0.1 --port PORT *extra` in a fresh tmux pane."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed: these tests need it (CI installs it via .ci/run)")
    env = [f"{key}={value}" for key, value in speaker.env.items()]
    client = shlex.join(
        [
            *(["env", *env] if env else []),
            TRIO_CHAT,
            "client",
            *speaker.args,
            *extra,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
    )
    terminal = Terminal(f"trio-chat-test-{os.getpid()}-{uuid.uuid4().hex[:12]}")
    socket_path = ""
    try:
        await terminal.start(f"{client}; echo EXIT=$?; sleep 60")
        socket_path = (await terminal.tmux("display-message", "-p", "#{socket_path}")).strip()
        yield terminal
    finally:
        with trio.CancelScope(shield=True):
            await terminal.tmux("kill-server", check=False)
        if socket_path:  # tmux leaves its socket file behind
            with contextlib.suppress(FileNotFoundError):
                os.unlink(socket_path)


@asynccontextmanager
async def connect(port: int) -> AsyncIterator[Peer]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        yield Peer(stream)


async def test_typing_is_never_garbled_by_incoming_lines() -> None:
    async with running_server() as (_, port), connect(port) as bob:
        await bob.register("bob")
        async with terminal_client(port, "--name", "ana") as term:
            await term.wait_for_prompt("[#lobby] ana> ")
            await bob.until("*** ana joined")

            await term.type("hello wor")
            await term.wait_for_prompt("[#lobby] ana> hello wor")
            await bob.send("hi ana, how are you?")
            # The prompt is erased and redrawn around the new line: wait for the
            # redraw to end (a garbled line would never look like this).
            await term.wait_for_screen(
                lambda screen: (
                    (lines := lines_of(screen))[-1:] == ["[#lobby] ana> hello wor"]
                    and any(line.endswith("] bob: hi ana, how are you?") for line in lines[:-1])
                ),
                "bob's line above the intact prompt '[#lobby] ana> hello wor'",
            )

            await term.type("ld")
            await term.send_keys("Enter")
            assert (await bob.until("ana: "))[-1] == "ana: hello world"
            await term.wait_for_prompt("[#lobby] ana> ")


async def test_quit_command_leaves_with_exit_0() -> None:
    async with running_server() as (_, port), connect(port) as bob:
        await bob.register("bob")
        async with terminal_client(port, "--name", "ana") as term:
            await term.wait_for_prompt("[#lobby] ana> ")
            await bob.until("*** ana joined")
            await term.type("/quit")
            await term.send_keys("Enter")
            assert (await bob.until("*** ana left"))[-1] == "*** ana left"
            code, screen = await term.exit_code()
            assert code == 0, screen
            await term.assert_usable(screen)


async def test_ctrl_c_at_the_prompt_quits_cleanly() -> None:
    async with running_server() as (_, port), connect(port) as bob:
        await bob.register("bob")
        async with terminal_client(port, "--name", "ana") as term:
            await term.wait_for_prompt("[#lobby] ana> ")
            await bob.until("*** ana joined")
            await term.type("never sent")
            await term.wait_for_prompt("[#lobby] ana> never sent")
            await term.send_keys("C-c")
            assert (await bob.until("*** ana left"))[-1] == "*** ana left"
            code, screen = await term.exit_code()
            assert code == 0, screen
            await term.assert_usable(screen)


async def test_ctrl_d_on_an_empty_prompt_quits() -> None:
    async with running_server() as (_, port), connect(port) as bob:
        await bob.register("bob")
        async with terminal_client(port, "--name", "ana") as term:
            await term.wait_for_prompt("[#lobby] ana> ")
            await bob.until("*** ana joined")
            await term.send_keys("C-d")
            assert (await bob.until("*** ana left"))[-1] == "*** ana left"
            code, screen = await term.exit_code()
            assert code == 0, screen
            await term.assert_usable(screen)


@pytest.mark.parametrize("speaker", [ENGLISH, SPANISH_BY_LOCALE], ids=["en", "es-LANG"])
async def test_server_shutdown_while_typing_ends_with_exit_3_without_reconnecting(
    speaker: Speaker,
) -> None:
    _ = speaker.words
    async with running_server() as (server, port):
        async with terminal_client(
            port, "--name", "ana", "--no-reconnect", speaker=speaker
        ) as term:
            await term.wait_for_prompt("[#lobby] ana> ")
            await term.type("half typed")
            await term.wait_for_prompt("[#lobby] ana> half typed")

            server.process.send_signal(signal.SIGINT)
            code, screen = await term.exit_code()
            assert code == EXIT_ENDED, screen
            assert_in_order(
                screen,
                "*** " + _("server shutting down"),  # the server's words, in our language
                {
                    "en": "*** disconnected: the server closed the connection",
                    "es": "*** desconectado: el servidor cerró la conexión",
                }[speaker.lang],
                "EXIT=3",
            )
            await term.assert_usable(screen)
        assert await server.exit_code() == 0


@pytest.mark.parametrize("speaker", [ENGLISH, SPANISH_BY_OPTION], ids=["en", "es"])
async def test_a_taken_name_asks_for_another(speaker: Speaker) -> None:
    _ = speaker.words
    async with running_server() as (__, port), connect(port) as bob:
        await bob.register("ana")
        async with terminal_client(port, "--name", "ana", speaker=speaker) as term:
            await term.wait_for_prompt({"en": "name: ", "es": "nombre: "}[speaker.lang])
            screen = await term.screen()
            assert "! " + _(NAME_TAKEN, name="ana") in screen, screen
            assert "/lang" not in screen, screen
            await term.type("ana2")
            await term.send_keys("Enter")
            await term.wait_for_text("*** " + _(WELCOME).split("{online}")[0].format(name="ana2"))
            await term.wait_for_prompt("[#lobby] ana2> ")
            await bob.until("*** ana2 joined")


async def test_up_arrow_recalls_earlier_lines_and_the_prompt_follows_the_room() -> None:
    async with running_server() as (_, port), connect(port) as bob:
        await bob.register("bob")
        async with terminal_client(port, "--name", "ana") as term:
            await term.wait_for_prompt("[#lobby] ana> ")
            await bob.until("*** ana joined")
            await term.type("first line")
            await term.send_keys("Enter")
            assert (await bob.until("ana: first line"))[-1] == "ana: first line"
            # Own lines are shown as the others see them.
            await term.wait_for_screen(
                lambda screen: any(line.endswith("] ana: first line") for line in lines_of(screen)),
                "ana's own line shown",
            )
            await term.send_keys("Up")
            await term.wait_for_prompt("[#lobby] ana> first line")
            await term.send_keys("C-u")  # clear the recalled line
            await term.type("/join dev")
            await term.send_keys("Enter")
            await term.wait_for_prompt("[#dev] ana> ")


@pytest.mark.parametrize("speaker", [ENGLISH, SPANISH_BY_OPTION], ids=["en", "es"])
async def test_the_server_password_is_asked_at_a_prompt_that_hides_it(
    tmp_path: Path, speaker: Speaker
) -> None:
    door = tmp_path / "door"
    await trio.Path(door).write_text("Door-Secret-5\n")
    asked = {"en": "server password: ", "es": "contraseña del servidor: "}[speaker.lang]
    async with (
        running_server("--password-file", str(door)) as (_, port),
        terminal_client(port, "--name", "ana", speaker=speaker) as term,
    ):
        await term.wait_for_prompt(asked)
        await term.type("Door-Secret-5")
        await term.wait_for_prompt(asked + "*" * len("Door-Secret-5"))
        await term.send_keys("Enter")
        await term.wait_for_prompt("[#lobby] ana> ")
        await term.send_keys("Up")  # the password is in no input history...
        await term.type("x")  # ...so the line holds only what is typed after
        await term.wait_for_prompt("[#lobby] ana> x")
        await term.send_keys("C-u")
        screen = await term.screen()
        assert "Door-Secret-5" not in screen, screen
        assert "/pass" not in screen, screen  # no instructions meant for nc users
        assert_in_order(
            screen,
            *{
                "en": ("*** this server needs a password", "*** server password accepted"),
                "es": (
                    "*** este servidor necesita contraseña",
                    "*** contraseña del servidor aceptada",
                ),
            }[speaker.lang],
        )
        await term.send_keys("C-d")
        code, screen = await term.exit_code()
        assert code == 0, screen
        await term.assert_usable(screen)


async def test_a_paste_sends_one_message_per_line_and_ctrl_u_clears_the_input() -> None:
    pasted = [f"pasted line {n}" for n in range(1, 51)]
    async with running_server() as (_, port), connect(port) as bob:
        await bob.register("bob")
        async with terminal_client(port, "--name", "ana") as term:
            await term.wait_for_prompt("[#lobby] ana> ")
            await bob.until("*** ana joined")
            await term.type("first: ")
            await term.paste("\n".join(pasted) + "\nnot yet sent")
            said = await bob.until("ana: pasted line 50")
            assert said == ["ana: first: pasted line 1", *(f"ana: {line}" for line in pasted[1:])]
            # Each line is shown as the server echoed it, with its own time, and what
            # follows the last line break waits in the input, under the prompt.
            await term.wait_for_screen(
                lambda screen: (
                    len(said_by("ana", screen)) == 50
                    and lines_of(screen)[-1] == "[#lobby] ana> not yet sent"
                ),
                "50 lines echoed, then the prompt with 'not yet sent'",
            )
            await term.send_keys("Left", "Left", "Left", "C-u")  # the cursor mid-line
            await term.wait_for_prompt("[#lobby] ana> ")
            await term.send_keys("Up")  # history holds single lines
            await term.wait_for_prompt("[#lobby] ana> pasted line 50")
            await term.send_keys("Up")
            await term.wait_for_prompt("[#lobby] ana> pasted line 49")


async def test_after_a_server_restart_the_client_comes_back_in_its_room() -> None:
    async with (
        running_server() as (server, port),
        terminal_client(port, "--name", "ana") as term,
    ):
        await term.wait_for_prompt("[#lobby] ana> ")
        await term.type("/join dev")
        await term.send_keys("Enter")
        await term.wait_for_prompt("[#dev] ana> ")
        server.process.send_signal(signal.SIGINT)
        assert await server.exit_code() == 0
        await term.wait_for_text("*** disconnected, reconnecting in 2 s (attempt 1)")
        await term.wait_for_prompt("[reconnecting] ana> ")
        async with running_server("--port", str(port)), connect(port) as bob:
            await bob.register("bob")
            await term.wait_for_prompt("[#dev] ana> ")
            await bob.send("/join dev")
            assert (await bob.until("*** Now in"))[-1] == "*** Now in #dev (2): ana, bob"
            await term.send_keys("C-d")
            code, screen = await term.exit_code()
            assert code == 0, screen
            assert_in_order(
                screen,
                "*** server shutting down",
                "*** disconnected, reconnecting in 2 s (attempt 1)",
            )
            assert screen.count("*** Welcome, ana!") == 2, screen
