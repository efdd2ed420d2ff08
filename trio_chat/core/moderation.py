"""The account and operator commands of one connection.

Theory of operation
-------------------
A :class:`Moderation` belongs to one session. It remembers which registered
names this connection has proved it owns (``/login`` or ``/register``), and
carries out ``/register``, ``/password``, ``/unregister``, ``/oper`` and the
operator commands against the hub and the server's
:class:`~trio_chat.core.accounts.Guard`.

Operators are a flag on the hub's :class:`~trio_chat.core.hub.Member`, and so is
being muted: both follow the member through renames and room changes, and an
operator's session reaches another member's state through the hub.

Every moderation action is told to the rooms concerned (the operator's room
and the target's) and logged with who did it. A kicked or banned member is
told why, then removed from the hub at once (their rooms hear why); their
writer gets :data:`DISMISS_TIMEOUT` to deliver the reason before the session
is cancelled. No password is ever logged or repeated: the commands that
carry one hide it from ``repr()``, and only names and addresses are logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import trio

from trio_chat.core.accounts import AccountError, BanEntry, Guard, ban_target, covers_peer
from trio_chat.core.events import Error, Notice
from trio_chat.core.hub import Hub, Member
from trio_chat.core.names import BadName, name_key
from trio_chat.text.codec import (
    Ban,
    Bans,
    Kick,
    Mute,
    NewPassword,
    Oper,
    Register,
    Unban,
    Unregister,
)

LOGGER = logging.getLogger(__name__)

# A kicked or banned member's writer has this long to deliver the reason.
DISMISS_TIMEOUT = 2.0
# Wrong /oper passwords a connection may send before it is closed.
OPER_ATTEMPTS = 3

AccountCommand = Register | NewPassword | Unregister | Oper | Kick | Ban | Unban | Bans | Mute


# The names a fresh connection has proved it owns (one shared, immutable set).
NOBODY: frozenset[str] = frozenset()


class Moderation:
    """Account and operator commands for one session.

    Args:
        hub: the hub the session's member is in.
        guard: the server's passwords, accounts and bans.
        peer: the connection's address, for logs.
    """

    __slots__ = ("_oper_failures", "guard", "hub", "identified", "peer")

    def __init__(self, hub: Hub, guard: Guard, peer: str) -> None:
        self.hub = hub
        self.guard = guard
        self.peer = peer
        # Keys of the registered names this connection proved it owns
        # (immutable: thousands of sessions share the empty one, never log in).
        self.identified: frozenset[str] = NOBODY
        self._oper_failures = 0

    def identify(self, name: str) -> None:
        """This connection proved it owns the registered ``name``."""
        self.identified |= {name_key(name)}

    def may_take(self, name: str) -> bool:
        """Whether this connection may use ``name`` (free of an account, or its own)."""
        return self.guard.registered_name(name) is None or name_key(name) in self.identified

    async def handle(self, member: Member, room: str, command: AccountCommand) -> None:
        """Carry out ``command`` for ``member``, whose current room is ``room``."""
        match command:
            case Register(password):
                await self._register(member, password)
            case NewPassword(password):
                if self._owns(member):
                    await self._save(member, password, f"the password of {member.name} is changed")
            case Unregister():
                await self._unregister(member)
            case Oper(password):
                self._oper(member, password)
            case _ if not member.operator:
                self._error(member, "operators only")
            case Kick(name, reason):
                self._kick(member, name, reason)
            case Ban(target, seconds):
                await self._ban(member, room, target, seconds)
            case Unban(target):
                await self._unban(member, room, target)
            case Bans():
                self._list_bans(member)
            case Mute(name, on):
                self._mute(member, room, name, on)

    # --- accounts ------------------------------------------------------------------

    async def _register(self, member: Member, password: str) -> None:
        name = member.name
        if self.guard.registered_name(name) is not None:
            self._error(member, f"{name} is registered already: /password NEW changes its password")
            return
        notice = (
            f"{name} is registered to you now: next time, send /login {name} PASSWORD "
            "instead of your name"
        )
        if await self._save(member, password, notice):
            self.identify(name)
            LOGGER.info(
                "%s (%s) registered their name",
                name,
                self.peer,
                extra={"fields": {"event": "account", "address": self.peer, "name": name}},
            )

    async def _save(self, member: Member, password: str, notice: str) -> bool:
        try:
            await self.guard.register(member.name, password)
        except AccountError as exc:
            self._error(member, str(exc))
            return False
        self.hub.deliver(member, Notice(notice))
        return True

    async def _unregister(self, member: Member) -> None:
        if not self._owns(member):
            return
        try:
            await self.guard.unregister(member.name)
        except AccountError as exc:
            self._error(member, str(exc))
            return
        self.identified -= {name_key(member.name)}
        LOGGER.info(
            "%s (%s) gave up their account",
            member.name,
            self.peer,
            extra={
                "fields": {
                    "event": "account",
                    "address": self.peer,
                    "name": member.name,
                    "reason": "unregistered",
                }
            },
        )
        self.hub.deliver(member, Notice(f"{member.name} is not registered any more"))

    def _owns(self, member: Member) -> bool:
        """Whether ``member``'s name is registered to this connection; says why not."""
        if self.guard.registered_name(member.name) is None:
            self._error(member, f"{member.name} is not registered (/register PASSWORD claims it)")
            return False
        if name_key(member.name) not in self.identified:  # cannot happen: /nick checks it
            self._error(member, f"you have not logged in as {member.name}")
            return False
        return True

    # --- operators -----------------------------------------------------------------

    def _oper(self, member: Member, password: str) -> None:
        if not self.guard.has_operators:
            self._error(member, "this server has no operators")
        elif member.operator:
            self.hub.deliver(member, Notice("You are an operator already"))
        elif self.guard.oper_password_ok(password):
            member.operator = True
            LOGGER.warning(
                "%s (%s) is now an operator",
                member.name,
                self.peer,
                extra={"fields": {"event": "oper", "address": self.peer, "name": member.name}},
            )
            self.hub.deliver(member, Notice("You are an operator now: /help lists your commands"))
        else:
            self._oper_failures += 1
            fields = {"event": "oper", "address": self.peer, "name": member.name}
            fields["reason"] = "wrong operator password"
            LOGGER.warning(
                "wrong operator password from %s (%s)",
                member.name,
                self.peer,
                extra={"fields": fields},
            )
            self._error(member, "wrong operator password")
            if self._oper_failures >= OPER_ATTEMPTS:
                self._dismiss(member, "too many wrong operator passwords", None)

    def _kick(self, op: Member, name: str, reason: str) -> None:
        target = self._online(op, name)
        if target is None:
            return
        rooms = set(target.rooms)
        why = f"kicked by {op.name}: {reason}" if reason else f"kicked by {op.name}"
        self._dismiss(target, why, Error(f"you were {why}"))
        if target is not op and not rooms & op.rooms:
            self.hub.deliver(op, Notice(f"{target.name} was {why}"))

    async def _ban(self, op: Member, room: str, text: str, seconds: int | None) -> None:
        try:
            kind, target_key, shown = ban_target(text)
        except BadName as exc:
            self._error(op, str(exc))
            return
        probe = BanEntry(target_key, kind, shown, None, op.name)
        if op in self._online_under(probe):
            # An operator locked out could not even /unban it.
            self._error(op, f"a ban on {shown} would ban you too: not done")
            return
        try:
            entry = await self.guard.ban(text, seconds, op.name)
        except (BadName, AccountError) as exc:
            self._error(op, str(exc))
            return
        fields = {"event": "banned", "name": op.name, "reason": f"{entry.shown} {entry.term()}"}
        LOGGER.warning(
            "%s (%s) banned %s (%s) %s",
            op.name,
            self.peer,
            entry.shown,
            entry.kind,
            entry.term(),
            extra={"fields": {**fields, "address": self.peer}},
        )
        targets = self._online_under(entry)
        rooms = {room}.union(*(t.rooms for t in targets))
        self._announce(rooms, f"{op.name} banned {entry.shown} {entry.term()}")
        why = f"banned by {op.name}"
        for target in targets:
            self._dismiss(target, why, Error(f"you are banned ({entry.term()})"))

    def _online_under(self, entry: BanEntry) -> list[Member]:
        """Who is online under a ban: its name, or anyone from its addresses."""
        if entry.kind == "name":
            found = self.hub.find(entry.shown)
            return [found] if found is not None else []
        members = (self.hub.find(name) for name in self.hub.names())
        return [m for m in members if m is not None and covers_peer(entry, m.address)]

    async def _unban(self, op: Member, room: str, text: str) -> None:
        try:
            entry = await self.guard.unban(text)
        except (BadName, AccountError) as exc:
            self._error(op, str(exc))
            return
        if entry is None:
            self._error(op, f"{text} is not banned (see /bans)")
            return
        LOGGER.warning(
            "%s lifted the ban on %s (%s)",
            op.name,
            entry.shown,
            entry.kind,
            extra={"fields": {"event": "unbanned", "name": op.name, "reason": entry.shown}},
        )
        self._announce({room}, f"{op.name} lifted the ban on {entry.shown}")

    def _list_bans(self, op: Member) -> None:
        bans = self.guard.bans()
        if not bans:
            self.hub.deliver(op, Notice("No bans"))
            return
        self.hub.deliver(op, Notice(f"Bans ({len(bans)}):"))
        for entry in bans:
            line = f"  {entry.shown} ({entry.kind}) {entry.term()}, by {entry.by}"
            self.hub.deliver(op, Notice(line))

    def _mute(self, op: Member, room: str, name: str, on: bool) -> None:
        target = self._online(op, name)
        if target is None:
            return
        verb = "muted" if on else "unmuted"
        if target.muted == on:
            self.hub.deliver(op, Notice(f"{target.name} is {'muted' if on else 'not muted'}"))
            return
        target.muted = on
        if on:
            self.guard.muted.add(name_key(target.name))
        else:
            self.guard.muted.discard(name_key(target.name))
        LOGGER.warning(
            "%s %s %s (%s)",
            op.name,
            verb,
            target.name,
            target.address,
            extra={
                "fields": {
                    "event": verb,
                    "address": target.address,
                    "name": target.name,
                    "reason": f"{verb} by {op.name}",
                }
            },
        )
        self._announce({room, *target.rooms}, f"{op.name} {verb} {target.name}")

    # --- helpers ---------------------------------------------------------------------

    def _online(self, op: Member, name: str) -> Member | None:
        target = self.hub.find(name)
        if target is None:
            self._error(op, f"nobody called {name} is online (see /who)")
        return target

    def _dismiss(self, target: Member, why: str, tell: Error | None) -> None:
        """Tell ``target`` (if ``tell``), then take them out; their rooms hear ``why``."""
        if tell is not None:
            self.hub.deliver(target, tell)
        self.hub.dismiss(target, why, trio.current_time() + DISMISS_TIMEOUT)

    def _announce(self, rooms: Iterable[str], text: str) -> None:
        """One notice to everyone in ``rooms`` (once each)."""
        audience = {
            member
            for name in rooms
            if (room := self.hub.room(name)) is not None
            for member in room.members.values()
        }
        self.hub.send_each(audience, Notice(text))

    def _error(self, member: Member, text: str) -> None:
        self.hub.deliver(member, Error(text))
