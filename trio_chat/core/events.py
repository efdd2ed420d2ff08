"""What the hub says to members: frozen events shared by every protocol frontend.

The hub never formats text or bytes. It hands these events to each member's
encoder (the line protocol today, IRC and WebSocket later), which turns them
into bytes once per protocol for a whole broadcast.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Message:
    """A chat line said in a room, stamped with the server's time (Unix seconds)."""

    sender: str
    room: str
    text: str
    time: float = 0.0


@dataclass(frozen=True, slots=True)
class Action:
    """A `/me` action in a room."""

    sender: str
    room: str
    text: str
    time: float = 0.0


@dataclass(frozen=True, slots=True)
class Past:
    """A message from a room's history, replayed: never to be mistaken for live chat."""

    event: Message | Action


@dataclass(frozen=True, slots=True)
class Private:
    """A private message from one member to another."""

    sender: str
    target: str
    text: str


@dataclass(frozen=True, slots=True)
class Echo:
    """A member's own line sent back to them (``/echo on``), as the others see it."""

    event: Message | Action | Private


@dataclass(frozen=True, slots=True)
class Joined:
    """Someone joined a room."""

    name: str
    room: str


@dataclass(frozen=True, slots=True)
class Left:
    """Someone left a room (or the server); ``reason`` may be empty."""

    name: str
    room: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Crowd:
    """Who came and went in a big room lately: one notice instead of one each."""

    room: str
    joined: tuple[str, ...]
    left: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Renamed:
    """Someone changed their name."""

    old: str
    new: str


@dataclass(frozen=True, slots=True)
class TopicChanged:
    """Someone set (or, with an empty topic, cleared) a room's topic."""

    name: str
    room: str
    topic: str


@dataclass(frozen=True, slots=True)
class Notice:
    """A server notice to one member (welcome, `/who` answer, shutdown...)."""

    text: str


@dataclass(frozen=True, slots=True)
class Error:
    """An error answer to one member's input."""

    text: str


ServerEvent = (
    Message
    | Action
    | Past
    | Private
    | Echo
    | Joined
    | Left
    | Crowd
    | Renamed
    | TopicChanged
    | Notice
    | Error
)
