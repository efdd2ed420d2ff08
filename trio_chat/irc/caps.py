"""The IRCv3 capabilities this door offers: a registry that other modules extend.

A module that implements a capability registers it here (``register``) when
it is imported; ``CAP LS`` lists what is registered, ``CAP REQ`` grants only
registered names. A capability that changes how events are written on the
wire (``server-time``, ``message-tags``) is ``wire=True``: the hub's encoder
is chosen per set of those (:mod:`.wire`). ``on_change`` runs when a client
gains or loses it, once it is registered (``echo-message`` turns the
service's echo on).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trio_chat.irc.session import IrcSession


@dataclass(frozen=True, slots=True)
class Capability:
    name: str
    # What CAP LS 302 shows after "=" ("" for nothing).
    value: str = ""
    # Whether it changes how events are formatted (the encoder's key).
    wire: bool = False
    # Called with (session, on) when a registered client gains or loses it.
    on_change: Callable[[IrcSession, bool], None] | None = None


CAPABILITIES: dict[str, Capability] = {}


def register(
    name: str,
    value: str = "",
    *,
    wire: bool = False,
    on_change: Callable[[IrcSession, bool], None] | None = None,
) -> Capability:
    """Offer ``name`` (replacing an earlier registration of it)."""
    capability = CAPABILITIES[name] = Capability(name, value, wire, on_change)
    return capability


def listing(version: int) -> list[str]:
    """``CAP LS`` words: ``name`` or, from version 302, ``name=value``."""
    return [
        f"{cap.name}={cap.value}" if cap.value and version >= 302 else cap.name
        for cap in sorted(CAPABILITIES.values(), key=lambda c: c.name)
    ]


def wire_caps(caps: Iterable[str]) -> frozenset[str]:
    """Those of ``caps`` that change the wire format: what chooses the encoder."""
    return frozenset(name for name in caps if name in CAPABILITIES and CAPABILITIES[name].wire)


def _echo(session: IrcSession, on: bool) -> None:
    session.service.set_echo(session.client, on)


SERVER_TIME = register("server-time", wire=True).name
MESSAGE_TAGS = register("message-tags", wire=True).name
ECHO_MESSAGE = register("echo-message", on_change=_echo).name
