"""What the chat service and its hub guarantee every frontend (issue #10, items 2 and 3)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import trio

from trio_chat.app import open_history
from trio_chat.core.accounts import Guard
from trio_chat.core.clients import Client
from trio_chat.core.events import Message, Private, Quit, Reason, ServerEvent, TopicChanged
from trio_chat.core.hub import LOBBY, Hub
from trio_chat.core.members import Member, ScopeLink
from trio_chat.core.names import name_key
from trio_chat.core.outbox import Outbox
from trio_chat.core.passwords import ScryptCost
from trio_chat.core.refusals import (
    Banned,
    Gone,
    InvalidName,
    Muted,
    NameTaken,
    NoSuchRoom,
    NotInRoom,
    PasswordNeeded,
    TooLong,
)
from trio_chat.core.service import ChatService


class Recording:
    """An encoder that keeps the events it was given (and encodes nothing)."""

    def __init__(self) -> None:
        self.events: list[ServerEvent] = []

    def __call__(self, event: ServerEvent) -> bytes:
        self.events.append(event)
        return b"x"


def drain(member: Member) -> None:
    with contextlib.suppress(trio.EndOfChannel):
        while member.outbox.next_batch():
            pass


async def named(service: ChatService, name: str, encode: Recording) -> Client:
    client = service.connect(f"test:{name}")
    await service.take_name(client, name, encode, ScopeLink(), outbox=Outbox())
    return client


async def test_entering_a_room_twice_changes_nothing() -> None:
    service = ChatService(Hub(name_key))
    ana_sees, bob_sees = Recording(), Recording()
    ana = await named(service, "ana", ana_sees)
    await named(service, "bob", bob_sees)
    await service.enter(ana, "dev")
    before = len(bob_sees.events), service.members("#dev")
    again = await service.enter(ana, "#DEV")
    assert again.already
    assert (len(bob_sees.events), service.members("#dev")) == before
    assert ana.named().rooms == {LOBBY, "#dev"}


async def test_saying_into_a_room_one_is_not_in_is_refused_and_never_recorded(
    tmp_path: Path,
) -> None:
    history = await open_history(str(tmp_path / "chat.db"))
    async with trio.open_nursery() as nursery:
        await nursery.start(history.run)
        hub = Hub(name_key, recorder=history)
        service = ChatService(hub, history=history)
        ana = await named(service, "ana", Recording())
        bob_sees = Recording()
        bob = await named(service, "bob", bob_sees)
        await service.enter(bob, "dev")
        with pytest.raises(NotInRoom):
            service.say(ana, "#dev", "not in there")
        with pytest.raises(NotInRoom):
            service.act(ana, "#nowhere", "waves")
        service.say(bob, "#dev", "in here")
        assert not any(isinstance(e, Message) and e.text == "not in there" for e in bob_sees.events)
        assert [e.event.text for e in await service.read_history("#dev", 10)] == ["in here"]
        history.close()


async def test_leaving_the_server_is_one_quit_for_each_observer() -> None:
    service = ChatService(Hub(name_key))
    ana_sees = Recording()
    ana = await named(service, "ana", ana_sees)
    bob = await named(service, "bob", Recording())
    for room in ("dev", "ops", "games"):
        await service.enter(ana, room)
        await service.enter(bob, room)
    ana_sees.events.clear()
    service.leave(bob, Reason.QUIT, "bye")
    assert ana_sees.events == [Quit("bob", Reason.QUIT, "bye")]
    # Parting one room is not leaving the server.
    carl = await named(service, "carl", Recording())
    await service.enter(carl, "dev")
    await service.enter(ana, "dev")
    ana_sees.events.clear()
    service.part(carl, "#dev", "later")
    assert [type(e).__name__ for e in ana_sees.events] == ["Parted"]
    assert service.members() == ["ana", "carl"]


async def test_a_topic_on_a_missing_room_is_refused() -> None:
    service = ChatService(Hub(name_key))
    ana = await named(service, "ana", Recording())
    with pytest.raises(NoSuchRoom):
        service.topic("#nowhere")
    with pytest.raises(NotInRoom):
        service.set_topic(ana, "#nowhere", "hello")


async def test_said_things_get_one_increasing_id_and_time_seen_by_all(tmp_path: Path) -> None:
    history = await open_history(str(tmp_path / "chat.db"))
    async with trio.open_nursery() as nursery:
        await nursery.start(history.run)
        service = ChatService(Hub(name_key, recorder=history), history=history)
        ana_sees, bob_sees, carl_sees = Recording(), Recording(), Recording()
        ana = await named(service, "ana", ana_sees)
        await named(service, "bob", bob_sees)
        await named(service, "carl", carl_sees)
        said = [
            service.say(ana, LOBBY, "one"),
            service.private(ana, "bob", "psst"),
            service.act(ana, LOBBY, "waves"),
            service.set_topic(ana, LOBBY, "news"),
        ]
        ids = [event.id for event in said]
        assert ids == sorted(ids)
        assert len(set(ids)) == 4
        assert ids[0] > 0
        assert all(event.time > 0 for event in said)
        # Every recipient gets the very event (same id, same time).
        assert said[0] in bob_sees.events
        assert said[0] in carl_sees.events
        assert said[1] in bob_sees.events
        assert said[1] not in carl_sees.events
        assert isinstance(said[1], Private)
        assert isinstance(said[3], TopicChanged)
        stored = await service.read_history(LOBBY, 10)
        assert [(e.seq, e.event.id) for e in stored] == [(ids[0], ids[0]), (ids[2], ids[2])]
        history.close()
    # After a restart, ids go on from the last one kept.
    history = await open_history(str(tmp_path / "chat.db"))
    async with trio.open_nursery() as nursery:
        await nursery.start(history.run)
        service = ChatService(Hub(name_key, recorder=history), history=history)
        dan = await named(service, "dan", Recording())
        # Greater than every id before, also those never stored (private, topic).
        assert service.say(dan, LOBBY, "later").id > max(ids)
        history.close()


async def test_one_encoder_failing_does_not_stop_delivery_to_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = ChatService(Hub(name_key))

    def broken(event: ServerEvent) -> bytes:
        if isinstance(event, Message):
            raise ValueError("a frontend bug")
        return b"x"

    ana = await named(service, "ana", Recording())
    client = service.connect("test:broken")
    await service.take_name(client, "broken", broken, ScopeLink(), outbox=Outbox())
    bob_sees = Recording()
    await named(service, "bob", bob_sees)
    event = service.say(ana, LOBBY, "hello")
    assert event in bob_sees.events
    assert "encoding Message for broken failed" in caplog.text
    assert service.members() == ["ana", "bob", "broken"]


async def test_rules_are_the_services_for_every_frontend() -> None:
    guard = Guard(server_password="Door-Secret-42")
    service = ChatService(Hub(name_key), guard=guard)
    client = service.connect("test:1")
    with pytest.raises(PasswordNeeded):
        await service.take_name(client, "ana", Recording(), ScopeLink())
    service.give_password(client, "Door-Secret-42")
    with pytest.raises(InvalidName):
        await service.take_name(client, "ana maria", Recording(), ScopeLink())
    await service.take_name(client, "ana", Recording(), ScopeLink(), outbox=Outbox())
    other = service.connect("test:2", None)
    service.give_password(other, "Door-Secret-42")
    with pytest.raises(NameTaken):
        await service.take_name(other, "ANA", Recording(), ScopeLink())
    client.named().muted = True
    with pytest.raises(Muted):
        service.say(client, LOBBY, "hi")
    with pytest.raises(Muted):
        await service.rename(client, "anna")


async def test_a_member_the_server_removed_can_do_nothing_more() -> None:
    guard = Guard(oper_password="Oper-Secret-42")
    service = ChatService(Hub(name_key), guard=guard)
    bob_sees = Recording()
    ana = await named(service, "ana", Recording())
    await named(service, "bob", bob_sees)
    service.moderation.oper(ana, "Oper-Secret-42")
    service.hub.dismiss(ana.named(), Reason.KICKED, trio.current_time() + 2, by="op")
    bob_sees.events.clear()
    # Its session may still read a line or two while the reason is delivered.
    with pytest.raises(Gone):
        service.private(ana, "bob", "still here?")
    with pytest.raises(Gone):
        service.moderation.kick(ana, "bob")
    with pytest.raises(Gone):
        await service.enter(ana, "dev")
    assert bob_sees.events == []
    assert service.members() == ["bob"]


async def test_a_login_that_fails_late_leaves_the_name_with_its_holder() -> None:
    guard = Guard(cost=ScryptCost(n=2**10, r=8, p=1))
    await guard.register("ana", "ana-Secret-12")
    service = ChatService(Hub(name_key), guard=guard)
    home = service.connect("192.0.2.1:4000")
    await service.take_name(home, "ana", Recording(), ScopeLink(), password="ana-Secret-12")
    await guard.ban("198.51.100.7", None, "op")
    intruder = service.connect("198.51.100.7:5000")
    with pytest.raises(Banned):
        await service.take_name(intruder, "ana", Recording(), ScopeLink(), password="ana-Secret-12")
    # The refused login did not end the session holding the name.
    assert home.present
    assert service.members() == ["ana"]


async def test_what_a_user_says_is_cleaned_and_bounded_whatever_the_frontend() -> None:
    service = ChatService(Hub(name_key))
    bob_sees = Recording()
    ana = await named(service, "ana", Recording())
    await named(service, "bob", bob_sees)
    said = service.say(ana, LOBBY, "\x1b[2Jhi\x07 there")
    assert said.text == "hi there"
    assert service.private(ana, "bob", "\x1b]0;pwned\x07psst").text == "psst"
    with pytest.raises(TooLong):
        service.say(ana, LOBBY, "x" * 5000)
    with pytest.raises(TooLong):
        service.set_topic(ana, LOBBY, "t" * 301)
    assert service.set_topic(ana, LOBBY, " \x1b[31mnews\x1b[0m ").topic == "news"
    assert not any(isinstance(e, Message) and "x" * 100 in e.text for e in bob_sees.events)


async def test_history_reads_the_latest_or_before_after_and_around_an_id(tmp_path: Path) -> None:
    history = await open_history(str(tmp_path / "chat.db"))
    async with trio.open_nursery() as nursery:
        await nursery.start(history.run)
        service = ChatService(Hub(name_key, recorder=history), history=history)
        ana = await named(service, "ana", Recording())
        ids = [service.say(ana, LOBBY, f"m{i}").id for i in range(10)]

        async def texts(**where: int) -> list[str]:
            return [e.event.text for e in await service.read_history(LOBBY, 4, **where)]

        assert await texts() == ["m6", "m7", "m8", "m9"]
        assert await texts(before=ids[5]) == ["m1", "m2", "m3", "m4"]
        assert await texts(after=ids[5]) == ["m6", "m7", "m8", "m9"]
        assert await texts(after=ids[1]) == ["m2", "m3", "m4", "m5"]
        assert await texts(around=ids[5]) == ["m3", "m4", "m5", "m6"]
        # Ids carried back, so that a frontend can page on from them.
        assert [e.event.id for e in await service.read_history(LOBBY, 2)] == ids[-2:]
        assert len(await service.read_history(LOBBY, 10_000)) == 10  # capped at 500
        history.close()
