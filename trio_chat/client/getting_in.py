"""Getting a connection in: the name step, the passwords, asking again.

The part of :class:`~trio_chat.client.chat.ChatClient` that runs before the
server's welcome, on each connection: it asks for its language (``/lang es``; the server's
greeting, in the server's default language, is not shown, but the one the
server sends again in ours), then sends the name (``/pass`` first on a
server with a password, ``/login NAME PASSWORD`` for a registered name). On a
terminal, before the first welcome, it asks for what the server wants at
prompts of its own (the server's own words are instructions for ``nc``
users), and after a wrong password (the server closes then) it asks again.
"""

from __future__ import annotations

import trio

from trio_chat.client.display import Display
from trio_chat.client.keyboard import Keyboard, Screen
from trio_chat.client.link import CONNECTION_ERRORS, QUIT_TIMEOUT, Connector, Link, dial
from trio_chat.client.rules import EXIT_ENDED, FIRST_ROOM, PASSWORD_TRIES
from trio_chat.client.server_lines import (
    NAME_TAKEN,
    NOT_REGISTERED,
    PASSWORD_ACCEPTED,
    WELCOME,
    WRONG_SERVER_PASSWORD,
    ServerLines,
    asks_password,
    is_greeting,
    needs_password,
    wrong_password,
)
from trio_chat.i18n import N_, Words

NAME_PROMPT = N_("name: ")
# Said instead of the server's instructions for nc users, before the client asks.
NEEDS_PASSWORD_NOTICE = N_("this server needs a password")


class GaveUp(Exception):
    """The user ended a prompt (Ctrl+D, Ctrl+C) while getting in."""


class GettingIn:
    """Registration for :class:`~trio_chat.client.chat.ChatClient`, which sets these."""

    keyboard: Keyboard
    screen: Screen
    display: Display
    name: str | None
    room: str
    server_password: str | None
    password: str | None
    account: str | None
    registered: bool
    exit_code: int
    _: Words
    lines: ServerLines
    _connect: Connector | None
    _quitting: bool
    _wrong_passwords: int

    def _may_ask_again(self) -> bool:
        """Whether a wrong password may be asked for again (on a terminal, a few times)."""
        asks = self.keyboard.interactive and self._connect is not None
        return asks and self._wrong_passwords < PASSWORD_TRIES

    async def _ask_again(self, refusal: str) -> trio.abc.Stream | None:
        """Ask again for the password the server refused, and connect again."""
        _ = self._
        self._notice(self._tries_left(PASSWORD_TRIES - self._wrong_passwords))
        server = self.lines.error(WRONG_SERVER_PASSWORD, refusal) is not None  # not "for NAME"
        secret = await self.keyboard.read_secret(
            _("server password: ") if server else _("password for {name}: ", name=self.name)
        )
        if secret is None:
            self._quitting = True
            return None
        if server:
            self.server_password = secret
        elif secret:
            self.password = secret
        else:  # Enter alone: another name
            self.password = self.name = None
        assert self._connect is not None
        conn, why = await dial(self._connect, _)
        if conn is None:
            self.exit_code = EXIT_ENDED
            self._notice(why)
        return conn

    async def _register(self, link: Link) -> bool:
        """Send names until one is accepted; False if refused (or the user gave up)."""
        asking = self._asking()
        _ = self._
        try:
            # Before the rest, so that the server says all of it in our language;
            # English too: a server may speak another to those who ask for none.
            link.asking_lang = True
            await link.send(f"/lang {self._.lang}")
            await link.spoken.wait()
            if asking and self.server_password is None:
                await link.greeted.wait()
                if needs_password(link.greeting):
                    self.server_password = await self._secret(_("server password: "))
            if self.server_password is not None:
                await link.send(f"/pass {self.server_password}")
            name = (self.account or self.name) if self.registered else self.name
            while True:
                if name is None:
                    name = await self.keyboard.read_line(lambda: _(NAME_PROMPT))
                    if name is None:
                        raise GaveUp
                self.name = name
                link.verdict = trio.Event()
                login = f"/login {name} {self.password}" if self.password is not None else name
                await link.send(login)
                await link.verdict.wait()
                if link.registered:
                    return True
                left = self.lines.tries_left(link.refusal)
                if asking and left is not None:
                    # The server lets us try again on this connection.
                    name = await self._try_again(name, left)
                    continue
                if not asking or wrong_password(self.lines, link.refusal):
                    return False
                name = await self._answer(link, name)
        except GaveUp:
            self._quitting = True
            return False

    async def _try_again(self, name: str, left: int) -> str | None:
        """Ask again for the password of ``name`` (``None``: Enter alone, another name)."""
        self._wrong_passwords += 1
        self._notice(self._tries_left(left))
        secret = await self._secret(self._("password for {name}: ", name=name))
        if not secret:
            self.password = None
            return None
        self.password = secret
        return name

    def _tries_left(self, left: int) -> str:
        return self._.ngettext("try again ({n} try left)", "try again ({n} tries left)", left)

    def _asking(self) -> bool:
        """Whether to ask the user what the server wants (a terminal, before the first welcome)."""
        return self.keyboard.interactive and not self.registered

    async def _answer(self, link: Link, name: str) -> str | None:
        """The name to send next after the refusal of ``name`` (``None``: ask for one)."""
        _ = self._
        if needs_password(link.refusal):
            self.server_password = await self._secret(_("server password: "))
            await link.send(f"/pass {self.server_password}")
            return name
        if asks_password(self.lines, link.refusal):
            secret = await self._secret(_("password for {name}: ", name=name))
            if not secret:
                return None  # Enter alone: another name
            self.password = secret
            return name
        if self.lines.error(NOT_REGISTERED, link.refusal) is not None:
            self.password = None
            return name
        return None

    async def _secret(self, prompt: str) -> str:
        secret = await self.keyboard.read_secret(prompt)
        if secret is None:
            raise GaveUp
        return secret

    async def _hang_up(self, link: Link) -> None:
        """Close a connection that did not get in, letting the server have its last word."""
        link.hung_up = True
        try:
            if isinstance(link.conn, trio.abc.HalfCloseableStream):
                await link.conn.send_eof()
        except CONNECTION_ERRORS:
            pass  # gone already
        await trio.sleep(QUIT_TIMEOUT)  # the reader ends it sooner, when the server closes
        link.scope.cancel()

    def _getting_in(self, link: Link, line: str) -> str | None:
        """What to show of a line before the welcome (``None``: nothing); notes the verdict."""
        _ = self._
        if link.asking_lang and link.greeting:
            return self._lang_answer(link, line)
        welcome = self.lines.notice(WELCOME, line)
        if welcome is not None:
            link.registered, link.since = True, trio.current_time()
            # As the server spells it (a login may change its case).
            self.name = welcome["name"]
            self.account = self.name if self.password is not None else None
            self.room = FIRST_ROOM
            link.verdict.set()
        elif line.startswith("! "):
            link.refusal = line
            link.verdict.set()
            link.spoken.set()  # turned away before the greeting: no answer to /lang comes
            return self._refused(line)
        elif not link.greeting and line.startswith("*** "):  # the first thing a server says
            link.greeting = line
            if link.asking_lang:
                return None  # in the server's language: it says it again in ours
            link.greeted.set()
            return self._greeting(line)
        elif self._password_accepted(line) and self.keyboard.interactive and self.name:
            return "*** " + _("server password accepted")
        return line

    def _lang_answer(self, link: Link, line: str) -> str | None:
        """A line of the answer to our ``/lang``, which ends with the greeting again."""
        if line.startswith("! "):  # an older server: no /lang before the name
            link.asking_lang = False
            link.spoken.set()
            link.greeted.set()
            return self._greeting(link.greeting)  # the first, in the server's words
        if not is_greeting(line):
            return None  # "Now speaking ...": it is what we asked for
        link.asking_lang = False
        link.greeting = line
        link.spoken.set()
        link.greeted.set()
        return self._greeting(line)

    def _greeting(self, line: str) -> str | None:
        """What to show of the server's greeting: nothing if we send our name unasked."""
        if self._asking() and self.server_password is None and needs_password(line):
            return "*** " + self._(NEEDS_PASSWORD_NOTICE)
        return None if self.name is not None else line

    def _refused(self, line: str) -> str | None:
        """What to show of the server's refusal before the welcome."""
        if self._asking() and needs_password(line):
            return "*** " + self._(NEEDS_PASSWORD_NOTICE)
        if self._asking() and self.lines.tries_left(line) is not None:
            return line.split(" (", 1)[0]  # the client says how many tries are left
        if self._asking() and asks_password(self.lines, line):
            return "*** " + self._(
                "{name} is a registered name: type its password (Enter alone: another name)",
                name=self.name or "",
            )
        if self._asking():
            return line
        taken = self.lines.error(NAME_TAKEN, line)
        if self.registered and taken is not None and taken["name"] == self.name:
            # Coming back: most likely by our own lost connection, not yet dropped.
            return "*** " + self._(
                "the name {name} is still taken (the old connection?)", name=self.name
            )
        return line

    def _password_accepted(self, line: str) -> bool:
        return any(self.lines.notice(accepted, line) for accepted in PASSWORD_ACCEPTED)

    def _notice(self, text: str) -> None:
        self._show_line(f"*** {text}")

    def _show_line(self, line: str) -> None:
        self.screen.show(self.display.incoming(line))
