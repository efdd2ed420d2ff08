"""Room topics, which outlive their rooms: an empty room disappears, its topic stays.

Topics of rooms that are not open are remembered up to :data:`TOPICS_REMEMBERED`
(the newest), so that a crowd creating rooms cannot grow the server's memory
without bound; the history keeps every topic on disk regardless.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping

# Topics of rooms that are not open are remembered up to this many (the newest).
TOPICS_REMEMBERED = 10_000


class Topics:
    """Topics by room key, newest last.

    Args:
        topics: topics kept from an earlier run, by room key.
        open_rooms: the keys of the rooms open now (their topics are never forgotten).
    """

    def __init__(self, topics: Mapping[str, str], open_rooms: Container[str]) -> None:
        self._topics = dict(topics)
        self._open = open_rooms

    @classmethod
    def by_name(
        cls, topics: Mapping[str, str], key: Callable[[str], str], open_rooms: Container[str]
    ) -> Topics:
        return cls({key(room): topic for room, topic in topics.items()}, open_rooms)

    def get(self, key: str) -> str:
        return self._topics.get(key, "")

    def set(self, key: str, topic: str) -> None:
        """Remember ``topic`` as the newest; forget the oldest of closed rooms past the bound."""
        self._topics.pop(key, None)  # re-inserted last: the newest
        self._topics[key] = topic
        excess = len(self._topics) - TOPICS_REMEMBERED
        for old in list(self._topics):
            if excess <= 0:
                break
            if old not in self._open:
                del self._topics[old]
                excess -= 1

    def __len__(self) -> int:
        return len(self._topics)
