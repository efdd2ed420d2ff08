"""The flusher: when the members' outboxes are written to their sockets, and at what cost.

Theory of operation
-------------------
Waking a writer task per message per recipient is what once limited the
server: 200,000 wake-ups a second for 1000 members hearing 200 messages a
second. Instead, an outbox that gets its first message since its writer
last looked asks the :class:`Flusher` (:meth:`Flusher.schedule`); the
flusher's task passes over every such outbox and writes all that is queued
for each with one non-blocking write (:meth:`~.outbox.Outbox.flush`), which
starts a writer task only for what the kernel did not take.

When a pass happens is the trade between latency and CPU:

* **Idle, a message leaves at once.** A broadcast that finds the flusher
  idle (the gap after its last pass or broadcast over)
  *writes through* (:meth:`Flusher.open_through`): each member with nothing
  queued gets the bytes written to its socket right in the broadcast's
  loop, instead of a put there and a write in a pass after it. In a room of
  1000, that is one loop instead of two, and the put loop's time (about a
  fifth of the write loop's) no longer delays every recipient. The
  broadcast's time paces what follows as a pass's does. (A minimum gap
  between passes once held every such message for up to the flusher's
  interval; later, a pass in the next scheduling round after the puts.)
* **Under load, passes batch.** After a pass that took ``spent`` seconds of
  the server's CPU (its own thread's time: time other processes took from it
  while it wrote is not the server's work, and must not hold back what
  follows), the next waits until :data:`FLUSH_GAP_FACTOR` times ``spent`` has passed
  (at most :data:`FLUSH_INTERVAL`), so that writing never takes more than
  about two thirds of the server's time, and everything said meanwhile goes out in
  the same write per member. A pass costs one system call per member with
  something queued, whatever the number of messages: the busier the server,
  the more each write carries.

The flusher also keeps the server-wide budget of bytes queued for one member
alone (:data:`QUEUE_BUDGET`): past it, the biggest holders are condemned
and evicted at the next pass.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from trio_chat.core.outbox import Outbox

LOGGER = logging.getLogger("trio_chat.core.outbox")

# Bytes queued for one member alone (replays, listings, private messages)
# that all outboxes together may hold; past it, the biggest holders are
# dropped first. Broadcasts are not counted: their bytes are shared.
QUEUE_BUDGET = 256 * 1024 * 1024
# Under load, a pass follows the last one after FLUSH_GAP_FACTOR times as long
# as that one took (the flusher's share of the time is at most 1 / (1 + factor)),
# and never more than FLUSH_INTERVAL seconds after it. A pass of 1000 members
# takes about 7 ms of CPU (a write each), so the bound matters only on a server
# short of CPU (other processes on its core), where it bounds the writes per
# second (20 passes a second, each carrying all that was said meanwhile).
# Half a pass's time (writing takes at most two thirds of the time): in a big
# room, handling a message costs little beside writing it, and a gap as long
# as the pass (half the time) held messages back while the CPU idled. Measured
# on a quiet machine, one interleaved run (README, Performance): 1000 members at
# 200 msg/s, p50 8.3 / 7.8 ms against 9.5 / 10.5 with a factor of 1, p99 at
# 450-600 msg/s 15-18 ms against 22-24, for 10-15 points more CPU.
FLUSH_INTERVAL = 0.05
FLUSH_GAP_FACTOR = 0.5
# A writer stops adding queued messages to one write once it has this many bytes.
WRITE_BATCH_BYTES = 64 * 1024


class Flusher:
    """Writes the outboxes that have something queued, in passes (see the module's docstring).

    Without a running flusher task (:meth:`run`), outboxes wake their writers
    at once.

    Args:
        interval: the longest gap between two passes under load.
        budget: the server-wide budget of bytes queued for one member alone.
    """

    def __init__(self, interval: float = FLUSH_INTERVAL, budget: int = QUEUE_BUDGET) -> None:
        self.interval = interval
        # The server-wide budget of bytes queued for one member alone.
        self.budget = budget
        self.own_total = 0
        self._holders: set[Outbox] = set()
        self._condemned: list[Outbox] = []
        # Drops the member of an outbox over the budget (the hub sets it).
        self.evict: Callable[[Outbox], None] | None = None
        self._due: list[Outbox] = []
        self._work = trio.Event()
        self._running = False
        # When the last pass ended, and how long after it the next may start.
        self._last = -math.inf
        self._gap = 0.0
        # While a broadcast writes through (open_through): the outboxes with
        # nothing queued write its bytes at once; and since when it does.
        self.through = False
        self._through_since = 0.0
        # What a pass costs: this thread's CPU time, or the clock's time if
        # less (a mock clock's; tests may give another CPU clock).
        self.cpu_clock: Callable[[], float] = time.thread_time
        self._through_cpu = 0.0

    def schedule(self, outbox: Outbox) -> None:
        """``outbox`` has something queued: write it at the next pass."""
        if not self._running:
            outbox.wake()
            return
        self._due.append(outbox)
        self._work.set()

    def open_through(self) -> bool:
        """Whether a broadcast starting now may write through (see the module's docstring).

        Only when the server is idle: the flusher runs and the gap after the
        last pass (or broadcast written through) is over. (Outboxes waiting
        for a pass queue the broadcast behind what they hold.) If it may,
        :attr:`through` is set until :meth:`close_through`.
        """
        if not self._running or self.through:
            return False
        now = trio.current_time()
        if now < self._last + self._gap:
            return False
        self.through = True
        self._through_since = now
        self._through_cpu = self.cpu_clock()
        return True

    def close_through(self) -> None:
        """The broadcast is over: it paces what follows as a pass would."""
        self.through = False
        self._last = trio.current_time()
        self._gap = self._gap_after(self._last - self._through_since, self._through_cpu)

    def own(self, outbox: Outbox, size: int) -> None:
        """``outbox`` took ``size`` bytes of its own: past the budget, condemn the biggest."""
        self.own_total += size
        self._holders.add(outbox)
        if self.own_total > self.budget:
            self._over_budget()

    def release(self, size: int) -> None:
        self.own_total -= size

    def _over_budget(self) -> None:
        """Condemn the biggest holders until the rest fits in nine tenths of the budget."""
        holders = sorted(self._holders, key=lambda o: o.own_bytes, reverse=True)
        self._holders = {o for o in holders if o.own_bytes > 0}
        # Those condemned already are as good as gone (at the next pass).
        freed = sum(o.own_bytes for o in self._condemned)
        before = len(self._condemned)
        for outbox in holders:
            if self.own_total - freed <= self.budget * 0.9:
                break
            if not outbox.condemned and outbox.own_bytes > 0:
                outbox.condemn()
                freed += outbox.own_bytes
                self._condemned.append(outbox)
        if len(self._condemned) > before:
            LOGGER.warning(
                "queued bytes over the budget (%d > %d): dropping the %d biggest reader(s)",
                self.own_total,
                self.budget,
                len(self._condemned) - before,
            )
            self._work.set()

    def _evict_condemned(self) -> None:
        condemned, self._condemned = self._condemned, []
        for outbox in condemned:
            self._holders.discard(outbox)
            if self.evict is not None:
                self.evict(outbox)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Flush until cancelled; then every outbox wakes its writer itself."""
        self._running = True
        try:
            task_status.started()
            while True:
                await self._work.wait()
                self._work = trio.Event()
                if self._gap > 0:
                    # Under load: leave the others their share since the last pass.
                    wait = self._last + self._gap - trio.current_time()
                    if wait > 0:
                        await trio.sleep(wait)
                self._pass()
        finally:
            self._running = False
            due, self._due = self._due, []
            for outbox in due:
                outbox.wake()

    def _pass(self) -> None:
        """Write every outbox that asked; time it, to pace the next pass."""
        start, cpu = trio.current_time(), self.cpu_clock()
        self._evict_condemned()
        due, self._due = self._due, []
        for outbox in due:
            try:
                outbox.flush()
            except Exception:
                # One outbox's trouble must not stop the others' writers.
                LOGGER.exception("flushing an outbox failed; its writer takes over")
                outbox.wake()
        # The longer a pass takes (the bigger the crowd and the busier the
        # server), the longer until the next one, so that more is sent per
        # write; a pass that took no time holds nothing back. The gap counts
        # from the end of the pass, so others run in between.
        self._last = trio.current_time()
        self._gap = self._gap_after(self._last - start, cpu)

    def _gap_after(self, took: float, cpu: float) -> float:
        """The gap after writing that took ``took`` seconds and began at CPU time ``cpu``."""
        spent = min(took, self.cpu_clock() - cpu)
        return min(self.interval, FLUSH_GAP_FACTOR * spent)
