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

Passwords
---------
A password is never stored, logged or repeated: only
``scrypt$N$r$p$salt$key`` (salt 16 random bytes, key 32 bytes, base64) is
kept. scrypt is in the standard library (no dependency to build) and is
memory-hard, so guessing on a GPU costs memory, not just time. The cost
N=2**15, r=8, p=1 takes 32 MiB and about 0.1 s per hash here: slow for a
guesser, cheap for a login. Hashing runs in a worker thread (it would stall
every chat for 0.1 s), at most :data:`~.hashing.HASHES_AT_ONCE` at a time, so a burst
of logins costs bounded memory and leaves a core for the chat; each address
and each account has a budget of hashes (:class:`HashBudget`), so nobody
waits behind someone else's storm of logins. The cost is
stored with each hash, so raising it later keeps old accounts working.
Hashes are compared with :func:`hmac.compare_digest`; the server and
operator passwords are compared as SHA-256 digests the same way, so neither
their content nor their length leaks through timing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import trio

from trio_chat.core.hashing import HashBudget
from trio_chat.core.history import History
from trio_chat.core.names import check_name, fitting_name, name_key
from trio_chat.core.phrases import Phrase
from trio_chat.i18n import N_

# How a hash is computed off the event loop: trio.to_thread.run_sync's shape.
RunSync = Callable[..., Awaitable[Any]]

LOGGER = logging.getLogger(__name__)

# scrypt's cost: N (CPU and memory), r (block size), p (parallelism).
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
# Password lengths, in characters.
MIN_PASSWORD_CHARS = 6
MAX_PASSWORD_CHARS = 256

BanKind = Literal["name", "address"]


class SecretFileError(Exception):
    """A password file cannot be used; ``str(exc)`` says why, for the user."""


class AccountError(Exception):
    """An account change that cannot be made; ``problem`` (``str(exc)``) says why, for the user."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class ScryptCost:
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P


def hash_password(password: str, cost: ScryptCost = ScryptCost()) -> str:
    """``scrypt$N$r$p$salt$key`` for ``password``, with a fresh random salt. Slow."""
    salt = os.urandom(SALT_BYTES)
    key = _scrypt(password, salt, cost.n, cost.r, cost.p)
    return "$".join(["scrypt", str(cost.n), str(cost.r), str(cost.p), _b64(salt), _b64(key)])


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the ``stored`` hash. Slow."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        expected = base64.b64decode(key, validate=True)
        computed = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except ValueError:  # binascii.Error is a ValueError
        LOGGER.error("a stored password hash is unreadable: that account cannot log in")
        return False
    return hmac.compare_digest(computed, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 * n * r * p,
        dklen=KEY_BYTES,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _same_secret(given: str, secret: str) -> bool:
    """Constant-time comparison that does not reveal the secret's length either."""
    return hmac.compare_digest(
        hashlib.sha256(given.encode("utf-8")).digest(),
        hashlib.sha256(secret.encode("utf-8")).digest(),
    )


def password_problem(password: str) -> str | None:
    """Why ``password`` is not acceptable for an account, or None."""
    if len(password) < MIN_PASSWORD_CHARS:
        return Phrase(N_("a password needs at least {n} characters"), n=MIN_PASSWORD_CHARS)
    if len(password) > MAX_PASSWORD_CHARS:
        return Phrase(N_("a password may have at most {n} characters"), n=MAX_PASSWORD_CHARS)
    return None


def read_secret(path: str | Path, what: str) -> str:
    """The first line of a password file, trimmed.

    Raises:
        SecretFileError: the file is missing, unreadable or its first line empty.
    """
    try:
        with open(path, encoding="utf-8") as file:
            first = file.readline()
    except OSError as exc:
        raise SecretFileError(
            f"cannot read the {what} file {path}: {exc.strerror or exc}"
        ) from None
    except UnicodeDecodeError:
        raise SecretFileError(f"the {what} file {path} is not UTF-8 text") from None
    secret = first.strip()
    if not secret:
        raise SecretFileError(f"the {what} file {path} is empty: its first line is the password")
    return secret


# --- bans -------------------------------------------------------------------------


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
        cost: ScryptCost = ScryptCost(),
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
        LOGGER.info("%d registered name(s), %d ban(s)", len(self._accounts), len(self._bans))

    # --- passwords of the server --------------------------------------------------

    @property
    def needs_password(self) -> bool:
        return self._server_password is not None

    def server_password_ok(self, given: str) -> bool:
        return self._server_password is None or _same_secret(given, self._server_password)

    @property
    def has_operators(self) -> bool:
        return self._oper_password is not None

    def oper_password_ok(self, given: str) -> bool:
        return self._oper_password is not None and _same_secret(given, self._oper_password)

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
