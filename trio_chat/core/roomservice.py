"""The chat service's room requests: entering, leaving, topics, a room's own rules.

A base of :class:`~trio_chat.core.service.ChatService` (which every frontend
calls), kept apart for size: what it needs of the service (the hub, the
history and its replay) the service sets up. Rules are as the service's
docstring says; a room's own rules are :mod:`.roomrules`'.
"""

from __future__ import annotations

import time

import trio

from trio_chat.core import roomrules
from trio_chat.core.clients import Arrival, Client
from trio_chat.core.counters import counts_refusals
from trio_chat.core.events import RoomChanged, TopicChanged, ToRoomOperators
from trio_chat.core.history import History
from trio_chat.core.hub import Hub
from trio_chat.core.limits import (
    COST_PER_BYTE_REPLAYED,
    COST_PER_NAME_LISTED,
    COST_PER_ROOM_LISTED,
)
from trio_chat.core.members import Member, Room
from trio_chat.core.names import MAX_TOPIC_CHARS, clean_text, name_key
from trio_chat.core.refusals import (
    AlreadyInRoom,
    CannotSpeak,
    Muted,
    NoSuchMember,
    NoSuchRoom,
    NotInRoom,
    NotRoomOperator,
    TooLong,
)
from trio_chat.core.rules import REPLAY_BYTES, K, said, valid_room, within_budget
from trio_chat.core.store import Entry


@counts_refusals
class RoomRequests:
    """Rooms: what members ask of them, and what the service reads of them."""

    hub: Hub
    history: History | None
    replay: int

    # --- rooms -----------------------------------------------------------------

    async def enter(self, client: Client, raw: str, key: str = "") -> Arrival:
        """Enter room ``raw`` (created if needed), with its latest history.

        Raises:
            InvalidName: not a valid room name.
            InviteOnly, BadRoomKey, RoomFull, BannedFromRoom: the room's rules.
        """
        member = client.acting()
        room = valid_room(raw)
        current = self.hub.room(room)
        if current is not None and current.name in member.rooms:
            return Arrival(current, [], already=True)
        if current is not None:
            roomrules.check_entry(current, member, key)
        await room_for_replay(client)
        entries = charged(client, await self._recent(room))
        # From here on nothing awaits: the read and the entry are one step.
        current = self.hub.room(room)
        if current is not None:
            roomrules.check_entry(current, member, key)
        return Arrival(self.hub.enter(member, room), entries)

    def change_room(
        self, client: Client, room: str, changes: list[roomrules.Change]
    ) -> list[roomrules.Change]:
        """An operator changes ``room``'s rules; the room hears what changed.

        Raises NoSuchRoom, NotRoomOperator, NotInRoom (see roomrules.apply).
        """
        member = client.acting()
        found = self.room(room)
        done: list[roomrules.Change] = []
        try:
            done = roomrules.apply(found, member, changes)
        finally:
            if done:
                self.hub.rules_changed(member, RoomChanged(found.name, member.name, tuple(done)))
        return done

    def invite(self, client: Client, room: str, name: str) -> str:
        """Invite ``name`` into ``room`` (they are told); returns their name as shown.

        Raises NoSuchMember, NoSuchRoom, NotInRoom, NotRoomOperator (an
        invitation-only room), AlreadyInRoom.
        """
        member = client.acting()
        target = self.member(name)
        found = self.room(room)
        if found.name not in member.rooms:
            raise NotInRoom(found.name)
        if found.settings.invite_only and not roomrules.runs(found, member):
            raise NotRoomOperator(found.name)
        if found.name in target.rooms:
            raise AlreadyInRoom(target.name, found.name)
        self.hub.invite(member, found, target)
        return target.name

    def invitations(self, client: Client) -> list[str]:
        """The rooms ``client`` is invited to and has not entered yet, sorted by name."""
        key = name_key(client.acting().name)
        return [room.name for room in self.hub.room_list() if key in room.settings.invited]

    def say_to_operators(self, client: Client, room: str, text: str) -> ToRoomOperators:
        """A line for ``room``'s operators only (the sender hears it back with echo on).

        Raises Muted, NotInRoom, CannotSpeak, TooLong.
        """
        member = self._in_room(client, room)
        found = self.hub.room(room)
        if found is None or found.name not in member.rooms:
            raise NotInRoom(room)
        event = ToRoomOperators(member.name, found.name, said(text), time.time())
        audience = [m for m in found.members.values() if roomrules.runs(found, m)]
        self.hub.to_operators(
            member, [m for m in audience if m is not member or member.echo], event
        )
        return event

    def may_speak(self, client: Client, room: str | None = None) -> None:
        """Check that ``client`` may say something (in ``room``) without saying it: for what
        carries no text (IRC's TAGMSG: typing, reactions). Raises Muted, CannotSpeak."""
        if room is None:
            self._speaker(client)
        else:
            self._in_room(client, room)

    def part(self, client: Client, room: str, detail: str = "") -> None:
        """Leave one room (staying online). Raises :class:`NotInRoom`.

        Someone who may not speak there (muted, or without voice in a
        moderated room) leaves without parting words: they would be speech.
        """
        if detail and not self._may_say(client, room):
            detail = ""
        self.hub.part(client.acting(), room, detail)

    def _may_say(self, client: Client, room: str) -> bool:
        try:
            self.may_speak(client, room)
        except (Muted, CannotSpeak, NotInRoom):
            return False
        return True

    def topic(self, room: str, *, client: Client | None = None) -> str:
        """The topic of an open room ("" if none). Raises :class:`NoSuchRoom`
        (also for a room ``client`` may not see: see :func:`roomrules.visible`)."""
        return self._seen(room, client).topic

    def set_topic(self, client: Client, room: str, topic: str) -> TopicChanged:
        """Set (or with "" clear) a room's topic. Raises Muted, NotInRoom."""
        member = self._speaker(client)
        found = self.hub.room(room)
        if found is None or found.name not in member.rooms:
            raise NotInRoom(room)
        roomrules.check_topic(found, member)
        topic = clean_text(topic).strip()
        if len(topic) > MAX_TOPIC_CHARS:
            raise TooLong(MAX_TOPIC_CHARS, "characters")
        return self.hub.set_topic(member, found.name, topic)

    def room(self, name: str) -> Room:
        """An open room, to read (its members, its topic). Raises :class:`NoSuchRoom`."""
        found = self.hub.room(name)
        if found is None:
            raise NoSuchRoom(name)
        return found

    def member(self, name: str) -> Member:
        """Who is online as ``name``, to read. Raises :class:`NoSuchMember`."""
        found = self.hub.find(name)
        if found is None:
            raise NoSuchMember(name)
        return found

    def set_away(self, client: Client, why: str) -> None:
        """Away with ``why`` (cleaned, bounded like a topic), or back with ""."""
        client.acting().away = clean_text(why).strip()[:MAX_TOPIC_CHARS]

    def members(self, room: str | None = None, *, client: Client | None = None) -> list[str]:
        """Names online (in ``room``, if given), sorted.

        Asked by ``client`` (a user's ``/who``), it costs that client's flood
        budget according to the length of the list, and raises
        :class:`NoSuchRoom` for a room it may not see (:func:`roomrules.visible`).
        """
        found = None if room is None else self.hub.room(room)
        if found is not None and client is not None and not roomrules.visible(found, client.member):
            raise NoSuchRoom(found.name)
        names = self.hub.names(room)
        if client is not None:
            client.charge(len(names) * COST_PER_NAME_LISTED)
        return names

    def rooms(self, *, client: Client | None = None) -> list[Room]:
        """The open rooms, sorted by name: those ``client`` may see, if asked by one
        (costing it according to their number)."""
        rooms = self.hub.room_list()
        if client is not None:
            rooms = [room for room in rooms if roomrules.visible(room, client.member)]
            client.charge(len(rooms) * COST_PER_ROOM_LISTED)
        return rooms

    def _seen(self, room: str, client: Client | None) -> Room:
        """An open room that ``client`` (if any) may see; else :class:`NoSuchRoom`."""
        found = self.hub.room(room)
        if found is None or (client is not None and not roomrules.visible(found, client.member)):
            raise NoSuchRoom(room)
        return found

    def _in_room(self, client: Client, room: str) -> Member:
        """The member, who may speak in ``room`` (not muted, not silenced by moderation)."""
        member = self._speaker(client)
        found = self.hub.room(room)
        if found is not None and found.name in member.rooms:
            roomrules.check_speech(found, member)
        return member

    def _speaker(self, client: Client) -> Member:
        member = client.acting()
        if member.muted:
            raise Muted
        return member

    async def _recent(self, room: str) -> list[Entry]:
        """A room's latest history; raises Cancelled if the caller was cancelled meanwhile.

        The read runs in a worker thread, which a cancel cannot interrupt: an
        eviction or a shutdown during it must still stop the caller before it
        touches the hub. ``checkpoint_if_cancelled`` does not yield otherwise,
        so the caller still enters the room in the same step as the read.
        """
        if self.history is None or self.replay <= 0:
            await trio.lowlevel.checkpoint_if_cancelled()
            return []
        entries = await self.history.recent(room, self.replay)
        await trio.lowlevel.checkpoint_if_cancelled()
        return within_budget(entries)


def charged(client: Client | None, entries: list[K]) -> list[K]:
    """``entries``, replayed to ``client``: charged to its flood budget by their bytes."""
    if client is not None and entries:
        size = sum(len(e.event.text) + len(e.event.sender) for e in entries)
        client.charge(size * COST_PER_BYTE_REPLAYED)
    return entries


async def room_for_replay(client: Client | None) -> None:
    """Wait until the client's member took its last replay (one replay queued at a time)."""
    member = client.member if client is not None else None
    if member is not None:
        await member.outbox.drained(REPLAY_BYTES // 4)
