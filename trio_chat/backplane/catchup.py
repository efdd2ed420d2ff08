"""What other servers said while this one was down, written into its own history.

Theory of operation
-------------------
Each server's history file notes how far it has read the events stream
(table ``backplane``, row ``stream``: the id of the last entry whose room
messages are written there). When the backplane first connects, it reads
the stream's last id, ``until``, and reads on *live* from there; this
:class:`CatchUp` reads the entries after the noted place up to ``until``,
in batches of :data:`BATCH`, in a task of its own beside the live reader
(under the connection's nursery: the server serves meanwhile, and a
Redis failure half-way goes on from the last batch on reconnecting).

A batch's room messages and actions that the file does not hold yet (by
id: ids are unique across servers) are recorded with their own ids and
times, as the history records any message, and delivered to nobody: they
were said while this server was away. The last topic set in each room is
kept (once caught up) unless that room's topic here is newer. Once they are written the noted place
moves to the batch's end, so that a server killed half-way goes on from
there (anything written twice is skipped by id). Once caught up, the place
follows the live reader's, noted at most once a heartbeat and only after
what it read is written. A place older than the stream's first entry means
the stream was trimmed (it keeps about 100,000 entries), or Redis lost it:
that is logged, with the times between which messages may be missing.

While the catch-up runs (a second or so per 10,000 entries here), a replay
or ``/history`` may lack what it has not written yet; once it is done they
hold everything, in the order of the messages' ids.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable

import trio

from trio_chat.backplane.registry import Registry, stream_id
from trio_chat.core.events import Action, Message, TopicChanged
from trio_chat.core.history import History

LOGGER = logging.getLogger(__name__)

# Stream entries read at once while catching up.
BATCH = 1000
# Where the history file notes this server's place in the stream.
TABLE = "backplane"
PLACE = "stream"


class CatchUp:
    """This server's place in the stream, and the catching up from there.

    Args:
        history: this server's history.
        registry: the stream's operations.
        closed: set when the server stops (the catch-up ends between batches).
    """

    def __init__(
        self,
        history: History,
        registry: Registry,
        closed: trio.Event,
        topic: Callable[[TopicChanged], None],
    ) -> None:
        self.history = history
        self.registry = registry
        self.closed = closed
        self._topic = topic  # keeps a topic set meanwhile (the hub's adopt_topic)
        self._topics: dict[str, TopicChanged] = {}  # the last one of each room, by name
        self.place: str | None = None  # the last entry whose messages are written (noted)
        self.until = "0-0"  # the stream's last entry at start: live from there
        self._read: str | None = None  # the last entry read and written (this run)
        self.done = trio.Event()
        self.failed = False  # the history file failed: no catching up, no place noted
        self.written = 0  # messages written so far by catching up

    async def begin(self, until: str) -> None:
        """Read the noted place; catch up from there to ``until`` (the live reader's start).

        A history file that cannot be read or written is logged: no catching up.
        """
        self.until = until
        try:
            await self.history.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            rows = await self.history.query(f"SELECT value FROM {TABLE} WHERE key = ?", (PLACE,))
        except sqlite3.Error as exc:
            LOGGER.error("history: cannot catch up with the other servers: %s", exc)
            self.failed = True
            return
        self.place = str(rows[0][0]) if rows else None
        if stream_id(self.place or "0-0") >= stream_id(until):
            self.done.set()
            return
        first = None if self.place is None else await self.registry.trimmed(self.place)
        if self.place is not None and first is not None:
            LOGGER.warning(
                "history: the stream was trimmed past where this server stopped reading it: "
                "what other servers said between %s and %s may be missing here",
                _when(self.place),
                _when(first),
            )
        LOGGER.info(
            "history: catching up with what other servers said %s",
            "since " + _when(self.place) if self.place else "(from the stream's first entry)",
        )

    async def run(self) -> None:
        """Catch up, a batch at a time, until done or closed.

        Raises:
            Redis's connection errors: run again once reconnected (it goes on).
        """
        while not self.done.is_set() and not self.closed.is_set() and not self.failed:
            after = self._read or self.place or "0-0"
            batch = await self.registry.entries(after, self.until, BATCH)
            if self.closed.is_set():
                return
            events = []
            for _, envelope in batch:
                if envelope is not None and isinstance(envelope.event, Message | Action):
                    events.append(envelope.event)
                elif envelope is not None and isinstance(envelope.event, TopicChanged):
                    self._topics.pop(envelope.event.room, None)  # the last one last
                    self._topics[envelope.event.room] = envelope.event
            try:
                await self._write(events)
            except sqlite3.Error as exc:  # the next start tries again from the noted place
                LOGGER.error("history: cannot catch up with the other servers: %s", exc)
                self.failed = True
                return
            if self.closed.is_set():
                return
            last = batch[-1][0] if batch else self.until
            if stream_id(last) >= stream_id(self.until):
                last = self.until
            await self.note(last)
            self._read = last  # read on from there, even if it could not be noted
            if last == self.until:
                for event in self._topics.values():
                    self._topic(event)
                self.done.set()
                LOGGER.info(
                    "history: caught up with the other servers (%d message(s) said meanwhile)",
                    self.written,
                )

    async def _write(self, events: list[Message | Action]) -> None:
        """Record those the file lacks (and the retention keeps); wait until written."""
        cutoff = self.history.retention.cutoff(time.time())
        events = [e for e in events if cutoff is None or e.time >= cutoff]
        if not events:
            return
        known = await self.history.known([e.id for e in events])
        if self.closed.is_set():
            return
        for event in events:
            if event.id not in known:
                self.history.record(event)
                self.written += 1
        await self.history.flushed()

    async def note(self, place: str) -> None:
        """Note ``place`` in the file, once everything recorded so far is written."""
        await self.history.flushed()
        if self.closed.is_set():
            return  # the history closes now
        try:
            await self.history.execute(
                f"INSERT INTO {TABLE} (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (PLACE, place),
            )
        except sqlite3.Error as exc:
            LOGGER.warning("history: could not note the place in the stream: %s", exc)
            return
        self.place = place

    async def keep(self, live: Callable[[], str | None], period: float) -> None:
        """Once caught up, note the live reader's place (``live()``) every ``period``."""
        while not self.closed.is_set():
            place = live()
            if self.done.is_set() and place is not None and place != self.place:
                await self.note(place)
            with trio.move_on_after(period):
                await self.closed.wait()


def _when(entry_id: str) -> str:
    """When a stream entry was added (its id's milliseconds), in UTC."""
    seconds = stream_id(entry_id)[0] / 1000
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))
