"""What servers tell each other through Redis, as stream entries: sans-IO.

An entry has two fields: ``s``, the id of the server it comes from, and
``e``, the event as a JSON object whose ``t`` says what it is (``msg``,
``act``, ``priv``, ``join``, ``part``, ``kick``, ``quit``, ``rename``, ``topic``,
``mode``, ``invite``, ``wallops``, ``opnotice``) and whose other keys are the
event's fields, exactly as the hub made them (ids and times included). Three
kinds are the backplane's own: ``online`` (a member came online, in no room
yet), ``hello`` (a server has just written its members' snapshot: read it) and
``dismiss`` (a request to the server of a member that an operator or a login
elsewhere removed here).

A member in a server's snapshot (a Redis hash, name key -> value) is
``{"name": ..., "rooms": [...]}``. A room's settings (the ``rooms`` hash,
room key -> value) are a :class:`RoomState` as JSON: ``{"name": ...,
"topic": [topic, by, time], "flags": [...], "key": ..., "limit": N,
"masks": {"ban": [[mask, by, time], ...], ...}}``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from trio_chat.core.events import (
    Action,
    Invited,
    Joined,
    KickedOut,
    Message,
    Parted,
    Private,
    Quit,
    Reason,
    Renamed,
    RoomChanged,
    ToOperators,
    TopicChanged,
    ToRoomOperators,
)


class WireError(ValueError):
    """An entry that is not one of ours (another version, another program): skipped."""


@dataclass(frozen=True, slots=True)
class Online:
    """A member came online on the server that sent it (in no room yet)."""

    name: str


@dataclass(frozen=True, slots=True)
class Hello:
    """The sender (re)connected and wrote its snapshot: its members are as it says."""


@dataclass(frozen=True, slots=True)
class Dismiss:
    """To server ``to``: end your member ``name``'s session for ``reason``."""

    to: str
    name: str
    reason: Reason
    detail: str = ""
    by: str = ""


Relayed = (
    (
        Message
        | Action
        | Private
        | Joined
        | Parted
        | KickedOut
        | Quit
        | Renamed
        | TopicChanged
        | RoomChanged
        | Invited
        | ToOperators
        | ToRoomOperators
    )
    | Online
    | Hello
    | Dismiss
)

# What the hub tells of that other servers hear.
RELAYED = (
    Message,
    Action,
    Private,
    Joined,
    Parted,
    Quit,
    Renamed,
    TopicChanged,
    RoomChanged,
    Invited,
    ToOperators,
    ToRoomOperators,
)

KINDS: dict[str, type[Any]] = {
    "msg": Message,
    "act": Action,
    "priv": Private,
    "join": Joined,
    "part": Parted,
    "kick": KickedOut,
    "quit": Quit,
    "rename": Renamed,
    "topic": TopicChanged,
    "mode": RoomChanged,
    "invite": Invited,
    "wallops": ToOperators,
    "opnotice": ToRoomOperators,
    "online": Online,
    "hello": Hello,
    "dismiss": Dismiss,
}
KIND_OF = {cls: kind for kind, cls in KINDS.items()}


@dataclass(frozen=True, slots=True)
class Envelope:
    """An event and the server it comes from."""

    server: str
    event: Relayed


def encode(server: str, event: Relayed) -> dict[str, str]:
    """The stream entry's fields for ``event`` from ``server``."""
    body: dict[str, Any] = {"t": KIND_OF[type(event)]}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        body[field.name] = value.value if isinstance(value, Reason) else value
    return {"s": server, "e": json.dumps(body, ensure_ascii=False, separators=(",", ":"))}


def decode(fields: Mapping[Any, Any]) -> Envelope:
    """The envelope in a stream entry.

    Raises:
        WireError: it is not an entry this version understands.
    """
    try:
        body = json.loads(fields["e"])
        cls = KINDS[body.pop("t")]
        if "reason" in body:
            body["reason"] = Reason(body["reason"])
        if "changes" in body:
            body["changes"] = tuple((str(s), bool(on), str(v)) for s, on, v in body["changes"])
        return Envelope(str(fields["s"]), cls(**body))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise WireError(f"not a trio_chat entry: {exc!r}") from None


@dataclass(frozen=True, slots=True)
class RoomState:
    """A room's topic and settings, as the server that last changed them wrote them.

    ``flags``: the settings that are on (``moderated``...); ``masks``: each
    list's masks (``ban``, ``exception``, ``invite-exception``) as (mask, by, time).
    """

    name: str
    topic: tuple[str, str, float] = ("", "", 0.0)
    flags: tuple[str, ...] = ()
    key: str = ""
    limit: int = 0
    masks: Mapping[str, tuple[tuple[str, str, float], ...]] = dataclasses.field(
        default_factory=dict
    )

    @property
    def plain(self) -> bool:
        """Whether this is a new room's state (no topic set, no settings): none kept."""
        changed = self.topic[1] or self.flags or self.key or self.limit
        return not changed and not any(self.masks.values()) and not self.topic[0]


def encode_room(state: RoomState) -> str:
    return json.dumps(dataclasses.asdict(state), ensure_ascii=False)


def decode_room(value: str) -> RoomState:
    """The :class:`RoomState` in a ``rooms`` hash value. Raises WireError."""
    try:
        body = json.loads(value)
        topic, by, when = body["topic"]
        masks = {
            str(kind): tuple((str(m), str(b), float(t)) for m, b, t in entries)
            for kind, entries in body["masks"].items()
        }
        return RoomState(
            str(body["name"]),
            (str(topic), str(by), float(when)),
            tuple(str(flag) for flag in body["flags"]),
            str(body["key"]),
            int(body["limit"]),
            masks,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise WireError(f"not a room: {exc!r}") from None


def encode_member(name: str, rooms: Iterable[str]) -> str:
    return json.dumps({"name": name, "rooms": sorted(rooms)}, ensure_ascii=False)


def decode_member(value: str) -> tuple[str, list[str]]:
    """``(name, rooms)`` of a snapshot's member. Raises WireError."""
    try:
        body = json.loads(value)
        name, rooms = body["name"], body["rooms"]
        if not isinstance(name, str) or not all(isinstance(r, str) for r in rooms):
            raise TypeError("not strings")
        return name, list(rooms)
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"not a member: {exc!r}") from None
