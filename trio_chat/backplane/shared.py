"""Bans, mutes and registered accounts, the same on every server sharing a Redis.

Each server's :class:`~trio_chat.core.accounts.Guard` stays the authority for
its own checks (synchronous, from memory, saved in its own file); this keeps
the guards of all servers in step through one Redis hash (``shared``, entry
key -> JSON value: ``account:KEY``, ``ban:TARGET``, ``mute:KEY``) and a
counter (``shared:version``) that says when it changed.

:meth:`SharedState.sync` runs on every heartbeat: what changed here since the
last sync (compared with :attr:`SharedState.base`, the state both sides last
agreed on) is written to the hash; if the counter moved, what changed there
is applied here. After a (re)connection the base is empty, so every server
adds what it has: a server started later, or Redis restarted empty, loses
nothing (a ban lifted while Redis was unreachable may come back).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import coredis
import trio

from trio_chat.backplane.mirror import home_of
from trio_chat.core.accounts import AccountError, Guard
from trio_chat.core.bans import BanEntry, covers_peer
from trio_chat.core.events import Reason
from trio_chat.core.hub import Hub
from trio_chat.core.moderation import DISMISS_TIMEOUT

LOGGER = logging.getLogger(__name__)


class SharedState:
    """One server's side of the shared bans, mutes and accounts."""

    def __init__(self, guard: Guard, hub: Hub, name_key: Callable[[str], str]) -> None:
        self.guard = guard
        self.hub = hub
        self._key = name_key
        self.base: dict[str, str] = {}
        self._version: str | None = None
        # Set (and replaced) whenever another server's change was applied here.
        self.adopted = trio.Event()

    def reset(self) -> None:
        """A new connection: everything here is added again (see the module's docstring)."""
        self.base = {}
        self._version = None

    def local(self) -> dict[str, str]:
        """This server's bans, mutes and accounts, as the hash holds them."""
        state = {
            f"account:{key}": json.dumps(list(account))
            for key, account in self.guard.accounts().items()
        }
        for ban in self.guard.bans():
            state[f"ban:{ban.target}"] = json.dumps([ban.kind, ban.shown, ban.until, ban.by])
        for key in self.guard.muted:
            state[f"mute:{key}"] = "1"
        return state

    async def sync(self, client: coredis.Redis[str], table: str) -> None:
        """Write what changed here, then apply what changed elsewhere."""
        local = self.local()
        pushed = {k: v for k, v in local.items() if self.base.get(k) != v}
        removed = [k for k in self.base if k not in local]
        if pushed or removed:
            async with client.pipeline(transaction=True) as pipe:
                if pushed:
                    pipe.hset(table, pushed)
                if removed:
                    pipe.hdel(table, removed)
                pipe.incr(table + ":version")
        version = await client.get(table + ":version")
        if version == self._version:
            self.base = local
            return
        remote = await client.hgetall(table)
        mine = {*pushed, *removed}
        changed = False
        for key in sorted(remote.keys() | self.base.keys()):
            if key not in mine and remote.get(key) != local.get(key):
                try:
                    await self.adopt(key, remote.get(key))
                except (AccountError, ValueError, TypeError) as exc:
                    LOGGER.error("could not apply another server's change of %s: %s", key, exc)
                changed = True
        self.base, self._version = dict(remote), version
        if changed:
            self.adopted.set()
            self.adopted = trio.Event()

    async def adopt(self, key: str, value: str | None) -> None:
        """Apply one entry another server changed (None: removed)."""
        kind, _, target = key.partition(":")
        if kind == "account":
            name, hashed = json.loads(value) if value is not None else (None, None)
            account = (str(name), str(hashed)) if value is not None else None
            await self.guard.adopt_account(target, account)
        elif kind == "ban":
            entry = None
            if value is not None:
                ban_kind, shown, until, by = json.loads(value)
                entry = BanEntry(target, ban_kind, shown, until, by)
            await self.guard.adopt_ban(target, entry)
            if entry is not None and entry.kind == "address":
                self._end_sessions_under(entry)
        elif kind == "mute":
            self._mute(target, value is not None)

    def _end_sessions_under(self, entry: BanEntry) -> None:
        """This server's members from an address another server banned: they go, as there."""
        deadline = trio.current_time() + DISMISS_TIMEOUT
        for name in self.hub.names():
            member = self.hub.find(name)
            if (
                member is not None
                and home_of(member) is None
                and covers_peer(entry, member.address)
            ):
                self.hub.dismiss(member, Reason.BANNED, deadline, detail=entry.stamp(), by=entry.by)

    def _mute(self, key: str, on: bool) -> None:
        if on:
            self.guard.muted.add(key)
        else:
            self.guard.muted.discard(key)
        member = self.hub.find(key)
        if member is not None and home_of(member) is None:
            member.muted = on
