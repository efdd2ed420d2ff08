"""Flood and connection limits: pure bookkeeping, no I/O, no clock of its own.

Theory of operation
-------------------
Every rule here is a function of "now" (a number of seconds the caller
passes in: ``trio.current_time()`` in the server, anything in tests), so the
rules are tested without sockets or sleeps.

* :class:`TokenBucket`: ``rate`` tokens a second, at most ``burst`` saved.
  Taking a token may run into debt; the debt says how long to wait.
* :class:`FloodGuard`: one per connection. Lines cost according to their
  size (:func:`line_cost`), and expensive commands cost more (a password
  hash, a long listing, a replay: :data:`HASH_COST` and the ``COST_*``
  constants); within the rate they pass at once; lines over it are
  *delayed*, not dropped (the reader waits before handling them, so TCP
  pushes back on the sender and nothing is lost). The first delayed line
  of an episode earns a ``! slow down`` warning; a connection that keeps
  sending over the rate for :data:`FLOOD_PATIENCE` seconds is a flood, and
  is disconnected.
* :class:`AddressLimiter`: connections open per address, and the rate of
  new connections per address (a token bucket each).
* Addresses in the exempt networks (loopback by default, as Ergo does) are
  subject to neither, so local tools, tests and benchmarks are never throttled.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from trio_chat.core.refusals import TooManyConnections, TooManyNewConnections

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Lines a second a connection may send, and how many it may send at once.
DEFAULT_FLOOD_RATE = 5.0
DEFAULT_FLOOD_BURST = 20
# A line costs one more token per this many bytes past the first as many
# (a typed line costs 1, a 4 KB line 8).
LINE_COST_BYTES = 512
# What commands cost beyond their line, in lines: one password hash (a
# /login, /password, /register, and an /oper guess), and per item listed or
# replayed (/who *, /rooms, /history N).
HASH_COST = 10.0
COST_PER_NAME_LISTED = 1 / 500
COST_PER_ROOM_LISTED = 1 / 20
COST_PER_BYTE_REPLAYED = 1 / 8192
# Sending over the rate for this many seconds on end is a flood: disconnect.
# A paste of 150 lines (30 s at 5 a second, after the burst) still goes through.
FLOOD_PATIENCE = 30.0
# Connections one address may hold open at once.
DEFAULT_MAX_PER_ADDRESS = 16
# New connections a minute one address may open (and as many at once).
DEFAULT_CONNECT_RATE = 30
# Never exempted unless asked: the loopback networks are exempt by default.
LOOPBACK: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)
# Refused connections from one address are logged at most once per this many seconds.
REFUSAL_LOG_INTERVAL = 10.0
# Addresses remembered for the connection-rate limit before idle ones are forgotten.
ADDRESSES_REMEMBERED = 10_000
# Routine log lines (a join, a rename, a failed TLS handshake) per address:
# at most LOG_BURST in LOG_WINDOW seconds; the next one logged says how many were not.
LOG_BURST = 10
LOG_WINDOW = 60.0


class Flooding(Exception):
    """The connection kept sending over its rate for too long."""


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; starts full."""

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last = now

    def _refill(self, now: float) -> None:
        if now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now

    def take(self, now: float, cost: float = 1.0) -> float:
        """Take ``cost`` tokens; return how long to wait first (0: they were there)."""
        self._refill(now)
        self._tokens -= cost
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def give_back(self, cost: float = 1.0) -> None:
        """Undo a :meth:`take` whose wait was not taken."""
        self._tokens = min(self.burst, self._tokens + cost)

    def try_take(self, now: float) -> bool:
        """Take a token if there is one, without running into debt."""
        self._refill(now)
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class FloodGuard:
    """Paces one connection's lines.

    Args:
        rate: lines a second.
        burst: lines that may come at once, over the rate.
        patience: seconds of sending over the rate, on end, before it is a flood.
    """

    __slots__ = ("_bucket", "_since", "patience")

    def __init__(
        self,
        rate: float = DEFAULT_FLOOD_RATE,
        burst: int = DEFAULT_FLOOD_BURST,
        patience: float = FLOOD_PATIENCE,
        *,
        now: float = 0.0,
    ) -> None:
        self._bucket = TokenBucket(rate, burst, now)
        self.patience = patience
        # When this episode of sending over the rate began (None: not in one).
        self._since: float | None = None

    @property
    def rate(self) -> float:
        return self._bucket.rate

    def check(self, now: float, cost: float = 1.0) -> tuple[float, bool]:
        """Account for one line costing ``cost``; return (seconds to delay it, whether to warn).

        Warns on the first delayed line of an episode; an episode ends when a
        line passes without delay.

        Raises:
            Flooding: the connection has been over the rate for ``patience`` s.
        """
        delay = self._bucket.take(now, cost)
        if delay <= 0:
            self._since = None
            return 0.0, False
        if self._since is None:
            self._since = now
            return delay, True
        if now - self._since >= self.patience:
            raise Flooding
        return delay, False

    def charge(self, now: float, cost: float) -> None:
        """What a command cost beyond its line: the next line waits for it."""
        self._bucket.take(now, cost)


def line_cost(size: int) -> float:
    """What a line of ``size`` bytes costs in the flood budget: 1, and more for long ones.

    Flood control paces bytes as well as lines, so that a few connections
    sending long lines cannot fill a reader's outbox faster than it reads.
    """
    return 1.0 + max(0, size - LINE_COST_BYTES) / LINE_COST_BYTES


def parse_networks(text: str) -> tuple[Network, ...]:
    """``--exempt``: comma-separated CIDRs or addresses, or ``none``.

    Raises:
        ValueError: a part is not a network, or there is none; the message says which.
    """
    if text.strip().lower() == "none":
        return ()
    networks: list[Network] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            network = ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise ValueError(f"not an address or network (CIDR): {part!r}") from None
        # Peers on IPv4 are compared as IPv4, even on a dual-stack socket.
        if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
            mapped = network.network_address.ipv4_mapped
            if mapped is not None:
                network = ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}")
        networks.append(network)
    if not networks:
        raise ValueError("no network given (use 'none' to exempt nobody)")
    return tuple(networks)


# Parsed addresses kept (each connection asks several times: admission, limits, logs).
PARSED_ADDRESSES = 4096


@functools.lru_cache(maxsize=PARSED_ADDRESSES)
def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_exempt(address: str | None, networks: Iterable[Network]) -> bool:
    """Whether ``address`` (an IP, or None when not on IP) is in ``networks``.

    A connection that is not over IP (an in-memory stream) is local: exempt.
    """
    if address is None:
        return True
    ip = _ip(address)
    return ip is not None and any(ip in network for network in networks)


def address_key(address: str) -> str:
    """Whom the per-address limits count a connection against: its IP address.

    IPv4 on a dual-stack socket (``::ffff:10.0.0.7``) counts as the IPv4
    address. IPv6 counts per address, not per /64: on a LAN every host of
    the network shares one /64, and a class must not share one budget. (A
    host on the internet can pick new addresses in its /64 to get around
    the limit; ``--max-clients`` still bounds the whole server.)
    """
    ip = _ip(address)
    return str(ip) if ip is not None else address


@dataclass(frozen=True)
class Limits:
    """The limits a server applies; see the module's docstring."""

    flood_rate: float = DEFAULT_FLOOD_RATE
    flood_burst: int = DEFAULT_FLOOD_BURST
    flood_patience: float = FLOOD_PATIENCE
    max_per_address: int = DEFAULT_MAX_PER_ADDRESS
    # New connections a minute from one address.
    connect_rate: int = DEFAULT_CONNECT_RATE
    exempt: tuple[Network, ...] = field(default=LOOPBACK)

    def is_exempt(self, address: str | None) -> bool:
        return is_exempt(address, self.exempt)

    def flood_guard(self, now: float) -> FloodGuard:
        return FloodGuard(self.flood_rate, self.flood_burst, self.flood_patience, now=now)


# The limits a server applies unless told otherwise.
DEFAULT_LIMITS = Limits()


class AddressLimiter:
    """Open connections and new-connection rate, per address."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._open: dict[str, int] = {}
        self._buckets: dict[str, TokenBucket] = {}
        # Per address: when a refusal was last logged, and how many were not
        # logged since (logging each refusal in a storm would flood the log).
        self._logged: dict[str, tuple[float, int]] = {}

    def admit(
        self, address: str, now: float, *, paced: bool = True
    ) -> TooManyConnections | TooManyNewConnections | None:
        """Count a new connection from ``address``; or say why it is refused.

        ``paced``: it also draws on the new-connection rate (see :meth:`pace`).
        """
        limits = self.limits
        key = address_key(address)
        if self._open.get(key, 0) >= limits.max_per_address:
            return TooManyConnections(limits.max_per_address)
        if paced and (refusal := self.pace(address, now)) is not None:
            return refusal
        self._open[key] = self._open.get(key, 0) + 1
        return None

    def pace(self, address: str, now: float) -> TooManyNewConnections | None:
        """Take one of ``address``'s new chat connections a minute; or say it has none left."""
        limits = self.limits
        key = address_key(address)
        # Most recently seen last; past the cap, the longest unseen is forgotten
        # (a storm of new addresses costs O(1) each, and bounded memory).
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = TokenBucket(limits.connect_rate / 60, limits.connect_rate, now)
            if len(self._buckets) >= ADDRESSES_REMEMBERED:
                del self._buckets[next(iter(self._buckets))]
        self._buckets[key] = bucket
        if not bucket.try_take(now):
            return TooManyNewConnections(limits.connect_rate)
        return None

    def release(self, address: str) -> None:
        """A connection ``admit`` let in has closed."""
        key = address_key(address)
        left = self._open[key] - 1
        if left:
            self._open[key] = left
        else:
            del self._open[key]

    def log_refusal(self, address: str, now: float) -> int | None:
        """Whether to log this refusal: ``None`` if not, else how many were not logged.

        At most one line per address every :data:`REFUSAL_LOG_INTERVAL` seconds.
        """
        key = address_key(address)
        last = self._logged.pop(key, None)
        if last is not None and now - last[0] < REFUSAL_LOG_INTERVAL:
            self._logged[key] = (last[0], last[1] + 1)
            return None
        if len(self._logged) >= ADDRESSES_REMEMBERED:
            del self._logged[next(iter(self._logged))]
        self._logged[key] = (now, 0)
        return last[1] if last is not None else 0

    def remembered(self) -> int:
        """Addresses whose connection rate is remembered (bounded)."""
        return len(self._buckets)


class LogThrottle:
    """At most ``burst`` routine log lines per key (an address) in each ``window`` seconds.

    A storm of joins, renames or failed handshakes from one address must not
    flood the log (and the disk): past the burst its lines are counted, not
    written, and the next line written says how many were left out.
    """

    def __init__(self, burst: int = LOG_BURST, window: float = LOG_WINDOW) -> None:
        self.burst = burst
        self.window = window
        # Per key: when its window began, lines in it, lines left out since the last written.
        self._keys: dict[str, list[float]] = {}

    def allow(self, key: str, now: float) -> int | None:
        """``None``: leave this line out; else how many were left out before it."""
        state = self._keys.pop(key, None)
        if state is None:
            state = [now, 0, 0]
            if len(self._keys) >= ADDRESSES_REMEMBERED:
                del self._keys[next(iter(self._keys))]
        self._keys[key] = state
        if now - state[0] >= self.window:
            state[0], state[1] = now, 0
        state[1] += 1
        if state[1] > self.burst:
            state[2] += 1
            return None
        skipped, state[2] = int(state[2]), 0
        return skipped


def left_out(skipped: int) -> str:
    """The suffix of a log line after ``skipped`` similar ones were left out."""
    return f" ({skipped} similar line(s) from this address not logged)" if skipped else ""
