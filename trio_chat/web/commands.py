"""A web member's requests: each one service call, answered in the page's JSON.

A :class:`WebCommands` belongs to one session, after the name step. The
page's own request types (``join``, ``history``, ``members``...) and the
slash commands typed in a ``line`` end up in the same calls on the
:class:`~trio_chat.core.service.ChatService`. A ``line`` is parsed by the
text protocol's grammar, so every command works as it does for ``nc``:
those with a structured answer (``/join``, ``/who``, ``/rooms``,
``/topic``, ``/history``, ``/quit``) get it; the others (``/help``,
``/who *``, ``/register``, the operators' commands...) are carried out by
the text protocol's :class:`~trio_chat.text.commands.Commands`, whose
answers arrive as ``notice`` and ``error`` frames in the text wording.

Unlike a text user, a web member may be in several rooms at once: ``join``
does not leave the others, ``part`` leaves one. A refusal from the service
becomes an ``error`` frame with its ``reason``; nothing else happens.
"""

from __future__ import annotations

from collections.abc import Callable

from trio_chat.core.clients import Arrival, Client
from trio_chat.core.members import Encoder
from trio_chat.core.names import MAX_HISTORY
from trio_chat.core.refusals import Refused
from trio_chat.core.rules import valid_room
from trio_chat.core.service import ChatService
from trio_chat.i18n import N_, Words
from trio_chat.text import grammar
from trio_chat.text.commands import Commands
from trio_chat.text.wording import phrase, refusal
from trio_chat.web.protocol import (
    BadRequest,
    Hello,
    HistoryRequest,
    JoinRoom,
    Json,
    LangRequest,
    Line,
    MembersRequest,
    PartRoom,
    PrivateRequest,
    QuitRequest,
    Request,
    RoomsRequest,
    TopicRequest,
    error,
    history_json,
    members_json,
    refusal_code,
    rooms_json,
)

# What a web member hears when they leave by asking to.
BYE = N_("Bye!")
# Rooms listed in one "rooms" frame.
ROOMS_LISTED = 1000


class WebCommands:
    """One web member's requests.

    Args:
        service: where every request goes.
        client: the connection's standing with the service.
        answer: queues one JSON frame for this member (in order with the rest).
        words: the member's language; ``text.words`` holds it (``/lang`` and the
            ``lang`` frame change it).
        encoders: the member's encoder in a language (None: keep the one it has).
    """

    __slots__ = ("answer", "client", "encoders", "service", "text")

    def __init__(
        self,
        service: ChatService,
        client: Client,
        answer: Callable[[Json], None],
        words: Words,
        encoders: Callable[[Words], Encoder] | None = None,
    ) -> None:
        self.service = service
        self.client = client
        self.answer = answer
        self.encoders = encoders
        # The text protocol's commands, for those answered in words.
        self.text = Commands(service, client, words)

    @property
    def words(self) -> Words:
        return self.text.words

    async def handle(self, request: Request | BadRequest) -> str | None:
        """Carry out one request; the parting words if it asked to quit."""
        try:
            return await self._handle(request)
        except Refused as exc:
            kind = kind_of(request)
            self.answer(error(refusal(exc, self.words), reason=refusal_code(exc), request=kind))
        return None

    async def _handle(self, request: Request | BadRequest) -> str | None:
        service, client = self.service, self.client
        match request:
            case BadRequest(text, kind):
                self.answer(error(phrase(self.words, text), request=kind))
            case Line(room, text):
                return await self.line(room, text)
            case JoinRoom(room):
                await self.join(room)
            case PartRoom(room):
                self.part(room)
            case HistoryRequest(room, before, count):
                await self.history(room, count, before)
            case RoomsRequest():
                self.answer(rooms_json(service.rooms(client=self.client)[:ROOMS_LISTED]))
            case MembersRequest(room):
                self.members(room)
            case TopicRequest(room, None):
                self.topic(room)
            case TopicRequest(room, str(text)):
                service.set_topic(client, valid_room(room), text)
            case PrivateRequest(to, text):
                service.private(client, to, text)
            case QuitRequest(text):
                return self.bye(text)
            case LangRequest(tag):
                self.lang(tag)
            case Hello():
                _ = self.words
                self.answer(error(_("you are in already"), request="hello"))
        return None

    def lang(self, tag: str) -> None:
        """The member's language, from the page (a ``lang`` frame, or ``/lang``)."""
        words = self.text.lang(tag)
        if words is not None and self.encoders is not None:
            self.service.set_encoder(self.client, self.encoders(words))

    async def line(self, room: str, text: str) -> str | None:
        """What the user typed in a room: said there, or a slash command."""
        room = valid_room(room)
        verb, _, rest = text.partition(" ")
        if verb.lower() == "/part":
            self.part(rest.strip() or room)
            return None
        command = grammar.parse_command(text)
        match command:
            case None:
                pass
            case grammar.Quit(reason):
                return self.bye(reason)
            case grammar.Join(target):
                await self.join(target)
            case grammar.HistoryRequest(count):
                await self.history(room, count, None)
            case grammar.Who(everyone=False):
                self.members(room)
            case grammar.Rooms():
                self.answer(rooms_json(self.service.rooms(client=self.client)[:ROOMS_LISTED]))
            case grammar.Topic(None):
                self.topic(room)
            case grammar.EchoSetting():
                _ = self.words
                text = _("the page always shows your own messages")
                self.answer({"type": "notice", "text": text})
            case grammar.Lang(tag):
                self.lang(tag)
            case _ if isinstance(command, grammar.ACCOUNT_COMMANDS):
                self.text.room = room
                await self.text.moderate(command)
            case _:
                self.text.room = room  # where a plain line or /me goes
                self.text.handle(command)
        return None

    def bye(self, words: str) -> str:
        self.answer({"type": "bye", "reason": "quit", "text": self.words(BYE)})
        return words

    async def join(self, raw: str) -> None:
        """Enter a room, staying in the others."""
        arrival = await self.service.enter(self.client, raw)
        if arrival.already:
            _ = self.words
            text = _("You are already in {room}", room=arrival.room.name)
            self.answer({"type": "notice", "text": text})
            return
        self.show_room(arrival)

    def show_room(self, arrival: Arrival) -> None:
        """The member entered a room: it opens on the page, with its members and history."""
        room = arrival.room
        member = self.client.named()
        self.answer({"type": "joined", "room": room.name, "name": member.name})
        self.answer(members_json(room.name, self.service.members(room.name, client=self.client)))
        self.answer({"type": "topic", "room": room.name, "text": room.topic})
        entries = arrival.entries
        self.answer(history_json(room.name, entries, more=len(entries) >= self.service.replay))

    def part(self, raw: str) -> None:
        """Leave one room; the page closes it (the room hears of it from the hub)."""
        room = valid_room(raw)
        self.service.part(self.client, room)
        name = self.client.named().name
        self.answer({"type": "parted", "room": room, "name": name, "text": ""})

    async def history(self, raw: str, count: int, before: int | None) -> None:
        room = valid_room(raw)
        count = min(count, MAX_HISTORY)
        entries = await self.service.read_history(room, count, before=before, client=self.client)
        self.answer(history_json(room, entries, more=count > 0 and len(entries) >= count))

    def members(self, raw: str) -> None:
        room = valid_room(raw)
        self.answer(members_json(room, self.service.members(room, client=self.client)))

    def topic(self, raw: str) -> None:
        room = valid_room(raw)
        text = self.service.topic(room, client=self.client)
        self.answer({"type": "topic", "room": room, "text": text})


def kind_of(request: Request | BadRequest) -> str | None:
    """The ``type`` of a request, as the page sent it."""
    if isinstance(request, BadRequest):
        return request.request
    return {
        Hello: "hello",
        Line: "line",
        JoinRoom: "join",
        PartRoom: "part",
        HistoryRequest: "history",
        RoomsRequest: "rooms",
        MembersRequest: "members",
        TopicRequest: "topic",
        PrivateRequest: "private",
        QuitRequest: "quit",
        LangRequest: "lang",
    }[type(request)]
