"""The terminal client: one nursery, a reader and a writer.

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

The keyboard and the screen are injected, so the tests drive the client with
memory streams. With TLS (:func:`connect`), the handshake and the check of
the server's certificate happen before any of this starts, so a refused
certificate is one clear error, never a chat that dies on its first line.

On a terminal, :class:`PromptKeyboard` keeps the line being typed intact
below incoming lines (prompt_toolkit); with piped stdin,
:class:`StreamKeyboard` reads plain lines and is fully scriptable.
"""

from __future__ import annotations

import os
import ssl
import stat
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import trio

from trio_chat import DEFAULT_PORT, hints
from trio_chat.client.display import Display, wants_colour
from trio_chat.net.tls import TLSError, describe_client_failure
from trio_chat.text.codec import Line, LineBuffer

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import History

# How long to wait for the server to close after we sent /quit.
QUIT_TIMEOUT = 2.0
# How long the server may take to complete the TLS handshake.
HANDSHAKE_TIMEOUT = 10.0
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
# What /help adds on a terminal, shown before the server's list of commands (as it
# is sent: the list's arrival cannot overtake it).
CLIENT_HELP = (
    "*** Keys: Up/Down recall earlier lines; Ctrl+D, Ctrl+C or /quit leaves.",
    "*** Your own messages are shown as the others see them; private ones in magenta.",
)


class Keyboard(Protocol):
    """Where typed lines come from."""

    interactive: bool

    async def read_line(self, prompt: Callable[[], str]) -> str | None:
        """The next line typed, without its newline; ``None`` at end of input."""
        ...

    def refresh(self) -> None:
        """The prompt's text has changed: show it again."""
        ...

    async def read_secret(self, prompt: str) -> str | None:
        """A password typed without showing it; ``None`` if it cannot be asked."""
        ...


class Screen(Protocol):
    """Where lines for the user go."""

    def show(self, line: str) -> None: ...


class StreamKeyboard:
    """Lines from a byte stream: piped stdin, or a memory stream in tests."""

    interactive = False

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._lines = LineBuffer(MAX_SERVER_LINE)
        self._pending: list[str] = []
        self._eof = False

    async def read_line(self, prompt: Callable[[], str]) -> str | None:
        while not self._pending:
            if self._eof:
                return None
            data = await self._stream.receive_some(RECEIVE_SIZE)
            self._eof = not data
            events = self._lines.feed(data)
            self._pending = [e.text if isinstance(e, Line) else "" for e in reversed(events)]
        return self._pending.pop()

    def refresh(self) -> None:
        pass  # no prompt is shown

    async def read_secret(self, prompt: str) -> str | None:
        """A script is not asked (``None``); a test's interactive keyboard types it."""
        return await self.read_line(lambda: prompt) if self.interactive else None


class PrintScreen:
    """Plain lines on stdout (under prompt_toolkit's patch_stdout when interactive)."""

    def show(self, line: str) -> None:
        print(line, flush=True)


class PromptKeyboard:
    """Lines typed at a prompt_toolkit prompt, run in a worker thread.

    Trio stays the main loop. ``prompt()`` blocks, so it runs in
    ``trio.to_thread``; when the client ends while a prompt is open, the prompt
    is exited from the trio side so the terminal leaves raw mode.
    """

    interactive = True

    def __init__(self, session: PromptSession[str]) -> None:
        self._session = session
        # The session of the prompt open now (a password prompt has its own).
        self._current = session
        # Set by the worker thread when its prompt has returned.
        self._idle = threading.Event()
        self._idle.set()
        self._closed = False

    async def read_line(self, prompt: Callable[[], str]) -> str | None:
        return await self._read(self._session, prompt)

    async def read_secret(self, prompt: str) -> str | None:
        """A password, shown as asterisks; a fresh session each time keeps no history of it."""
        from prompt_toolkit import PromptSession

        session = PromptSession[str](is_password=True, erase_when_done=True)
        return await self._read(session, lambda: prompt)

    async def _read(self, session: PromptSession[str], prompt: Callable[[], str]) -> str | None:
        self._idle.clear()
        self._current = session
        try:
            return await trio.to_thread.run_sync(
                self._prompt, session, prompt, abandon_on_cancel=True
            )
        except trio.Cancelled:
            self.close()
            raise
        finally:
            self._current = self._session

    def refresh(self) -> None:
        app = self._session.app
        if app.is_running and app.loop is not None:
            app.loop.call_soon_threadsafe(app.invalidate)

    def _prompt(self, session: PromptSession[str], prompt: Callable[[], str]) -> str | None:
        try:
            if self._closed:  # closed before this thread got to start the prompt
                return None
            return session.prompt(prompt)
        except (EOFError, KeyboardInterrupt):  # Ctrl+D, Ctrl+C: both mean quit
            return None
        finally:
            self._idle.set()

    def close(self) -> None:
        """Exit a prompt that is still open (from any thread)."""
        self._closed = True
        app = self._current.app

        def exit_once() -> None:  # runs in the prompt's thread and event loop
            if app.is_running and not app.is_done:
                app.exit(exception=EOFError())

        if app.is_running and app.loop is not None:
            app.loop.call_soon_threadsafe(exit_once)

    async def wait_closed(self) -> None:
        """Wait (briefly) until no prompt is open, so the terminal is restored."""
        self.close()
        with trio.move_on_after(1.0):
            await trio.to_thread.run_sync(self._idle.wait, abandon_on_cancel=True)


class ChatClient:
    """One chat client on a connected stream.

    Args:
        conn: the connection to the server.
        keyboard: where typed lines come from.
        screen: where the server's lines go.
        name: the name to register; asked for on the keyboard if ``None``.
        display: how lines are shown (colours, timestamps); plain by default.
        echo: show the user's own messages (the server does not send them back);
            for a terminal, not for a script's output.
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
        elif line.startswith(ROOM_PREFIX):
            self.room = line[len(ROOM_PREFIX) :].split(" ", 1)[0]
            self.keyboard.refresh()
        elif line.startswith(f"*** {self.name} is now known as "):
            # Only the server writes "*** " lines: no peer can fake this one.
            self.name = line.rsplit(" ", 1)[1]
            self.keyboard.refresh()
        self.screen.show(self.display.incoming(line))

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
            if self.echo and line.split(maxsplit=1)[:1] == ["/help"]:
                for help_line in CLIENT_HELP:
                    self.screen.show(self.display.incoming(help_line))
            await self.conn.send_all((line + "\n").encode("utf-8"))
            if self.echo:
                self._echo(line)

    def prompt(self) -> str:
        """The prompt: where we are and who we are (changes with /join and /nick)."""
        return f"[{self.room}] {self.name}> " if self.registered else "name: "

    def _echo(self, line: str) -> None:
        """Show what the user just sent, as the others will see it."""
        assert self.name is not None
        shown = self.display.own(self.name, line)
        if shown is not None:
            self.screen.show(shown)

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


# --- the command line -------------------------------------------------------------------


def _serve_hint(port: int) -> str:
    return hints.command("serve", *([] if port == DEFAULT_PORT else [("--port", port)]))


async def run_terminal_client(
    host: str,
    port: int,
    name: str | None,
    *,
    no_color: bool = False,
    server_password: str | None = None,
    password: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> int:
    """Connect and chat from this terminal (or pipe); returns the exit code."""
    try:
        conn = await connect(host, port, ssl_context)
    except OSError as exc:
        print(
            f"trio-chat: cannot connect to {host}:{port}: {_why(exc)}\n"
            f"Is the server running? Start one with `{_serve_hint(port)}`, or check "
            f"{hints.spelled('client', '--host')} and {hints.spelled('client', '--port')}.",
            file=sys.stderr,
        )
        return 1
    except TLSError as exc:
        print(f"trio-chat: no secure connection to {host}:{port}: {exc}", file=sys.stderr)
        return 1
    async with conn:
        if sys.stdin.isatty() and sys.stdout.isatty():
            return await _interactive(
                conn,
                name,
                colour=wants_colour(no_color),
                server_password=server_password,
                password=password,
            )
        async with open_stdin() as stdin:
            keyboard = StreamKeyboard(stdin)
            client = ChatClient(
                conn,
                keyboard,
                PrintScreen(),
                name,
                server_password=server_password,
                password=password,
            )
            return await _run_with_signals(client)


async def connect(host: str, port: int, ssl_context: ssl.SSLContext | None) -> trio.abc.Stream:
    """A connection to the server; with TLS, handshaken and its certificate checked.

    The certificate must be valid for ``host`` as typed: a name it lists, or
    an IP address it lists (``--host 192.168.1.20``).

    Raises:
        OSError: no TCP connection.
        TLSError: the handshake failed or the certificate was refused; says why.
    """
    tcp = await trio.open_tcp_stream(host, port)
    if ssl_context is None:
        return tcp
    conn = trio.SSLStream(tcp, ssl_context, server_hostname=host)
    try:
        with trio.fail_after(HANDSHAKE_TIMEOUT):
            await conn.do_handshake()
    except trio.TooSlowError:
        await trio.aclose_forcefully(conn)
        raise TLSError(f"no TLS handshake within {HANDSHAKE_TIMEOUT:.0f} s") from None
    except trio.BrokenResourceError as exc:
        await trio.aclose_forcefully(conn)
        cause = exc.__cause__
        if isinstance(cause, ssl.SSLError):
            raise TLSError(describe_client_failure(cause, host)) from None
        raise TLSError("the server closed the connection during the TLS handshake") from None
    return conn


def _why(exc: OSError) -> str:
    """The most telling reason in a connection error (trio groups one per address)."""
    cause = exc.__cause__
    if isinstance(cause, BaseExceptionGroup):
        for error in cause.exceptions:
            if isinstance(error, OSError) and error.errno:
                return os.strerror(error.errno).lower()
    return (exc.strerror or str(exc)).lower()


def open_stdin() -> trio.abc.ReceiveStream:
    """Standard input as a cancellable byte stream.

    Pipes, sockets and terminals are polled (``FdStream``). Regular files and
    ``/dev/null`` cannot be polled, but never block for long, so they are read
    in a worker thread.
    """
    fd = os.dup(sys.stdin.fileno())
    mode = os.fstat(fd).st_mode
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(fd):
        return trio.lowlevel.FdStream(fd)
    return _FileStream(fd)


class _FileStream(trio.abc.ReceiveStream):
    def __init__(self, fd: int) -> None:
        self._fd = fd

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        return await trio.to_thread.run_sync(os.read, self._fd, max_bytes or RECEIVE_SIZE)

    async def aclose(self) -> None:
        os.close(self._fd)
        await trio.lowlevel.checkpoint()


# Commands whose argument is a password: never kept in the input history.
SECRET_COMMANDS = ("/pass", "/login", "/register", "/password", "/oper")


def carries_secret(line: str) -> bool:
    """Whether ``line`` is a command with a password in it."""
    verb = line.strip().split(" ", 1)[0].lower()
    return verb in SECRET_COMMANDS


def secret_free_history() -> History:
    """An in-memory input history that leaves out lines carrying a password."""
    from prompt_toolkit.history import InMemoryHistory

    class SecretFreeHistory(InMemoryHistory):
        def append_string(self, string: str) -> None:
            if not carries_secret(string):
                super().append_string(string)

    return SecretFreeHistory()


async def _interactive(
    conn: trio.abc.Stream,
    name: str | None,
    *,
    colour: bool,
    server_password: str | None,
    password: str | None,
) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.patch_stdout import patch_stdout

    # The typed line is erased on Enter and shown again as the others see it;
    # Up/Down recall earlier lines, but never one that carries a password.
    history = secret_free_history()
    keyboard = PromptKeyboard(PromptSession[str](erase_when_done=True, history=history))
    display = Display(colour=colour, timestamps=True)
    client = ChatClient(
        conn,
        keyboard,
        PrintScreen(),
        name,
        display=display,
        echo=True,
        server_password=server_password,
        password=password,
    )
    with patch_stdout(raw=True):
        try:
            return await _run_with_signals(client)
        finally:
            with trio.CancelScope(shield=True):
                await keyboard.wait_closed()


async def _run_with_signals(client: ChatClient) -> int:
    import signal

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                async for _ in signals:
                    client.interrupt()

            nursery.start_soon(watch)
            code = await client.run()
            nursery.cancel_scope.cancel()
    return code
