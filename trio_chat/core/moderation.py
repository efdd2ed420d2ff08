"""Accounts and operators: the service's side of ``/register``, ``/oper``, ``/kick``...

Theory of operation
-------------------
:class:`Moderation` belongs to the :class:`~trio_chat.core.service.ChatService`
and works on a connection's :class:`~trio_chat.core.service.Client`: which
registered names it proved it owns, its wrong ``/oper`` passwords. It
carries out account commands against the server's
:class:`~trio_chat.core.accounts.Guard` and operator commands against the
hub, and returns what happened as data (or raises a typed refusal) for the
frontend to word.

Operators are a flag on the hub's :class:`~trio_chat.core.hub.Member`, and
so is being muted: both follow the member through renames and room changes.

Every operator action is announced to the rooms concerned as a
:class:`~trio_chat.core.events.Moderated` event and logged with who did it.
A kicked or banned member is told why (a ``Dismissed`` event), then removed
from the hub at once (their rooms hear why); their writer gets
:data:`~trio_chat.core.service.DISMISS_TIMEOUT` to deliver it. No password
is ever logged or repeated.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from trio_chat.core import roomrules
from trio_chat.core.accounts import AccountError, Guard
from trio_chat.core.bans import BanEntry, ban_target, covers_peer
from trio_chat.core.counters import counts_refusals
from trio_chat.core.events import KickedOut, ModAction, Moderated, Reason, ToOperators
from trio_chat.core.hub import Hub
from trio_chat.core.limits import HASH_COST
from trio_chat.core.members import Member
from trio_chat.core.names import MAX_TOPIC_CHARS, BadName, clean_text, name_key
from trio_chat.core.refusals import (
    AccountProblem,
    BadBan,
    BansYourself,
    NoOperators,
    NoSuchMember,
    NoSuchRoom,
    NotBanned,
    NotInRoom,
    NotOperator,
    NotRegistered,
    RegisteredAlready,
    WrongOperPassword,
)
from trio_chat.core.rules import said

if TYPE_CHECKING:
    from trio_chat.core.clients import Client

LOGGER = logging.getLogger(__name__)

# Wrong /oper passwords a connection may send before it is closed.
OPER_ATTEMPTS = 3
# A member removed by an operator has this long to receive why.
DISMISS_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class Kicked:
    """Who was kicked, and whether the operator saw it in a shared room."""

    name: str
    seen: bool


@dataclass(frozen=True, slots=True)
class BanOutcome:
    entry: BanEntry
    # Who was online under it, and was removed.
    removed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MuteOutcome:
    name: str
    # False when they already were (or were not) muted: nothing changed.
    changed: bool


@counts_refusals
class Moderation:
    """Account and operator commands, on a connection's client.

    Args:
        hub: the hub members are in.
        guard: the server's passwords, accounts and bans.
    """

    def __init__(self, hub: Hub, guard: Guard) -> None:
        self.hub = hub
        self.guard = guard

    # --- accounts ------------------------------------------------------------------

    async def register(self, client: Client, password: str) -> None:
        """Register the member's name with ``password``.

        Raises:
            RegisteredAlready, AccountProblem.
        """
        member = client.acting()
        if self.guard.registered_name(member.name) is not None:
            raise RegisteredAlready(member.name)
        await self._save(client, member, password)
        client.identified |= {name_key(member.name)}
        LOGGER.info(
            "%s (%s) registered their name",
            member.name,
            client.peer,
            extra={"fields": client.fields("account")},
        )

    async def change_password(self, client: Client, password: str) -> None:
        """Raises NotRegistered, AccountProblem."""
        member = self._owned(client)
        await self._save(client, member, password)

    async def _save(self, client: Client, member: Member, password: str) -> None:
        client.charge(HASH_COST)  # a loop of /password is a flood
        try:
            await self.guard.register(member.name, password, client.address)
        except AccountError as exc:
            raise AccountProblem(exc.problem) from None

    async def unregister(self, client: Client) -> None:
        """Give up the member's account. Raises NotRegistered, AccountProblem."""
        member = self._owned(client)
        try:
            await self.guard.unregister(member.name)
        except AccountError as exc:
            raise AccountProblem(exc.problem) from None
        client.identified -= {name_key(member.name)}
        LOGGER.info(
            "%s (%s) gave up their account",
            member.name,
            client.peer,
            extra={"fields": client.fields("account", "unregistered")},
        )

    def _owned(self, client: Client) -> Member:
        """The member, whose name must be registered to this connection."""
        member = client.acting()
        key = name_key(member.name)
        if self.guard.registered_name(member.name) is None or key not in client.identified:
            raise NotRegistered(member.name)
        return member

    # --- operators -----------------------------------------------------------------

    def oper(self, client: Client, password: str) -> bool:
        """Become an operator; False if one already.

        Raises:
            NoOperators: the server has no operator password.
            TooManyPasswords: too many from this address lately (not checked).
            WrongOperPassword: at ``tries_left`` 0 the member has been removed.
        """
        member = client.acting()
        if not self.guard.has_operators:
            raise NoOperators
        if member.operator:
            return False
        # A guess costs what a password hash costs: of the flood budget, and
        # of the address's budget of passwords (raises TooManyPasswords).
        client.charge(HASH_COST)
        self.guard.hashing.take_turn(client.address)
        self.guard.hashing.done(client.address)
        if not self.guard.oper_password_ok(password):
            client.oper_failures += 1
            LOGGER.warning(
                "wrong operator password from %s (%s)",
                member.name,
                client.peer,
                extra={"fields": client.fields("oper", "wrong operator password")},
            )
            tries_left = max(0, OPER_ATTEMPTS - client.oper_failures)
            if tries_left == 0:
                self._dismiss(member, Reason.OPER_FAILURES)
            raise WrongOperPassword(tries_left)
        member.operator = True
        LOGGER.warning(
            "%s (%s) is now an operator",
            member.name,
            client.peer,
            extra={"fields": client.fields("oper")},
        )
        return True

    def kick(self, client: Client, name: str, reason: str = "") -> Kicked:
        """Remove ``name`` from the server, telling them and their rooms why."""
        op = self._operator(client)
        target = self._online(name)
        seen = target is op or bool(target.rooms & op.rooms)
        self._dismiss(target, Reason.KICKED, detail=clean_text(reason).strip(), by=op.name)
        return Kicked(target.name, seen)

    def to_operators(self, client: Client, text: str) -> None:
        """An operator's word to every operator online, the sender too. Raises NotOperator."""
        op = self._operator(client)
        operators = [m for name in self.hub.names() if (m := self.hub.find(name)) and m.operator]
        self.hub.to_operators(op, operators, ToOperators(op.name, said(text)))

    def kick_out(self, client: Client, room: str, name: str, reason: str = "") -> str:
        """Put ``name`` out of ``room`` (IRC KICK); they stay online. Returns the room's name.

        Raises:
            NotOperator, NoSuchRoom, NotInRoom (the operator's, or ``name``'s:
            ``NotInRoom.room`` is then the name), NoSuchMember.
        """
        op = client.acting()
        found = self.hub.room(room)
        if found is None:
            raise NoSuchRoom(room)
        if found.name not in op.rooms and not op.operator:
            raise NotInRoom(found.name)
        if not roomrules.runs(found, op):
            raise NotOperator
        target = self._online(name)
        if found.name not in target.rooms:
            raise NotInRoom(target.name)
        detail = clean_text(reason).strip()[:MAX_TOPIC_CHARS]
        LOGGER.warning(
            "%s put %s out of %s",
            op.name,
            target.name,
            found.name,
            extra={"fields": {**client.fields("kicked", detail), "target": target.name}},
        )
        self.hub.part(target, found.name, told=KickedOut(target.name, found.name, op.name, detail))
        return found.name

    async def ban(self, client: Client, text: str, seconds: int | None) -> BanOutcome:
        """Ban a name, an address or a network; whoever is online under it is removed.

        Raises:
            NotOperator, BadBan, BansYourself, AccountProblem.
        """
        op = self._operator(client)
        try:
            kind, target_key, shown = ban_target(text)
        except BadName as exc:
            raise BadBan(exc.problem) from None
        if op in self._online_under(BanEntry(target_key, kind, shown, None, op.name)):
            # An operator locked out could not even /unban it.
            raise BansYourself(shown)
        try:
            entry = await self.guard.ban(text, seconds, op.name)
        except BadName as exc:
            raise BadBan(exc.problem) from None
        except AccountError as exc:
            raise AccountProblem(exc.problem) from None
        fields = {"event": "banned", "name": op.name, "reason": f"{entry.shown} {entry.term()}"}
        LOGGER.warning(
            "%s (%s) banned %s (%s) %s",
            op.name,
            client.peer,
            entry.shown,
            entry.kind,
            entry.term(),
            extra={"fields": {**fields, "address": client.peer}},
        )
        targets = self._online_under(entry)
        rooms = set(op.rooms).union(*(t.rooms for t in targets))
        self._announce(rooms, Moderated(ModAction.BANNED, op.name, entry.shown, entry.stamp()))
        for target in targets:
            self._dismiss(target, Reason.BANNED, detail=entry.stamp(), by=op.name)
        return BanOutcome(entry, tuple(t.name for t in targets))

    def _online_under(self, entry: BanEntry) -> list[Member]:
        """Who is online under a ban: its name, or anyone from its addresses."""
        if entry.kind == "name":
            found = self.hub.find(entry.shown)
            return [found] if found is not None else []
        members = (self.hub.find(name) for name in self.hub.names())
        return [m for m in members if m is not None and covers_peer(entry, m.address)]

    async def unban(self, client: Client, text: str) -> BanEntry:
        """Lift a ban. Raises NotOperator, BadBan, NotBanned, AccountProblem."""
        op = self._operator(client)
        try:
            entry = await self.guard.unban(text)
        except BadName as exc:
            raise BadBan(exc.problem) from None
        except AccountError as exc:
            raise AccountProblem(exc.problem) from None
        if entry is None:
            raise NotBanned(text)
        LOGGER.warning(
            "%s lifted the ban on %s (%s)",
            op.name,
            entry.shown,
            entry.kind,
            extra={"fields": {"event": "unbanned", "name": op.name, "reason": entry.shown}},
        )
        self._announce(op.rooms, Moderated(ModAction.UNBANNED, op.name, entry.shown))
        return entry

    def bans(self, client: Client) -> list[BanEntry]:
        """The bans in force. Raises NotOperator."""
        self._operator(client)
        return self.guard.bans()

    def mute(self, client: Client, name: str, on: bool) -> MuteOutcome:
        """Mute (or unmute) ``name``: they may read, not speak. Raises NotOperator, NoSuchMember."""
        op = self._operator(client)
        target = self._online(name)
        if target.muted == on:
            return MuteOutcome(target.name, changed=False)
        target.muted = on
        if on:
            self.guard.muted.add(name_key(target.name))
        else:
            self.guard.muted.discard(name_key(target.name))
        action = ModAction.MUTED if on else ModAction.UNMUTED
        LOGGER.warning(
            "%s %s %s (%s)",
            op.name,
            action.value,
            target.name,
            target.address,
            extra={
                "fields": {
                    "event": action.value,
                    "address": target.address,
                    "name": target.name,
                    "reason": f"{action.value} by {op.name}",
                }
            },
        )
        self._announce({*op.rooms, *target.rooms}, Moderated(action, op.name, target.name))
        return MuteOutcome(target.name, changed=True)

    # --- helpers ---------------------------------------------------------------------

    def _operator(self, client: Client) -> Member:
        member = client.acting()
        if not member.operator:
            raise NotOperator
        return member

    def _online(self, name: str) -> Member:
        target = self.hub.find(name)
        if target is None:
            raise NoSuchMember(name)
        return target

    def _dismiss(self, target: Member, reason: Reason, *, detail: str = "", by: str = "") -> None:
        deadline = trio.current_time() + DISMISS_TIMEOUT
        self.hub.dismiss(target, reason, deadline, detail=detail, by=by)

    def _announce(self, rooms: Iterable[str], event: Moderated) -> None:
        """``event`` to everyone in ``rooms`` (once each)."""
        audience = {
            member
            for name in rooms
            if (room := self.hub.room(name)) is not None
            for member in room.members.values()
        }
        self.hub.send_each(audience, event)
