"""Ids and times for what is said: one stamp per event, seen by everyone the same.

Every message, action, private message and topic change gets its stamp once,
in the hub, before it is delivered or recorded. An id is the server's clock in
microseconds, or one more than the last id if the clock is not past it: ids
only grow, also across a restart (topics, and private messages of people
without an account, take ids the history never stores, so its last stored id
alone could not tell where to go on), and they order events by time.
Servers sharing a backplane each get a ``node`` (see trio_chat.backplane):
every id such a server gives is ``node``
modulo :data:`NODES`, so two servers never give the same id; ids stay below
2**53 (exact in JavaScript) for centuries.
"""

from __future__ import annotations

import time

# Servers sharing a backplane: ids of one are all the same residue modulo NODES.
NODES = 64


class Stamps:
    """Hands out (time, id) pairs; ``last_id`` is the greatest id given before (say, stored).

    ``node``: this server's residue among those sharing a backplane (None: alone).
    """

    __slots__ = ("last_id", "node")

    def __init__(self, last_id: int = 0, node: int | None = None) -> None:
        self.last_id = last_id
        self.node = node

    def stamp(self) -> tuple[float, int]:
        """The server's time (Unix seconds) and the next id."""
        now = time.time_ns()
        last = max(self.last_id + 1, now // 1000)
        if self.node is not None:
            last += (self.node - last) % NODES
        self.last_id = last
        return now / 1e9, last


def first_id_at(seconds: float) -> int:
    """The least id an event stamped at ``seconds`` (Unix time) or later may have.

    (Ids are the clock in microseconds, or more: IRC's CHATHISTORY turns a
    ``timestamp=`` reference into an id bound with it.)
    """
    return int(seconds * 1_000_000)
