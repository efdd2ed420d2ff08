"""Big rooms hear of arrivals and departures in summaries, not one notice each.

A room of more than :data:`QUIET_ROOM_SIZE` members is *quiet*: who comes
and goes is gathered and told in one :class:`~.events.Crowd` every
:data:`SUMMARY_INTERVAL` seconds, so that a crowd of N arriving costs O(N)
notices, not N*N/2. Departures from a room with arrivals still waiting wait
too, so that everyone hears them in order. Summaries need :meth:`Crowds.run`
(the hub runs it); without it every arrival and departure is told at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import trio

from trio_chat.core.events import Crowd, ServerEvent
from trio_chat.core.members import Room

# Rooms with more members than this hear of arrivals and departures in a summary
# every SUMMARY_INTERVAL seconds.
QUIET_ROOM_SIZE = 100
SUMMARY_INTERVAL = 10.0


class Crowds:
    """Who came into and left each big room since its last summary, and when to tell.

    Args:
        rooms: the hub's rooms (read when summarizing).
        broadcast: tells a room an event (the hub's).
    """

    def __init__(
        self, rooms: Mapping[str, Room], broadcast: Callable[[str, ServerEvent], None]
    ) -> None:
        self._rooms = rooms
        self._broadcast = broadcast
        self._due = trio.Event()
        self.running = False

    def quiet(self, room: Room) -> bool:
        """Whether ``room`` is big enough to hear of arrivals and departures in summaries."""
        return self.running and len(room.members) > QUIET_ROOM_SIZE

    def arrived(self, room: Room, name: str) -> bool:
        """Whether ``name``'s arrival in ``room`` waits for its summary (else: tell it now)."""
        if not self.quiet(room):
            return False
        room.arrived.append(name)
        self._due.set()
        return True

    def departed(self, room: Room, name: str) -> bool:
        """Whether ``name``'s departure from ``room`` waits for its summary."""
        if self.quiet(room) or room.arrived:
            # While arrivals wait for a summary, departures wait too: in order.
            room.departed.append(name)
            self._due.set()
            return True
        return False

    def summarize(self) -> None:
        """Tell each big room who came and went since its last summary."""
        for room in list(self._rooms.values()):
            if room.arrived or room.departed:
                event = Crowd(room.name, tuple(room.arrived), tuple(room.departed))
                room.arrived, room.departed = [], []
                self._broadcast(room.name, event)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Summarize every :data:`SUMMARY_INTERVAL` while there is news, until cancelled."""
        self.running = True
        try:
            task_status.started()
            while True:
                await self._due.wait()
                await trio.sleep(SUMMARY_INTERVAL)
                self._due = trio.Event()
                self.summarize()
        finally:
            self.running = False
