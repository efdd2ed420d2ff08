"""Other servers' members, held in this server's hub as members like any other.

A member of another server is a hub :class:`~trio_chat.core.members.Member`
whose link is a :class:`RemoteLink` (naming its server) and whose outbox
takes nothing (:class:`Elsewhere`): its own server delivers to it. So the
hub's rules hold for them unchanged: their names are taken here, rooms count
them, ``/who`` lists them, a private message finds them, and when they join,
part, rename or quit, the hub's own methods tell this server's members, each
once, as for a local member.

:class:`Mirror` applies what other servers relay (see :mod:`.wire`) by
calling those hub methods; while it does, :attr:`Mirror.applying` is set, so
that the backplane does not relay the change back. A room message keeps the
id and time its server gave it, is delivered to the members here and is
recorded in this server's history.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress

from trio_chat.backplane.wire import Envelope, Online, Relayed, RoomState
from trio_chat.core import roomrules
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
    ServerEvent,
    ToOperators,
    TopicChanged,
    ToRoomOperators,
)
from trio_chat.core.hub import Hub
from trio_chat.core.members import Member, Recorder, Room, RoomBan
from trio_chat.core.outbox import Outbox
from trio_chat.core.refusals import NameTaken, NoSuchRoom, NotInRoom, ServerClosing

LOGGER = logging.getLogger(__name__)

# A room's lists of masks, as a RoomState names them.
MASKS = ("ban", "exception", "invite-exception")


class RemoteLink:
    """The link of a member of another server: closing it is that server's business."""

    __slots__ = ("server",)

    def __init__(self, server: str) -> None:
        self.server = server

    def close(self, reason: Reason, deadline: float = -math.inf) -> None:
        pass  # the backplane asks its server to (a Dismiss), see RedisBackplane.publish


class Elsewhere(Outbox):
    """The outbox of a member of another server: that server delivers to it."""

    __slots__ = ()

    def put_nowait(self, data: bytes, own: bool = False) -> None:
        pass

    def put_last(self, data: bytes) -> None:
        pass


def silent(event: ServerEvent) -> bytes:
    """The encoder of members of other servers (shared: one call per broadcast)."""
    return b""


def home_of(member: Member) -> str | None:
    """The id of ``member``'s server, or None if it is one of this server's."""
    link = member.link
    return link.server if isinstance(link, RemoteLink) else None


class Mirror:
    """Applies other servers' events to this hub.

    Args:
        hub: this server's hub.
        recorder: this server's history, which records other servers' messages too.
        name_key: how names compare (the hub's).
    """

    def __init__(self, hub: Hub, recorder: Recorder | None, name_key: Callable[[str], str]) -> None:
        self.hub = hub
        self.recorder = recorder
        self._key = name_key
        self.applying = False
        self._members: dict[str, Member] = {}  # by name key

    @contextmanager
    def _apply(self) -> Iterator[None]:
        self.applying = True
        try:
            yield
        finally:
            self.applying = False

    # --- queries -----------------------------------------------------------------

    def members_of(self, server: str) -> list[Member]:
        return [m for m in self._present() if home_of(m) == server]

    def servers(self) -> set[str]:
        """The servers whose members are here."""
        return {home for m in self._present() if (home := home_of(m)) is not None}

    def _present(self) -> list[Member]:
        gone = [k for k, m in self._members.items() if not self.hub.is_member(m)]
        for key in gone:  # removed by the hub meanwhile (kicked here, say)
            del self._members[key]
        return list(self._members.values())

    def _find(self, server: str, name: str) -> Member | None:
        member = self._members.get(self._key(name))
        if member is None or not self.hub.is_member(member) or home_of(member) != server:
            return None
        return member

    def _online(self, server: str, name: str) -> Member | None:
        """``server``'s member ``name`` here, added if new (None: the name is taken here)."""
        member = self._find(server, name)
        if member is not None:
            return member
        holder = self.hub.find(name)
        if holder is not None:
            if home_of(holder) is None:
                LOGGER.warning("%s is online here and on server %s too", name, server)
                return None
            self.hub.leave(holder, Reason.ELSEWHERE)  # it moved to that server
        try:
            member = self.hub.join(name, silent, RemoteLink(server), outbox=Elsewhere(1, 1))
        except (NameTaken, ServerClosing):
            return None
        member.address = f"server {server}"
        self._members[self._key(name)] = member
        return member

    # --- applying ------------------------------------------------------------------

    def apply(self, envelope: Envelope) -> None:
        """Apply one event relayed by another server (Hello and Dismiss are the caller's)."""
        with self._apply():
            self._apply_event(envelope.server, envelope.event)

    def _apply_event(self, server: str, event: Relayed) -> None:
        match event:
            case Message() | Action():
                self.hub.broadcast(event.room, event, exclude=self._find(server, event.sender))
                if self.recorder is not None:
                    self.recorder.record(event)
            case Private(target=target):
                recipient = self.hub.find(target)
                if recipient is not None and home_of(recipient) is None:
                    self.hub.deliver(recipient, event)
            case Online(name=name):
                self._online(server, name)
            case Joined(name=name, room=room):
                member = self._online(server, name)
                if member is not None:
                    self.hub.enter(member, room)
            case Parted(name=name, room=room, detail=detail):
                member = self._find(server, name)
                if member is not None:
                    with suppress(NotInRoom):
                        self.hub.part(member, room, detail)
            case RoomChanged(room=room, by=by, changes=changes):
                found = self.hub.room(room)
                done = roomrules.apply_relayed(found, by, changes) if found is not None else []
                if found is not None and done:
                    self.hub.broadcast(found.name, RoomChanged(found.name, by, tuple(done)))
            case Invited(room=room, name=name):
                self._invited(room, name, event)
            case ToOperators():
                self.hub.send_each([m for m in self._locals() if m.operator], event)
            case ToRoomOperators(room=room):
                found = self.hub.room(room)
                if found is not None:
                    ops = [m for m in found.members.values() if roomrules.runs(found, m)]
                    self.hub.send_each([m for m in ops if home_of(m) is None], event)
            case KickedOut(name=name, room=room):
                self._kicked(name, room, event)
            case Quit(name=name, reason=reason, detail=detail, by=by):
                member = self._find(server, name)
                if member is not None:
                    self.hub.leave(member, reason, detail, by)
            case Renamed(old=old, new=new):
                self._rename(server, old, new)
            case TopicChanged(name=name, room=room, topic=topic):
                member = self._find(server, name)
                if member is not None:
                    with suppress(NoSuchRoom):
                        self.hub.set_topic(member, room, topic)
            case _:
                pass

    def _locals(self) -> list[Member]:
        """This server's own members."""
        found = (self.hub.find(name) for name in self.hub.names())
        return [m for m in found if m is not None and home_of(m) is None]

    def _invited(self, room: str, name: str, event: Invited) -> None:
        """An operator of another server invited ``name``: the invitation holds here too."""
        found = self.hub.room(room)
        if found is not None:
            found.settings.invited.add(self._key(name))
        invitee = self.hub.find(name)
        if invitee is not None and home_of(invitee) is None:
            self.hub.deliver(invitee, event)

    def _kicked(self, name: str, room: str, event: KickedOut) -> None:
        """Put ``name`` out of ``room`` as an operator of another server did (any server's)."""
        member = self.hub.find(name)
        if member is not None:
            with suppress(NotInRoom):
                self.hub.part(member, room, told=event)

    def _rename(self, server: str, old: str, new: str) -> None:
        member = self._find(server, old)
        if member is None:
            return
        try:
            self.hub.rename(member, new)
        except NameTaken:
            LOGGER.warning("%s (server %s) renamed to %s, a name online here", old, server, new)
            self.hub.leave(member, Reason.QUIT)
            return
        del self._members[self._key(old)]
        self._members[self._key(new)] = member

    # --- whole servers -------------------------------------------------------------

    def sync(self, server: str, snapshot: Mapping[str, Sequence[str]]) -> None:
        """Make ``server``'s members here as in its snapshot (name -> rooms).

        Only differences are announced: who left meanwhile, who came, who
        changed rooms; members as they were are not announced again.
        """
        with self._apply():
            wanted = {self._key(name): name for name in snapshot}
            for member in self.members_of(server):
                if self._key(member.name) not in wanted:
                    self.hub.leave(member, Reason.QUIT)
            for name, rooms in snapshot.items():
                remote = self._online(server, name)
                if remote is None:
                    continue
                keys = {self._key(room) for room in rooms}
                for room in sorted(remote.rooms):
                    if self._key(room) not in keys:
                        self.hub.part(remote, room)
                for room in rooms:
                    self.hub.enter(remote, room)

    # --- rooms' settings -------------------------------------------------------------

    @staticmethod
    def state_of(room: Room) -> RoomState:
        """``room``'s topic and settings, for servers that start later."""
        settings = room.settings
        return RoomState(
            room.name,
            (room.topic, room.topic_by, room.topic_time),
            tuple(f for f in roomrules.FLAGS if getattr(settings, f.replace("-", "_"))),
            settings.key,
            settings.limit,
            {
                kind: tuple((m.mask, m.by, m.time) for m in roomrules.masks_of(room, kind))
                for kind in MASKS
            },
        )

    def restore(self, state: RoomState) -> bool:
        """A room's settings and topic as the server that changed them last wrote them,
        for the room here if it is open (at start, before this server's members come);
        told to nobody. Whether the room is open here."""
        room = self.hub.room(state.name)
        if room is None:
            return False
        settings = room.settings
        for flag in roomrules.FLAGS:
            setattr(settings, flag.replace("-", "_"), flag in state.flags)
        settings.key, settings.limit = state.key, state.limit
        for kind in MASKS:
            roomrules.masks_of(room, kind)[:] = [RoomBan(*m) for m in state.masks.get(kind, ())]
        topic, by, when = state.topic
        if when >= room.topic_time and (topic, by) != (room.topic, room.topic_by):
            self.hub.adopt_topic(room.name, topic, by, when)
        return True

    def lose(self, server: str) -> int:
        """``server`` stopped answering: its members leave ("server lost"). How many."""
        with self._apply():
            members = self.members_of(server)
            for member in members:
                self.hub.leave(member, Reason.SERVER_LOST)
        return len(members)
