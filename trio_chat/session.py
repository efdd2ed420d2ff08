"""One line-protocol connection, from its first byte to its close.

Theory of operation
-------------------
A session runs on any ``trio.abc.Stream`` (a TCP socket, or an in-memory
stream in the tests) in two phases:

1. **Registration** (:meth:`Session.register`): a single task reads lines
   until one is an acceptable, free name, answering each bad one with a
   ``! `` line. The caller bounds it in time (:data:`NAME_TIMEOUT`).
2. **Chat** (:meth:`Session.chat`): a nursery holds a *reader* (lines to hub
   calls) and a *writer* (the member's outbox to the stream). The writer is
   the only task that sends, so no send lock is needed.

Who ends what:

* The reader ends on ``/quit``, EOF or a receive error; it then leaves the
  hub, which closes the outbox, and gives the writer :data:`DRAIN_TIMEOUT`
  to flush what is queued.
* The writer ends when its outbox is closed and empty (after a leave, or at
  server shutdown); it then cancels the nursery, so the reader ends too.
* The hub evicts a member that is too slow by cancelling the session's
  scope: reader and writer end together, wherever they are.

Whatever happens, the member leaves the hub exactly once, the others hear
why, and one line is logged.
"""

from __future__ import annotations

import logging

import trio

from .events import Error, Notice
from .hub import LOBBY, Hub, Member, NameTaken, NoSuchMember
from .protocol import (
    BadLine,
    BadName,
    Help,
    Invalid,
    Line,
    LineBuffer,
    Me,
    Nick,
    PrivateMessage,
    Quit,
    Say,
    Who,
    check_name,
    encode,
    help_lines,
    parse_command,
)

LOGGER = logging.getLogger(__name__)

# A connection that has not chosen a valid name after this many seconds is closed.
NAME_TIMEOUT = 60.0
# After a member leaves, its writer has this long to flush what is queued.
DRAIN_TIMEOUT = 5.0
# How much to ask the stream for at a time.
RECEIVE_SIZE = 64 * 1024
# The first thing a connection hears: tells `nc` users what to send.
GREETING = "Hello! Send your name (1-32 letters, digits, '_', '-', '.')"


class Session:
    """The protocol side of one connection.

    Args:
        stream: the connection; the session never closes it (its owner does).
        hub: the hub to register with.
        peer: the peer's address, for logs.
    """

    def __init__(self, stream: trio.abc.Stream, hub: Hub, peer: str) -> None:
        self.stream = stream
        self.hub = hub
        self.peer = peer
        self.cancel_scope = trio.CancelScope()
        self._lines = LineBuffer()
        # Lines received but not yet handled (what followed the name line in
        # the same chunk is chat, not lost).
        self._pending: list[Line | BadLine] = []
        self._eof = False
        self._lost = False

    # --- registration -------------------------------------------------------

    async def register(self) -> Member | None:
        """Read lines until one is a free, valid name; ``None`` if the peer left."""
        await self.send_now(Notice(GREETING))
        while True:
            event = await self._next_event()
            if event is None:
                LOGGER.info("%s left before choosing a name", self.peer)
                return None
            if isinstance(event, BadLine):
                await self.send_now(Error(event.reason))
                continue
            try:
                name = check_name(event.text)
                return self._join(name)
            except BadName as exc:
                await self.send_now(Error(f"{exc}; try another name"))
            except NameTaken:
                await self.send_now(Error(f"the name {name} is taken; try another name"))

    def _join(self, name: str) -> Member:
        member = self.hub.join(name, encode, self.cancel_scope, address=self.peer)
        LOGGER.info("%s joined from %s", name, self.peer)
        others = [n for n in self.hub.names(LOBBY) if n != name]
        online = ", ".join(others) if others else "nobody else yet"
        self.hub.deliver(
            member,
            Notice(f"Welcome, {name}! Online: {online}. Type /help for commands."),
        )
        return member

    async def send_now(self, event: Notice | Error) -> None:
        """Send one line directly: only while no writer task is running."""
        await self.stream.send_all(encode(event))

    # --- chat ------------------------------------------------------------------

    async def chat(self, member: Member) -> None:
        """Run the reader and the writer until the member leaves or is dropped."""
        reason = "connection lost"
        try:
            with self.cancel_scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._writer, member, nursery.cancel_scope)
                    reason = await self._reader(member)
                    self._leave(member, reason)
                    nursery.cancel_scope.deadline = trio.current_time() + DRAIN_TIMEOUT
        except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as group:
            LOGGER.debug("%s: %r", member.name, group.exceptions)
            reason = "connection lost"
        finally:
            self._leave(member, "server shutting down" if self.hub.closing else reason)

    def _leave(self, member: Member, reason: str) -> None:
        """Leave the hub once, and log it once; an evicted member was logged already."""
        if self.hub.find(member.name) is member:
            self.hub.leave(member, reason)
            level = logging.DEBUG if self.hub.closing else logging.INFO
            LOGGER.log(level, "%s (%s) left: %s", member.name, self.peer, reason or "quit")

    async def _writer(self, member: Member, session_scope: trio.CancelScope) -> None:
        try:
            while True:
                try:
                    data = await member.outbox.get_batch()
                except trio.EndOfChannel:
                    return
                await self.stream.send_all(data)
        finally:
            member.outbox.close_reader()
            session_scope.cancel()

    async def _reader(self, member: Member) -> str:
        """Handle lines until the member quits or the peer goes; returns why."""
        while True:
            event = await self._next_event()
            if event is None:
                return "connection lost" if self._lost else "connection closed"
            if isinstance(event, BadLine):
                self.hub.deliver(member, Error(event.reason))
                continue
            command = parse_command(event.text)
            if isinstance(command, Quit):
                self.hub.deliver(member, Notice("Bye!"))
                return command.reason
            if command is not None:
                self._handle(member, command)

    def _handle(
        self, member: Member, command: Say | Me | PrivateMessage | Nick | Who | Help | Invalid
    ) -> None:
        hub = self.hub
        match command:
            case Say(text):
                hub.say(member, LOBBY, text)
            case Me(text):
                hub.act(member, LOBBY, text)
            case PrivateMessage(target, text):
                try:
                    hub.private(member, target, text)
                except NoSuchMember:
                    hub.deliver(member, Error(f"nobody called {target} is online (see /who)"))
            case Nick(new):
                self._rename(member, new)
            case Who():
                names = hub.names(LOBBY)
                hub.deliver(member, Notice(f"Online ({len(names)}): {', '.join(names)}"))
            case Help():
                for line in help_lines():
                    hub.deliver(member, Notice(line))
            case Invalid(reason):
                hub.deliver(member, Error(reason))

    def _rename(self, member: Member, new: str) -> None:
        old = member.name
        try:
            self.hub.rename(member, check_name(new))
        except BadName as exc:
            self.hub.deliver(member, Error(str(exc)))
        except NameTaken:
            self.hub.deliver(member, Error(f"the name {new} is taken"))
        else:
            LOGGER.info("%s is now known as %s", old, member.name)

    # --- input -------------------------------------------------------------------

    async def _next_event(self) -> Line | BadLine | None:
        """The next received line (or line error); ``None`` at end of stream."""
        while not self._pending:
            if self._eof:
                return None
            try:
                data = await self.stream.receive_some(RECEIVE_SIZE)
            except (trio.BrokenResourceError, OSError):
                data = b""  # reset by peer: treat as the end of the stream
                self._lost = True
            if not data:
                self._eof = True
            events = self._lines.feed(data)
            # After a reset, an unterminated last line is not trusted to be whole.
            self._pending = [] if self._lost else events[::-1]
        return self._pending.pop()
