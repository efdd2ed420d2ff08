"""Who may come in, and who they are: passwords, registered names, bans.

Theory of operation
-------------------
:class:`Guard` is the server's access policy, one per server, shared by
every session. It holds:

* the **server password** (``--password-file``), asked of every connection
  before its name, and the **operator password** (``--oper-password-file``);
* the **registered names**: name key -> salted scrypt hash;
* the **bans**, of names and of IP addresses or networks, with an optional
  expiry;
* the **muted** names, for this run only.

Registered names and bans are stored in the history's SQLite file (tables
``accounts`` and ``bans``, schema version 4) and mirrored in memory, so that
every check a connection meets is synchronous and costs no thread hop. A
change is written to the file first (in a worker thread, in turn with the
history's writer), then to memory: what the memory says is on disk. Without
a file (``History`` is None) they live for the run.

Passwords are hashed as :mod:`trio_chat.core.passwords` says, bans are
:mod:`trio_chat.core.bans`' entries.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from trio_chat.core.bans import BanEntry, ban_target, covers_peer
from trio_chat.core.hashing import HashBudget
from trio_chat.core.history import History
from trio_chat.core.names import fitting_name, name_key
from trio_chat.core.passwords import (
    DEFAULT_COST,
    ScryptCost,
    check_password,
    hash_password,
    password_problem,
    same_secret,
)
from trio_chat.core.phrases import Phrase
from trio_chat.i18n import N_

# How a hash is computed off the event loop: trio.to_thread.run_sync's shape.
RunSync = Callable[..., Awaitable[Any]]

LOGGER = logging.getLogger(__name__)


class AccountError(Exception):
    """An account change that cannot be made; ``problem`` (``str(exc)``) says why, for the user."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


# --- the guard ----------------------------------------------------------------------


class Guard:
    """Server and operator passwords, registered names, bans and mutes.

    Args:
        store: the history whose SQLite file keeps accounts and bans; None
            keeps them for this run only.
        server_password: asked of every connection before its name, if set.
        oper_password: makes a member an operator (``/oper``), if set.
        cost: scrypt's cost for new hashes (tests use a cheap one).
        clock: the time, for bans that expire (tests inject their own).
    """

    def __init__(
        self,
        store: History | None = None,
        *,
        server_password: str | None = None,
        oper_password: str | None = None,
        cost: ScryptCost = DEFAULT_COST,
        clock: Callable[[], float] = time.time,
        run_sync: RunSync = trio.to_thread.run_sync,
    ) -> None:
        self._store = store
        # Where hashes are computed: a worker thread (tests of virtual time: inline).
        self._run_sync = run_sync
        self._server_password = server_password
        self._oper_password = oper_password
        self._cost = cost
        self._clock = clock
        self.hashing = HashBudget()
        # Name key -> (name as registered, scrypt hash).
        self._accounts: dict[str, tuple[str, str]] = {}
        self._bans: dict[str, BanEntry] = {}
        # Key of an old name that no longer fits the rule -> the name it became.
        self._renamed: dict[str, str] = {}
        # Name keys muted for this run (a muted member who reconnects stays muted).
        self.muted: set[str] = set()

    async def open(self) -> None:
        """Load accounts and bans from the file (call once, before serving)."""
        if self._store is None:
            return
        accounts = await self._store.query("SELECT name_key, name, password_hash FROM accounts")
        self._accounts = {key: (name, hashed) for key, name, hashed in accounts}
        self._renamed = dict(await self._store.query("SELECT old_key, new FROM renamed"))
        rows = await self._store.query("SELECT target, kind, shown, until, banned_by FROM bans")
        now = self._clock()
        for row in rows:
            entry = BanEntry(*row)
            if entry.expired(now):
                await self._store.execute("DELETE FROM bans WHERE target = ?", (entry.target,))
            else:
                self._bans[entry.target] = entry

    # --- passwords of the server --------------------------------------------------

    @property
    def needs_password(self) -> bool:
        return self._server_password is not None

    def server_password_ok(self, given: str) -> bool:
        return self._server_password is None or same_secret(given, self._server_password)

    @property
    def has_operators(self) -> bool:
        return self._oper_password is not None

    def oper_password_ok(self, given: str) -> bool:
        return self._oper_password is not None and same_secret(given, self._oper_password)

    # --- registered names ---------------------------------------------------------

    def registered_name(self, name: str) -> str | None:
        """The name as registered (its case may differ), or None if it is not."""
        account = self._accounts.get(name_key(name))
        return account[0] if account is not None else None

    def renamed_to(self, old: str) -> str | None:
        """The registered name ``old`` became when it stopped fitting the name rule, if any."""
        if fitting_name(old) == old:
            return None  # a valid name is its own (and may be someone else's now)
        new = self._renamed.get(name_key(old))
        return self.registered_name(new) if new is not None else None

    async def verify(self, name: str, password: str, address: str | None = None) -> bool:
        """Whether ``password`` is the registered name's (False if not registered). Slow.

        A request from ``address`` must be within that address's (and, from a
        new address, the account's) budget: see :class:`HashBudget`.

        Raises:
            TooManyPasswords: it is not (nothing was checked).
        """
        key = name_key(name)
        if key not in self._accounts:
            await trio.lowlevel.checkpoint()
            return False
        self.hashing.take_turn(address, key)
        try:
            account = self._accounts.get(key)
            if account is None:  # unregistered meanwhile
                return False
            right = await self._run_sync(
                check_password, password, account[1], limiter=self.hashing.lane(address, key)
            )
        finally:
            self.hashing.done(address)
        if right:
            self.hashing.logged_in(address, key)
        else:
            self.hashing.failed(address)
        return bool(right)

    async def register(self, name: str, password: str, address: str | None = None) -> None:
        """Register ``name`` with ``password``, or change its password.

        Hashing it takes from the budget of ``address`` (see :class:`HashBudget`).

        Raises:
            AccountError: the password is not acceptable, or it cannot be saved.
            TooManyPasswords: ``address`` is over its budget of hashes.
        """
        problem = password_problem(password)
        if problem is not None:
            raise AccountError(problem)
        self.hashing.take_turn(address)
        try:
            hashed = await self._run_sync(
                hash_password, password, self._cost, limiter=self.hashing.lane(address)
            )
        finally:
            self.hashing.done(address)
        key = name_key(name)
        await self._write(
            "INSERT INTO accounts (name_key, name, password_hash, created) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (name_key) DO UPDATE SET password_hash = excluded.password_hash",
            (key, name, hashed, self._clock()),
        )
        registered = self._accounts.get(key)
        self._accounts[key] = (registered[0] if registered else name, hashed)

    async def unregister(self, name: str) -> None:
        """Forget ``name``'s account.

        Raises:
            AccountError: it cannot be saved.
        """
        key = name_key(name)
        await self._write("DELETE FROM accounts WHERE name_key = ?", (key,))
        self._accounts.pop(key, None)
        self._forget_privates(key)

    def _forget_privates(self, key: str) -> None:
        """A given-up account's private conversations go with it (core/conversations.py)."""
        if self._store is not None:
            self._store.forget_private(key)

    # --- bans -----------------------------------------------------------------------

    def ban_of_name(self, name: str) -> BanEntry | None:
        return self._active(self._bans.get(name_key(name)))

    def ban_of_peer(self, peer: str) -> BanEntry | None:
        """The ban in force on the address of ``peer`` (``host:port``), if any."""
        for entry in list(self._bans.values()):
            if covers_peer(entry, peer) and self._active(entry) is not None:
                return entry
        return None

    def _active(self, entry: BanEntry | None) -> BanEntry | None:
        """``entry`` if it is in force; an expired one is forgotten (the file, at start)."""
        if entry is not None and entry.expired(self._clock()):
            del self._bans[entry.target]
            return None
        return entry

    def bans(self) -> list[BanEntry]:
        """The bans in force."""
        return [e for e in list(self._bans.values()) if self._active(e) is not None]

    async def ban(self, text: str, seconds: int | None, by: str) -> BanEntry:
        """Ban a name or an address (for ``seconds``, or for good).

        Raises:
            BadName: ``text`` is neither an address nor a valid name.
            AccountError: it cannot be saved.
        """
        kind, target, shown = ban_target(text)
        until = None if seconds is None else self._clock() + seconds
        entry = BanEntry(target, kind, shown, until, by)
        await self._write(
            "INSERT OR REPLACE INTO bans (target, kind, shown, until, banned_by, created)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (target, kind, shown, until, by, self._clock()),
        )
        self._bans[target] = entry
        return entry

    async def unban(self, text: str) -> BanEntry | None:
        """Lift the ban on a name or an address; the ban lifted, or None if there was none.

        Raises:
            BadName: ``text`` is neither an address nor a valid name.
            AccountError: it cannot be saved.
        """
        _, target, _ = ban_target(text)
        entry = self._active(self._bans.get(target))
        if entry is None:
            return None
        await self._write("DELETE FROM bans WHERE target = ?", (target,))
        self._bans.pop(target, None)
        return entry

    async def _write(self, statement: str, parameters: tuple[object, ...]) -> None:
        if self._store is None:
            await trio.lowlevel.checkpoint()
            return
        try:
            await self._store.execute(statement, parameters)
        except sqlite3.Error as exc:
            # The statement's parameters may hold a hash: only the error is logged.
            LOGGER.error("could not save an account or ban change: %s", exc)
            raise AccountError(
                Phrase(N_("could not save it ({error}); nothing changed"), error=str(exc))
            ) from None

    # --- shared with other servers (trio_chat.backplane.shared) ---------------------

    def accounts(self) -> dict[str, tuple[str, str]]:
        """Registered names: name key -> (name as registered, scrypt hash)."""
        return dict(self._accounts)

    async def adopt_account(self, key: str, account: tuple[str, str] | None) -> None:
        """Another server registered (or, with None, gave up) this account: the same here."""
        if account is None:
            await self._write("DELETE FROM accounts WHERE name_key = ?", (key,))
            self._accounts.pop(key, None)
            self._forget_privates(key)
            return
        name, hashed = account
        await self._write(
            "INSERT OR REPLACE INTO accounts (name_key, name, password_hash, created)"
            " VALUES (?, ?, ?, ?)",
            (key, name, hashed, self._clock()),
        )
        self._accounts[key] = account

    async def adopt_ban(self, target: str, entry: BanEntry | None) -> None:
        """Another server set (or, with None, lifted) this ban: the same here."""
        if entry is None:
            await self._write("DELETE FROM bans WHERE target = ?", (target,))
            self._bans.pop(target, None)
            return
        await self._write(
            "INSERT OR REPLACE INTO bans (target, kind, shown, until, banned_by, created)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (target, entry.kind, entry.shown, entry.until, entry.by, self._clock()),
        )
        self._bans[target] = entry
