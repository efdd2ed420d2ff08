"""One line-protocol connection: bytes to requests to the chat service, outcomes to bytes.

Theory of operation
-------------------
A session speaks the line protocol over a
:class:`~trio_chat.net.connection.Connection` (a TCP socket, TLS, or an
in-memory stream in the tests), in two phases:

1. **Registration** (:meth:`Session.register`): a single task reads lines
   until one is an acceptable, free name, answering each bad one with a
   ``! `` line. The caller bounds it in time (:data:`NAME_TIMEOUT`).
2. **Chat** (:meth:`Session.chat`): the connection runs the reader (lines to
   service calls) and, only while there is something to send, a writer; it
   owns the direct reads and writes, draining and eviction.

The rules (names, accounts, bans, mutes, rooms, flood pacing, history) are
the :class:`~trio_chat.core.service.ChatService`'s; this module only parses
lines (:mod:`.codec`), calls the service, and words its answers
(:mod:`.wording`). The text protocol has one *current room* per user: plain
lines go there, and ``/join`` moves the user from it to another.

The reader ends on ``/quit``, EOF or a receive error; the member then leaves
through the service (once, logged once), which closes the outbox, and the
connection drains it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from trio_chat.core.clients import Arrival, Password
from trio_chat.core.events import Error, Notice, Past, Reason
from trio_chat.core.hub import LOBBY
from trio_chat.core.limits import Flooding
from trio_chat.core.members import Member
from trio_chat.core.phrases import Phrase
from trio_chat.core.refusals import (
    Banned,
    Refused,
    ServerClosing,
    WrongPassword,
    WrongServerPassword,
)
from trio_chat.core.service import ChatService
from trio_chat.i18n import N_, Words, words_for
from trio_chat.net.connection import Connection
from trio_chat.text.codec import BadLine, LineBuffer, encoder_for
from trio_chat.text.commands import Commands
from trio_chat.text.grammar import (
    ACCOUNT_COMMANDS,
    Command,
    HistoryRequest,
    Invalid,
    Join,
    Lang,
    Login,
    Name,
    Nick,
    Pass,
    Quit,
    parse_command,
    parse_name_step,
)
from trio_chat.text.wording import (
    NEEDS_PASSWORD,
    language_words,
    languages_line,
    name_rules,
    name_step_refusal,
    refusal,
)

LOGGER = logging.getLogger(__name__)

# A connection that has not chosen a valid name after this many seconds is closed.
NAME_TIMEOUT = 60.0

# Why a flooding member left is Reason.FLOODING; the last thing they hear:
FLOODING = Phrase(N_("flooding: too many lines for too long, disconnected"))
# The first thing a connection hears: tells `nc` users what to send.
GREETING = N_("Hello! {rules}, or /login NAME PASSWORD for a registered name")
# The same, on a server with a password (--password-file).
PASSWORD_GREETING = N_("Hello! This server needs a password: send /pass PASSWORD, then your name")
PASSWORD_REPLIES = {
    Password.NOT_NEEDED: N_("This server needs no password. {rules}"),
    Password.ALREADY: N_("Password accepted already. {rules}"),
    Password.ACCEPTED: N_("Password accepted. {rules}"),
}


class _TurnedAway(Exception):
    """Registration ends without a member: the peer was told why, the connection closes."""


class Session:
    """The line protocol on one connection.

    Args:
        connection: reads and writes the stream; the session never closes it
            (its owner does). Its peer names the connection in logs.
        service: the chat service every request goes to.
        address: the peer's IP address, for flood control (None: not over
            IP, like the exempt loopback).
    """

    # One per connection, thousands at once: no per-instance __dict__.
    __slots__ = ("_lines", "client", "commands", "connection", "service")

    def __init__(
        self, connection: Connection, service: ChatService, *, address: str | None = None
    ) -> None:
        self.connection = connection
        self.service = service
        self.client = service.connect(connection.peer, address)
        self.commands = Commands(service, self.client, words_for(service.lang))
        # Bytes to lines; what followed the name line in the same chunk is
        # chat, not lost (the connection keeps lines received, not yet handled).
        self._lines = LineBuffer()

    @property
    def peer(self) -> str:
        return self.connection.peer

    @property
    def words(self) -> Words:
        """The user's language (the server's default until ``/lang``)."""
        return self.commands.words

    def greeting(self) -> Notice:
        """The first thing a connection hears: what to send, in the user's language."""
        _ = self.words
        if self.service.needs_password:
            return Notice(_(PASSWORD_GREETING))
        return Notice(_(GREETING, rules=name_rules(_)))

    # --- registration -------------------------------------------------------

    async def register(self) -> Member | None:
        """Read lines until one is a free, valid name; ``None`` if the peer left.

        On a server with a password, ``/pass PASSWORD`` must come first: a
        wrong one ends the connection. ``/login NAME PASSWORD`` takes a
        registered name (a few wrong passwords end the connection); a plain
        name that is registered is refused. A banned address or name is told
        so, and the connection ends.
        """
        await self.send_now(self.greeting())
        try:
            while True:
                event = await self.connection.next_message(self._lines)
                if event is None:
                    fields = self.client.fields("left", "no name")
                    LOGGER.info(
                        "%s left before choosing a name", self.peer, extra={"fields": fields}
                    )
                    return None
                await self._pace_name_step()
                if isinstance(event, BadLine):
                    await self.send_now(Error(event.reason))
                    continue
                arrival = await self._name_step(event.text)
                if arrival is not None:
                    self._welcome(arrival)
                    return self.client.member
        except _TurnedAway as turned_away:
            await self.send_now(Error(turned_away.args[0]))
            return None
        except ServerClosing:
            return None  # the server tells everyone it is shutting down

    async def _pace_name_step(self) -> None:
        try:
            if await self.service.pace(self.client):
                await self.send_now(Error(self.commands.slow_down()))
        except Flooding:
            LOGGER.warning(
                "%s disconnected before choosing a name: flooding",
                self.peer,
                extra={"fields": self.client.fields("disconnected", "flooding")},
            )
            raise _TurnedAway(FLOODING) from None

    async def _name_step(self, text: str) -> Arrival | None:
        """One line of the name step; the arrival once a name is taken.

        Raises:
            _TurnedAway: a wrong password or a ban: the connection ends.
        """
        try:
            match parse_name_step(text):
                case Pass(secret):
                    reply = self.service.give_password(self.client, secret)
                    _ = self.words
                    await self.send_now(Notice(_(PASSWORD_REPLIES[reply], rules=name_rules(_))))
                case Name(name):
                    return await self._take_name(name)
                case Login(name, password):
                    return await self._take_name(name, password)
                case Lang(tag):
                    await self._lang_step(tag)
                case Invalid(reason):
                    problem = reason if self.client.admitted else self.words(NEEDS_PASSWORD)
                    await self.send_now(Error(problem))
        except (WrongServerPassword, Banned) as exc:
            raise _TurnedAway(name_step_refusal(exc, self.words)) from None
        except WrongPassword as exc:
            if exc.tries_left == 0:
                raise _TurnedAway(name_step_refusal(exc, self.words)) from None
            await self.send_now(Error(name_step_refusal(exc, self.words)))
        except ServerClosing:
            raise
        except Refused as exc:
            await self.send_now(Error(name_step_refusal(exc, self.words)))
        return None

    async def _lang_step(self, tag: str) -> None:
        """``/lang`` before the name: the answer, and the greeting again, in the new language."""
        if not tag:
            await self.send_now(Notice(languages_line(self.words)))
            return
        words, said = language_words(self.words, tag)
        if words is None:
            await self.send_now(Error(said))
            return
        self.commands.words = words
        await self.send_now(Notice(said))
        await self.send_now(self.greeting())

    async def _take_name(self, name: str, password: str | None = None) -> Arrival:
        encode = encoder_for(self.words)
        return await self.service.take_name(
            self.client, name, encode, self.connection, password=password, room=LOBBY
        )

    def _welcome(self, arrival: Arrival) -> None:
        member, _ = self.client.named(), self.words
        count = self.service.online() - 1
        if count == 0:
            online = _("nobody else yet")
        elif count <= self.commands.NAMES_PER_LINE:  # listing a crowd for each newcomer: N log N
            online = ", ".join(n for n in self.service.members() if n != member.name)
        else:
            online = _("{n} others (/who * lists them)", n=count)
        welcome = _(
            "Welcome, {name}! Online: {online}. Type /help for commands.",
            name=member.name,
            online=online,
        )
        self._tell(Notice(welcome))
        self.commands.show_room(arrival, announce=False)

    async def send_now(self, event: Notice | Error) -> None:
        """Send one line directly: only while no writer task is running."""
        await self.connection.send_now(encoder_for(self.words)(event))

    # --- chat ------------------------------------------------------------------

    def chat(self, member: Member) -> Awaitable[None]:
        """Run the reader, and writers as needed, until the member leaves or is dropped.

        The connection's own coroutine, not one wrapping it: thousands of idle
        connections each park one frame less.
        """
        return self.connection.serve_member(member, self._reader, self._leave, (Reason.LOST, ""))

    def _leave(self, why: tuple[Reason, str]) -> None:
        self.service.leave(self.client, *why)

    async def _reader(self) -> tuple[Reason, str]:
        """Handle lines until the member quits or the peer goes; returns why."""
        while True:
            event = await self.connection.next_message(self._lines)
            if event is None:
                return (Reason.LOST if self.connection.lost else Reason.CLOSED), ""
            try:
                size = 0 if isinstance(event, BadLine) else len(event.text.encode())
                if await self.service.pace(self.client, size):
                    self._tell(Error(self.commands.slow_down()))
            except Flooding:
                self._tell(Error(FLOODING))
                return Reason.FLOODING, ""
            if not self.client.present:
                return Reason.LOST, ""  # removed meanwhile: the writer is delivering why
            if isinstance(event, BadLine):
                self._tell(Error(event.reason))
                continue
            quit = await self._command(parse_command(event.text))
            if quit is not None:
                return Reason.QUIT, quit

    async def _command(self, command: Command | None) -> str | None:
        """Carry out one command; the parting words if it was ``/quit``."""
        try:
            match command:
                case None:
                    pass
                case Quit(reason):
                    _ = self.words
                    self._tell(Notice(_("Bye!")))
                    return reason
                case Lang(tag):
                    words = self.commands.lang(tag)
                    if words is not None:
                        self.service.set_encoder(self.client, encoder_for(words))
                case _ if isinstance(command, ACCOUNT_COMMANDS):
                    await self.commands.moderate(command)
                case Join(room):
                    await self.commands.join(room)
                case HistoryRequest(count):
                    await self.commands.older(count)
                case Nick(new):
                    await self.commands.nick(new)
                case _:
                    self.commands.handle(command)
        except Refused as exc:
            self._tell(Error(refusal(exc, self.words)))
        return None

    def _tell(self, event: Notice | Error | Past) -> None:
        self.service.tell(self.client, event)
