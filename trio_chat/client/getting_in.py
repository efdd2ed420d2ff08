"""Getting a connection in: the name step, the passwords, asking again.

The part of :class:`~trio_chat.client.chat.ChatClient` that runs before the
server's welcome, on each connection: it sends the name (``/pass`` first on a
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
from trio_chat.client.rules import (
    EXIT_ENDED,
    FIRST_ROOM,
    GREETING_PREFIX,
    NEEDS_SERVER_PASSWORD,
    PASSWORD_ACCEPTED,
    PASSWORD_GREETING,
    PASSWORD_TRIES,
    WELCOME_PREFIX,
    WRONG_PASSWORD,
    registered_prompt,
    tries_left,
)

NAME_PROMPT = "name: "
# Said instead of the server's instructions for nc users, before the client asks.
NEEDS_PASSWORD_NOTICE = "*** this server needs a password"


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
    _connect: Connector | None
    _quitting: bool
    _wrong_passwords: int

    def _may_ask_again(self) -> bool:
        """Whether a wrong password may be asked for again (on a terminal, a few times)."""
        asks = self.keyboard.interactive and self._connect is not None
        return asks and self._wrong_passwords < PASSWORD_TRIES

    async def _ask_again(self, refusal: str) -> trio.abc.Stream | None:
        """Ask again for the password the server refused, and connect again."""
        left = PASSWORD_TRIES - self._wrong_passwords
        self._notice(f"try again ({left} {'try' if left == 1 else 'tries'} left)")
        server = refusal == WRONG_PASSWORD  # not "... for NAME"
        secret = await self.keyboard.read_secret(
            "server password: " if server else f"password for {self.name}: "
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
        conn, why = await dial(self._connect)
        if conn is None:
            self.exit_code = EXIT_ENDED
            self._notice(why)
        return conn

    async def _register(self, link: Link) -> bool:
        """Send names until one is accepted; False if refused (or the user gave up)."""
        asking = self._asking()
        try:
            if asking and self.server_password is None:
                await link.greeted.wait()
                if link.greeting.startswith(PASSWORD_GREETING):
                    self.server_password = await self._secret("server password: ")
            if self.server_password is not None:
                await link.send(f"/pass {self.server_password}")
            name = (self.account or self.name) if self.registered else self.name
            while True:
                if name is None:
                    name = await self.keyboard.read_line(lambda: NAME_PROMPT)
                    if name is None:
                        raise GaveUp
                self.name = name
                link.verdict = trio.Event()
                login = f"/login {name} {self.password}" if self.password is not None else name
                await link.send(login)
                await link.verdict.wait()
                if link.registered:
                    return True
                left = tries_left(link.refusal)
                if asking and left is not None:
                    # The server lets us try again on this connection.
                    name = await self._try_again(name, left)
                    continue
                if not asking or link.refusal.startswith(WRONG_PASSWORD):
                    return False
                name = await self._answer(link, name)
        except GaveUp:
            self._quitting = True
            return False

    async def _try_again(self, name: str, left: int) -> str | None:
        """Ask again for the password of ``name`` (``None``: Enter alone, another name)."""
        self._wrong_passwords += 1
        self._notice(f"try again ({left} {'try' if left == 1 else 'tries'} left)")
        secret = await self._secret(f"password for {name}: ")
        if not secret:
            self.password = None
            return None
        self.password = secret
        return name

    def _asking(self) -> bool:
        """Whether to ask the user what the server wants (a terminal, before the first welcome)."""
        return self.keyboard.interactive and not self.registered

    async def _answer(self, link: Link, name: str) -> str | None:
        """The name to send next after the refusal of ``name`` (``None``: ask for one)."""
        if link.refusal.startswith(NEEDS_SERVER_PASSWORD):
            self.server_password = await self._secret("server password: ")
            await link.send(f"/pass {self.server_password}")
            return name
        if registered_prompt(link.refusal, name) is not None:
            secret = await self._secret(f"password for {name}: ")
            if not secret:
                return None  # Enter alone: another name
            self.password = secret
            return name
        if " is not registered" in link.refusal:
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
        terminal = self.keyboard.interactive
        if line.startswith(WELCOME_PREFIX):
            link.registered, link.since = True, trio.current_time()
            # As the server spells it (a login may change its case).
            self.name = line[len(WELCOME_PREFIX) :].split("!", 1)[0]
            self.account = self.name if self.password is not None else None
            self.room = FIRST_ROOM
            link.verdict.set()
        elif line.startswith("! "):
            link.refusal = line
            link.verdict.set()
            if self._asking() and line.startswith(NEEDS_SERVER_PASSWORD):
                return NEEDS_PASSWORD_NOTICE
            if self._asking() and tries_left(line) is not None:
                return line.split(" (", 1)[0]  # the client says how many tries are left
            if self._asking():
                return registered_prompt(line, self.name or "") or line
            if self.registered and line.startswith(f"! the name {self.name} is taken"):
                # Coming back: most likely by our own lost connection, not yet dropped.
                return f"*** the name {self.name} is still taken (the old connection?)"
        elif line.startswith(GREETING_PREFIX):
            link.greeting = line
            link.greeted.set()
            if (
                self._asking()
                and self.server_password is None
                and line.startswith(PASSWORD_GREETING)
            ):
                return NEEDS_PASSWORD_NOTICE
            return None if self.name is not None else line  # we send our name unasked
        elif line.startswith(PASSWORD_ACCEPTED) and terminal and self.name is not None:
            return "*** server password accepted"
        return line

    def _notice(self, text: str) -> None:
        self._show_line(f"*** {text}")

    def _show_line(self, line: str) -> None:
        self.screen.show(self.display.incoming(line))
