"""The chat client's logic: one nursery, a reader and a writer.

Theory of operation
-------------------
:class:`ChatClient` runs two tasks in one nursery:

* ``server -> screen`` prints every line the server sends. At end of stream
  it ends the client: cleanly (exit 0) if we asked to quit, otherwise it says
  the server went away (exit 1).
* ``keyboard -> server`` sends the name, waits for the server's verdict (a
  rejected name lets the user type another; a script stops with exit 1), then
  sends every line typed. Before the name it sends ``/pass PASSWORD`` if it
  has the server's password; it sends ``/login NAME PASSWORD`` instead of the
  name if it has the user's. When the server says it needs either, an
  interactive client asks for it at a prompt that does not show what is
  typed (a script, which cannot be asked, stops with exit 1). ``/quit``,
  end of input (Ctrl+D) and Ctrl+C all send ``/quit``, half-close the
  connection and wait briefly for the server to close its side, so the
  last lines are shown and nothing is cut.

The keyboard and the screen are injected (see trio_chat.client.keyboard),
so the tests drive the client with memory streams.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from trio_chat.client.display import Display
from trio_chat.client.keyboard import Keyboard, Screen
from trio_chat.text.codec import Line, LineBuffer

# How long to wait for the server to close after we sent /quit.
QUIT_TIMEOUT = 2.0
# Lines from the server longer than this are cut (the server never sends such).
MAX_SERVER_LINE = 1024 * 1024
RECEIVE_SIZE = 64 * 1024
# The welcome line that accepts our name, and the greeting we need not show.
WELCOME_PREFIX = "*** Welcome, "
GREETING_PREFIX = "*** Hello! "
# The server's refusals that a password answers.
NEEDS_SERVER_PASSWORD = "! this server needs a password"
NAME_REGISTERED = "! the name "
WRONG_PASSWORD = "! wrong password"
# Where the server puts everyone at first.
FIRST_ROOM = "#lobby"
# The notice that says which room we are in now.
ROOM_PREFIX = "*** Now in "
# The server's answer to /echo on.
ECHO_ON = "*** echo on"
# The last line of the server's /help, and what the client adds after it on a terminal.
HELP_END = "***   //TEXT"
CLIENT_HELP = (
    "*** Keys: Up/Down recall earlier lines; Ctrl+U clears the input; Ctrl+D, Ctrl+C"
    " or /quit leaves. A paste sends one message per line.",
    "*** Your own lines are shown once the server took them, as the others see them.",
)


class ChatClient:
    """One chat client on a connected stream.

    Args:
        conn: the connection to the server.
        keyboard: where typed lines come from.
        screen: where the server's lines go.
        name: the name to register; asked for on the keyboard if ``None``.
        display: how lines are shown (colours, timestamps); plain by default.
        echo: show the user's own messages: ask the server (``/echo on``) to
            send them back as the others see them, so that a line is shown
            only once the server took it; for a terminal, not for a script.
        server_password: sent as ``/pass`` before the name, if given.
        password: the registered name's password: the name is sent as
            ``/login NAME PASSWORD``.
    """

    def __init__(
        self,
        conn: trio.abc.Stream,
        keyboard: Keyboard,
        screen: Screen,
        name: str | None = None,
        *,
        display: Display | None = None,
        echo: bool = False,
        server_password: str | None = None,
        password: str | None = None,
    ) -> None:
        self.conn = conn
        self.server_password = server_password
        self.password = password
        # The server's last "! " answer before our name was accepted.
        self._refusal = ""
        self.keyboard = keyboard
        self.screen = screen
        self.name = name
        self.display = display or Display(colour=False, timestamps=False)
        self.echo = echo
        self.room = FIRST_ROOM
        self.exit_code = 0
        self.registered = False
        self._quitting = False
        self._server_closed = trio.Event()
        # Set by the reader with the server's answer to a name.
        self._verdict = trio.Event()
        self._input_scope = trio.CancelScope()
        # "*** echo on" answers to our own /echo on (not shown), and /help lists
        # still to be followed by the client's keys.
        self._echo_requests = 0
        self._help_requests = 0

    async def run(self) -> int:
        """Chat until the user quits or the server goes away; returns the exit code."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._from_server, nursery.cancel_scope)
            nursery.start_soon(self._from_keyboard, nursery.cancel_scope)
        return self.exit_code

    def interrupt(self) -> None:
        """Ctrl+C outside a prompt: quit as if the user typed /quit."""
        self._quitting = True
        self._input_scope.cancel()

    # --- server -> screen ----------------------------------------------------------

    async def _from_server(self, done: trio.CancelScope) -> None:
        lines = LineBuffer(MAX_SERVER_LINE)
        lost = False
        while True:
            try:
                data = await self.conn.receive_some(RECEIVE_SIZE)
            except (trio.BrokenResourceError, OSError):
                data, lost = b"", True
            for event in lines.feed(data):
                if isinstance(event, Line):
                    self._show(event.text)
                else:  # a server never sends such a line: say so, but it is no answer
                    self.screen.show(self.display.incoming(f"! from the server: {event.reason}"))
            if not data:
                break
        self._server_closed.set()
        if not self._quitting:
            how = "the connection was lost" if lost else "the server closed the connection"
            self.screen.show(self.display.incoming(f"*** disconnected: {how}"))
            self.exit_code = 1
        done.cancel()

    def _show(self, line: str) -> None:
        if not self.registered:
            if line.startswith(WELCOME_PREFIX):
                self.registered = True
                # As the server spells it (a login may change its case).
                self.name = line[len(WELCOME_PREFIX) :].split("!", 1)[0]
                self._verdict.set()
            elif line.startswith("! "):
                self._refusal = line
                self._verdict.set()
            elif line.startswith(GREETING_PREFIX) and self.name is not None:
                return  # we send our name unasked
        elif line == ECHO_ON and self._echo_requests:
            self._echo_requests -= 1
            return  # our own request, not the user's
        elif line.startswith(ROOM_PREFIX):
            self.room = line[len(ROOM_PREFIX) :].split(" ", 1)[0]
            self.keyboard.refresh()
        elif line.startswith(f"*** {self.name} is now known as "):
            # Only the server writes "*** " lines: no peer can fake this one.
            self.name = line.rsplit(" ", 1)[1]
            self.keyboard.refresh()
        self.screen.show(self.display.incoming(line, me=self.name if self.registered else None))
        if line.startswith(HELP_END) and self._help_requests:
            self._help_requests -= 1
            for help_line in CLIENT_HELP:
                self.screen.show(self.display.incoming(help_line))

    # --- keyboard -> server ------------------------------------------------------

    async def _from_keyboard(self, done: trio.CancelScope) -> None:
        quit_line = "/quit"
        # interrupt() (Ctrl+C) cancels this scope wherever it waits: a read, the
        # server's verdict on our name, or a send to a server that is stuck.
        with self._input_scope:
            try:
                if await self._register():
                    quit_line = await self._send_typed_lines()
                elif not self._quitting:
                    self.exit_code = 1  # a script's name was refused
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                # The server went away while we sent: the reader says so.
                with trio.move_on_after(QUIT_TIMEOUT):
                    await self._server_closed.wait()
                done.cancel()
                return
        await self._quit(quit_line if self.registered else "", done)

    async def _send_typed_lines(self) -> str:
        """Send what the user types until they quit; returns the quit line to send."""
        while True:
            line = await self._read(self.prompt)
            if line is None:
                return "/quit"
            if _is_quit(line):
                return line
            if self.echo and line.lower().split(maxsplit=1)[:1] == ["/help"]:
                self._help_requests += 1
            await self.conn.send_all((line + "\n").encode("utf-8"))

    def prompt(self) -> str:
        """The prompt: where we are and who we are (changes with /join and /nick)."""
        return f"[{self.room}] {self.name}> " if self.registered else "name: "

    async def _register(self) -> bool:
        """Send names until one is accepted; False if the user gave up."""
        if self.server_password is not None:
            await self._send_line(f"/pass {self.server_password}")
        name = self.name
        while True:
            if name is None:
                name = await self._read(self.prompt)
                if name is None:
                    self._quitting = True
                    return False
            self._verdict = trio.Event()
            self.name = name
            login = f"/login {name} {self.password}" if self.password is not None else name
            await self._send_line(login)
            await self._verdict.wait()
            if self.registered:
                if self.echo:
                    self._echo_requests += 1
                    await self._send_line("/echo on")
                return True
            if not self.keyboard.interactive or self._refusal.startswith(WRONG_PASSWORD):
                return False  # a script cannot choose another name; a wrong password ends
            if not await self._answer(self._refusal, name):
                name = None

    async def _answer(self, refusal: str, name: str) -> bool:
        """Ask for the password ``refusal`` calls for; False if it calls for none.

        Raises:
            trio.Cancelled: the user gave up (Ctrl+D or Ctrl+C at the prompt).
        """
        if refusal.startswith(NEEDS_SERVER_PASSWORD):
            secret = await self.keyboard.read_secret("server password: ")
            if secret is not None:
                await self._send_line(f"/pass {secret}")
        elif refusal.startswith(NAME_REGISTERED) and " is registered" in refusal:
            secret = await self.keyboard.read_secret(f"password for {name}: ")
            if secret is not None:
                self.password = secret
        else:
            return False
        if secret is None:
            self._quitting = True
            self._input_scope.cancel()
        return True

    async def _send_line(self, line: str) -> None:
        await self.conn.send_all((line + "\n").encode("utf-8"))

    async def _read(self, prompt: Callable[[], str]) -> str | None:
        return await self.keyboard.read_line(prompt)

    async def _quit(self, line: str, done: trio.CancelScope) -> None:
        """Send ``line`` (if any), half-close, and give the server time to close."""
        self._quitting = True
        with trio.move_on_after(QUIT_TIMEOUT):
            try:
                if line:
                    await self.conn.send_all((line + "\n").encode("utf-8"))
                if isinstance(self.conn, trio.abc.HalfCloseableStream):
                    await self.conn.send_eof()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass  # the server is gone already: nothing left to say to it
            await self._server_closed.wait()
        done.cancel()


def _is_quit(line: str) -> bool:
    verb = line.split(maxsplit=1)[0].lower() if line.strip() else ""
    return verb == "/quit"
