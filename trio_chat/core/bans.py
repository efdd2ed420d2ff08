"""Bans: of a name or of an IP address or network, permanent or until a time."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from typing import Literal

from trio_chat.core.names import check_name, name_key

BanKind = Literal["name", "address"]


@dataclass(frozen=True, slots=True)
class BanEntry:
    """A ban: ``target`` is a name key or an IP network (``10.0.0.7/32``)."""

    target: str
    kind: BanKind
    shown: str
    until: float | None  # None: permanent
    by: str

    def expired(self, now: float) -> bool:
        return self.until is not None and self.until <= now

    def term(self) -> str:
        """``until 2026-11-25 14:00`` or ``permanently``: the log's words (a
        frontend words :meth:`stamp` in its reader's language)."""
        return "permanently" if self.until is None else "until " + self.stamp()

    def stamp(self) -> str:
        """When the ban ends, ``2026-11-25 14:00`` (the server's time zone); ``""``: never."""
        if self.until is None:
            return ""
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.until))


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def ban_target(text: str) -> tuple[BanKind, str, str]:
    """``(kind, target, shown)`` for what follows ``/ban``: an IP address or network, or a name.

    A dotted IPv4 address is an address, even though it is a valid name too.

    Raises:
        BadName: neither an address nor a valid name.
    """
    network = _network(text)
    if network is not None:
        shown = str(network.network_address) if network.num_addresses == 1 else str(network)
        return "address", str(network), shown
    name = check_name(text)
    return "name", name_key(name), name


def _network(text: str) -> IpNetwork | None:
    try:
        network = ipaddress.ip_network(text.strip("[]"), strict=False)
    except ValueError:
        return None
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        # Peers on IPv4 are compared as IPv4, even on a dual-stack socket.
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}")
    return network


def peer_host(peer: str) -> str:
    """The host part of ``host:port`` or ``[v6 host]:port`` (what a session calls its peer)."""
    if peer.startswith("["):
        return peer[1 : peer.find("]")]
    return peer.rsplit(":", 1)[0] if peer.count(":") == 1 else peer


def covers_peer(entry: BanEntry, peer: str) -> bool:
    """Whether an address ban covers the address of ``peer`` (``host:port``)."""
    address = _address(peer)
    return (
        entry.kind == "address"
        and address is not None
        and address in ipaddress.ip_network(entry.target)
    )


def _address(peer: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(peer_host(peer))
    except ValueError:
        return None  # not an IP connection (a test's memory stream)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
