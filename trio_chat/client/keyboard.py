"""Where the terminal client's typed lines come from, and where its lines go.

:class:`PromptKeyboard` reads at a prompt_toolkit prompt on a terminal (the
line being typed stays intact below incoming lines); :class:`StreamKeyboard`
reads plain lines from a pipe, a file or a test's memory stream.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import trio

from trio_chat.text.codec import Line, LineBuffer

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import History
    from prompt_toolkit.key_binding import KeyBindings

# The longest line read from a pipe (the server refuses what is longer than its limit).
MAX_INPUT_LINE = 1024 * 1024
RECEIVE_SIZE = 64 * 1024


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
        self._lines = LineBuffer(MAX_INPUT_LINE)
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

    def __init__(self, history: History) -> None:
        from prompt_toolkit import PromptSession

        # The typed line is erased on Enter (the server's echo shows it); Up/Down
        # recall earlier lines from ``history``.
        self._session = PromptSession[str](
            erase_when_done=True, history=history, key_bindings=self._line_keys()
        )
        # The session of the prompt open now (a password prompt has its own).
        self._current = self._session
        # Set by the worker thread when its prompt has returned.
        self._idle = threading.Event()
        self._idle.set()
        self._closed = False
        # A paste's lines still to send, and what it left in the input. Filled by
        # the prompt's thread before its prompt returns; read after it returned.
        self._pasted: deque[str] = deque()
        self._rest = ""

    async def read_line(self, prompt: Callable[[], str]) -> str | None:
        if self._pasted:
            await trio.lowlevel.checkpoint()
            return self._pasted.popleft()
        rest, self._rest = self._rest, ""
        return await self._read(self._session, prompt, rest)

    def _line_keys(self) -> KeyBindings:
        """A paste is sent line by line; Ctrl+U clears the whole input."""
        from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
        from prompt_toolkit.keys import Keys

        keys = KeyBindings()

        @keys.add(Keys.BracketedPaste)
        def _paste(event: KeyPressEvent) -> None:
            buffer = event.current_buffer
            text = normal_newlines(event.data)
            if "\n" not in text:
                buffer.insert_text(text)
                return
            document = buffer.document
            lines, rest = split_paste(document.text_before_cursor, text, document.text_after_cursor)
            if not lines:
                buffer.text, buffer.cursor_position = rest, len(rest)
                return
            self._pasted.extend(lines[1:])
            self._rest = rest
            buffer.text = lines[0]
            buffer.validate_and_handle()  # returns lines[0] from the prompt, in history
            for line in lines[1:]:
                if buffer.history.get_strings()[-1:] != [line]:
                    buffer.history.append_string(line)

        @keys.add("c-u")
        def _clear(event: KeyPressEvent) -> None:
            buffer = event.current_buffer
            event.app.clipboard.set_text(buffer.text)  # Ctrl+Y brings it back
            buffer.text = ""

        return keys

    async def read_secret(self, prompt: str) -> str | None:
        """A password, shown as asterisks; a fresh session each time keeps no history of it."""
        from prompt_toolkit import PromptSession

        session = PromptSession[str](
            is_password=True, erase_when_done=True, key_bindings=_secret_keys()
        )
        return await self._read(session, lambda: prompt)

    async def _read(
        self, session: PromptSession[str], prompt: Callable[[], str], default: str = ""
    ) -> str | None:
        self._idle.clear()
        self._current = session
        try:
            return await trio.to_thread.run_sync(
                self._prompt, session, prompt, default, abandon_on_cancel=True
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

    def _prompt(
        self, session: PromptSession[str], prompt: Callable[[], str], default: str
    ) -> str | None:
        try:
            if self._closed:  # closed before this thread got to start the prompt
                return None
            return session.prompt(prompt, default=default)
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


def normal_newlines(text: str) -> str:
    """Line breaks as ``\\n`` (terminals paste ``\\r`` or ``\\r\\n``)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_paste(before: str, pasted: str, after: str) -> tuple[list[str], str]:
    """The lines a paste with line breaks sends, and what it leaves in the input.

    ``before`` and ``after`` are the input around the cursor. Each line break
    works as Enter: the input with the paste's first line in it is sent, then
    each whole line of the paste; what follows the last break stays in the
    input, to finish or to send. Blank lines are not sent (the server ignores them).
    """
    first, *middle, rest = pasted.split("\n")
    lines = [before + first + after, *middle]
    return [line for line in lines if line.strip()], rest


def _secret_keys() -> KeyBindings:
    """A password pasted with a line break is entered; nothing after the break is kept."""
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
    from prompt_toolkit.keys import Keys

    keys = KeyBindings()

    @keys.add(Keys.BracketedPaste)
    def _paste(event: KeyPressEvent) -> None:
        first, newline, _ = normal_newlines(event.data).partition("\n")
        event.current_buffer.insert_text(first)
        if newline:
            event.current_buffer.validate_and_handle()

    return keys


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
