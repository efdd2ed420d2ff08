"""What users send, made safe for everyone: the checks every frontend's requests pass.

The chat service calls these on what a frontend hands it, so that the same
promises hold for every door: names follow :mod:`.names`, what is said
reaches nobody's terminal as anything but text and stays within its limit,
and a history replay stays far below the asker's outbox bound.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from trio_chat.core.names import MAX_TEXT_BYTES, BadName, check_name, check_room, clean_text
from trio_chat.core.outbox import OUTBOX_BYTES
from trio_chat.core.refusals import InvalidName, TooLong

# A history replay queues at most this many bytes at once, far below an outbox's bound.
REPLAY_BYTES = OUTBOX_BYTES // 4


class _Said(Protocol):
    @property
    def sender(self) -> str: ...
    @property
    def text(self) -> str: ...


class Kept(Protocol):
    """What the history returns: a room's Entry, an account's copy of a private message."""

    @property
    def event(self) -> _Said: ...


K = TypeVar("K", bound=Kept)


def valid_name(raw: str) -> str:
    try:
        return check_name(raw)
    except BadName as exc:
        raise InvalidName(exc.problem) from None


def valid_room(raw: str) -> str:
    try:
        return check_room(raw)
    except BadName as exc:
        raise InvalidName(exc.problem, room=True) from None


def said(text: str) -> str:
    """What a user says, as everyone may see it: no control characters, within the limit.

    Every frontend's users get the same promise: nothing they are sent can
    drive their terminal (see :func:`~trio_chat.core.names.clean_text`).

    Raises:
        TooLong: over :data:`~trio_chat.core.names.MAX_TEXT_BYTES`.
    """
    text = clean_text(text)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise TooLong(MAX_TEXT_BYTES, "bytes")
    return text


def within_budget(entries: list[K]) -> list[K]:
    """The newest of ``entries`` that fit in REPLAY_BYTES (all of them, usually).

    A replay is queued in one step, so it must stay far below the outbox's
    bound, or asking for history would drop the asker as too slow.
    """
    size = 0
    for index in range(len(entries) - 1, -1, -1):
        event = entries[index].event
        size += len(event.sender) + len(event.text.encode()) + 16
        if size > REPLAY_BYTES:
            return entries[index + 1 :]
    return entries
