"""The page's JSON protocol, sans-IO: requests parsed, events and replies framed.

Theory of operation
-------------------
Nothing here does I/O or imports trio. :func:`parse_request` turns one text
message from the page into a typed request (or :class:`BadRequest`, which
the session answers with an ``error`` and the connection stays).
:func:`encode` is the one :data:`~trio_chat.core.members.Encoder` every web
member shares: the hub calls it once per broadcast for all of them, and it
returns the finished WebSocket frame. :func:`reply` frames the session's own
answers (``welcome``, ``members``, ``history``...). PROTOCOL.md is the
contract; this module is its code.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from trio_chat.core.events import (
    Action,
    Crowd,
    Dismissed,
    Echo,
    Error,
    Invited,
    Joined,
    KickedOut,
    Message,
    Moderated,
    Notice,
    Parted,
    Past,
    Private,
    Reason,
    Renamed,
    Reply,
    RoomChanged,
    ServerEvent,
    ToOperators,
    TopicChanged,
    ToRoomOperators,
)
from trio_chat.core.events import Quit as Departed
from trio_chat.core.phrases import Phrase
from trio_chat.core.refusals import Refused
from trio_chat.i18n import DEFAULT, N_, Words, choose, words_for
from trio_chat.text.codec import format_event
from trio_chat.text.wording import ENGLISH, departure, dismissed_line, moderated_line, phrase
from trio_chat.web.frames import text_frame

if TYPE_CHECKING:  # for annotations only: this module stays free of trio
    from trio_chat.core.members import Room
    from trio_chat.core.store import Entry

Json = dict[str, Any]

# /history and {"type":"history"} without a count.
HISTORY_PAGE = 50
# Where a request without a "room" goes: the room everyone starts in (the hub's LOBBY).
LOBBY = "#lobby"


# --- client -> server ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    name: str
    password: str | None = field(default=None, repr=False)
    server_password: str | None = field(default=None, repr=False)
    # The page's language (a tag such as "es" or "es-MX"); None: the server's default.
    lang: str | None = None


@dataclass(frozen=True, slots=True)
class Line:
    room: str
    text: str


@dataclass(frozen=True, slots=True)
class JoinRoom:
    room: str


@dataclass(frozen=True, slots=True)
class PartRoom:
    room: str


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    room: str
    before: int | None = None
    count: int = HISTORY_PAGE


@dataclass(frozen=True, slots=True)
class RoomsRequest:
    pass


@dataclass(frozen=True, slots=True)
class MembersRequest:
    room: str


@dataclass(frozen=True, slots=True)
class TopicRequest:
    room: str
    text: str | None = None


@dataclass(frozen=True, slots=True)
class PrivateRequest:
    to: str
    text: str


@dataclass(frozen=True, slots=True)
class QuitRequest:
    text: str = ""


@dataclass(frozen=True, slots=True)
class LangRequest:
    """``{"type":"lang","lang":"es"}``: the server's texts in that language from now on."""

    lang: str


@dataclass(frozen=True, slots=True)
class BadRequest:
    """Not a request the server understands: ``text`` says why (an ``error`` frame)."""

    text: str
    request: str | None = None


Request = (
    Hello
    | Line
    | JoinRoom
    | PartRoom
    | HistoryRequest
    | RoomsRequest
    | MembersRequest
    | TopicRequest
    | PrivateRequest
    | QuitRequest
    | LangRequest
)


class _Missing(Exception):
    """A field is missing or of the wrong type (the message says which)."""


def _text(frame: Json, key: str, default: str | None = None) -> str:
    value = frame.get(key, default)
    if not isinstance(value, str):
        raise _Missing(Phrase(N_("{field} must be a string"), field=repr(key)))
    return value


def _optional_text(frame: Json, key: str) -> str | None:
    return None if frame.get(key) is None else _text(frame, key)


def _number(frame: Json, key: str, default: int | None) -> int | None:
    value = frame.get(key, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _Missing(Phrase(N_("{field} must be a whole number"), field=repr(key)))
    return value


def _history(frame: Json) -> HistoryRequest:
    count = _number(frame, "count", HISTORY_PAGE)
    if count is None:  # "count": null
        count = HISTORY_PAGE
    return HistoryRequest(_text(frame, "room", LOBBY), _number(frame, "before", None), count)


_PARSERS: dict[str, Callable[[Json], Request]] = {
    "hello": lambda f: Hello(
        _text(f, "name"),
        _optional_text(f, "password"),
        _optional_text(f, "server_password"),
        _optional_text(f, "lang"),
    ),
    "lang": lambda f: LangRequest(_text(f, "lang")),
    "line": lambda f: Line(_text(f, "room", LOBBY), _text(f, "text")),
    "join": lambda f: JoinRoom(_text(f, "room")),
    "part": lambda f: PartRoom(_text(f, "room")),
    "history": _history,
    "rooms": lambda f: RoomsRequest(),
    "members": lambda f: MembersRequest(_text(f, "room", LOBBY)),
    "topic": lambda f: TopicRequest(_text(f, "room", LOBBY), _optional_text(f, "text")),
    "private": lambda f: PrivateRequest(_text(f, "to"), _text(f, "text")),
    "quit": lambda f: QuitRequest(_text(f, "text", "")),
}


def parse_request(text: str) -> Request | BadRequest:
    """One text message from the page, as a request."""
    try:
        frame = json.loads(text)
    except ValueError as exc:
        return BadRequest(Phrase(N_("not JSON: {error}"), error=str(exc)))
    except RecursionError:  # [[[[...]]]]: a few KiB nest deeper than Python's stack
        return BadRequest(Phrase(N_("not JSON: nested too deeply")))
    if not isinstance(frame, dict):
        return BadRequest(Phrase(N_('not a JSON object with a "type"')))
    kind = frame.get("type")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        unknown = Phrase(N_("unknown type {type}"), type=repr(kind))
        return BadRequest(unknown, kind if isinstance(kind, str) else None)
    try:
        return parser(frame)
    except _Missing as exc:
        return BadRequest(Phrase(N_("{type}: {problem}"), type=kind, problem=exc.args[0]), kind)


# --- server -> client ----------------------------------------------------------------


def reply(payload: Json) -> bytes:
    """One JSON object as a finished text frame."""
    return text_frame(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))


def encode(event: ServerEvent) -> bytes:
    """The frame every web member gets for ``event``, in English: the same bytes for all."""
    return reply(event_json(event))


@functools.cache
def _encoder(lang: str) -> Callable[[ServerEvent], bytes]:
    if lang == DEFAULT:
        return encode
    words = words_for(lang)

    def encode_in(event: ServerEvent) -> bytes:
        return reply(event_json(event, words))

    encode_in.__qualname__ = f"encode[{lang}]"
    return encode_in


def encoder_for(words: Words) -> Callable[[ServerEvent], bytes]:
    """The frames of web members who read ``words``' language: one encoder per
    language, shared by all of them (the hub frames once per encoder)."""
    return _encoder(words.lang)


def page_words(tag: str | None, default: str) -> Words:
    """The words for the language a page asked for (``default`` if none or unknown)."""
    return words_for(choose(tag) or default)


def iso_time(timestamp: float) -> str:
    """``2026-12-01T12:00:00.000Z``: ISO 8601, UTC, milliseconds."""
    when = datetime.fromtimestamp(timestamp, UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def reason_code(reason: Reason) -> str:
    """``too-slow`` for Reason.TOO_SLOW: a departure's reason, as the page gets it."""
    return reason.name.lower().replace("_", "-")


def refusal_code(refused: Refused) -> str:
    """``name-taken`` for NameTaken: a refusal's type, as the page gets it."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", type(refused).__name__).lower()


def said_json(event: Message | Action) -> Json:
    kind = "message" if isinstance(event, Message) else "action"
    return {
        "type": kind,
        "id": event.id,
        "time": iso_time(event.time),
        "room": event.room,
        "from": event.sender,
        "text": event.text,
    }


def event_json(event: ServerEvent, _: Words = ENGLISH) -> Json:
    """What the page gets for one of the hub's events (PROTOCOL.md, server -> client);
    its ``text`` fields in ``_``'s words (the JSON fields are the same in every language)."""
    match event:
        case Message() | Action():
            return said_json(event)
        case Past(said):
            return {**said_json(said), "past": True}
        case Echo(said):
            return event_json(said)
        case Private(sender, target, text, time, id):
            return {
                "type": "private",
                "id": id,
                "time": iso_time(time),
                "from": sender,
                "to": target,
                "text": text,
            }
        case Joined(name, room):
            return {"type": "joined", "room": room, "name": name}
        case Parted(name, room, detail):
            return {"type": "parted", "room": room, "name": name, "text": phrase(_, detail)}
        case Departed(name, reason, detail, by):
            text = departure(_, reason, detail, by)
            return {"type": "quit", "name": name, "reason": reason_code(reason), "text": text}
        case Dismissed(reason):
            return bye(reason, dismissed_line(event, _).removeprefix("! "))
        case Moderated(action, by, target):
            text = moderated_line(event, _).removeprefix("*** ")
            return {
                "type": "moderated",
                "action": action.value,
                "by": by,
                "target": target,
                "text": text,
            }
        case Crowd(room, joined, left):
            return {"type": "crowd", "room": room, "joined": list(joined), "left": list(left)}
        case Renamed(old, new):
            return {"type": "renamed", "old": old, "new": new}
        case TopicChanged(name, room, topic, time, id):
            return {
                "type": "topic",
                "room": room,
                "text": topic,
                "by": name,
                "id": id,
                "time": iso_time(time),
            }
        case KickedOut(name, room):
            # Out of one room: for the page, a departure from it, worded.
            text = format_event(event, _).removeprefix("*** ")
            return {"type": "parted", "room": room, "name": name, "text": text}
        case RoomChanged() | ToRoomOperators() | ToOperators() | Invited():
            return {"type": "notice", "text": format_event(event, _).removeprefix("*** ")}
        case Reply(lines):  # another door's own words; the web door sends none
            return {"type": "notice", "text": " ".join(lines)}
        case Notice(text):
            return {"type": "notice", "text": phrase(_, text)}
        case Error(text):
            return {"type": "error", "text": phrase(_, text)}


def bye(reason: Reason, text: str) -> Json:
    return {"type": "bye", "reason": reason_code(reason), "text": text}


def error(text: str, *, reason: str | None = None, request: str | None = None) -> Json:
    frame: Json = {"type": "error", "text": text}
    if reason is not None:
        frame["reason"] = reason
    if request is not None:
        frame["request"] = request
    return frame


def members_json(room: str, names: list[str]) -> Json:
    return {"type": "members", "room": room, "names": names}


def rooms_json(rooms: Iterable[Room]) -> Json:
    listed = [{"name": r.name, "count": len(r.members), "topic": r.topic} for r in rooms]
    return {"type": "rooms", "rooms": listed}


def history_json(room: str, entries: list[Entry], *, more: bool) -> Json:
    return {
        "type": "history",
        "room": room,
        "entries": [said_json(entry.event) for entry in entries],
        "more": more,
    }
