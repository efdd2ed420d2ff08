"""The load scenarios of ``trio-chat bench``, each selectable by name (``--scenario NAME``).

Every name, what it measures and its default rates are listed in README
"Performance". A scenario with ``twins`` runs them right after itself, in the
same run, so that its figures always come with their comparison (``mixed``
beside ``mixed-text``, ``tls-fanout`` beside ``tls-fanout-plain``, the
stalled reader beside ``slow-consumer-control``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Scenario:
    name: str
    clients: int
    rates: tuple[float, ...]
    senders: int = 10
    duration: float = 5.0
    # Seconds at the start of each rate whose messages count for loss, not for latency.
    warmup: float = 1.0
    stalled: int = 0
    padding: int = 0
    # Only register everyone, and measure memory per connection.
    capacity: bool = False
    # The default targets it runs against (None: all).
    targets: tuple[str, ...] | None = None
    # The clients are web pages (WebSockets on the web port), not text clients.
    web: bool = False
    # The clients are IRC users on the IRC port (compared with the scenario without "-irc").
    irc: bool = False
    # A third of the clients text, a third IRC, a third web pages, in one room.
    mix: bool = False
    # The text clients speak TLS (the server gets a self-signed certificate).
    tls: bool = False
    # The generator it needs ("python": the only one with TLS), if not the chosen one.
    generator: str | None = None
    # Servers sharing one Redis (``--redis``), the clients spread over them.
    servers: int = 1
    # Scenarios run right after this one, in the same run (its comparisons).
    twins: tuple[str, ...] = ()


TRIO_ONLY = ("trio_chat",)
FANOUT_1000_RATES = (50.0, 200.0, 450.0, 600.0)
FANOUT_100_RATES = (500.0, 1000.0, 2000.0, 4000.0)
WEB_RATES = (250.0, 500.0, 1000.0, 2000.0)

SCENARIOS = {
    "fanout-1000": Scenario("fanout-1000", 1000, FANOUT_1000_RATES),
    # IRC users in the same room at the same rates, right after their text twins.
    "fanout-1000-irc": Scenario(
        "fanout-1000-irc", 1000, FANOUT_1000_RATES, irc=True, targets=TRIO_ONLY
    ),
    # 1000 web pages (WebSockets, the C generator) at the mixed room's rate and above.
    "fanout-1000-web": Scenario(
        "fanout-1000-web", 1000, (300.0, 450.0), web=True, targets=TRIO_ONLY
    ),
    "fanout-100": Scenario("fanout-100", 100, FANOUT_100_RATES),
    "fanout-100-irc": Scenario(
        "fanout-100-irc", 100, FANOUT_100_RATES, irc=True, targets=TRIO_ONLY
    ),
    # A light load: what one message waits when the server has nothing else to do.
    "idle-p50": Scenario("idle-p50", 1000, (10.0,), senders=2, duration=10.0),
    # 1 KB messages, so that the stalled reader's buffers fill within the run.
    "slow-consumer": Scenario(
        "slow-consumer",
        100,
        (200.0,),
        duration=20.0,
        stalled=1,
        padding=1000,
        twins=("slow-consumer-control",),
    ),
    # The same load with nobody stalled: the difference in peak memory is what
    # the stalled reader cost the server (its outbox is bounded).
    "slow-consumer-control": Scenario(
        "slow-consumer-control", 100, (200.0,), duration=20.0, padding=1000, targets=TRIO_ONLY
    ),
    # The threaded original announces every join to everyone under one lock:
    # 15,000 of them would take it hours, so it is left out here.
    "capacity": Scenario("capacity", 15_000, (), capacity=True, targets=TRIO_ONLY),
    # 1000 members, a third on each door, against 1000 text members in the same run.
    "mixed": Scenario("mixed", 1000, (300.0,), mix=True, targets=TRIO_ONLY, twins=("mixed-text",)),
    "mixed-text": Scenario("mixed-text", 1000, (300.0,), targets=TRIO_ONLY),
    # 2000 idle TLS members and one sender (issue #16, item 4), against plain TCP.
    "tls-fanout": Scenario(
        "tls-fanout",
        2000,
        (1.0, 4.0),
        senders=1,
        duration=10.0,
        warmup=2.0,
        tls=True,
        generator="python",
        targets=TRIO_ONLY,
        twins=("tls-fanout-plain",),
    ),
    "tls-fanout-plain": Scenario(
        "tls-fanout-plain",
        2000,
        (1.0, 4.0),
        senders=1,
        duration=10.0,
        warmup=2.0,
        targets=TRIO_ONLY,
    ),
    # Web pages in a room of 100, beside text clients at the same rates, both driven by
    # the Python generator: what the web door costs.
    "fanout-100-web": Scenario(
        "fanout-100-web",
        100,
        WEB_RATES,
        web=True,
        generator="python",
        targets=TRIO_ONLY,
        twins=("fanout-100-text",),
    ),
    "fanout-100-text": Scenario(
        "fanout-100-text", 100, WEB_RATES, generator="python", targets=TRIO_ONLY
    ),
    # fanout-100 on two servers sharing a local Redis, half the clients on each: every
    # message reaches half its audience through Redis (the cross-server columns).
    "fanout-100-2servers": Scenario(
        "fanout-100-2servers", 100, FANOUT_100_RATES, servers=2, targets=TRIO_ONLY
    ),
}
# What `make bench` runs with no --scenario: what the targets name.
DEFAULT = (
    "fanout-1000",
    "fanout-100",
    "idle-p50",
    "slow-consumer",
    "capacity",
    "mixed",
    "tls-fanout",
)

_TINY = Scenario("tiny", 6, (20.0,), senders=2, duration=1.0, warmup=0.2)
QUICK = {
    "tiny": _TINY,
    "tiny-irc": replace(_TINY, name="tiny-irc", irc=True, targets=TRIO_ONLY),
    "tiny-web": replace(_TINY, name="tiny-web", web=True, generator="python", targets=TRIO_ONLY),
    "tiny-mixed": replace(_TINY, name="tiny-mixed", mix=True, targets=TRIO_ONLY),
    "tiny-tls": replace(_TINY, name="tiny-tls", tls=True, generator="python", targets=TRIO_ONLY),
    "tiny-capacity": Scenario("tiny-capacity", 50, (), capacity=True, targets=TRIO_ONLY),
    "tiny-2servers": replace(_TINY, name="tiny-2servers", servers=2, targets=TRIO_ONLY),
}
ALL = {**SCENARIOS, **QUICK}


def chosen(names: list[str] | None) -> list[Scenario]:
    """The scenarios named (or the default set), each followed by its twins, once each."""
    order: list[str] = []
    for name in names or DEFAULT:
        for each in (name, *ALL[name].twins):
            if each not in order:
                order.append(each)
    return [ALL[name] for name in order]
