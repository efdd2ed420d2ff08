"""One WebSocket connection: frames to requests to the chat service, outcomes to frames.

Theory of operation
-------------------
After the HTTP upgrade (:mod:`.server`), a session speaks the page's JSON
protocol (PROTOCOL.md) over a :class:`~trio_chat.net.connection.Connection`,
reading with a :class:`~.frames.FrameDecoder`, in two phases like the text
protocol's:

1. **The name step** (:meth:`WebSession.register`): ``hello`` frames until
   one takes a name. A missing password is a ``need`` (the page asks for it
   and says ``hello`` again); a refusal is a ``refused``, after which the
   connection stays, unless the refusal ends it (a wrong server password, a
   ban, too many wrong passwords). The caller bounds the step in time.
2. **Chat** (:meth:`WebSession.chat`): the connection runs the reader
   (requests to :class:`~.commands.WebCommands`) and a writer as needed,
   with the same bounded outbox and slow-consumer eviction as every member.
   Every frame the session sends itself (answers, pongs) goes through that
   outbox, in order with what the hub sends.

Every request is paced by the service's flood control, as a text line is.
A connection silent for :data:`PING_INTERVAL` is pinged; silent for as long
again, it is lost. When the chat phase ends, the session says ``bye`` (if
the hub did not already), sends its close frame, and waits a moment for the
peer's (the closing handshake); then its owner closes the stream.
"""

from __future__ import annotations

import contextlib
import logging

import trio

from trio_chat.core.clients import Arrival
from trio_chat.core.events import Error, Reason
from trio_chat.core.hub import LOBBY
from trio_chat.core.limits import Flooding
from trio_chat.core.members import Encoder, Member
from trio_chat.core.refusals import (
    Banned,
    NameRegistered,
    PasswordNeeded,
    Refused,
    ServerClosing,
    WrongPassword,
    WrongServerPassword,
)
from trio_chat.core.service import ChatService
from trio_chat.i18n import N_, Words
from trio_chat.net.connection import CONNECTION_ERRORS, Connection
from trio_chat.text.session import FLOODING
from trio_chat.text.wording import departure, phrase, refusal, wrong_password
from trio_chat.web import frames
from trio_chat.web.commands import WebCommands, kind_of
from trio_chat.web.frames import Alive, Binary, Closing, FrameDecoder, Reply, Text
from trio_chat.web.protocol import (
    BadRequest,
    Hello,
    Json,
    LangRequest,
    bye,
    encoder_for,
    error,
    page_words,
    parse_request,
    refusal_code,
    reply,
)

LOGGER = logging.getLogger(__name__)

# A connection silent this long is pinged; silent as long again, it is lost.
PING_INTERVAL = 30.0
# How long the peer gets to take our last frames and answer our close frame.
FAREWELL_TIMEOUT = 1.0

# The close code for each reason the chat phase ended (None: nothing to send).
CLOSE_CODES: dict[Reason, int | None] = {
    Reason.QUIT: frames.NORMAL,
    Reason.CLOSED: None,  # the peer closed: the reader answered it
    Reason.LOST: None,
    Reason.SHUTDOWN: frames.GOING_AWAY,
}
# Departures the hub itself explained (a Dismissed: the "bye" is sent).
DISMISSALS = frozenset({Reason.KICKED, Reason.BANNED, Reason.ELSEWHERE, Reason.OPER_FAILURES})
BINARY = N_("binary frames mean nothing here: send JSON text frames")


class _TurnedAway(Exception):
    """The name step ends without a member; the frame says why."""

    def __init__(self, frame: Json) -> None:
        super().__init__(frame.get("text", ""))
        self.frame = frame


def refused(exc: Refused, _: Words) -> Json:
    return {"type": "refused", "reason": refusal_code(exc), "text": hello_refusal(exc, _)}


def hello_refusal(exc: Refused, _: Words) -> str:
    """Why a ``hello`` was refused, in the page's words (and the user's language)."""
    match exc:
        case WrongPassword(name, tries_left) if tries_left > 0:
            return _.ngettext(
                "wrong password for {name} ({n} try left)",
                "wrong password for {name} ({n} tries left)",
                tries_left,
                name=name,
            )
        case WrongPassword(name):
            return wrong_password(_, name, 0)
        case WrongServerPassword():
            return _("wrong server password")
        case _:
            return refusal(exc, _)


class WebSession:
    """The page's protocol on one WebSocket connection.

    Args:
        connection: reads and writes the stream (its owner closes it).
        service: the chat service every request goes to.
        decoder: the connection's frames (it holds what followed the upgrade).
        address: the peer's IP address, for flood control.
        encoder: how the hub frames events for this member (None: the shared
            encoder of the member's language, which the page may change).
    """

    __slots__ = ("_pinged", "_why", "client", "commands", "connection", "decoder", "encoder")

    def __init__(
        self,
        connection: Connection,
        service: ChatService,
        decoder: FrameDecoder,
        *,
        address: str | None = None,
        encoder: Encoder | None = None,
    ) -> None:
        self.connection = connection
        self.decoder = decoder
        self.encoder = encoder
        self.client = service.connect(connection.peer, address)
        words = page_words(None, service.lang)
        encoders = encoder_for if encoder is None else None
        self.commands = WebCommands(service, self.client, self.answer, words, encoders)
        self._pinged = False
        self._why: Reason | None = None

    @property
    def service(self) -> ChatService:
        return self.commands.service

    @property
    def words(self) -> Words:
        """The member's language (from the page's frames; the server's default before)."""
        return self.commands.words

    # --- the name step -----------------------------------------------------------

    async def register(self) -> Member | None:
        """Read frames until a ``hello`` takes a name; ``None`` if the peer left or was refused."""
        try:
            while True:
                item = await self.connection.next_message(self.decoder)
                match item:
                    case None | Closing():
                        if item is not None:
                            await self.connection.send_now(item.reply)
                        LOGGER.info(
                            "%s left before choosing a name",
                            self.connection.peer,
                            extra={"fields": self.client.fields("left", "no name")},
                        )
                        return None
                    case Reply(data):
                        await self.connection.send_now(data)
                    case Binary():
                        await self._pace_name_step()  # paced as every message is
                        await self.send_now(error(self.words(BINARY)))
                    case Text(text):
                        await self._pace_name_step()
                        arrival = await self._name_step(text)
                        if arrival is not None:
                            self._welcome(arrival)
                            return self.client.member
        except _TurnedAway as turned_away:
            await self.close(frames.POLICY, str(turned_away), last=turned_away.frame)
            return None

    async def _pace_name_step(self) -> None:
        try:
            if await self.service.pace(self.client):
                await self.send_now({"type": "notice", "text": self.commands.text.slow_down()})
        except Flooding:
            LOGGER.warning(
                "%s disconnected before choosing a name: flooding",
                self.connection.peer,
                extra={"fields": self.client.fields("disconnected", "flooding")},
            )
            raise _TurnedAway(bye(Reason.FLOODING, phrase(self.words, FLOODING))) from None

    async def _name_step(self, text: str) -> Arrival | None:
        request = parse_request(text)
        if isinstance(request, LangRequest):
            self._page_lang(request.lang)
            return None
        _ = self.words
        if isinstance(request, BadRequest):
            await self.send_now(error(phrase(_, request.text), request=request.request))
            return None
        if not isinstance(request, Hello):
            await self.send_now(error(_('send "hello" first'), request=kind_of(request)))
            return None
        if request.lang is not None:
            _ = self._page_lang(request.lang)
        try:
            return await self._hello(request)
        except (WrongServerPassword, Banned, ServerClosing) as exc:
            raise _TurnedAway(refused(exc, _)) from None
        except WrongPassword as exc:
            if exc.tries_left == 0:
                raise _TurnedAway(refused(exc, _)) from None
            await self.send_now(refused(exc, _))
        except PasswordNeeded:
            text = _("this server needs a password")
            await self.send_now({"type": "need", "what": "server_password", "text": text})
        except NameRegistered as exc:
            text = _("{name} is a registered name: its password, please", name=exc.name)
            await self.send_now({"type": "need", "what": "password", "text": text})
        except Refused as exc:
            await self.send_now(refused(exc, _))
        return None

    def _page_lang(self, tag: str) -> Words:
        """The page's language, before the name: no answer (the page chose it)."""
        self.commands.text.words = page_words(tag, self.words.lang)
        return self.words

    def encoder_now(self) -> Encoder:
        """The member's encoder: the one given, or that of its language."""
        return self.encoder if self.encoder is not None else encoder_for(self.words)

    async def _hello(self, hello: Hello) -> Arrival:
        if hello.server_password is not None and not self.client.admitted:
            self.service.give_password(self.client, hello.server_password)
        if not self.client.admitted:
            raise PasswordNeeded
        return await self.service.take_name(
            self.client,
            hello.name,
            self.encoder_now(),
            self.connection,
            password=hello.password,
            room=LOBBY,
        )

    def _welcome(self, arrival: Arrival) -> None:
        member = self.client.named()
        # The page shows a line as said once the server took it: its echo.
        self.service.set_echo(self.client, True)
        self.answer({"type": "welcome", "name": member.name})
        self.commands.show_room(arrival)

    async def send_now(self, frame: Json) -> None:
        """Send one frame directly: only while no writer task runs (not as a member)."""
        await self.connection.send_now(reply(frame))

    # --- chat --------------------------------------------------------------------

    async def chat(self, member: Member) -> None:
        """Run the reader, and writers as needed, until the member leaves; then close."""
        await self.connection.serve_member(member, self._reader, self._leave, (Reason.LOST, ""))
        reason = self.connection.reason or self._why or Reason.LOST
        if self.service.hub.closing:
            reason = Reason.SHUTDOWN
        if reason in DISMISSALS:
            await self.close(frames.POLICY)  # the hub said why
            return
        code = CLOSE_CODES.get(reason, frames.POLICY)
        if code is not None:
            last = None if reason is Reason.QUIT else bye(reason, departure(self.words, reason))
            await self.close(code, last=last)

    def _leave(self, why: tuple[Reason, str]) -> None:
        self._why = why[0]
        self.service.leave(self.client, *why)

    async def _reader(self) -> tuple[Reason, str]:
        """Handle frames until the member quits or the peer goes; returns why."""
        while True:
            with trio.move_on_after(PING_INTERVAL) as quiet:
                item = await self.connection.next_message(self.decoder)
            if quiet.cancelled_caught:
                if self._pinged:
                    return Reason.LOST, ""
                self._pinged = True
                self.send(self.decoder.ping())
                continue
            self._pinged = False
            match item:
                case None:
                    return (Reason.LOST if self.connection.lost else Reason.CLOSED), ""
                case Closing(code, _, data):
                    self.send(data)
                    return (Reason.CLOSED if code != frames.ABNORMAL else Reason.LOST), ""
                case Reply(data):
                    self.send(data)
                case Alive():
                    pass
                case Binary() | Text():
                    why = await self._request(item)
                    if why is not None:
                        return why

    async def _request(self, item: Binary | Text) -> tuple[Reason, str] | None:
        """One message of the page; why the chat ends, if it does."""
        size = item.size if isinstance(item, Binary) else len(item.text.encode())
        try:
            if await self.service.pace(self.client, size):
                self.answer({"type": "notice", "text": self.commands.text.slow_down()})
        except Flooding:
            self.service.tell(self.client, Error(FLOODING))
            return Reason.FLOODING, ""
        if not self.client.present:
            return Reason.LOST, ""  # removed meanwhile: the writer is delivering why
        if isinstance(item, Binary):
            self.answer(error(self.words(BINARY)))
            return None
        words = await self.commands.handle(parse_request(item.text))
        return None if words is None else (Reason.QUIT, words)

    def answer(self, frame: Json) -> None:
        """Queue one frame of our own for the member, in order with the hub's."""
        self.send(reply(frame))

    def send(self, data: bytes) -> None:
        """Queue bytes for the member (the hub evicts a member too slow to take them)."""
        member = self.client.member
        if data and member is not None and member.present:
            self.service.hub.put(member, data)

    async def close(self, code: int, reason: str = "", *, last: Json | None = None) -> None:
        """``last``, our close frame, then the peer's answer (the closing handshake), briefly."""
        with trio.move_on_after(FAREWELL_TIMEOUT), contextlib.suppress(*CONNECTION_ERRORS):
            data = self.decoder.close(code, reason)
            if not data:
                return  # closed already (the peer's close frame was answered)
            await self.connection.send_now(data if last is None else reply(last) + data)
            while True:
                item = await self.connection.next_message(self.decoder)
                if item is None or isinstance(item, Closing):
                    return
