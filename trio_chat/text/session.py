"""One line-protocol connection, from its first byte to its close.

Theory of operation
-------------------
A session runs on any ``trio.abc.Stream`` (a TCP socket, or an in-memory
stream in the tests) in two phases:

1. **Registration** (:meth:`Session.register`): a single task reads lines
   until one is an acceptable, free name, answering each bad one with a
   ``! `` line. The caller bounds it in time (:data:`NAME_TIMEOUT`).
2. **Chat** (:meth:`Session.chat`): a nursery holds the *reader* (lines to
   hub calls; it runs in the nursery's body) and, only while there is
   something to send, a *writer* (the member's outbox to the stream). At
   most one writer runs at a time, and nothing else writes while it does,
   so no send lock is needed.

Who writes: on a socket, the hub's flusher writes queued bytes directly
when the kernel has room (:meth:`Session._write_now`), and the outbox
starts a writer task only for what the kernel did not take; the writer
ends as soon as the queue is empty. An idle connection therefore costs
one parked task (the reader), not two: about 9.6 KiB in all instead of 14.

Who ends what:

* The reader ends on ``/quit``, EOF or a receive error; it then leaves the
  hub, which closes the outbox (starting a writer to send what is queued),
  and gives that writer :data:`DRAIN_TIMEOUT`.
* A writer that finds its outbox closed and empty (after a leave, or at
  server shutdown) cancels the nursery, so the reader ends too.
* The hub evicts a member that is too slow by cancelling the session's
  scope (the nursery's): reader and writer end together, wherever they are.

Whatever happens, the member leaves the hub exactly once, the others hear
why, and one line is logged.
"""

from __future__ import annotations

import logging
import os

import trio

from trio_chat.core.accounts import Guard
from trio_chat.core.events import Error, Notice, Past
from trio_chat.core.history import DEFAULT_REPLAY, Entry, History
from trio_chat.core.hub import LOBBY, Hub, HubClosing, Member, NameTaken, NoSuchMember
from trio_chat.core.limits import FloodGuard, Flooding
from trio_chat.core.moderation import Moderation
from trio_chat.core.names import BadName, check_name, check_room, name_key
from trio_chat.core.outbox import Outbox
from trio_chat.text.codec import (
    ACCOUNT_COMMANDS,
    BadLine,
    Command,
    EchoSetting,
    Help,
    HistoryRequest,
    Invalid,
    Join,
    Line,
    LineBuffer,
    Login,
    Me,
    Name,
    Nick,
    Pass,
    PrivateMessage,
    Quit,
    Rooms,
    Say,
    Topic,
    Who,
    encode,
    help_lines,
    parse_command,
    parse_name_step,
)

LOGGER = logging.getLogger(__name__)

# A connection that has not chosen a valid name after this many seconds is closed.
NAME_TIMEOUT = 60.0
# After a member leaves, its writer has this long to flush what is queued.
DRAIN_TIMEOUT = 5.0
# A history replay queues at most this many bytes at once (the outbox holds 1 MiB).
REPLAY_BYTES = 256 * 1024
# Names listed on one line of /who; longer lists take several lines.
NAMES_PER_LINE = 50
# Rooms listed by /rooms.
ROOMS_LISTED = 100
# How much to ask the stream for at a time.
RECEIVE_SIZE = 8 * 1024


def _within_budget(entries: list[Entry]) -> list[Entry]:
    """The newest of ``entries`` that fit in REPLAY_BYTES (all of them, usually).

    A replay is queued in one step, so it must stay far below the outbox's
    bound, or asking for history would drop the asker as too slow.
    """
    size = 0
    for index in range(len(entries) - 1, -1, -1):
        event = entries[index].event
        size += len(event.sender) + len(event.text.encode()) + 16
        if size > REPLAY_BYTES:
            return entries[index + 1 :]
    return entries


def _speaks(command: Command) -> bool:
    """Whether others would see ``command`` (what a muted member may not do)."""
    if isinstance(command, Topic):
        return command.text is not None  # showing the topic is fine
    return isinstance(command, Say | Me | PrivateMessage | Nick)


def _read_now(fileno: int) -> bytes | None:
    """What the socket has for us now (``b""`` at its end); ``None`` if nothing yet.

    The caller waits outside any except clause: an idle connection parked
    there would keep the BlockingIOError and its traceback (0.5 KiB each).

    Raises:
        OSError: the connection failed (reset by the peer, for example).
    """
    try:
        return os.read(fileno, RECEIVE_SIZE)
    except BlockingIOError:
        return None


def _count(n: int) -> str:
    return "1 message" if n == 1 else f"{n} messages"


# Why a flooding member left, as the room hears it, and the last thing they hear.
FLOODED = "flooding"
FLOODING = "flooding: too many lines for too long, disconnected"
# The first thing a connection hears: tells `nc` users what to send.
NAME_RULES = "Send your name (1-32 letters, digits, '_', '-', '.')"
GREETING = f"Hello! {NAME_RULES}, or /login NAME PASSWORD for a registered name"
# The same, on a server with a password (--password-file).
PASSWORD_GREETING = "Hello! This server needs a password: send /pass PASSWORD, then your name"
NEEDS_PASSWORD = "this server needs a password: send /pass PASSWORD first"


class _TurnedAway(Exception):
    """Registration ends without a member: the peer was told why, the connection closes."""


class Session:
    """The protocol side of one connection.

    Args:
        stream: the connection; the session never closes it (its owner does).
        hub: the hub to register with.
        peer: the peer's address, for logs.
        history: where room history is kept, if anywhere.
        replay: how many messages of a room's history to show on entering it.
        fileno: the stream's plain socket, when it is one: the session reads
            from it and writes to it directly (never for a wrapped stream,
            such as TLS, whose bytes are not the protocol's).
        flood: paces the lines this connection sends (None: not limited).
        guard: the server's passwords, accounts and bans (none by default).
    """

    # One per connection, thousands at once: no per-instance __dict__.
    __slots__ = (
        "_eof",
        "_flood",
        "_history_before",
        "_lines",
        "_lost",
        "_nursery",
        "_outbox",
        "_pending",
        "fileno",
        "guard",
        "history",
        "hub",
        "moderation",
        "peer",
        "replay",
        "room",
        "stream",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        hub: Hub,
        peer: str,
        *,
        history: History | None = None,
        replay: int = DEFAULT_REPLAY,
        fileno: int | None = None,
        flood: FloodGuard | None = None,
        guard: Guard | None = None,
    ) -> None:
        self.stream = stream
        self._flood = flood
        self.guard = guard or Guard()
        self.moderation = Moderation(hub, self.guard, peer)
        # The stream's non-blocking socket, for the writer's fast path, if any.
        self.fileno = fileno
        self.hub = hub
        self.peer = peer
        self.history = history
        self.replay = replay
        # The room plain lines go to (the text protocol has one current room).
        self.room = LOBBY
        # /history shows messages older than this sequence number.
        self._history_before = 0
        self._lines = LineBuffer()
        # Lines received but not yet handled (what followed the name line in
        # the same chunk is chat, not lost).
        self._pending: list[Line | BadLine] = []
        self._eof = False
        self._lost = False
        # The nursery of the chat phase, where writers are started as needed.
        self._nursery: trio.Nursery | None = None
        self._outbox: Outbox | None = None

    # --- registration -------------------------------------------------------

    async def register(self) -> Member | None:
        """Read lines until one is a free, valid name; ``None`` if the peer left.

        On a server with a password, ``/pass PASSWORD`` must come first: a
        wrong one ends the connection. ``/login NAME PASSWORD`` takes a
        registered name (a wrong password ends the connection); a plain name
        that is registered is refused. A banned address or name is told so,
        and the connection ends.
        """
        await self.send_now(Notice(PASSWORD_GREETING if self.guard.needs_password else GREETING))
        try:
            admitted = not self.guard.needs_password
            while True:
                event = await self._next_event()
                if event is None:
                    LOGGER.info(
                        "%s left before choosing a name",
                        self.peer,
                        extra={
                            "fields": {"event": "left", "address": self.peer, "reason": "no name"}
                        },
                    )
                    return None
                try:
                    await self._pace(None)
                except Flooding:
                    LOGGER.warning(
                        "%s disconnected before choosing a name: flooding",
                        self.peer,
                        extra={"fields": self._fields("disconnected", "flooding")},
                    )
                    raise _TurnedAway(FLOODING) from None
                if isinstance(event, BadLine):
                    await self.send_now(Error(event.reason))
                    continue
                member: Member | None = None
                match parse_name_step(event.text):
                    case Pass(secret):
                        admitted = await self._check_pass(secret, admitted)
                    case _ if not admitted:
                        await self.send_now(Error(NEEDS_PASSWORD))
                    case Invalid(reason):
                        await self.send_now(Error(reason))
                    case Name(text):
                        member = await self._take_name(text)
                    case Login(name, password):
                        member = await self._take_name(name, password)
                if member is not None:
                    return member
        except _TurnedAway as turned_away:
            await self.send_now(Error(str(turned_away)))
            return None
        except HubClosing:
            return None  # the server tells everyone it is shutting down

    def _fields(self, event: str, reason: str, name: str | None = None) -> dict[str, str]:
        """Structured log fields (``--log-format json``) of a connection event."""
        fields = {"event": event, "address": self.peer, "reason": reason}
        if name is not None:
            fields["name"] = name
        return fields

    def _check_address(self) -> None:
        ban = self.guard.ban_of_peer(self.peer)
        if ban is not None:
            LOGGER.warning(
                "refused %s: the address is banned %s",
                self.peer,
                ban.term(),
                extra={"fields": self._fields("refused", "banned address")},
            )
            raise _TurnedAway(f"you are banned ({ban.term()})")

    async def _check_pass(self, secret: str, admitted: bool) -> bool:
        """``/pass SECRET``: whether the connection is admitted now."""
        if not self.guard.needs_password:
            await self.send_now(Notice(f"This server needs no password. {NAME_RULES}"))
        elif admitted:
            await self.send_now(Notice(f"Password accepted already. {NAME_RULES}"))
        elif self.guard.server_password_ok(secret):
            await self.send_now(Notice(f"Password accepted. {NAME_RULES}"))
        else:
            LOGGER.warning(
                "wrong server password from %s",
                self.peer,
                extra={"fields": self._fields("refused", "wrong server password")},
            )
            raise _TurnedAway("wrong password")
        return True

    async def _take_name(self, raw: str, password: str | None = None) -> Member | None:
        """Join as ``raw`` (logging in with ``password`` if given); None: try again.

        Raises:
            _TurnedAway: the name is banned, the password is wrong, or the
                server is shutting down.
        """
        try:
            name = check_name(raw)
        except BadName as exc:
            await self.send_now(Error(f"{exc}; try another name"))
            return None
        ban = self.guard.ban_of_name(name)
        if ban is not None:
            LOGGER.warning(
                "refused %s from %s: the name is banned",
                name,
                self.peer,
                extra={"fields": self._fields("refused", "banned name", name)},
            )
            raise _TurnedAway(f"you are banned ({ban.term()})")
        registered = self.guard.registered_name(name)
        if password is not None:
            if registered is None:
                await self.send_now(
                    Error(f"{name} is not registered: send the name alone (or /login another)")
                )
                return None
            if not await self.guard.verify(name, password):
                LOGGER.warning(
                    "wrong password for %s from %s",
                    registered,
                    self.peer,
                    extra={"fields": self._fields("refused", "wrong password", registered)},
                )
                raise _TurnedAway(f"wrong password for {registered}")
            name = registered
            self.moderation.identify(name)
            holder = self.hub.find(name)
            if holder is not None:  # a lost connection still holds it, or an old login
                self.hub.evict(holder, "logged in from elsewhere")
        elif registered is not None:
            taken = f"the name {name} is registered: send /login {name} PASSWORD, or another name"
            await self.send_now(Error(taken))
            return None
        try:
            if self.hub.find(name) is not None:
                raise NameTaken(name)
            # Read the lobby's history first, then join in the same step as
            # the read returns: no message is missed or shown twice.
            entries = await self._recent(LOBBY)
            # The address may have been banned while this connection chose its
            # name (the server checked it when the connection opened).
            self._check_address()
            # Until chat() replaces it with its nursery's scope, a scope that
            # records an eviction (or a shutdown's deadline).
            member = self.hub.join(name, encode, trio.CancelScope(), address=self.peer)
        except NameTaken:
            await self.send_now(Error(f"the name {name} is taken; try another name"))
            return None
        member.muted = name_key(name) in self.guard.muted
        self._welcome(member, entries)
        return member

    def _welcome(self, member: Member, entries: list[Entry]) -> None:
        LOGGER.info(
            "%s joined from %s",
            member.name,
            self.peer,
            extra={"fields": {"event": "registered", "address": self.peer, "name": member.name}},
        )
        count = len(self.hub) - 1
        if count == 0:
            online = "nobody else yet"
        elif count <= NAMES_PER_LINE:  # listing a crowd for each newcomer would cost N log N
            online = ", ".join(n for n in self.hub.names() if n != member.name)
        else:
            online = f"{count} others (/who * lists them)"
        self.hub.deliver(
            member,
            Notice(f"Welcome, {member.name}! Online: {online}. Type /help for commands."),
        )
        self._show_room(member, entries, announce=False)

    async def _recent(self, room: str, *, before: int | None = None, count: int = 0) -> list[Entry]:
        """A room's history; raises Cancelled if the session was cancelled meanwhile.

        The read runs in a worker thread, which a cancel cannot interrupt: an
        eviction or a shutdown during it must still stop the caller before it
        touches the hub. ``checkpoint_if_cancelled`` does not yield otherwise,
        so the caller still enters the room in the same step as the read.
        """
        if self.history is None:
            await trio.lowlevel.checkpoint_if_cancelled()
            return []
        entries = await self.history.recent(room, count or self.replay, before=before)
        await trio.lowlevel.checkpoint_if_cancelled()
        return entries

    def _show_room(self, member: Member, entries: list[Entry], *, announce: bool = True) -> None:
        """Tell ``member`` where they are now, and replay the room's history."""
        room = self.hub.room(self.room)
        assert room is not None
        if announce:
            self._list_names(member, f"Now in {room.name}", self.hub.names(room.name))
        if room.topic:
            self.hub.deliver(member, Notice(f"Topic of {room.name}: {room.topic}"))
        entries = _within_budget(entries)
        self._history_before = entries[0].seq if entries else self._next_seq()
        if entries:
            self._replay(member, f"Last {_count(len(entries))} in {room.name}:", entries)

    def _list_names(self, member: Member, title: str, names: list[str]) -> None:
        """``*** TITLE (N): a, b, c`` on one line, or over several for a crowd."""
        if len(names) <= NAMES_PER_LINE:
            self.hub.deliver(member, Notice(f"{title} ({len(names)}): {', '.join(names)}"))
            return
        self.hub.deliver(member, Notice(f"{title} ({len(names)}):"))
        for start in range(0, len(names), NAMES_PER_LINE):
            chunk = names[start : start + NAMES_PER_LINE]
            self.hub.deliver(member, Notice("  " + ", ".join(chunk)))

    def _replay(self, member: Member, title: str, entries: list[Entry]) -> None:
        # Queued in one step: bounded by REPLAY_BYTES, far below the outbox's bound.
        self.hub.deliver(member, Notice(title))
        for entry in entries:
            self.hub.deliver(member, Past(entry.event))
        self.hub.deliver(member, Notice("End of history"))

    def _next_seq(self) -> int:
        return self.history.last_seq + 1 if self.history is not None else 0

    async def send_now(self, event: Notice | Error) -> None:
        """Send one line directly: only while no writer task is running."""
        await self.stream.send_all(encode(event))

    # --- chat ------------------------------------------------------------------

    async def chat(self, member: Member) -> None:
        """Run the reader, and writers as needed, until the member leaves or is dropped."""
        reason = "connection lost"
        outbox = member.outbox
        try:
            async with trio.open_nursery() as nursery:
                # From here on the hub ends the session through the nursery's own
                # scope: one cancel scope less in every connection.
                scope = nursery.cancel_scope
                scope.deadline = member.cancel_scope.deadline
                if member.cancel_scope.cancel_called:
                    scope.cancel()
                member.cancel_scope = scope
                self._nursery, self._outbox = nursery, outbox
                outbox.attach(
                    self._start_writer, self._write_now if self.fileno is not None else None
                )
                try:
                    reason = await self._reader(member)
                    self._leave(member, reason)
                    # A dismissal or a shutdown may have set an earlier one.
                    scope.deadline = min(scope.deadline, trio.current_time() + DRAIN_TIMEOUT)
                finally:
                    # From here the nursery may close as soon as a running writer
                    # ends, and other tasks run before this one resumes: starting a
                    # writer then would fail in whichever task queued a message.
                    # The session is ending; what matters is sent by a writer
                    # already running (after a leave, the outbox is closed).
                    self._nursery = None
        except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as group:
            LOGGER.debug("%s: %r", member.name, group.exceptions)
            reason = "connection lost"
        finally:
            # The nursery is closed: nothing may start a writer in it any more.
            outbox.detach()
            self._leave(member, "server shutting down" if self.hub.closing else reason)

    def _leave(self, member: Member, reason: str) -> None:
        """Leave the hub once, and log it once; an evicted member was logged already."""
        if self.hub.find(member.name) is member:
            self.hub.leave(member, reason)
            if self.hub.closing:
                level = logging.DEBUG
            else:
                level = logging.WARNING if reason == FLOODED else logging.INFO
            why = reason or "quit"
            fields = {"event": "left", "address": self.peer, "name": member.name, "reason": why}
            LOGGER.log(
                level, "%s (%s) left: %s", member.name, self.peer, why, extra={"fields": fields}
            )

    def _start_writer(self) -> None:
        if self._nursery is not None and self._outbox is not None:
            self._nursery.start_soon(self._writer, self._outbox, self._nursery.cancel_scope)

    async def _writer(self, outbox: Outbox, session_scope: trio.CancelScope) -> None:
        """Send what is queued until the queue is empty (the outbox starts it again).

        Started by the outbox only when there is something the flusher's
        direct write did not send (or, without a socket, anything at all):
        an idle connection has a reader task and no writer. When the outbox
        is closed and empty, the member has left: end the session.
        """
        try:
            while data := outbox.next_batch():
                sent = self._write_now(data)
                if sent < len(data):
                    await self.stream.send_all(memoryview(data)[sent:])
        except trio.EndOfChannel:
            session_scope.cancel()

    def _write_now(self, data: bytes) -> int:
        """Write what the kernel takes right now, without a trip through the scheduler.

        In a big room this is the common case: the socket buffer has room, and
        a plain non-blocking write costs a fraction of ``send_all``. What does
        not fit is left to ``send_all``, which waits for room. Only the writer
        task calls this, and never during a ``send_all``, so writes stay in order.
        """
        if self.fileno is None:
            return 0
        try:
            return os.write(self.fileno, data)
        except BlockingIOError:
            return 0

    async def _reader(self, member: Member) -> str:
        """Handle lines until the member quits or the peer goes; returns why."""
        while True:
            event = await self._next_event()
            if event is None:
                return "connection lost" if self._lost else "connection closed"
            if not self.hub.is_member(member):
                return "removed"  # kicked or banned: the writer is delivering why
            try:
                await self._pace(member)
            except Flooding:
                self.hub.deliver(member, Error(FLOODING))
                return FLOODED
            if isinstance(event, BadLine):
                self.hub.deliver(member, Error(event.reason))
                continue
            command = parse_command(event.text)
            match command:
                case None:
                    pass
                case _ if isinstance(command, ACCOUNT_COMMANDS):
                    await self.moderation.handle(member, self.room, command)
                case Quit(reason):
                    self.hub.deliver(member, Notice("Bye!"))
                    return reason
                case Join(room):
                    await self._join_room(member, room)
                case HistoryRequest(count):
                    await self._older(member, count)
                case _:
                    self._handle(member, command)

    async def _pace(self, member: Member | None) -> None:
        """Delay a line sent over the flood rate (warning once); nothing is dropped.

        While this waits, nothing more is read from the connection, so TCP
        slows the sender down too.

        Raises:
            Flooding: the connection has been over the rate for too long.
        """
        if self._flood is None or (member is not None and member.operator):
            return  # exempt address, or an operator
        delay, warn = self._flood.check(trio.current_time())
        if warn:
            error = Error(f"slow down: over {self._flood.rate:g} lines a second; lines are delayed")
            if member is None:
                await self.send_now(error)
            else:
                self.hub.deliver(member, error)
        if delay > 0:
            await trio.sleep(delay)

    async def _join_room(self, member: Member, raw: str) -> None:
        try:
            wanted = check_room(raw)
        except BadName as exc:
            self.hub.deliver(member, Error(str(exc)))
            return
        if self.hub.same_room(wanted, self.room):
            self.hub.deliver(member, Notice(f"You are already in {self.room}"))
            return
        entries = await self._recent(wanted)
        # From here to the replay, nothing awaits: the history read and the
        # room entry happen in one step.
        existing = self.hub.room(wanted)
        target = existing.name if existing is not None else wanted
        self.hub.part(member, self.room, f"went to {target}")
        self.room = self.hub.enter(member, target).name
        self._show_room(member, entries)

    async def _older(self, member: Member, count: int) -> None:
        room = self.room
        entries = await self._recent(room, before=self._history_before, count=count)
        if room != self.room:
            return
        entries = _within_budget(entries)
        if not entries:
            self.hub.deliver(member, Notice(f"No older messages in {room}"))
            return
        self._history_before = entries[0].seq
        self._replay(member, f"{_count(len(entries))} before, in {room}:", entries)

    def _handle(self, member: Member, command: Command) -> None:
        hub = self.hub
        if member.muted and _speaks(command):
            hub.deliver(member, Error("you are muted"))
            return
        match command:
            case Say(text):
                hub.say(member, self.room, text)
            case Me(text):
                hub.act(member, self.room, text)
            case PrivateMessage(target, text):
                try:
                    hub.private(member, target, text)
                except NoSuchMember:
                    hub.deliver(member, Error(f"nobody called {target} is online (see /who)"))
            case Nick(new):
                self._rename(member, new)
            case Who(everyone=True):
                self._list_names(member, "Online", hub.names())
            case Who():
                self._list_names(member, f"In {self.room}", hub.names(self.room))
            case Rooms():
                rooms = hub.room_list()
                hub.deliver(member, Notice(f"Rooms ({len(rooms)}):"))
                for room in rooms[:ROOMS_LISTED]:
                    about = f": {room.topic}" if room.topic else ""
                    hub.deliver(member, Notice(f"  {room.name} ({len(room.members)}){about}"))
                if len(rooms) > ROOMS_LISTED:
                    hub.deliver(member, Notice(f"  ... and {len(rooms) - ROOMS_LISTED} more"))
            case Topic(None):
                current = hub.room(self.room)
                topic = current.topic if current is not None else ""
                text = f"Topic of {self.room}: {topic}" if topic else f"No topic in {self.room}"
                hub.deliver(member, Notice(text))
            case Topic(str(topic)):
                hub.set_topic(member, self.room, topic)
            case Help():
                for line in help_lines(operator=member.operator):
                    hub.deliver(member, Notice(line))
            case EchoSetting(on):
                member.echo = on
                hub.deliver(member, Notice(f"echo {'on' if on else 'off'}"))
            case Invalid(reason):
                hub.deliver(member, Error(reason))
            case _:  # Quit, Join, HistoryRequest and account commands: the reader
                raise AssertionError(command)

    def _rename(self, member: Member, new: str) -> None:
        old = member.name
        try:
            name = check_name(new)
            if not self.moderation.may_take(name):
                self.hub.deliver(member, Error(f"the name {name} is registered to someone else"))
                return
            if self.guard.ban_of_name(name) is not None:
                self.hub.deliver(member, Error(f"the name {name} is banned"))
                return
            self.hub.rename(member, name)
        except BadName as exc:
            self.hub.deliver(member, Error(str(exc)))
        except NameTaken:
            self.hub.deliver(member, Error(f"the name {new} is taken"))
        else:
            fields = {
                "event": "renamed",
                "address": self.peer,
                "name": member.name,
                "old_name": old,
            }
            LOGGER.info(
                "%s (%s) is now known as %s", old, self.peer, member.name, extra={"fields": fields}
            )

    # --- input -------------------------------------------------------------------

    async def _next_event(self) -> Line | BadLine | None:
        """The next received line (or line error); ``None`` at end of stream."""
        while not self._pending:
            if self._eof:
                return None
            try:
                if self.fileno is None:
                    data = await self.stream.receive_some(RECEIVE_SIZE)
                else:
                    # A socket: read directly, and wait only if there is nothing
                    # to read. Equivalent to the stream's receive_some, with a
                    # few layers less per receive and parked in every idle
                    # connection (1.5 KiB each). The checkpoint is below.
                    ready = _read_now(self.fileno)
                    if ready is None:
                        await trio.lowlevel.wait_readable(self.fileno)
                        continue
                    data = ready
            except (trio.BrokenResourceError, OSError):
                data = b""  # reset by peer: treat as the end of the stream
                self._lost = True
            if not data:
                self._eof = True
            events = self._lines.feed(data)
            # After a reset, an unterminated last line is not trusted to be whole.
            self._pending = [] if self._lost else events[::-1]
            if not self._pending and not self._eof:
                # A read that made no line (part of one, or the rest of one too
                # long, being dropped): yield, as trio's receive_some would, or a
                # peer streaming bytes without a newline would hold the loop.
                await trio.lowlevel.checkpoint()
        else:
            # One receive can hold thousands of lines, each handled without
            # awaiting. Yield between them, so that writers drain the outboxes
            # (a paste must not fill everyone's queue before any write) and so
            # that an eviction stops this reader at once.
            await trio.lowlevel.checkpoint()
        return self._pending.pop()
