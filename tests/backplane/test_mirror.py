"""The mirror alone (no Redis): other servers' room events applied to this hub."""

from __future__ import annotations

from trio_chat.backplane.mirror import Mirror
from trio_chat.backplane.wire import Envelope
from trio_chat.core.events import Invited, Joined
from trio_chat.core.hub import Hub
from trio_chat.core.members import ScopeLink
from trio_chat.core.names import name_key
from trio_chat.core.outbox import Outbox
from trio_chat.text.codec import encode


def test_an_invitation_from_another_server_is_used_once_here_too() -> None:
    hub = Hub(name_key)
    ana = hub.join("ana", encode, ScopeLink(), outbox=Outbox())
    room = hub.enter(ana, "#dev")
    room.settings.invite_only = True
    mirror = Mirror(hub, None, name_key)
    mirror.apply(Envelope("b", Invited("#dev", "op", "carl")))
    assert room.settings.invited == {"carl"}
    mirror.apply(Envelope("b", Joined("carl", "#dev")))  # carl took it up on server b
    assert hub.names("#dev") == ["ana", "carl"]
    assert room.settings.invited == set()
