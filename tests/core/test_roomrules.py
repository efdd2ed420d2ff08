"""A room's own rules, through the service: who runs it, who enters, speaks, sets the topic."""

from __future__ import annotations

import pytest

from trio_chat.core.clients import Client
from trio_chat.core.events import Invited, Message, RoomChanged, ServerEvent
from trio_chat.core.hub import Hub
from trio_chat.core.members import ScopeLink
from trio_chat.core.names import name_key
from trio_chat.core.refusals import (
    AlreadyInRoom,
    BadRoomKey,
    BadSetting,
    BannedFromRoom,
    CannotSpeak,
    InviteOnly,
    NotInRoom,
    NotRoomOperator,
    RoomFull,
)
from trio_chat.core.service import ChatService


class Heard:
    """An encoder that keeps what its member was sent."""

    def __init__(self) -> None:
        self.events: list[ServerEvent] = []

    def __call__(self, event: ServerEvent) -> bytes:
        self.events.append(event)
        return b"x"


async def online(service: ChatService, name: str, address: str = "") -> tuple[Client, Heard]:
    client = service.connect(f"{address or '10.0.0.9'}:4000")
    heard = Heard()
    await service.sign_on(client, name, heard, ScopeLink())
    return client, heard


@pytest.fixture
def service() -> ChatService:
    return ChatService(Hub(name_key))


async def test_who_opens_a_room_runs_it_and_names_others(service: ChatService) -> None:
    ana, _ = await online(service, "ana")
    bob, bob_heard = await online(service, "bob")
    room = (await service.enter(ana, "#dev")).room
    await service.enter(bob, "#dev")
    assert [m.name for m in room.ops] == ["ana"]
    with pytest.raises(NotRoomOperator):
        service.change_room(bob, "#dev", [("topic-locked", True, "")])
    assert service.change_room(ana, "#dev", [("op", True, "bob"), ("op", True, "bob")]) == [
        ("op", True, "bob")
    ]
    assert RoomChanged("#dev", "ana", (("op", True, "bob"),)) in bob_heard.events
    with pytest.raises(NotInRoom):
        service.change_room(ana, "#dev", [("voice", True, "nobody")])
    lobby = (await service.enter(ana, "#lobby")).room
    assert not lobby.ops  # the lobby is nobody's


async def test_keys_limits_invitations_and_bans_keep_people_out(service: ChatService) -> None:
    ana, _ = await online(service, "ana")
    bob, bob_heard = await online(service, "bob", "10.0.0.7")
    await service.enter(ana, "#dev")
    service.change_room(ana, "#dev", [("key", True, "sesame")])
    with pytest.raises(BadRoomKey):
        await service.enter(bob, "#dev", "wrong")
    with pytest.raises(BadSetting):
        service.change_room(ana, "#dev", [("key", True, "two words")])
    service.change_room(ana, "#dev", [("key", False, ""), ("limit", True, "1")])
    with pytest.raises(RoomFull):
        await service.enter(bob, "#dev")
    service.change_room(ana, "#dev", [("limit", False, ""), ("invite-only", True, "")])
    with pytest.raises(InviteOnly):
        await service.enter(bob, "#dev")
    assert service.invite(ana, "#dev", "BOB") == "bob"
    assert Invited("#dev", "ana", "bob") in bob_heard.events
    await service.enter(bob, "#dev")  # the invitation is used up
    with pytest.raises(AlreadyInRoom):
        service.invite(ana, "#dev", "bob")
    service.part(bob, "#dev")
    service.change_room(ana, "#dev", [("invite-only", False, ""), ("ban", True, "b*!*@10.0.0.*")])
    with pytest.raises(BannedFromRoom):
        await service.enter(bob, "#dev")


async def test_moderation_topic_lock_and_messages_from_outside(service: ChatService) -> None:
    ana, ana_heard = await online(service, "ana")
    bob, _ = await online(service, "bob")
    cleo, _ = await online(service, "cleo")
    await service.enter(ana, "#dev")
    await service.enter(bob, "#dev")
    service.change_room(ana, "#dev", [("moderated", True, ""), ("topic-locked", True, "")])
    with pytest.raises(CannotSpeak):
        service.say(bob, "#dev", "hello?")
    with pytest.raises(NotRoomOperator):
        service.set_topic(bob, "#dev", "mine now")
    service.change_room(ana, "#dev", [("voice", True, "bob")])
    service.say(bob, "#dev", "thanks")
    with pytest.raises(NotInRoom):
        service.say(cleo, "#dev", "from outside")
    service.change_room(ana, "#dev", [("outside", True, ""), ("moderated", False, "")])
    service.say(cleo, "#dev", "from outside")
    said = [e.text for e in ana_heard.events if isinstance(e, Message)]
    assert said == ["thanks", "from outside"]


def test_text_users_read_room_changes_and_invitations() -> None:
    from trio_chat.core.events import KickedOut
    from trio_chat.text.codec import format_event

    changed = RoomChanged("#dev", "ana", (("op", True, "bob"), ("moderated", False, "")))
    assert format_event(changed) == "*** ana changed #dev: +op bob, -moderated"
    assert format_event(Invited("#dev", "ana", "bob")) == "*** ana invites you to #dev (/join #dev)"
    assert format_event(KickedOut("bob", "#dev", "ana", "spam")) == (
        "*** bob was put out of #dev by ana: spam"
    )
