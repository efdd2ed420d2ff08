"""Expensive commands cost more of the flood budget (issue #16 item 6)."""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

from trio_chat.core.accounts import Guard
from trio_chat.core.clients import Client
from trio_chat.core.events import Message, Past, Reason
from trio_chat.core.hashing import HASH_BURST
from trio_chat.core.history import History
from trio_chat.core.hub import LOBBY, Hub
from trio_chat.core.limits import DEFAULT_FLOOD_BURST, LOG_BURST, LOG_WINDOW, Limits
from trio_chat.core.members import ScopeLink
from trio_chat.core.names import name_key
from trio_chat.core.refusals import TooManyPasswords, WrongOperPassword
from trio_chat.core.rules import REPLAY_BYTES
from trio_chat.core.service import ChatService
from trio_chat.core.store import HistoryStore
from trio_chat.text.codec import encode

ADDRESS = "198.51.100.7"


def limited(service: ChatService, port: int = 1) -> Client:
    return service.connect(f"{ADDRESS}:{port}", ADDRESS)


def delayed(client: Client) -> bool:
    """Whether the client's next line would wait."""
    assert client.flood is not None
    return client.flood.check(trio.current_time())[0] > 0


def crowd(service: ChatService, count: int) -> None:
    for i in range(count):
        member = service.hub.join(f"m{i}", encode, ScopeLink())
        service.hub.enter(member, f"#room{i}")


async def test_listing_everyone_costs_by_the_length_of_the_list(
    mock_clock: trio.testing.MockClock,
) -> None:
    service = ChatService(Hub(name_key), limits=Limits(exempt=()))
    crowd(service, 30)
    client = limited(service)
    for _ in range(DEFAULT_FLOOD_BURST - 1):
        service.members(client=client)  # short lists cost nothing to speak of
    assert not delayed(client)
    crowd_service = ChatService(Hub(name_key), limits=Limits(exempt=()))
    crowd(crowd_service, 3000)
    asker = limited(crowd_service)
    for _ in range(4):  # 3000 names cost 6 lines each
        crowd_service.members(client=asker)
    assert delayed(asker)


async def test_listing_rooms_costs_by_their_number(mock_clock: trio.testing.MockClock) -> None:
    service = ChatService(Hub(name_key), limits=Limits(exempt=()))
    crowd(service, 200)  # 200 rooms cost 10 lines
    client = limited(service)
    service.rooms(client=client)
    service.rooms(client=client)
    assert delayed(client)


async def test_a_long_history_replay_costs_by_its_bytes(
    mock_clock: trio.testing.MockClock,
) -> None:
    history = History(HistoryStore(":memory:"), name_key)
    await history.open()
    service = ChatService(Hub(name_key), history=history, limits=Limits(exempt=()))
    async with trio.open_nursery() as nursery:
        await nursery.start(history.run)
        for i in range(500):
            history.record(Message("bob", LOBBY, f"{i:04} " + "h" * 4000))
        client = limited(service)
        await service.take_name(client, "ana", encode, ScopeLink())  # history: members'
        entries = await service.read_history(LOBBY, 500, client=client)
        assert entries  # up to the replay budget (256 KiB): about 32 lines' worth
        assert delayed(client)
        cheap = limited(service, 2)
        await service.take_name(cheap, "bob", encode, ScopeLink())
        await service.read_history(LOBBY, 2, client=cheap)
        assert not delayed(cheap)
        history.close()


async def test_operator_guesses_cost_like_passwords_and_are_limited_per_address(
    mock_clock: trio.testing.MockClock,
) -> None:
    service = ChatService(
        Hub(name_key), guard=Guard(oper_password="the-oper-pw"), limits=Limits(exempt=())
    )
    refused = 0
    # Reconnecting after every 3 wrong guesses: the address's budget still holds.
    for port in range(40):
        client = limited(service, port)
        await service.take_name(client, f"guesser{port}", encode, ScopeLink())
        try:
            service.moderation.oper(client, "guess")
        except TooManyPasswords:
            refused += 1
        except WrongOperPassword:
            pass
        service.leave(client, Reason.QUIT)
    assert refused == 40 - HASH_BURST


async def test_renames_and_joins_from_one_address_log_a_burst_then_a_count(
    mock_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trio_chat")
    service = ChatService(Hub(name_key), limits=Limits(exempt=()))
    for port in range(30):
        await service.take_name(limited(service, port), f"user{port}", encode, ScopeLink())
    client = limited(service, 99)
    await service.take_name(client, "nick0", encode, ScopeLink())
    for i in range(1, 100):
        service.rename(client, f"nick{i}")
    joins = [r for r in caplog.records if " joined from " in r.getMessage()]
    renames = [r for r in caplog.records if " is now known as " in r.getMessage()]
    assert len(joins) == LOG_BURST
    assert len(renames) == LOG_BURST
    mock_clock.jump(LOG_WINDOW)
    service.rename(client, "last")
    assert caplog.records[-1].getMessage() == (
        f"nick99 ({ADDRESS}:99) is now known as last"
        f" ({99 - LOG_BURST} similar line(s) from this address not logged)"
    )


async def test_departures_from_one_address_log_a_burst_then_a_count(
    mock_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trio_chat")
    service = ChatService(Hub(name_key), limits=Limits(exempt=()))
    clients = [limited(service, port) for port in range(31)]
    for port, client in enumerate(clients):
        await service.take_name(client, f"user{port}", encode, ScopeLink())
    mock_clock.jump(LOG_WINDOW)
    for client in clients[:30]:
        service.leave(client, Reason.LOST)  # a storm of lost connections
    left = [r for r in caplog.records if " left: " in r.getMessage()]
    assert len(left) == LOG_BURST
    assert service.online() == 1  # every one of them left all the same
    mock_clock.jump(LOG_WINDOW)
    service.leave(clients[30], Reason.QUIT)
    assert caplog.records[-1].getMessage() == (
        f"user30 ({ADDRESS}:30) left: quit"
        f" ({30 - LOG_BURST} similar line(s) from this address not logged)"
    )


async def test_a_member_that_does_not_read_holds_one_replay_at_a_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    history = History(HistoryStore(":memory:"), name_key)
    await history.open()
    service = ChatService(Hub(name_key), history=history)
    async with trio.open_nursery() as nursery:
        await nursery.start(history.run)
        for i in range(500):
            history.record(Message("bob", LOBBY, f"{i:04} " + "h" * 4000))
        client = service.connect("local")
        await service.take_name(client, "deaf", encode, ScopeLink())
        deaf = service.hub.find("deaf")
        assert deaf is not None
        for entry in await service.read_history(LOBBY, 500, client=client):
            service.tell(client, Past(entry.event))
        # Asked again without reading: it waits for the first replay to be taken.
        with trio.move_on_after(60) as waited:
            await service.read_history(LOBBY, 500, client=client)
        assert waited.cancelled_caught
        assert deaf.outbox.queued_bytes < 2 * REPLAY_BYTES
        while deaf.outbox.next_batch():
            pass
        assert await service.read_history(LOBBY, 500, client=client)  # at once
        history.close()
