"""Who may make the server hash a password, and when: a budget per address and per account.

A password hash (scrypt, about 0.1 s of a core and 32 MiB) is the most
expensive thing a client can ask for. :class:`HashBudget` keeps any one
address, or a guesser spread over many, from taking the server's hashing
for itself: see its docstring. Bookkeeping only; the
:class:`~trio_chat.core.accounts.Guard` runs the hashes in worker threads
in the lanes it is given.
"""

from __future__ import annotations

import trio

from trio_chat.core.limits import TokenBucket, address_key
from trio_chat.core.refusals import TooManyPasswords

# Hashes computed at once (each takes 128 * N * r bytes: 32 MiB): one in each
# lane (see HashBudget): returning users, newcomers, and everyone else.
HASHES_AT_ONCE = 3
# Hashes one address may have computed: this many at once (a class logging
# in behind one NAT), then one every HASH_INTERVAL seconds; over it, refused.
HASH_BURST = 10
HASH_INTERVAL = 5.0
# Guesses at one account from addresses it never logged in from: as many at
# once, then one every ACCOUNT_GUESS_INTERVAL seconds.
ACCOUNT_GUESS_BURST = 5
ACCOUNT_GUESS_INTERVAL = 10.0
# Addresses (and accounts) remembered by the hash budget.
REMEMBERED = 10_000
TRUSTED_PER_ACCOUNT = 8


class HashBudget:
    """Who may make the server hash a password, and when: fair shares, not one queue.

    A hash costs about 0.1 s of a core, so a queue shared by everyone lets
    anyone delay everyone's login. Instead each address has its own budget
    (:data:`HASH_BURST`, then one per :data:`HASH_INTERVAL`): requests over
    it are refused at once (:class:`TooManyPasswords`), without a hash. Each account has one too for
    guesses from addresses it never logged in from, so a guesser spread
    over many addresses still gets few tries, and its owner, from where they
    logged in before, does not wait for it. Of the two hashing lanes, one
    serves only addresses with no wrong password yet, so a login from
    there never waits behind a guesser's hashes.

    An address of ``None`` (exempt from limits) has no budget of its own.
    """

    def __init__(self) -> None:
        self._lanes = tuple(trio.CapacityLimiter(1) for _ in range(HASHES_AT_ONCE))
        # Hashes each address has waiting or running.
        self._pending: dict[str, int] = {}
        self._addresses: dict[str, TokenBucket] = {}
        self._accounts: dict[str, TokenBucket] = {}
        self._suspects: dict[str, None] = {}
        self._trusted: dict[str, dict[str, None]] = {}

    @staticmethod
    def _bucket(
        buckets: dict[str, TokenBucket], key: str, burst: int, interval: float
    ) -> TokenBucket:
        bucket = buckets.pop(key, None)
        if bucket is None:
            bucket = TokenBucket(1 / interval, burst, trio.current_time())
            if len(buckets) >= REMEMBERED:
                del buckets[next(iter(buckets))]
        buckets[key] = bucket  # most recently used last
        return bucket

    def take_turn(self, address: str | None, account: str | None = None) -> None:
        """Let ``address`` (guessing at ``account``) have a hash now; then call :meth:`done`.

        Raises:
            TooManyPasswords: it is over its budget (nothing waits: a loop of
                passwords is then a loop of refusals, which flood control ends).
        """
        if address is None:
            return
        key = address_key(address)
        now = trio.current_time()
        buckets = [self._bucket(self._addresses, key, HASH_BURST, HASH_INTERVAL)]
        if account is not None and key not in self._trusted.get(account, {}):
            buckets.append(
                self._bucket(self._accounts, account, ACCOUNT_GUESS_BURST, ACCOUNT_GUESS_INTERVAL)
            )
        delay = max([bucket.take(now) for bucket in buckets])
        if delay > 0:
            for bucket in buckets:
                bucket.give_back()
            raise TooManyPasswords(delay)
        self._pending[key] = self._pending.get(key, 0) + 1

    def done(self, address: str | None) -> None:
        """The hash :meth:`take_turn` let ``address`` have is done (or given up)."""
        if address is not None:
            key = address_key(address)
            left = self._pending.pop(key, 1) - 1
            if left > 0:
                self._pending[key] = left

    def lane(self, address: str | None, account: str | None = None) -> trio.CapacityLimiter:
        """The lane a hash for ``address`` waits in (after :meth:`wait_turn`).

        A login from where the account logged in before has a lane of its
        own; an address with no wrong password and no other hash waiting
        another; everyone else shares the third.
        """
        if address is None:
            return self._lanes[1]
        key = address_key(address)
        if account is not None and key in self._trusted.get(account, {}):
            return self._lanes[2]
        suspect = key in self._suspects or self._pending.get(key, 0) > 1
        return self._lanes[0 if suspect else 1]

    def failed(self, address: str | None) -> None:
        """A wrong password from ``address``: its hashes go to the shared lane from now on."""
        if address is not None:
            key = address_key(address)
            self._suspects.pop(key, None)
            if len(self._suspects) >= REMEMBERED:
                del self._suspects[next(iter(self._suspects))]
            self._suspects[key] = None

    def logged_in(self, address: str | None, account: str) -> None:
        """``account`` logged in from ``address``: its guesses from there need no account budget."""
        if address is not None:
            trusted = self._trusted.setdefault(account, {})
            if len(trusted) >= TRUSTED_PER_ACCOUNT:
                del trusted[next(iter(trusted))]
            trusted[address_key(address)] = None
            if len(self._trusted) > REMEMBERED:
                del self._trusted[next(iter(self._trusted))]
