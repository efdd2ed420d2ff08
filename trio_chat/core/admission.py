"""Who may connect: one :class:`Admission` for every listener of every frontend.

Theory of operation
-------------------
A frontend asks :meth:`Admission.admit` as soon as a connection is accepted,
before any greeting or TLS handshake. The checks, in order:

1. the whole server's bound (``--max-clients``), counted across all
   listeners, so that two ports (or two protocols) share one budget;
2. a banned address (the ban list of the :class:`~trio_chat.core.accounts.Guard`);
3. the per-address limits (:class:`~trio_chat.core.limits.AddressLimiter`):
   connections open at once, and new connections a minute. Exempt addresses
   (loopback by default) and connections not over IP skip these.

A connection that is not a chat connection yet (the web door's HTTP, where a
page load opens several) is admitted with ``paced=False``: it counts against
every bound but the new-connection rate, which :meth:`Admission.pace` charges
once it becomes one (the upgrade to the WebSocket). Reloading a page then
never uses up ``--connect-rate``, and the open-connections bound still holds
a slowloris to a few connections per address.

A refusal is a typed :class:`~trio_chat.core.refusals.Refused` (returned,
not raised: the frontend tells the peer outside any except clause), worded
by the frontend for its protocol. Each refusal is logged here, at most once per address every
:data:`~trio_chat.core.limits.REFUSAL_LOG_INTERVAL` seconds (a storm would
flood the log otherwise), with the count of those not logged.

A refused connection is told why only while fewer than :data:`MAX_REFUSING`
are being told (:meth:`Admission.refusing`): past that, in a storm, it is
closed at once, so that refusals cannot exhaust the file descriptors they
are there to protect.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import trio

from trio_chat.core.accounts import Guard
from trio_chat.core.counters import Counters
from trio_chat.core.limits import DEFAULT_LIMITS, AddressLimiter, Limits
from trio_chat.core.refusals import (
    Banned,
    ServerFull,
    TooManyConnections,
    TooManyNewConnections,
)

LOGGER = logging.getLogger(__name__)

# Connections (registered or not) served at once, unless --max-clients says otherwise.
DEFAULT_MAX_CLIENTS = 10_000
# Refused connections told why at once; beyond this, more are closed without a word.
MAX_REFUSING = 32
# The key the "server full" refusals are counted under for their log line.
SERVER_FULL = "server full"


# Why a connection is turned away as it opens.
Refusal = ServerFull | Banned | TooManyConnections | TooManyNewConnections


class Admission:
    """Counts connections in and out, across all listeners, and refuses the excess.

    Args:
        max_clients: connections served at once, all listeners together.
        limits: the per-address limits, and who is exempt from them.
        guard: whose ban list is checked as a connection opens.
        counters: where connections (by frontend kind) and refusals are
            counted: the hub's, so that the metrics see one set.
    """

    def __init__(
        self,
        *,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        limits: Limits = DEFAULT_LIMITS,
        guard: Guard | None = None,
        counters: Counters | None = None,
    ) -> None:
        self.max_clients = max_clients
        self.limits = limits
        self.guard = guard or Guard()
        self._addresses = AddressLimiter(limits)
        self.counters = counters if counters is not None else Counters()
        # Connections admitted and not yet released.
        self.connections = 0
        # Refused connections still being told why (bounded: MAX_REFUSING).
        self._refusing = 0
        # Set at the next release, for whoever waits for one (made only then).
        self._released: trio.Event | None = None

    def admit(
        self, peer: str, address: str | None, *, kind: str, paced: bool = True
    ) -> Refusal | None:
        """Count a new connection in, or say why it is refused (and log that).

        Args:
            peer: how the connection is named in logs.
            address: the peer's IP address (None: not over IP, like loopback).
            kind: the frontend's kind ("text", "irc", "web"), for the metrics.
            paced: a chat connection, which draws on the new-connection rate
                now; False: not yet, :meth:`pace` charges it when it becomes one.
        """
        refusal = self._refusal(peer, address, paced=paced)
        if refusal is None:
            self.connections += 1
            self.counters.opened(kind)
        else:
            self.counters.refused(refusal)
        return refusal

    def pace(self, peer: str, address: str | None) -> TooManyNewConnections | None:
        """An admitted connection (``paced=False``) becomes a chat connection: the rate applies.

        The connection stays admitted either way (its owner releases it).
        """
        if not self._limited(address):
            return None
        assert address is not None
        now = trio.current_time()
        refusal = self._addresses.pace(address, now)
        if refusal is not None:
            self.counters.refused(refusal)
            text = describe_limit(refusal)
            self._log(address, now, peer, text, text)
        return refusal

    def release(self, address: str | None, *, kind: str) -> None:
        """A connection :meth:`admit` let in (for a ``kind`` frontend) has closed."""
        self.connections -= 1
        self.counters.closed(kind)
        if self._released is not None:
            self._released.set()
            self._released = None
        if self._limited(address):
            assert address is not None
            self._addresses.release(address)

    async def released(self) -> None:
        """Wait for the next connection to be released (:attr:`connections` went down)."""
        if self._released is None:
            self._released = trio.Event()
        await self._released.wait()

    @contextmanager
    def refusing(self) -> Iterator[bool]:
        """Whether a refused connection may be told why now; counted while inside."""
        if self._refusing >= MAX_REFUSING:
            yield False
            return
        self._refusing += 1
        try:
            yield True
        finally:
            self._refusing -= 1

    def _limited(self, address: str | None) -> bool:
        return address is not None and not self.limits.is_exempt(address)

    def _refusal(self, peer: str, address: str | None, *, paced: bool) -> Refusal | None:
        now = trio.current_time()
        if self.connections >= self.max_clients:
            # The count is logged at most once per REFUSAL_LOG_INTERVAL.
            self._log(SERVER_FULL, now, peer, "server full", f"server full ({self.max_clients})")
            return ServerFull(self.max_clients)
        ban = self.guard.ban_of_peer(peer)
        if ban is not None:
            # Before any TLS handshake or greeting, and logged like other refusals.
            why = f"the address is banned {ban.term()}"
            self._log(address or peer, now, peer, "banned address", why)
            return Banned(ban)
        if address is None or not self._limited(address):
            return None
        limit = self._addresses.admit(address, now, paced=paced)
        if limit is not None:
            text = describe_limit(limit)
            self._log(address, now, peer, text, text)
        return limit

    def _log(self, key: str, now: float, peer: str, reason: str, why: str) -> None:
        """Log a refusal, unless one was logged for ``key`` a moment ago."""
        unlogged = self._addresses.log_refusal(key, now)
        if unlogged is None:
            return
        more = f" ({unlogged} more refused since the last line)" if unlogged else ""
        fields = {"event": "refused", "address": peer, "reason": reason}
        LOGGER.warning("refused %s: %s%s", peer, why, more, extra={"fields": fields})


def describe_limit(refusal: TooManyConnections | TooManyNewConnections) -> str:
    """A per-address refusal in the log's words (the peer is told in its frontend's)."""
    if isinstance(refusal, TooManyConnections):
        return f"too many connections from this address (at most {refusal.limit})"
    return f"too many new connections from this address (at most {refusal.per_minute} a minute)"
