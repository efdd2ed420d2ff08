"""The hub's presence seam: who comes online, goes, or changes name (IRC's MONITOR)."""

from __future__ import annotations

import pytest

from trio_chat.core.events import Reason
from trio_chat.core.hub import Hub
from trio_chat.core.members import ScopeLink
from trio_chat.core.names import name_key
from trio_chat.core.refusals import NameTaken
from trio_chat.text.codec import encode


def test_watchers_hear_arrivals_renames_and_departures_once_each() -> None:
    hub = Hub(name_key)
    heard: list[tuple[str | None, str | None]] = []
    hub.presence.append(lambda old, new: heard.append((old, new)))
    ana = hub.join("ana", encode, ScopeLink())
    hub.rename(ana, "anna")
    hub.leave(ana, Reason.QUIT)
    hub.leave(ana, Reason.QUIT)  # idempotent: no second departure
    assert heard == [(None, "ana"), ("ana", "anna"), ("anna", None)]


def test_a_refused_join_is_no_arrival() -> None:
    hub = Hub(name_key)
    hub.join("ana", encode, ScopeLink())
    heard: list[tuple[str | None, str | None]] = []
    hub.presence.append(lambda old, new: heard.append((old, new)))
    with pytest.raises(NameTaken):
        hub.join("ANA", encode, ScopeLink())
    assert heard == []
