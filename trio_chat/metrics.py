"""``/metrics``: the core's counters in the Prometheus text format, read when scraped.

Theory of operation
-------------------
The core counts with plain integers (:mod:`trio_chat.core.counters`) and never
imports a metrics library. :class:`Metrics` holds a registry of its own (no
global state: two servers in one process, or two tests, never share a
count) with one custom collector, :class:`ChatCollector`, which reads the
counters and the hub's gauges at scrape time and yields Prometheus metric
families, plus the client library's process, platform and garbage-collector
collectors. :meth:`Metrics.render` is what the web frontend serves on
``/metrics``: the body and its content type.

Scraping reads the hub in the event loop's thread, between two checkpoints,
so it sees one consistent moment; the process collector reads a few files
under ``/proc`` (memory, no disk) on the way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)

from trio_chat import __version__
from trio_chat.core import refusals
from trio_chat.core.events import Reason
from trio_chat.core.history import History
from trio_chat.core.hub import Hub

# The departures the server chose (the rest: the member left, or the server stopped).
EVICTIONS = (
    Reason.TOO_SLOW,
    Reason.FLOODING,
    Reason.KICKED,
    Reason.BANNED,
    Reason.ELSEWHERE,
    Reason.OPER_FAILURES,
)


def reason_label(reason: Reason) -> str:
    """A departure's label value: ``Reason.TOO_SLOW`` -> ``too_slow``."""
    return reason.name.lower()


def refusals_by_name() -> dict[str, type[refusals.Refused]]:
    """Every kind of refusal (the classes of core/refusals.py), by class name."""
    return {
        name: kind
        for name, kind in vars(refusals).items()
        if isinstance(kind, type) and issubclass(kind, refusals.Refused)
        if kind is not refusals.Refused
    }


def snake_case(name: str) -> str:
    """A refusal's label value from its class name: ``NameTaken`` -> ``name_taken``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class ChatCollector:
    """Reads the server's counters when scraped; yields them as metric families.

    Args:
        hub: its counters (shared with the admission) and its members and rooms.
        history: its batch write times, if the server keeps history.
    """

    def __init__(self, hub: Hub, history: History | None = None) -> None:
        self.hub = hub
        self.history = history

    def collect(self) -> Iterator[Metric]:
        counters = self.hub.counters
        yield _labelled(
            GaugeMetricFamily,
            "trio_chat_connections",
            "Connections open now (named or not yet), by frontend.",
            "frontend",
            counters.connections,
        )
        yield _labelled(
            CounterMetricFamily,
            "trio_chat_connections_accepted",
            "Connections admitted since the server started, by frontend.",
            "frontend",
            counters.accepted,
        )
        statistics = self.hub.statistics()
        yield GaugeMetricFamily(
            "trio_chat_members", "Members online (connections with a name).", statistics["members"]
        )
        yield GaugeMetricFamily(
            "trio_chat_rooms", "Rooms open (with members, and the lobby).", statistics["rooms"]
        )
        yield _labelled(
            CounterMetricFamily,
            "trio_chat_messages",
            "What members said, by kind: message, action, private, topic.",
            "kind",
            counters.messages,
        )
        yield CounterMetricFamily(
            "trio_chat_deliveries",
            "Events put into members' outboxes (one per recipient).",
            counters.deliveries,
        )
        yield from self._departures()
        yield _labelled(
            CounterMetricFamily,
            "trio_chat_refusals",
            "Requests and connections turned down, by refusal.",
            "reason",
            {
                snake_case(name): counters.refusals.get(kind, 0)
                for name, kind in refusals_by_name().items()
            },
        )
        yield CounterMetricFamily(
            "trio_chat_flood_delayed",
            "Lines held back by the flood limit (sent over the rate).",
            counters.paced,
        )
        yield from self._history()
        yield CounterMetricFamily(
            "trio_chat_backplane_dropped",
            "Events for other servers (--redis) dropped: queue full or Redis unreachable.",
            self.hub.backplane.dropped,
        )
        info = InfoMetricFamily("trio_chat_build", "The trio_chat version serving.")
        info.add_metric([], {"version": __version__})
        yield info

    def _departures(self) -> Iterator[Metric]:
        departures = self.hub.counters.departures
        yield _labelled(
            CounterMetricFamily,
            "trio_chat_departures",
            "Members who left, by why (quit, closed, lost, too_slow, kicked, ...).",
            "reason",
            {reason_label(reason): count for reason, count in departures.items()},
        )
        yield _labelled(
            CounterMetricFamily,
            "trio_chat_evictions",
            "Members the server removed, by why (too_slow, flooding, kicked, ...).",
            "reason",
            {reason_label(reason): departures[reason] for reason in EVICTIONS},
        )

    def _history(self) -> Iterator[Metric]:
        if self.history is None:
            return
        times = self.history.write_seconds
        buckets = [("+Inf" if b == float("inf") else repr(b), n) for b, n in times.cumulative()]
        yield HistogramMetricFamily(
            "trio_chat_history_write_seconds",
            "Time to write one batch of history (one transaction), in seconds.",
            buckets=buckets,
            sum_value=times.sum,
        )
        yield CounterMetricFamily(
            "trio_chat_history_dropped",
            "Messages not saved to history because its writer was behind.",
            self.history.dropped,
        )


def _labelled(
    family: type[CounterMetricFamily] | type[GaugeMetricFamily],
    name: str,
    documentation: str,
    label: str,
    values: Mapping[str, int],
) -> Metric:
    metric = family(name, documentation, labels=[label])
    for value, count in sorted(values.items()):
        metric.add_metric([value], count)
    return metric


class Metrics:
    """The server's metrics on a registry of their own; :meth:`render` is ``/metrics``."""

    def __init__(self, hub: Hub, history: History | None = None) -> None:
        self.registry = CollectorRegistry()
        self.collector = ChatCollector(hub, history)
        self.registry.register(self.collector)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def render(self) -> tuple[bytes, str]:
        """The metrics in the Prometheus text format, and the content type to serve them as."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
