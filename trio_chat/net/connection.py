"""The I/O of one stream connection, for any stream-based frontend.

Theory of operation
-------------------
A :class:`Connection` wraps a ``trio.abc.Stream`` (a TCP socket, a TLS
stream, or an in-memory stream in the tests). A frontend's session uses it
in two phases:

1. **Before it is a member** (a greeting, a name, a refusal): the session
   reads with :meth:`Connection.receive` and answers with
   :meth:`Connection.send_now`, in its own task.
2. **As a member** (:meth:`Connection.serve_member`): a nursery holds the
   session's *reader* (it runs in the nursery's body) and, only while there
   is something to send, a *writer* (the member's outbox to the stream). At
   most one writer runs at a time, and nothing else writes while it does,
   so no send lock is needed.

Who writes: on a socket (a :class:`~trio_chat.net.direct.DirectIO` given:
plain TCP, or TLS once its handshake is over), the hub's flusher writes
queued bytes directly when the kernel has room (:meth:`Connection._write_now`),
and the outbox starts a writer task only for what the kernel did not take
(TLS: ciphertext it owes); the writer ends as soon as the queue is empty.
An idle connection therefore costs one parked task (the reader), not two.
Reads are direct too: ``read_now``, and ``wait_readable`` only when there
is nothing. Without one (in-memory streams), the stream does everything.

Who ends what:

* The reader returns why the member is done (``/quit``, EOF, a receive
  error); ``leave`` then takes the member out of the hub, which closes the
  outbox (starting a writer to send what is queued), and that writer gets
  :data:`DRAIN_TIMEOUT`.
* A writer that finds its outbox closed and empty (after a leave, or at
  server shutdown) cancels the nursery, so the reader ends too.
* The connection is its member's :class:`~trio_chat.core.members.Link`:
  the hub ends a session with :meth:`Connection.close` (a reason, and a
  deadline or now), which acts on the nursery's own scope from the moment
  the chat phase starts (a close asked before applies then). Reader and
  writer end together, wherever they are.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import trio

from trio_chat.core.events import Reason
from trio_chat.core.members import Member
from trio_chat.core.outbox import PROGRESS_CHUNK, Outbox
from trio_chat.net.direct import RECEIVE_SIZE, DirectIO, PlainSocket

LOGGER = logging.getLogger(__name__)

# Why the chat phase ended, in the frontend's own terms.
Why = TypeVar("Why")
# What a frontend's decoder makes of the bytes (lines, for the text protocol).
Message = TypeVar("Message")
Made = TypeVar("Made", covariant=True)


class Decoder(Protocol[Made]):
    """Turns received bytes into messages (``feed(b"")`` is the end of the stream)."""

    def feed(self, data: bytes) -> Sequence[Made]: ...


# After a member leaves, its writer has this long to flush what is queued.
DRAIN_TIMEOUT = 5.0
# The errors that mean the peer is gone, wherever they come from.
CONNECTION_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


# No messages pending: one shared list, never changed (pop() only when not empty),
# so that an idle connection holds no list of its own.
NO_MESSAGES: list[Any] = []


class Connection:
    """One connection's reads, writes and chat-phase tasks; it never closes the stream.

    Args:
        stream: the connection; its owner (the frontend's handler) closes it.
        peer: how the connection is named in logs.
        direct: the stream's direct reads and writes, when it has them (a
            plain socket's, or a TLS stream's once its handshake is over).
    """

    # One per connection, thousands at once: no per-instance __dict__.
    __slots__ = (
        "_eof",
        "_nursery",
        "_outbox",
        "_pending",
        "_scope",
        "direct",
        "lost",
        "peer",
        "reason",
        "stream",
    )

    def __init__(self, stream: trio.abc.Stream, peer: str, direct: DirectIO | None = None) -> None:
        self.stream = stream
        self.peer = peer
        self.direct = direct
        # Whether the stream ended in an error (a reset) rather than a clean EOF.
        self.lost = False
        # Why close() ended it, if it did (the first reason given wins).
        self.reason: Reason | None = None
        # The nursery of the chat phase, where writers are started as needed.
        self._nursery: trio.Nursery | None = None
        self._outbox: Outbox | None = None
        # What close() acts on: the chat phase's scope, or, before it, one that
        # records the request until the chat phase takes it over.
        self._scope: trio.CancelScope | None = None
        # Messages received but not yet handed out, last first; and whether
        # the stream has ended (see next_message).
        self._pending: list[Any] = NO_MESSAGES
        self._eof = False

    # --- reading -----------------------------------------------------------------

    async def receive(self) -> bytes:
        """The next bytes from the peer; ``b""`` at the end of the stream.

        Always a checkpoint, like ``receive_some``. A reset (or any receive
        error) is an end too, with :attr:`lost` set: the caller should not
        trust an unterminated last message to be whole.
        """
        try:
            io = self.direct
            if io is None or not io.ready:
                return bytes(await self.stream.receive_some(RECEIVE_SIZE))
            # A socket: read directly, and wait only if there is nothing to
            # read. The same checkpoints as the stream's receive_some (data
            # read is never lost to a cancel), with a few layers less per
            # receive and parked in every idle connection (1.5 KiB each).
            await trio.lowlevel.checkpoint_if_cancelled()
            data = self._read_now()
            if data is not None:
                await trio.lowlevel.cancel_shielded_checkpoint()
                return data
            while data is None:
                await trio.lowlevel.wait_readable(io.fileno)
                data = self._read_now()
            return data
        except (trio.BrokenResourceError, OSError):
            self.lost = True  # reset by peer: the end of the stream
            return b""

    def _read_now(self) -> bytes | None:
        """What the peer sent now (``b""`` at its end, or after a reset); None: nothing yet."""
        assert self.direct is not None
        try:
            return self.direct.read_now()
        except OSError:
            self.lost = True  # reset by peer: the end of the stream
            return b""

    async def next_message(self, decoder: Decoder[Message]) -> Message | None:
        """The next message ``decoder`` makes of the stream; ``None`` at its end.

        One receive can hold thousands of messages (a paste), each handled
        without awaiting: this yields between them, so that writers drain the
        outboxes and an eviction stops the reader at once. Every receive is a
        checkpoint too, also one that makes no message, so a peer streaming
        bytes without a line break cannot hold the loop. After a reset, an
        unterminated last message is not trusted to be whole.

        The reader parks here (in ``wait_readable``), one frame deep: idle
        connections are the most numerous, so this loop is not split up.
        """
        if self._pending:
            await trio.lowlevel.checkpoint()
        while not self._pending:
            if self._eof:
                return None
            io = self.direct
            if io is None or not io.ready:
                data = await self.receive()
            else:
                # receive(), inlined: this is where idle connections wait.
                await trio.lowlevel.checkpoint_if_cancelled()
                ready = self._read_now()
                if ready is None:
                    await trio.lowlevel.wait_readable(io.fileno)
                    # The wait was the checkpoint: what it woke for is handled
                    # in this turn (as Trio's own sockets do), not one later.
                    ready = self._read_now()
                    if ready is None:
                        continue
                else:
                    await trio.lowlevel.cancel_shielded_checkpoint()
                data = ready
            if not data:
                self._eof = True
            messages = decoder.feed(data)
            if messages and not self.lost:
                self._pending = list(messages[::-1])
        message: Message = self._pending.pop()
        if not self._pending:
            self._pending = NO_MESSAGES
        return message

    # --- writing before (or without) a writer ------------------------------------

    async def send_now(self, data: bytes) -> None:
        """Send ``data`` directly: only while no writer task can run (outside the chat phase)."""
        await self.stream.send_all(data)

    # --- the chat phase ------------------------------------------------------------

    async def serve_member(
        self,
        member: Member,
        reader: Callable[[], Awaitable[Why]],
        leave: Callable[[Why], None],
        gone: Why,
    ) -> None:
        """Run ``reader``, and writers as needed, until the member leaves or is dropped.

        Args:
            member: its outbox is drained to the stream; its link is this
                connection (the hub ends the phase through :meth:`close`).
            reader: reads and handles the member's input until they are done;
                returns why (the reason the hub and the log hear).
            leave: takes the member out of the hub with that reason, which
                closes the outbox; called once the reader returns, while a
                writer can still send what is queued (within DRAIN_TIMEOUT).
            gone: the reason ``leave`` is called with when the chat phase
                ends otherwise (a cancel, an eviction, a failed write).

        ``leave`` is called exactly once. (The caller's own frame is not
        needed for this: idle connections park one frame less.)
        """
        outbox = member.outbox
        reason: Why | None = gone
        try:
            async with trio.open_nursery() as nursery:
                scope = nursery.cancel_scope
                self._take_over(member, scope)
                self._nursery, self._outbox = nursery, outbox
                io = self.direct
                direct = None
                if io is not None and io.ready:
                    # A plain socket never owes: the flusher may call it itself.
                    direct = io.raw_write if type(io) is PlainSocket else self._write_now
                outbox.attach(self._start_writer, direct)
                try:
                    why = await reader()
                    reason = None
                    if outbox.idle and not (io is not None and io.owed):
                        # Nothing left to send: closing the outbox starts no
                        # writer just to end the phase (a storm of thousands
                        # leaving at once would pay a task and a Cancelled each).
                        self._nursery = None
                    leave(why)
                    # A dismissal or a shutdown may have set an earlier one.
                    scope.deadline = min(scope.deadline, trio.current_time() + DRAIN_TIMEOUT)
                finally:
                    # From here the nursery may close as soon as a running writer
                    # ends, and other tasks run before this one resumes: starting a
                    # writer then would fail in whichever task queued a message.
                    # The session is ending; what matters is sent by a writer
                    # already running (after a leave, the outbox is closed).
                    self._nursery = None
        except* CONNECTION_ERRORS as group:
            LOGGER.debug("%s: %r", member.name, group.exceptions)
        finally:
            # The nursery is closed: nothing may start a writer in it any more.
            outbox.detach()
            if reason is not None:
                leave(reason)

    def _take_over(self, member: Member, scope: trio.CancelScope) -> None:
        """From here on, evictions and close() end the chat phase through ``scope``.

        Whatever was asked of the placeholder scope before (an eviction, a
        deadline) carries over. Reusing the nursery's scope costs every
        connection one cancel scope less.
        """
        earlier = self._scope
        if earlier is not None:
            scope.deadline = min(scope.deadline, earlier.deadline)
            if earlier.cancel_called:
                scope.cancel()
        self._scope = scope

    def close(self, reason: Reason, deadline: float = -math.inf) -> None:
        """End the chat phase by ``deadline`` (at once by default), as ``reason``.

        A writer still sending what is queued gets until ``deadline``. Asked
        before the chat phase, it applies as soon as it starts; after it, it
        does nothing. The frontend's handler closes the stream itself.
        """
        if self.reason is None:
            self.reason = reason
        if self._scope is None:
            self._scope = trio.CancelScope()
        if deadline == -math.inf:
            self._scope.cancel()
        else:
            self._scope.deadline = min(self._scope.deadline, deadline)

    def _start_writer(self) -> None:
        if self._nursery is not None and self._outbox is not None:
            self._nursery.start_soon(self._writer, self._outbox, self._nursery.cancel_scope)

    async def _writer(self, outbox: Outbox, session_scope: trio.CancelScope) -> None:
        """Send what is queued until the queue is empty (the outbox starts it again).

        Started by the outbox only when there is something the flusher's
        direct write did not send (TLS: ciphertext it owes; without direct
        writes, anything at all): an idle connection has a reader task and
        no writer. What is owed goes first: nothing else may come between
        the parts of a TLS record. When the outbox is closed and empty, the
        member has left: end the chat phase.
        """
        io = self.direct
        try:
            while True:
                while io is not None and io.owed:
                    await trio.lowlevel.wait_writable(io.fileno)
                    if io.flush_now():
                        outbox.progressed()
                data = outbox.next_batch()
                if not data:
                    return
                sent = self._write_now(data)
                # In chunks, each one progress: a member is dropped for not
                # reading (no progress for a while), not for reading slowly.
                while sent < len(data):
                    chunk = memoryview(data)[sent : sent + PROGRESS_CHUNK]
                    await self.stream.send_all(chunk)
                    sent += len(chunk)
                    outbox.progressed()
        except trio.EndOfChannel:
            session_scope.cancel()

    def _write_now(self, data: bytes) -> int:
        """Write what the kernel takes right now, without a trip through the scheduler.

        In a big room this is the common case: the socket buffer has room, and
        a non-blocking write costs a fraction of ``send_all``. What does not
        fit is left to the writer: a plain socket's rest it sends with
        ``send_all``; what a TLS stream owes (it took all of ``data``), it
        flushes once the socket is writable, and a writer is started for
        that if none runs. Only the flusher (for an idle writer) and the
        writer call this, so writes stay in order.

        Raises:
            OSError: the peer is gone.
        """
        io = self.direct
        if io is None:
            return 0
        sent = io.write_now(data)
        if io.owed and self._outbox is not None:
            self._outbox.wake()  # a no-op when the writer calls this
        return sent
