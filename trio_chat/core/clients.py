"""One connection's standing with the chat service, and what the service answers with.

A :class:`Client` is made by :meth:`~trio_chat.core.service.ChatService.connect`
for every connection, whatever its frontend; the service and its moderation
keep the connection's state in it (password given, names owned, tries left,
its member once named).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import trio

from trio_chat.core.limits import FloodGuard
from trio_chat.core.members import Member, Room
from trio_chat.core.refusals import Gone
from trio_chat.core.store import Entry

# The names a fresh connection has proved it owns (one shared, immutable set).
NOBODY: frozenset[str] = frozenset()


class Password(enum.Enum):
    """What giving the server password did."""

    NOT_NEEDED = "not needed"
    ALREADY = "accepted already"
    ACCEPTED = "accepted"


@dataclass(eq=False, slots=True)
class Client:
    """One connection's standing with the service (thousands at once: slots)."""

    peer: str
    # Paces what the connection sends (None: exempt from flood control).
    flood: FloodGuard | None = None
    # Its IP address for the per-address budgets (None: exempt from limits).
    address: str | None = None
    # Whether it gave the server password (or the server needs none).
    admitted: bool = True
    # Keys of the registered names it proved it owns (/login, /register).
    identified: frozenset[str] = NOBODY
    login_failures: int = 0
    oper_failures: int = 0
    # Its member, once it has a name; None before, and after it left.
    member: Member | None = field(default=None)

    def charge(self, cost: float) -> None:
        """What a command cost beyond its line (a hash, a listing): its next line waits."""
        if self.flood is not None:
            self.flood.charge(trio.current_time(), cost)

    def named(self) -> Member:
        """Its member; only for connections past the name step."""
        if self.member is None:
            raise RuntimeError("the connection has no name yet")
        return self.member

    @property
    def present(self) -> bool:
        """Whether it has a member that is still in the hub."""
        return self.member is not None and self.member.present

    def acting(self) -> Member:
        """Its member, which is to do something: it must still be in the hub.

        Raises:
            Gone: the member was removed (its session ends soon).
        """
        member = self.named()
        if not member.present:
            raise Gone
        return member

    def fields(self, event: str, reason: str | None = None) -> dict[str, str]:
        """Structured log fields (``--log-format json``) of an event of this connection."""
        fields = {"event": event, "address": self.peer}
        if self.member is not None:
            fields["name"] = self.member.name
        if reason is not None:
            fields["reason"] = reason
        return fields


@dataclass(frozen=True, slots=True)
class Arrival:
    """A member entered a room: where, and the history to show them."""

    room: Room
    entries: list[Entry]
    # True when they were in that room already (nothing changed).
    already: bool = False
