"""Topics outlive their rooms, within a bound; ids only grow."""

from __future__ import annotations

import pytest

from trio_chat.core import topics as topics_module
from trio_chat.core.stamps import Stamps
from trio_chat.core.topics import Topics


def test_topics_of_closed_rooms_are_forgotten_oldest_first_and_open_ones_never(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(topics_module, "TOPICS_REMEMBERED", 3)
    open_rooms = {"#lobby"}
    topics = Topics({"#lobby": "welcome"}, open_rooms)
    for n in range(5):
        topics.set(f"#r{n}", f"topic {n}")
    assert len(topics) == 3
    assert topics.get("#lobby") == "welcome"  # open: kept although the oldest
    assert [topics.get(f"#r{n}") for n in range(5)] == ["", "", "", "topic 3", "topic 4"]
    topics.set("#r3", "again")  # set again: the newest now
    topics.set("#r5", "topic 5")
    assert topics.get("#r3") == "again"
    assert topics.get("#r4") == ""


def test_ids_only_grow_even_when_the_clock_goes_back() -> None:
    stamps = Stamps(last_id=10**20)  # an id from a clock far ahead
    first = stamps.stamp()[1]
    second = stamps.stamp()[1]
    assert (first, second) == (10**20 + 1, 10**20 + 2)
    fresh = Stamps()
    when, id_ = fresh.stamp()
    assert id_ == pytest.approx(when * 1e6, abs=2)  # the clock, in microseconds
