"""What the server counts as it runs: plain integers, read by :mod:`trio_chat.metrics`.

Theory of operation
-------------------
The core never imports a metrics library. It keeps :class:`Counters`, one
object per server (the hub's, shared with the admission), whose fields are
plain ints and dicts of ints that the code counting adds to in place:
delivering an event to a member costs one local integer add (and one add
per broadcast to the total), since delivery is the hot path. Gauges (members,
rooms) are not counted at all: they are read off the hub when scraped.

Refusals are counted where the service raises them, without touching each
``raise``: :func:`counts_refusals` wraps every public method of the service
(and of its moderation) so that a :class:`~.refusals.Refused` leaving it is
counted once, by its class, on its way to the frontend.

A :class:`Histogram` keeps observations (the history writer's batch times) in
fixed buckets: a bisect and an add each. The exporter turns all of this into
Prometheus metric families when ``/metrics`` is scraped.
"""

from __future__ import annotations

import bisect
import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from trio_chat.core.events import Reason
from trio_chat.core.refusals import Refused

# What is said, by kind: the labels of the messages counter.
MESSAGE_KINDS = ("message", "action", "private", "topic")

# The history writer's batch times, in seconds: a commit takes a millisecond or
# so on a healthy disk, and more than a second on a stuck one.
WRITE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# The mark on a refusal already counted (a public method calling another).
_COUNTED = "_trio_chat_counted"


class Histogram:
    """Observations counted in fixed buckets (each one: a bisect and two adds).

    ``counts[i]`` is how many were at most ``bounds[i]`` and above the bound
    before it; the last count is those above every bound.
    """

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: Sequence[float] = WRITE_BUCKETS) -> None:
        self.bounds = tuple(sorted(bounds))
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations at most that) per bucket, ending with +Inf."""
        buckets: list[tuple[float, int]] = []
        total = 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += count
            buckets.append((bound, total))
        return buckets


class Counters:
    """Everything the server counts, as plain ints (see the module docstring).

    Attributes:
        connections: connections open now, by frontend kind ("text", "irc", "web").
        accepted: connections admitted since the start, by frontend kind.
        messages: what was said, by kind (:data:`MESSAGE_KINDS`).
        deliveries: events put into members' outboxes.
        departures: members who left, by why (evictions are some of these).
        refusals: requests and connections turned down, by the refusal's class.
        paced: lines delayed by the flood limit.
    """

    __slots__ = (
        "accepted",
        "connections",
        "deliveries",
        "departures",
        "messages",
        "paced",
        "refusals",
    )

    def __init__(self) -> None:
        self.connections: dict[str, int] = {}
        self.accepted: dict[str, int] = {}
        self.messages = dict.fromkeys(MESSAGE_KINDS, 0)
        self.deliveries = 0
        self.departures = dict.fromkeys(Reason, 0)
        self.refusals: dict[type[Refused], int] = {}
        self.paced = 0

    def expect(self, kind: str) -> None:
        """A ``kind`` frontend serves: its counts are shown (at 0) before its first connection."""
        self.connections.setdefault(kind, 0)
        self.accepted.setdefault(kind, 0)

    def opened(self, kind: str) -> None:
        """A ``kind`` frontend's connection was admitted."""
        self.connections[kind] = self.connections.get(kind, 0) + 1
        self.accepted[kind] = self.accepted.get(kind, 0) + 1

    def closed(self, kind: str) -> None:
        """A connection :meth:`opened` counted has closed."""
        self.connections[kind] -= 1

    def refused(self, refusal: Refused) -> None:
        """Count ``refusal`` (once, however many methods it passes through)."""
        marks = vars(refusal)
        if _COUNTED in marks:
            return
        marks[_COUNTED] = True
        kind = type(refusal)
        self.refusals[kind] = self.refusals.get(kind, 0) + 1


class _Counting(Protocol):
    """What :func:`counts_refusals` needs of the object: the hub and its counters."""

    @property
    def hub(self) -> Any: ...


T = TypeVar("T")


def counts_refusals(cls: type[T]) -> type[T]:
    """Count each :class:`Refused` that a public method of ``cls`` raises (``self.hub.counters``).

    Only functions defined on ``cls`` itself are wrapped, not properties;
    the refusal goes on to the caller unchanged.
    """
    for name, method in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(method):
            setattr(cls, name, _counting(method))
    return cls


def _counting(method: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def counting_async(self: _Counting, *args: Any, **kwargs: Any) -> Any:
            try:
                return await method(self, *args, **kwargs)
            except Refused as refusal:
                self.hub.counters.refused(refusal)
                raise

        return counting_async

    @functools.wraps(method)
    def counting(self: _Counting, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Refused as refusal:
            self.hub.counters.refused(refusal)
            raise

    return counting
