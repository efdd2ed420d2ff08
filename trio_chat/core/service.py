"""The chat service: the one place where a frontend asks for something to happen.

Theory of operation
-------------------
Every frontend (the text protocol today; IRC and the web page next) turns
its wire into calls on :class:`ChatService` and the results back into its
wire. The service applies the chat's rules, the same for every door: the
server password, names and registered accounts, bans, mutes, room
membership, flood pacing and history. It answers with results (events,
rooms, history entries) or raises a typed :class:`~.refusals.Refused` that
each frontend words in its own protocol. It knows no bytes and no wording.

One :class:`Client` is one connection's standing with the service: its
address, whether it gave the server password, which registered names it
proved it owns, its flood pacing and, once it has a name, its hub
:class:`~.hub.Member`. Operator and account commands live in
:mod:`.moderation`, on the same client; names (taking one, logging in,
renaming) in its base :class:`~.nameservice.NameRequests`, and room requests
(entering, topics, a room's own rules) in that one's base
:class:`~.roomservice.RoomRequests`.

Reading a room's history takes a trip to a worker thread; entering the room
happens in the same synchronous step as the read returns, so a newcomer sees
each message once: in the replay or live, never both, never neither.
"""

from __future__ import annotations

import logging

import trio

from trio_chat.core.accounts import Guard
from trio_chat.core.clients import Client, Password
from trio_chat.core.conversations import PrivateRequests
from trio_chat.core.counters import counts_refusals
from trio_chat.core.events import (
    Action,
    ClientTags,
    Message,
    Private,
    Reason,
    ServerEvent,
)
from trio_chat.core.history import DEFAULT_REPLAY, History
from trio_chat.core.hub import Hub
from trio_chat.core.limits import (
    DEFAULT_LIMITS,
    Limits,
    LogThrottle,
    left_out,
    line_cost,
)
from trio_chat.core.members import ORDINARY, Encoder, log_departure
from trio_chat.core.moderation import Moderation
from trio_chat.core.names import (
    MAX_HISTORY,
    MAX_TOPIC_CHARS,
    clean_text,
)
from trio_chat.core.nameservice import NameRequests
from trio_chat.core.refusals import (
    NotInRoom,
    WrongServerPassword,
)
from trio_chat.core.roomrules import reads_history
from trio_chat.core.roomservice import charged, room_for_replay
from trio_chat.core.rules import said, within_budget
from trio_chat.core.store import Entry

LOGGER = logging.getLogger(__name__)


@counts_refusals
class ChatService(NameRequests, PrivateRequests):
    """The chat's rules, for every frontend.

    Args:
        hub: members, rooms and fan-out.
        guard: passwords, accounts, bans and mutes.
        history: where room history is kept, if anywhere.
        limits: flood limits, and who is exempt from them.
        replay: messages of a room's history shown on entering it.
        keep_privates: whether private messages are kept for their parties' accounts
            (:mod:`.conversations`).
    """

    def __init__(
        self,
        hub: Hub,
        *,
        guard: Guard | None = None,
        history: History | None = None,
        limits: Limits = DEFAULT_LIMITS,
        replay: int = DEFAULT_REPLAY,
        lang: str = "en",
        keep_privates: bool = True,
    ) -> None:
        self.hub = hub
        # The language of those who chose none (a tag the frontends word with).
        self.lang = lang
        self.guard = guard or Guard()
        self.history = history
        self.limits = limits
        self.replay = replay
        self.keep_privates = keep_privates
        # Account and operator commands.
        self.moderation = Moderation(hub, self.guard)
        # Routine log lines per address (joins, renames; a frontend's handshakes).
        self.log_throttle = LogThrottle()

    # --- connections -----------------------------------------------------------

    def connect(self, peer: str, address: str | None = None) -> Client:
        """A new connection's standing: paced unless ``address`` is exempt (or None)."""
        limited = address is not None and not self.limits.is_exempt(address)
        flood = self.limits.flood_guard(trio.current_time()) if limited else None
        return Client(
            peer, flood, address if limited else None, admitted=not self.guard.needs_password
        )

    @property
    def needs_password(self) -> bool:
        return self.guard.needs_password

    def give_password(self, client: Client, secret: str) -> Password:
        """The server password, before a name.

        Raises:
            WrongServerPassword: it does not match (the frontend closes the connection).
        """
        if not self.guard.needs_password:
            return Password.NOT_NEEDED
        if client.admitted:
            return Password.ALREADY
        if not self.guard.server_password_ok(secret):
            LOGGER.warning(
                "wrong server password from %s",
                client.peer,
                extra={"fields": client.fields("refused", "wrong server password")},
            )
            raise WrongServerPassword
        client.admitted = True
        return Password.ACCEPTED

    async def pace(self, client: Client, size: int = 0) -> bool:
        """Delay a line (of ``size`` bytes) sent over the flood rate; True on the first delayed one.

        Nothing is dropped: while this waits, nothing more is read from the
        connection, so TCP slows the sender down too. While the history's
        writer is behind, every sender (exempt or not) waits for it. Long lines cost more
        (:func:`~.limits.line_cost`), and so did expensive commands before it
        (:meth:`charge`). Operators are exempt.

        Raises:
            Flooding: the connection has been over the rate for too long.
        """
        if self.history is not None and self.history.behind:
            # The disk is behind: every sender waits (nothing said goes unsaved).
            await self.history.caught_up()
        member = client.member
        if client.flood is None or (member is not None and member.operator):
            return False
        delay, warn = client.flood.check(trio.current_time(), line_cost(size))
        if delay > 0:
            self.hub.counters.paced += 1
            await trio.sleep(delay)
        return warn

    # --- speech ----------------------------------------------------------------

    def say(
        self, client: Client, room: str, text: str, *, notice: bool = False, tags: ClientTags = ()
    ) -> Message:
        """Say ``text`` in ``room`` (as a notice; with client tags). Raises Muted, NotInRoom
        (nothing said or recorded)."""
        speaker = self._in_room(client, room)
        return self.hub.say(speaker, room, said(text), notice=notice, tags=tags)

    def act(self, client: Client, room: str, text: str, *, tags: ClientTags = ()) -> Action:
        """A ``/me`` action in ``room``. Raises Muted, NotInRoom."""
        return self.hub.act(self._in_room(client, room), room, said(text), tags=tags)

    def private(
        self, client: Client, target: str, text: str, *, notice: bool = False, tags: ClientTags = ()
    ) -> Private:
        """A private message to one member. Raises Muted, NoSuchMember."""
        speaker = self._speaker(client)
        event = self.hub.private(speaker, target, said(text), notice=notice, tags=tags)
        self._keep_private(client, event)
        return event

    def set_echo(self, client: Client, on: bool) -> None:
        """Whether the member hears their own messages back, as the others see them.

        A frontend that asks for it shows a line as sent only once the
        service took it (IRCv3 echo-message; the text client's ``/echo on``).
        """
        client.acting().echo = on

    def set_encoder(self, client: Client, encode: Encoder) -> None:
        """What the member's events are encoded with from now on (another language);
        what is queued already stays as it was."""
        client.acting().encode = encode

    # --- history ---------------------------------------------------------------

    async def read_history(
        self,
        room: str,
        count: int,
        *,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
        client: Client | None = None,
    ) -> list[Entry]:
        """Up to ``count`` messages of ``room``: the latest, or before, after or around an id.

        Asked by ``client``, it costs its flood budget according to the bytes
        replayed (a loop of ``/history 500`` is a flood, not an amplifier),
        and only a room it is in may be read (:func:`roomrules.reads_history`):
        else :class:`NotInRoom`.
        """
        if client is not None and not reads_history(self.hub.room(room), client.member):
            raise NotInRoom(room)
        if self.history is None or count <= 0:
            await trio.lowlevel.checkpoint()
            return []
        await room_for_replay(client)
        count = min(count, MAX_HISTORY)
        if after is not None:
            entries = await self.history.after(room, count, after=after)
        elif around is not None:
            entries = await self.history.around(room, count, around=around)
        else:
            entries = await self.history.recent(room, count, before=before)
        await trio.lowlevel.checkpoint_if_cancelled()
        return charged(client, within_budget(entries))

    # --- leaving ---------------------------------------------------------------

    def leave(self, client: Client, reason: Reason, detail: str = "") -> None:
        """The connection is ending: its member leaves, once, and it is logged once.

        A member the server removed already (evicted, kicked) was logged then.
        """
        member, client.member = client.member, None
        if member is None or not self.hub.is_member(member):
            return
        if self.hub.closing:
            reason, detail = Reason.SHUTDOWN, ""
        # Parting words, shown to all: not from someone muted (they would be speech).
        detail = "" if member.muted else clean_text(detail).strip()[:MAX_TOPIC_CHARS]
        self.hub.leave(member, reason, detail)
        # Ordinary departures are routine, throttled per address as joins are:
        # a storm of thousands leaving at once writes a burst and a count.
        skipped = self._routine(client, "left") if reason in ORDINARY else 0
        if skipped is not None:
            more = left_out(skipped)
            log_departure(member, reason, "left", detail, quiet=self.hub.closing, more=more)

    def tell(self, client: Client, event: ServerEvent) -> None:
        """A reply or notice for this connection's member only (no rule applies)."""
        self.hub.deliver(client.named(), event)

    def online(self) -> int:
        """How many members are online."""
        return len(self.hub)
