"""One IRC connection: messages to service calls, outcomes to numerics.

Theory of operation
-------------------
Like the text door's session, in two phases over a
:class:`~trio_chat.net.connection.Connection`:

1. **Registration** (:meth:`IrcSession.register`): ``PASS``, ``NICK``,
   ``USER`` and ``CAP`` until the client has a nick and a user and is not
   negotiating capabilities (``CAP LS`` holds registration until ``CAP
   END``); then the service signs it on (in no room: IRC users choose
   theirs) and it hears the welcome burst. The frontend bounds this in time.
2. **Chat** (:meth:`IrcSession.chat`): every message goes through the
   command table (:mod:`.dispatch`). A client silent for
   ``ping_interval`` is sent a ``PING``; one that then stays silent for
   ``ping_timeout`` is dropped ("Ping timeout").

Replies are collected in order and sent once a command is done: before the
member exists, straight to the connection; after, as one
:class:`~trio_chat.core.events.Reply` through the service into the
member's bounded outbox, so that they stay in order with the events the
service sends (:meth:`IrcSession.event` flushes the replies first).

Every rule is the service's; this module and the command modules only
translate. A refusal a handler does not word itself is a ``NOTICE``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from trio_chat import __version__
from trio_chat.core.events import Reason, Reply, ServerEvent
from trio_chat.core.limits import Flooding
from trio_chat.core.members import Member
from trio_chat.core.refusals import Refused
from trio_chat.core.service import ChatService
from trio_chat.irc import numerics as n
from trio_chat.irc.codec import NOT_UTF8, TOO_LONG, BadMessage, IrcMessage, MessageBuffer
from trio_chat.irc.codec import format_message as format_line
from trio_chat.irc.dispatch import COMMANDS, WRAPPERS
from trio_chat.irc.registration import complete
from trio_chat.irc.wire import Person, Wire
from trio_chat.irc.wording import refusal_text
from trio_chat.net.connection import Connection

LOGGER = logging.getLogger(__name__)

PING_INTERVAL = 90.0
PING_TIMEOUT = 60.0


@dataclass
class IrcSettings:
    """What every IRC session of a server shares."""

    server: str = "trio-chat"
    network: str = "trio-chat"
    version: str = f"trio-chat-{__version__}"
    # The server's description (LINKS, WHOIS).
    info: str = "trio_chat"
    created: str = ""
    ping_interval: float = PING_INTERVAL
    ping_timeout: float = PING_TIMEOUT
    motd: list[str] = field(default_factory=list)
    # How many connections have not registered yet (LUSERS), every door's.
    unregistered: Callable[[], int] = lambda: 0
    # SASL's password also over plain text from other machines (--irc-sasl-plaintext).
    sasl_plaintext: bool = False


class IrcSession:
    """The IRC protocol on one connection.

    Args:
        connection: reads and writes the stream (its owner closes it).
        service: the chat service every request goes to.
        wire: the door's encoders and who is who.
        settings: the server's name, network, timers.
        address: the peer's IP address (None: not over IP); ``host``: as shown.
    """

    def __init__(
        self,
        connection: Connection,
        service: ChatService,
        wire: Wire,
        settings: IrcSettings,
        *,
        address: str | None = None,
        host: str = "localhost",
    ) -> None:
        self.connection = connection
        self.service = service
        self.wire = wire
        self.settings = settings
        self.client = service.connect(connection.peer, address)
        self.buffer = MessageBuffer()
        self.host = host
        # Capabilities granted; CAP LS version; whether CAP holds registration.
        self.caps: set[str] = set()
        self.cap_version = 0
        self.negotiating = False
        # Before registration: the nick asked for, the USER given.
        self.wanted: str | None = None
        self.person: Person | None = None
        self.password: str | None = None
        self.modes: set[str] = set()
        # Set by QUIT (its reason) or a fatal refusal (ERROR sent): the session ends.
        self.quitting: str | None = None
        self._out: list[str] = []
        self._pinged = False

    # --- state ------------------------------------------------------------------

    @property
    def peer(self) -> str:
        return self.connection.peer

    @property
    def member(self) -> Member | None:
        return self.client.member

    @property
    def registered(self) -> bool:
        return self.client.member is not None

    @property
    def nick(self) -> str:
        """The nick replies are addressed to ("*" before one is chosen)."""
        member = self.client.member
        if member is not None:
            return member.name
        return self.wanted or "*"

    def mask(self) -> str:
        return self.wire.people.mask(self.nick)

    # --- replies ----------------------------------------------------------------

    def send(self, message: IrcMessage) -> None:
        """Queue ``message`` for the client (sent once the command is done)."""
        self._out.append(format_line(message))

    def send_line(self, line: str) -> None:
        """Queue one line formatted already (labeled-response's answer)."""
        self._out.append(line)

    def take_replies(self) -> list[str]:
        """The replies queued and not sent yet, taken out of the queue."""
        lines, self._out = self._out, []
        return lines

    def reply(self, numeric: str, *params: str) -> None:
        """``:server NUMERIC nick params...``."""
        self.send(IrcMessage(numeric, (self.nick, *params), self.settings.server))

    def notice(self, text: str) -> None:
        self.send(IrcMessage("NOTICE", (self.nick, text), self.settings.server))

    def fail(self, command: str, code: str, text: str) -> None:
        """An IRCv3 standard reply: ``FAIL command CODE :text``."""
        self.send(IrcMessage("FAIL", (command, code, text), self.settings.server))

    def error(self, text: str) -> None:
        """``ERROR :text``, and the session ends after it."""
        self.send(IrcMessage("ERROR", (text,)))
        self.quitting = self.quitting if self.quitting is not None else ""

    def event(self, event: ServerEvent) -> None:
        """A core event for this member alone, after the replies queued so far."""
        self.flush()
        self.service.tell(self.client, event)

    def flush(self) -> None:
        """Send the queued replies through the member's outbox (once there is a member)."""
        if self._out and self.client.member is not None:
            lines, self._out = tuple(self._out), []
            self.service.tell(self.client, Reply(lines))

    async def flush_now(self) -> None:
        """Before there is a member: send the queued replies directly."""
        if self._out:
            data = "".join(line + "\r\n" for line in self._out).encode("utf-8", "replace")
            self._out = []
            await self.connection.send_now(data)

    # --- commands ---------------------------------------------------------------

    async def handle(self, message: IrcMessage | BadMessage) -> None:
        """One message from the client, through the command table (and its wrappers:
        IRCv3 labeled-response answers a labeled command as a whole)."""
        if isinstance(message, BadMessage):
            self.bad(message)
            return
        run: Callable[[], Awaitable[None]] = functools.partial(self._dispatch, message)
        for wrap in WRAPPERS:
            run = functools.partial(wrap, self, message, run)
        await run()

    async def _dispatch(self, message: IrcMessage) -> None:
        found = COMMANDS.get(message.command)
        if found is None:
            if self.registered:
                self.reply(n.ERR_UNKNOWNCOMMAND, message.command, "Unknown command")
            else:
                self.reply(n.ERR_NOTREGISTERED, "You have not registered")
            return
        if not (found.early or self.registered):
            self.reply(n.ERR_NOTREGISTERED, "You have not registered")
            return
        if len(message.params) < found.params:
            self.reply(n.ERR_NEEDMOREPARAMS, message.command, "Not enough parameters")
            return
        try:
            await found.handler(self, message)
        except Refused as exc:
            self.notice(f"{message.command}: {refusal_text(exc)}")

    def bad(self, message: BadMessage) -> None:
        if message.why == TOO_LONG:
            self.reply(n.ERR_INPUTTOOLONG, "Input line was too long")
        elif message.why == NOT_UTF8:
            self.fail(
                message.command, "INVALID_UTF8", "Message rejected: this server is UTF-8 only"
            )
        else:
            self.reply(n.ERR_UNKNOWNCOMMAND, "*", "No command given")

    # --- registration -----------------------------------------------------------

    async def register(self) -> Member | None:
        """Read messages until the client is signed on; ``None`` if it left or was refused."""
        while not self.registered:
            message = await self.connection.next_message(self.buffer)
            if message is None:
                LOGGER.info(
                    "%s left before registering",
                    self.peer,
                    extra={"fields": self.client.fields("left", "not registered")},
                )
                return None
            if not await self._paced(message):
                await self.flush_now()
                return None
            await self.handle(message)
            if self.quitting is None and self.ready():
                await self.flush_now()
                await complete(self)
            if not self.registered:
                await self.flush_now()
            if self.quitting is not None:
                return None
        self.flush()
        return self.client.member

    def ready(self) -> bool:
        """Whether registration can complete: a nick, a user, no CAP negotiation."""
        return self.wanted is not None and self.person is not None and not self.negotiating

    async def _paced(self, message: IrcMessage | BadMessage) -> bool:
        """Flood pacing; False if the client flooded for too long (told, to be closed)."""
        params = message.params if isinstance(message, IrcMessage) else ()
        size = sum(len(param.encode()) for param in params)
        try:
            if await self.service.pace(self.client, size):
                self.notice("Slow down: your messages are being delayed")
        except Flooding:
            self.error("Closing Link: Excess Flood")
            return False
        return True

    # --- chat -------------------------------------------------------------------

    def chat(self, member: Member) -> Awaitable[None]:
        """Run the reader, and writers as needed, until the member leaves or is dropped."""
        return self.connection.serve_member(member, self._reader, self._leave, (Reason.LOST, ""))

    def _leave(self, why: tuple[Reason, str]) -> None:
        name = self.nick  # the member's name now (after leaving: the nick first asked for)
        self.service.leave(self.client, *why)
        self.wire.people.remove(name)

    async def _reader(self) -> tuple[Reason, str]:
        while True:
            wait = self.settings.ping_timeout if self._pinged else self.settings.ping_interval
            message: IrcMessage | BadMessage | None = None
            with trio.move_on_after(wait) as idle:
                message = await self.connection.next_message(self.buffer)
            if idle.cancelled_caught:
                if self._pinged:
                    self.error(f"Closing Link: Ping timeout: {wait:.0f} seconds")
                    self.flush()
                    return Reason.TIMEOUT, ""
                self._pinged = True
                self.event(Reply((f"PING :{self.settings.server}",)))
                continue
            self._pinged = False
            if message is None:
                return (Reason.LOST if self.connection.lost else Reason.CLOSED), ""
            if not await self._paced(message):
                self.flush()
                return Reason.FLOODING, ""
            if not self.client.present:
                return Reason.LOST, ""  # removed meanwhile: the writer is delivering why
            await self.handle(message)
            self.flush()
            if self.quitting is not None:
                return Reason.QUIT, self.quitting
