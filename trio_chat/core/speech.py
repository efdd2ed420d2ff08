"""What members say: messages, actions, topics, private and operators' messages.

The hub's base (:class:`~.hub.Hub`), kept apart for size: a message or an
action is stamped with an increasing id and the time, broadcast to the room
but its speaker (echoed to a speaker who asked), recorded in the history and
told to other servers; so is a topic; a private message goes to its one recipient, or is
refused when that one is out of reach.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from trio_chat.core.backplane import Backplane
from trio_chat.core.counters import Counters
from trio_chat.core.events import (
    Action,
    ClientTags,
    Echo,
    Message,
    Private,
    ServerEvent,
    ToOperators,
    TopicChanged,
    ToRoomOperators,
)
from trio_chat.core.members import Member, Recorder, Room
from trio_chat.core.refusals import NoSuchMember, NoSuchRoom, NotInRoom, Unreachable
from trio_chat.core.stamps import Stamps
from trio_chat.core.topics import Topics


class Speech:
    """Messages, actions and private messages (what the hub provides, it declares)."""

    backplane: Backplane
    counters: Counters
    _name_key: Callable[[str], str]
    _rooms: dict[str, Room]
    _stamps: Stamps
    _recorder: Recorder | None
    _topics: Topics

    if TYPE_CHECKING:

        def find(self, name: str) -> Member | None: ...
        def is_member(self, member: Member) -> bool: ...
        def broadcast(
            self, room: str, event: ServerEvent, *, exclude: Member | None = None
        ) -> None: ...
        def deliver(self, member: Member, event: ServerEvent) -> None: ...
        def send_each(
            self, members: Collection[Member], event: ServerEvent, *, exclude: Member | None = None
        ) -> None: ...

    def say(
        self, member: Member, room: str, text: str, *, notice: bool = False, tags: ClientTags = ()
    ) -> Message:
        """Say ``text`` in ``room``: everyone else there hears it; it is recorded.

        Raises:
            NotInRoom: ``member`` is not in ``room`` (nothing is said or recorded).
        """
        target = self._room_of(member, room)
        event = Message(
            member.name, target.name, text, *self._stamps.stamp(), notice=notice, tags=tags
        )
        self._speak(member, event)
        return event

    def act(self, member: Member, room: str, text: str, *, tags: ClientTags = ()) -> Action:
        """A ``/me`` action in ``room``; raises :class:`NotInRoom` as :meth:`say` does."""
        target = self._room_of(member, room)
        event = Action(member.name, target.name, text, *self._stamps.stamp(), tags=tags)
        self._speak(member, event)
        return event

    def _room_of(self, member: Member, room: str) -> Room:
        target = self._rooms.get(self._name_key(room))
        if target is None or not self.is_member(member):
            raise NotInRoom(room)
        if target.name not in member.rooms and not target.settings.outside:
            raise NotInRoom(room)  # a room hears only its members, unless it is open
        return target

    def _speak(self, member: Member, event: Message | Action) -> None:
        self.counters.messages["action" if isinstance(event, Action) else "message"] += 1
        self.broadcast(event.room, event, exclude=member)
        if member.echo:
            self.deliver(member, Echo(event))
        if self._recorder is not None:
            self._recorder.record(event)
        self.backplane.publish(member, event)

    def private(
        self, member: Member, target: str, text: str, *, notice: bool = False, tags: ClientTags = ()
    ) -> Private:
        """Send ``text`` to ``target`` only.

        Raises:
            NoSuchMember: nobody online has that name.
            Unreachable: they are on another server, out of reach for now.
        """
        recipient = self.find(target)
        if recipient is None:
            raise NoSuchMember(target)
        if not self.backplane.reaches(recipient):
            raise Unreachable(recipient.name)
        event = Private(
            member.name, recipient.name, text, *self._stamps.stamp(), notice=notice, tags=tags
        )
        self.deliver(recipient, event)
        self.counters.messages["private"] += 1
        if member.echo:
            self.deliver(member, Echo(event))
        self.backplane.publish(member, event)
        return event

    def set_topic(self, member: Member, room: str, topic: str) -> TopicChanged:
        """Set (or clear) the topic of ``room``; its members hear of it.

        Raises:
            NoSuchRoom: no such room is open.
        """
        key = self._name_key(room)
        target = self._rooms.get(key)
        if target is None:
            raise NoSuchRoom(room)
        target.topic = topic
        target.topic_by, target.topic_time = member.name, time.time()
        self._topics.set(key, topic)
        if self._recorder is not None:
            self._recorder.record_topic(target.name, topic)
        event = TopicChanged(member.name, target.name, topic, *self._stamps.stamp())
        self.counters.messages["topic"] += 1
        self.broadcast(target.name, event)
        self.backplane.publish(member, event)
        return event

    def adopt_topic(self, room: str, topic: str, by: str, when: float) -> None:
        """A topic set on another server (at ``when``) while this one was away or did not
        know the room: kept unless the room's topic here is newer, told to nobody."""
        key = self._name_key(room)
        target = self._rooms.get(key)
        if target is not None:
            if target.topic_time > when:
                return
            target.topic, target.topic_by, target.topic_time = topic, by, when
        self._topics.set(key, topic)
        if self._recorder is not None:
            self._recorder.record_topic(room if target is None else target.name, topic)

    def to_operators(
        self, member: Member, operators: Collection[Member], event: ToOperators | ToRoomOperators
    ) -> None:
        """``member``'s words for ``operators`` (here); other servers' operators hear too."""
        self.send_each(operators, event)
        self.backplane.publish(member, event)
