"""The chat client's logic: its connections, its name, and the lines both ways.

Theory of operation
-------------------
:meth:`ChatClient.run` owns one nursery and, in it, two tasks:

* The *connection* task (:meth:`ChatClient._connections`) runs one connection
  at a time. On each, a reader shows what the server sends while the
  registration asks for the client's language (``/lang es``: the server words
  everything after it so; see trio_chat.client.server_lines for how its lines
  are recognised) and sends the name (``/pass`` first on a server with a password,
  ``/login NAME PASSWORD`` for a registered name); on a terminal it asks at
  prompts of its own for what the server wants (a password, another name),
  rather than showing the server's instructions for ``nc``. Once in, a
  terminal client asks for ``/echo on``: the user's lines are shown as the
  server took them, never as typed. When the connection ends, what it saw
  decides what comes next:

  - the user quit: the client ends (:data:`EXIT_QUIT`);
  - a password typed wrong before ever getting in (the server closes after
    one): the client asks again and connects again at once, up to
    :data:`PASSWORD_TRIES` tries in all;
  - kicked, banned, refused, or never in: it ends (:data:`EXIT_ENDED`), the
    screen says why;
  - lost, or closed by a server restarting, after chatting: it reconnects,
    waiting longer each time (:class:`Backoff`), as the same name (logging
    in again with the password it keeps in memory only), in the same room,
    and then sends what was typed meanwhile. Without reconnecting, or when
    that has not worked for two minutes, it ends (:data:`EXIT_ENDED`).

* The *keyboard* task, started at the first registration, sends each line
  typed on the connection that is in at the time, or keeps it for the next
  one. ``/quit``, end of input (Ctrl+D) and Ctrl+C send ``/quit``,
  half-close the connection and wait briefly for the server to close its
  side, so the last lines are shown and nothing is cut.

Only one task reads the keyboard at a time: the connection task until the
first registration, the keyboard task after it (a reconnection asks nothing).
The keyboard, the screen and the connections are injected (see
trio_chat.client.keyboard), so the tests drive the client in memory.
Getting in (the name step, passwords) is in trio_chat.client.getting_in;
what a connection saw, and opening another, in trio_chat.client.link.
"""

from __future__ import annotations

import trio

from trio_chat.client.display import Display
from trio_chat.client.getting_in import NAME_PROMPT, GettingIn
from trio_chat.client.keyboard import Keyboard, Screen
from trio_chat.client.link import (
    CONNECTION_ERRORS,
    QUIT_TIMEOUT,
    ConnectFailed,
    Connector,
    Link,
    dial,
)
from trio_chat.client.rules import (
    CLIENT_HELP,
    EXIT_ENDED,
    EXIT_QUIT,
    FIRST_ROOM,
    Backoff,
    Retry,
    is_help,
    is_quit,
    new_password,
)
from trio_chat.client.server_lines import (
    ECHO_ON,
    FINAL,
    HELP_END,
    KNOWN_AS,
    NOW_IN,
    PASSWORD_CHANGED,
    REGISTERED_NOW,
    UNREGISTERED,
    ServerLines,
    worded,
    wrong_password,
)
from trio_chat.core.names import name_key
from trio_chat.i18n import DEFAULT, words_for
from trio_chat.text.codec import Line, LineBuffer

# Lines from the server longer than this are cut (the server never sends such).
MAX_SERVER_LINE = 1024 * 1024
RECEIVE_SIZE = 64 * 1024
DEFAULT_BACKOFF = Backoff()

__all__ = ["DEFAULT_BACKOFF", "ChatClient", "ConnectFailed", "Connector"]


class ChatClient(GettingIn):
    """One chat client, on a connection and the ones after it.

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
        connect: opens another connection to the server, to ask for a
            password again or to reconnect (neither without it).
        reconnect: come back after the connection was lost (with ``connect``).
        backoff: how long to wait between reconnection attempts.
        lang: the language of the client's own words; it asks the server
            (``/lang``, before its name) for its words in it too.
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
        connect: Connector | None = None,
        reconnect: bool = False,
        backoff: Backoff = DEFAULT_BACKOFF,
        lang: str = DEFAULT,
    ) -> None:
        self._ = words_for(lang)
        self.lines = ServerLines(self._)
        self._first: trio.abc.Stream | None = conn
        self._connect = connect
        self.reconnect = reconnect and connect is not None
        self.backoff = backoff
        self.keyboard = keyboard
        self.screen = screen
        self.name = name
        self.display = display or Display(colour=False, timestamps=False)
        self.echo = echo
        self.server_password = server_password
        self.password = password
        # The registered name `password` logs in as, once in with it.
        self.account: str | None = None
        self.room = FIRST_ROOM
        self.exit_code = EXIT_QUIT
        # In at least once: the keyboard task sends what is typed.
        self.registered = False
        self._quitting = False
        self._done = trio.CancelScope()
        self._input_scope = trio.CancelScope()
        self._nursery: trio.Nursery | None = None
        # The connection that is in now, if any; lines typed meanwhile.
        self._link: Link | None = None
        self._unsent: list[str] = []
        # Where to go back to after reconnecting, and the series of attempts.
        self._rejoin = FIRST_ROOM
        self._rename_to: str | None = None
        self._retry: Retry | None = None
        self._wrong_passwords = 0
        # "*** echo on" answers to our own /echo on (not shown), /help lists
        # still to be followed by the client's keys, a password being set.
        self._echo_requests = 0
        self._help_requests = 0
        self._new_password: str | None = None

    async def run(self) -> int:
        """Chat until the user quits or the server ends it; returns the exit code."""
        with self._done:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._connections)
        return self.exit_code

    def interrupt(self) -> None:
        """Ctrl+C outside a prompt: quit as if the user typed /quit."""
        self._quitting = True
        if self.registered:
            self._input_scope.cancel()  # the keyboard task says /quit
        else:
            self._done.cancel()  # nothing to say yet

    def prompt(self) -> str:
        """The prompt: where we are and who we are (changes with /join and /nick)."""
        if not self.registered:
            return self._(NAME_PROMPT)
        where = self.room if self._link is not None else self._("reconnecting")
        return f"[{where}] {self.name}> "

    # --- connections ------------------------------------------------------------

    async def _connections(self) -> None:
        conn, self._first = self._first, None
        while conn is not None:
            link = await self._serve(conn)
            conn = await self._next(link)
        self._done.cancel()

    async def _serve(self, conn: trio.abc.Stream) -> Link:
        """Get in on ``conn`` and chat until it ends; what happened is in the link."""
        link = Link(conn)
        try:
            with link.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._from_server, link)
                    try:
                        if await self._register(link):
                            await self._welcomed(link)
                        else:
                            await self._hang_up(link)
                    except CONNECTION_ERRORS:
                        link.lost = True
                        link.scope.cancel()
        finally:
            self._went_down(link)
            await trio.aclose_forcefully(conn)
        return link

    async def _next(self, link: Link) -> trio.abc.Stream | None:
        """The connection to go on with after ``link`` ended; ``None``: the client ends."""
        if self._quitting:
            return None
        if not self.registered:
            if wrong_password(self.lines, link.refusal):
                self._wrong_passwords += 1
                if self._may_ask_again():
                    return await self._ask_again(link.refusal)
        elif self.reconnect and not link.final and not link.shut_out(self.lines):
            return await self._come_back(link)
        self.exit_code = EXIT_ENDED
        if not link.hung_up:
            _ = self._
            how = (
                _("the connection was lost") if link.lost else _("the server closed the connection")
            )
            self._notice(_("disconnected: {how}", how=how))
        self._report_unsent()
        return None

    async def _come_back(self, link: Link) -> trio.abc.Stream | None:
        """Reconnect with backoff; ``None`` when it is time to give up."""
        now = trio.current_time()
        if self._retry is None or (
            link.registered and now - link.since >= self.backoff.stable_after
        ):
            self._retry = Retry(self.backoff, now)
        retry, _ = self._retry, self._
        why = _("connection lost") if link.lost else _("disconnected") if link.registered else ""
        while True:
            delay = retry.next_delay(trio.current_time())
            if delay is None:
                waited = f"{trio.current_time() - retry.started:.0f}"
                self._notice(
                    _.ngettext(
                        "gave up reconnecting after {n} attempt in {seconds} s",
                        "gave up reconnecting after {n} attempts in {seconds} s",
                        retry.attempt,
                        seconds=waited,
                    )
                )
                self.exit_code = EXIT_ENDED
                self._report_unsent()
                return None
            fields = {"seconds": f"{delay:g}", "attempt": retry.attempt}
            self._notice(
                _("{why}, reconnecting in {seconds} s (attempt {attempt})", why=why, **fields)
                if why
                else _("reconnecting in {seconds} s (attempt {attempt})", **fields)
            )
            await trio.sleep(delay)
            assert self._connect is not None
            conn, why = await dial(self._connect, _)
            if conn is not None:
                return conn

    def _went_down(self, link: Link) -> None:
        if self._link is link:
            self._link = None
            self._rejoin = self.room
            renamed = self.account is not None and name_key(self.name or "") != name_key(
                self.account
            )
            self._rename_to = self.name if renamed else None
            self.keyboard.refresh()
        link.down.set()

    # --- getting in ------------------------------------------------------------

    async def _welcomed(self, link: Link) -> None:
        """Set up the connection just let in, then hand it to the keyboard task."""
        if self.echo:
            self._echo_requests += 1
            await link.send("/echo on")
        if self._rename_to is not None:
            await link.send(f"/nick {self._rename_to}")
        if name_key(self._rejoin) != name_key(FIRST_ROOM):
            await link.send(f"/join {self._rejoin}")
        while self._unsent:  # typed while disconnected
            await link.send(self._unsent[0])
            del self._unsent[0]
        self._link = link  # no checkpoint since the last check of _unsent
        self.keyboard.refresh()
        if not self.registered:
            self.registered = True
            assert self._nursery is not None
            self._nursery.start_soon(self._typing)

    # --- server -> screen ---------------------------------------------------------

    async def _from_server(self, link: Link) -> None:
        lines = LineBuffer(MAX_SERVER_LINE)
        while True:
            try:
                data = await link.conn.receive_some(RECEIVE_SIZE)
            except CONNECTION_ERRORS:
                data, link.lost = b"", True
            for event in lines.feed(data):
                if isinstance(event, Line):
                    self._show(link, event.text)
                else:  # a server never sends such a line: say so, but it is no answer
                    why = worded(self._, event.reason)
                    self._show_line("! " + self._("from the server: {why}", why=why))
            if not data:
                break
        link.scope.cancel()

    def _show(self, link: Link, line: str) -> None:
        shown = self._in_chat(line) if link.registered else self._getting_in(link, line)
        if self.lines.any_error(FINAL, line):
            link.final = line
        if shown is not None:
            self.screen.show(
                self.display.incoming(shown, me=self.name if link.registered else None)
            )
        if self._help_requests and line.startswith("***") and self._ends_help(line):
            self._help_requests -= 1
            for help_line in CLIENT_HELP:
                self._notice(self._(help_line))

    def _in_chat(self, line: str) -> str | None:
        """What to show of a line after the welcome; follows the room, name and password."""
        lines = self.lines
        if self._echo_requests and lines.notice(ECHO_ON, line) is not None:
            self._echo_requests -= 1
            return None  # our own request, not the user's
        if (now_in := lines.notice(NOW_IN, line, whole=False)) is not None:
            self.room = now_in["room"]
            self.keyboard.refresh()
        elif (renamed := lines.notice(KNOWN_AS, line)) is not None and renamed["old"] == self.name:
            # Only the server writes "*** " lines: no peer can fake this one.
            self.name = renamed["new"]
            self.keyboard.refresh()
        elif self._new_password is not None and lines.about(
            self.name, line, REGISTERED_NOW, PASSWORD_CHANGED
        ):
            self.password, self._new_password = self._new_password, None
            self.account = self.account or self.name
        elif lines.about(self.name, line, UNREGISTERED):
            self.password = self.account = None
        return line

    def _ends_help(self, line: str) -> bool:
        """The last line of the server's /help (in English or in our language)."""
        return line.endswith((HELP_END, self._(HELP_END)))

    # --- keyboard -> server ------------------------------------------------------

    async def _typing(self) -> None:
        quit_line = "/quit"
        # interrupt() (Ctrl+C) cancels this scope wherever it waits: a read, or
        # a send to a server that is stuck.
        with self._input_scope:
            quit_line = await self._send_typed_lines()
        await self._quit(quit_line)

    async def _send_typed_lines(self) -> str:
        """Send what the user types until they quit; returns the quit line to send."""
        while True:
            line = await self.keyboard.read_line(self.prompt)
            if line is None:
                return "/quit"
            if is_quit(line):
                return line
            if self.echo and is_help(line):
                self._help_requests += 1
            self._new_password = new_password(line) or self._new_password
            await self._send(line)

    async def _send(self, line: str) -> None:
        """Send ``line`` on the connection that is in, or keep it for the next one."""
        link = self._link
        if link is None:
            self._unsent.append(line)
            if len(self._unsent) == 1:  # once, not for each line of a paste
                self._notice(self._("not connected: sending it once reconnected"))
            return
        try:
            await link.send(line)
        except CONNECTION_ERRORS:
            self._unsent.append(line)
            link.lost = True
            link.scope.cancel()

    async def _quit(self, line: str) -> None:
        """Send ``line``, half-close, and give the server time to close."""
        self._quitting = True
        link = self._link
        if link is None:
            self._report_unsent()
        else:
            with trio.move_on_after(QUIT_TIMEOUT):
                try:
                    await link.send(line)
                    if isinstance(link.conn, trio.abc.HalfCloseableStream):
                        await link.conn.send_eof()
                except CONNECTION_ERRORS:
                    pass  # the server is gone already: nothing left to say to it
                await link.down.wait()
        self._done.cancel()

    def _report_unsent(self) -> None:
        if self._unsent:
            _, n = self._, len(self._unsent)
            self._notice(
                _.ngettext(
                    "{n} line typed while disconnected not sent (Up recalls it)",
                    "{n} lines typed while disconnected not sent (Up recalls them)",
                    n,
                )
                if self.keyboard.interactive
                else _.ngettext(
                    "{n} line typed while disconnected not sent",
                    "{n} lines typed while disconnected not sent",
                    n,
                )
            )
            self._unsent.clear()
