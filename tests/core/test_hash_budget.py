"""Password hashing has a budget per address and per account (issue #16 item 2)."""

from __future__ import annotations

import contextlib

import pytest
import trio
import trio.lowlevel
import trio.testing

from trio_chat.core import accounts, hashing
from trio_chat.core.accounts import Guard
from trio_chat.core.hashing import HASH_BURST
from trio_chat.core.passwords import ScryptCost
from trio_chat.core.refusals import TooManyPasswords

CHEAP = ScryptCost(n=2**4, r=1, p=1)


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The passwords hashed, in the order their hashing started."""
    started: list[str] = []
    check = accounts.check_password

    def counting(password: str, stored: str) -> bool:
        started.append(password)
        return check(password, stored)

    monkeypatch.setattr(accounts, "check_password", counting)
    return started


async def settle() -> None:
    """Let every task run until all wait on the (frozen) clock."""
    await trio.testing.wait_all_tasks_blocked(cushion=0.05)


async def test_a_returning_user_logs_in_at_once_during_a_storm_of_guesses(
    mock_clock: trio.testing.MockClock, hashes: list[str]
) -> None:
    # Time stands still: budgets never refill, so the counts are exact.
    guard = Guard(cost=CHEAP)
    for i in range(50):
        await guard.register(f"user{i}", f"secret-{i}")
    assert await guard.verify("user0", "secret-0", "192.0.2.10")  # ana's usual place
    hashes.clear()
    async with trio.open_nursery() as nursery:
        # 1500 connections from 94 addresses, each under every connection limit.
        async def guess(address: str, account: str) -> None:
            with contextlib.suppress(TooManyPasswords):
                await guard.verify(account, "guess", address)

        for connection in range(1500):
            address = f"198.51.100.{connection % 94}"
            nursery.start_soon(guess, address, f"user{connection % 50}")
        await trio.lowlevel.checkpoint()  # every guess asked before ana
        assert await guard.verify("user0", "secret-0", "192.0.2.10")
        before_ana = hashes.index("secret-0")
        await settle()
        # Each address had its burst, and nothing more: the rest waits or is refused.
        assert hashes.count("guess") <= 94 * HASH_BURST
        nursery.cancel_scope.cancel()
    # Ana's own lane: she waited for no guesser's hash but those already running
    # (a few, or a few dozen on a loaded machine: the other lanes' worker threads
    # go on while hers starts). Behind the guessers' queue she would be near 940th.
    assert before_ana < 200  # of the 940 the guessers may have (94 addresses x 10)


async def test_one_address_looping_passwords_gets_its_burst_then_is_refused(
    mock_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    guard = Guard(cost=CHEAP)
    await guard.register("ana", "ana-secret")
    hashed: list[str] = []
    make = accounts.hash_password
    monkeypatch.setattr(
        accounts,
        "hash_password",
        lambda password, cost: hashed.append(password) or make(password, cost),
    )
    refused = 0
    async with trio.open_nursery() as nursery:

        async def loop() -> None:
            nonlocal refused
            for _ in range(20):
                try:
                    await guard.register("ana", "new-password", "203.0.113.5")
                except TooManyPasswords:
                    refused += 1

        for _ in range(16):
            nursery.start_soon(loop)
        await settle()
        nursery.cancel_scope.cancel()
    # 16 connections looping /password: the address's burst, the others refused
    # at once without a hash (time stands still, so the budget never refills).
    assert len(hashed) == HASH_BURST
    assert refused == 16 * 20 - HASH_BURST


async def test_guesses_at_one_account_from_many_addresses_are_few(
    mock_clock: trio.testing.MockClock, hashes: list[str]
) -> None:
    guard = Guard(cost=CHEAP)
    await guard.register("ana", "ana-secret")
    refused = 0
    for i in range(200):
        try:
            await guard.verify("ana", f"guess-{i}", f"198.51.100.{i}")
        except TooManyPasswords:
            refused += 1
    assert len(hashes) == hashing.ACCOUNT_GUESS_BURST
    assert refused == 200 - hashing.ACCOUNT_GUESS_BURST
    # Where ana logged in from before, she is not held up by the guesses at her.
    guard.hashing.logged_in("192.0.2.10", "ana")
    assert await guard.verify("ana", "ana-secret", "192.0.2.10")
