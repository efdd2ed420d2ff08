"""Each member's bounded outbox of encoded bytes, and the flusher that drains them.

Theory of operation
-------------------
Nobody awaits a peer: the hub puts already-encoded bytes into a member's
:class:`Outbox` with ``put_nowait``, which raises :class:`OutboxFull` when
the member is not reading fast enough.

A member is judged by whether it *reads*, never by what others sent at
once: a burst of hundreds of senders may put megabytes into every outbox
before any writer runs. Below its soft bound (:data:`OUTBOX_BYTES`) an
outbox takes anything; above it, it takes more only while its writer makes
progress (the socket accepted bytes within the last :data:`STALL_GRACE`
seconds); and never more than the hard bounds (:data:`OUTBOX_HARD_BYTES`,
:data:`OUTBOX_MESSAGES`), far above any burst within the flood limits.

The outbox asks the :class:`~.flusher.Flusher` when it gets its first
message; the flusher writes what is queued through the connection's
non-blocking direct write (at once when the server is idle, batched under
load), and starts a writer task only for what the kernel did not take.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio

# The flusher lives in its own module; it is imported from here too.
from trio_chat.core.flusher import FLUSH_INTERVAL, QUEUE_BUDGET, WRITE_BATCH_BYTES, Flusher

LOGGER = logging.getLogger(__name__)

__all__ = [
    "FLUSH_INTERVAL",
    "OUTBOX_BYTES",
    "OUTBOX_HARD_BYTES",
    "OUTBOX_MESSAGES",
    "QUEUE_BUDGET",
    "WRITE_BATCH_BYTES",
    "Flusher",
    "Outbox",
    "OutboxFull",
]

# An outbox holds at most this many messages (a hard bound: a burst of one
# short line from each of thousands of connections fits)...
OUTBOX_MESSAGES = 65_536
# ...and at most this many bytes (the hard bound, far above a burst)...
OUTBOX_HARD_BYTES = 8 * 1024 * 1024
# ...but past this soft bound only while its writer makes progress: bytes
# accepted by the socket within the last STALL_GRACE seconds.
OUTBOX_BYTES = 1024 * 1024
STALL_GRACE = 10.0
# A writer reports progress after each chunk this big (send_all is opaque).
PROGRESS_CHUNK = 16 * 1024


# An outbox's states: taking messages; closed (its writer sends what is
# queued, then ends); detached (no writer any more: puts are refused).
OPEN, CLOSED, DETACHED = "open", "closed", "detached"


class OutboxFull(Exception):
    """The recipient is not reading fast enough."""


class Outbox:
    """A member's bounded queue of encoded bytes, drained by its writer.

    Bounded by message count (``max_messages``) and by bytes queued: a hard
    bound (``max_bytes``), and a soft one (``soft_bytes``) past which it takes
    more only while the writer makes progress (see the module's docstring).
    ``put_nowait`` never blocks; it raises :class:`OutboxFull` when a bound
    would be crossed. The writer is not woken per message but through the
    :class:`Flusher`, once for everything queued meanwhile.

    The queue is a plain list: a broadcast to a big room is one
    ``put_nowait`` per member, the server's hottest loop, so a put is a few
    comparisons and an append, and a take one join (a memory channel's
    bookkeeping per put and per take once cost a fifth of a big room's CPU).
    An empty list is also the smallest queue an idle connection can park.

    Its owner attaches (:meth:`attach`) a way to *start* a writer: the outbox starts
    one only when there is something the direct write could not send (or,
    without a direct write, anything at all), and the writer ends as soon as
    the queue is empty (:meth:`next_batch` returns ``b""``). An idle
    connection then has no writer task at all, which saves a task, its stack
    of frames and an Event per connection (about a fifth of an idle
    connection's memory).
    """

    # Thousands of these live at once: no per-instance __dict__.
    __slots__ = (
        "_drain",
        "_error",
        "_flusher",
        "_leftover",
        "_limit",
        "_queue",
        "_scheduled",
        "_stalled_since",
        "_start",
        "_state",
        "_writing",
        "condemned",
        "direct",
        "grace",
        "max_bytes",
        "max_messages",
        "own_bytes",
        "owner",
        "queued_bytes",
        "soft_bytes",
    )

    def __init__(
        self,
        max_messages: int = OUTBOX_MESSAGES,
        max_bytes: int = OUTBOX_HARD_BYTES,
        flusher: Flusher | None = None,
        *,
        soft_bytes: int = OUTBOX_BYTES,
        grace: float = STALL_GRACE,
    ) -> None:
        self._queue: list[bytes] = []
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.soft_bytes = min(soft_bytes, max_bytes)
        # What a put may bring the queue to without a closer look (-1: none,
        # when condemned, closed or detached): the hot path's one comparison.
        self._limit = self.soft_bytes
        # OPEN, CLOSED (no more puts; the writer ends once empty) or DETACHED
        # (no more writers: puts are refused as to a broken channel).
        self._state = OPEN
        self.grace = grace
        self.queued_bytes = 0
        # Over the soft bound: since when the writer has sent nothing (None:
        # under it, or progress since it was last checked).
        self._stalled_since: float | None = None
        # Bytes queued for this member alone (see QUEUE_BUDGET), at most queued_bytes.
        self.own_bytes = 0
        # Over the server's budget, and among the biggest: takes nothing more.
        self.condemned = False
        # Whose outbox it is (the hub's member), for the flusher's evictions.
        self.owner: object = None
        # Set once the queue is down to a level a reader waits for (drained()).
        self._drain: tuple[trio.Event, int] | None = None
        self._flusher = flusher
        # True from the first put after the writer found the queue empty until
        # the writer finds it empty again: one wake-up asked for at a time.
        self._scheduled = False
        # Set by attach(): starts a writer task that drains with next_batch().
        self._start: Callable[[], object] | None = None
        # True from the start of an attached writer until it finds the queue empty.
        self._writing = False
        # A synchronous, non-blocking write to the peer, returning how much the
        # kernel took (or raising BlockingIOError when it took nothing). With
        # it, the flusher sends for an idle writer without waking (or
        # starting) it, and does so only for what is left.
        self.direct: Callable[[bytes], int] | None = None
        self._leftover = b""
        self._error: OSError | None = None

    def put_nowait(self, data: bytes, own: bool = False) -> None:
        """Queue ``data`` (``own``: for this member alone, counted in the server's budget).

        Written at once instead while a broadcast writes through and nothing
        is queued (:attr:`.flusher.Flusher.through`): all in this one call.

        Raises:
            OutboxFull: the queue is at a hard bound, or over the soft one
                with a writer that sent nothing for ``grace`` seconds.
            trio.BrokenResourceError: the writer is gone.
            trio.ClosedResourceError: the outbox was closed.
        """
        size = self.queued_bytes + len(data)
        if size > self._limit and self._refuse(size):
            raise OutboxFull
        flusher = self._flusher
        if not self._scheduled and not own and flusher is not None and flusher.through:
            # Nothing queued: write through, unless a writer is busy.
            direct = self.direct
            if (
                direct is not None
                and not self._writing
                and not self._leftover
                and self._error is None
                and self._start is not None
            ):
                try:
                    sent = direct(data)
                except BlockingIOError:
                    sent = 0
                except OSError as exc:  # the peer is gone: the writer raises it
                    self._error, sent = exc, len(data)
                except Exception:
                    # One member's trouble must not stop the broadcast: its
                    # writer takes all of it over.
                    LOGGER.exception("writing a broadcast through failed; its writer takes over")
                    sent = 0
                if sent != len(data) or self._error is not None:
                    self._through_rest(data[sent:])
                elif self._stalled_since is not None:
                    self._stalled_since = None
                return
        queue = self._queue
        if len(queue) >= self.max_messages:
            raise OutboxFull
        queue.append(data)
        # Not ``size``: crossing the soft bound may have written some already.
        self.queued_bytes += len(data)
        if own:
            self.own_bytes += len(data)
            if flusher is not None:
                flusher.own(self, len(data))
        if not self._scheduled:
            self._scheduled = True
            if flusher is None:
                self.wake()
            else:
                flusher.schedule(self)

    def _through_rest(self, rest: bytes) -> None:
        """What a write through left (the kernel's buffer full, or the peer gone): the writer's."""
        self._stalled_since = None
        self._leftover = rest
        self.queued_bytes += len(rest)
        self._scheduled = True
        self.wake()

    def _refuse(self, size: int) -> bool:
        """Past the quick limit: whether a queue of ``size`` bytes is too much.

        Raises:
            trio.BrokenResourceError: the writer is gone.
            trio.ClosedResourceError: the outbox was closed.
        """
        if self._state is CLOSED:
            raise trio.ClosedResourceError
        if self._state is DETACHED:
            raise trio.BrokenResourceError
        return self.condemned or (size > self.soft_bytes and self._over_soft(size))

    def _over_soft(self, size: int) -> bool:
        """Whether a queue of ``size`` bytes, over the soft bound, is too much.

        Only over the soft bound is the clock read, so the common put stays cheap.
        """
        if size > self.max_bytes:
            return True
        now = trio.current_time()
        if self._stalled_since is None:
            self._stalled_since = now
            # Relieve the queue at once: a burst of many senders lands between
            # two flusher passes, and the kernel often has room already.
            if self._scheduled and self._flusher is not None:
                self.flush()
            return False
        return now - self._stalled_since > self.grace

    def condemn(self) -> None:
        """Take nothing more (over the server's budget, among the biggest)."""
        self.condemned = True
        self._limit = -1

    def _taken(self) -> None:
        """Bytes left the queue: fewer of its own, and a reader waiting may go on."""
        if self.own_bytes > self.queued_bytes:
            if self._flusher is not None:
                self._flusher.release(self.own_bytes - self.queued_bytes)
            self.own_bytes = self.queued_bytes
        if self._drain is not None and self.queued_bytes <= self._drain[1]:
            self._drain[0].set()
            self._drain = None

    async def drained(self, below: int) -> None:
        """Wait until at most ``below`` bytes are queued (one waiter: the member's reader).

        A replay is queued only once the member took the last one: however
        often a member that does not read asks, it holds one at a time.
        """
        while self.queued_bytes > below:
            if self._drain is None:
                self._drain = (trio.Event(), below)
            await self._drain[0].wait()

    def progressed(self) -> None:
        """The socket accepted bytes: the member reads (the stall clock starts again)."""
        self._stalled_since = None

    def discard(self) -> int:
        """Forget what is queued (the member is being dropped); how many bytes that was.

        What is left of a message the kernel took the start of stays: a last
        word after it must not follow half a line (or half a frame).
        """
        kept = len(self._leftover)
        dropped = self.queued_bytes - kept
        self._queue.clear()
        self.queued_bytes = kept
        self._taken()
        return dropped

    def put_last(self, data: bytes) -> None:
        """Drop what is queued for ``data`` alone, whatever the bounds (a last word).

        Raises:
            trio.BrokenResourceError: the writer is gone.
            trio.ClosedResourceError: the outbox was closed.
        """
        self.discard()
        if self._state is not OPEN:
            self._refuse(0)
        self._queue.append(data)
        self.queued_bytes += len(data)
        if not self._scheduled:
            self._scheduled = True
            self.wake()

    def attach(
        self, start_writer: Callable[[], object], direct: Callable[[bytes], int] | None
    ) -> None:
        """Drain through writers started on demand by ``start_writer()``.

        A writer so started calls :meth:`next_batch` until it returns
        ``b""``, and then ends. If anything is waiting already, one starts now.
        """
        self._start = start_writer
        self.direct = direct
        if self._scheduled or self._leftover or self._error:
            self.wake()

    def detach(self) -> None:
        """No more writers: further puts raise ``BrokenResourceError``."""
        self._start = None
        self.direct = None
        if self._state is OPEN:
            self._state = DETACHED
        self._limit = -1

    @property
    def idle(self) -> bool:
        """Nothing queued, nothing left over from a write, and no writer running."""
        return not self._queue and not self._leftover and not self._writing

    def wake(self) -> None:
        """Start a writer, if one can be (attached) and none runs."""
        if self._start is not None and not self._writing:
            self._writing = True
            self._start()

    def flush(self) -> None:
        """Send what is queued directly, if no writer is busy; wake one only if needed."""
        if not self._scheduled:
            # A stale request: the writer emptied the queue itself since it asked
            # (and close() wakes the writer on its own).
            return
        idle = self._start is not None and not self._writing
        if idle and self.direct is not None and not self._leftover and not self._error:
            data = self._take(WRITE_BATCH_BYTES)
            if data:
                try:
                    sent = self.direct(data)
                except BlockingIOError:
                    sent = 0
                except OSError as exc:  # the peer is gone: the writer raises it
                    self._error, sent = exc, len(data)
                except Exception:
                    # Not the peer: a bug. The writer takes all of it over.
                    LOGGER.exception("flushing an outbox failed; its writer takes over")
                    sent = 0
                # Bytes still queued (there was no leftover): more than one batch.
                more = self.queued_bytes > 0
                if sent == len(data) and self._error is None and not more:
                    self._scheduled = False
                    return
                # Still counted against the bound until the writer has sent it.
                self._leftover = data[sent:]
                self.queued_bytes += len(self._leftover)
        self.wake()

    def _take(self, max_bytes: float) -> bytes:
        """Everything queued, stopping once past ``max_bytes`` (``b""``: nothing)."""
        queue = self._queue
        if not queue:
            return b""
        if self.queued_bytes <= max_bytes:
            # The common case: all of it, in one join.
            data = queue[0] if len(queue) == 1 else b"".join(queue)
            queue.clear()
        else:
            # A long queue: up to the first message that crosses max_bytes.
            size = end = 0
            while size < max_bytes:
                size += len(queue[end])
                end += 1
            data = b"".join(queue[:end])
            del queue[:end]
        self.queued_bytes -= len(data)
        # The writer takes more only once the socket took what it had.
        self._stalled_since = None
        if self.own_bytes > self.queued_bytes or self._drain is not None:
            self._taken()
        return data

    def next_batch(self, max_bytes: int = WRITE_BATCH_BYTES) -> bytes:
        """What is queued, stopping once past ``max_bytes``; ``b""`` if nothing is.

        Coalescing what is queued into one write costs one wake-up and one
        system call per batch instead of one per message. For an attached
        writer, ``b""`` means: end now (a later put starts a new writer).

        Raises:
            OSError: an earlier direct write failed (the peer is gone).
            trio.EndOfChannel: the outbox is closed and empty.
        """
        if self._error is not None:
            raise self._error
        if self._leftover:
            data, self._leftover = self._leftover, b""
            self.queued_bytes -= len(data)
            self._taken()
            return data
        data = self._take(max_bytes)
        if not data:
            if self._state is not OPEN:
                raise trio.EndOfChannel
            self._scheduled = False
            self._writing = False
        return data

    def close(self) -> None:
        """No more messages: the writer sends what is queued, then ends."""
        if self._state is OPEN:
            self._state = CLOSED
            self._limit = -1
        self.wake()
