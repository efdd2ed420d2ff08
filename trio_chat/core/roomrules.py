"""A room's own rules: who runs it, who may enter, speak and set its topic.

Theory of operation
-------------------
Whoever opens a room (not the lobby) is its first operator; operators name
others (``op``), give a voice (``voice``), and set the room's
:class:`~.members.RoomSettings`: a key, a limit, bans, invitations only,
moderation, a locked topic, secrecy. The server's operators count as
operators of every room. Every door asks the service, which asks this
module; IRC's channel modes (``MODE #dev +k``) are one way to word it.

A room ban is a mask ``name!ident@address`` with ``*`` and ``?``; the
core knows names and addresses, so the ident part is not checked. An
``exception`` mask lets its members in despite a ban, an
``invite-exception`` mask lets them into an invitation-only room (IRC's
``+e`` and ``+I``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import suppress
from fnmatch import fnmatchcase

from trio_chat.core.members import Member, Room, RoomBan
from trio_chat.core.names import name_key
from trio_chat.core.refusals import (
    BadRoomKey,
    BadSetting,
    BannedFromRoom,
    CannotSpeak,
    InviteOnly,
    NoSuchMember,
    NotInRoom,
    NotRoomOperator,
    RoomFull,
)

# Settings that are on or off, and those that take a value.
FLAGS = ("topic-locked", "moderated", "invite-only", "secret", "outside")
VALUED = ("key", "limit")
LISTS = ("op", "voice", "ban", "exception", "invite-exception")
# The most masks one room keeps in each list; the longest key.
MAX_BANS = 100
MAX_KEY = 32

Change = tuple[str, bool, str]


def runs(room: Room, member: Member) -> bool:
    """Whether ``member`` is an operator of ``room`` (or of the server)."""
    return member.operator or member in room.ops


def visible(room: Room, member: Member | None) -> bool:
    """Whether ``member`` may see ``room``: in the room list, who is in it, its topic.

    A secret room only to its members and the server's operators; every door
    asks this (``None``: someone without a name yet, an outsider).
    """
    if not room.settings.secret:
        return True
    return member is not None and (room.name in member.rooms or member.operator)


def reads_history(room: Room | None, member: Member | None) -> bool:
    """Whether ``member`` may read ``room``'s history: only from inside it (every door)."""
    return room is not None and member is not None and room.name in member.rooms


def host_of(address: str) -> str:
    """The IP address of a member's ``host:port`` (or ``[v6]:port``)."""
    host = address.rsplit(":", 1)[0] if address.count(":") == 1 else address
    if host.startswith("["):
        host = host[1:].split("]")[0]
    return host


def matching(masks: list[RoomBan], member: Member) -> RoomBan | None:
    """The first of ``masks`` that covers ``member``."""
    name, host = name_key(member.name), host_of(member.address)
    for ban in masks:
        nick, _, rest = ban.mask.partition("!")
        where = rest.partition("@")[2] or "*"
        if fnmatchcase(name, name_key(nick or "*")) and fnmatchcase(host, where):
            return ban
    return None


def banned(room: Room, member: Member) -> RoomBan | None:
    """The first ban of ``room`` that covers ``member`` (None if an exception covers them)."""
    if matching(room.settings.exceptions, member) is not None:
        return None
    return matching(room.settings.bans, member)


def check_entry(room: Room, member: Member, key: str) -> None:
    """May ``member`` enter ``room`` with ``key``? Raises a refusal if not."""
    settings = room.settings
    if runs(room, member) or name_key(member.name) in settings.invited:
        return  # an invitation opens every door of the room, once
    if settings.invite_only and matching(settings.invite_exceptions, member) is None:
        raise InviteOnly(room.name)
    if settings.key and key != settings.key:
        raise BadRoomKey(room.name)
    if settings.limit and len(room.members) >= settings.limit:
        raise RoomFull(room.name)
    if banned(room, member) is not None:
        raise BannedFromRoom(room.name)


def check_speech(room: Room, member: Member) -> None:
    """Raises :class:`CannotSpeak` in a moderated room for those without a voice."""
    if room.settings.moderated and not (runs(room, member) or member in room.voiced):
        raise CannotSpeak(room.name)


def check_topic(room: Room, member: Member) -> None:
    if room.settings.topic_locked and not runs(room, member):
        raise NotRoomOperator(room.name)


def apply(room: Room, by: Member, changes: list[Change]) -> list[Change]:
    """Apply what an operator asks; returns what changed (in order).

    Raises:
        NotRoomOperator: ``by`` does not run the room (nothing is changed).
        NoSuchMember, NotInRoom: an ``op`` or ``voice`` for someone not in
            it (``NotInRoom.room`` is then the name); the changes before it stay.
    """
    if not runs(room, by):
        raise NotRoomOperator(room.name)
    done: list[Change] = []
    for setting, on, value in changes:
        if _apply_one(room, by.name, setting, on, value):
            done.append((setting, on, value))
    return done


def apply_relayed(room: Room, by: str, changes: Iterable[Change]) -> list[Change]:
    """Apply what ``by``, an operator of ``room`` on another server, changed there.

    That server checked who may; a change that does not fit here (an ``op``
    for someone not in the room here, say) is skipped. Returns what changed.
    """
    done: list[Change] = []
    for setting, on, value in changes:
        with suppress(NotInRoom, BadSetting):
            if _apply_one(room, by, setting, on, value):
                done.append((setting, on, value))
    return done


def _apply_one(room: Room, by: str, setting: str, on: bool, value: str) -> bool:
    settings = room.settings
    match setting:
        case "op" | "voice":
            target = room.members.get(name_key(value))
            if target is None:
                raise NotInRoom(value)
            group = room.ops if setting == "op" else room.voiced
            if (target in group) == on:
                return False
            (group.add if on else group.discard)(target)
        case "ban" | "exception" | "invite-exception":
            return _mask(masks_of(room, setting), by, on, value)
        case "key":
            if on and not valid_key(value):
                raise BadSetting("key", value)
            if on == bool(settings.key) and (not on or settings.key == value):
                return False
            settings.key = value if on else ""
        case "limit":
            limit = int(value) if on and value.isdigit() else 0
            if limit == settings.limit:
                return False
            settings.limit = limit
        case _:
            attribute = setting.replace("-", "_")
            if getattr(settings, attribute) == on:
                return False
            setattr(settings, attribute, on)
    return True


def masks_of(room: Room, setting: str) -> list[RoomBan]:
    """The list of masks that ``setting`` (``ban``, ``exception``, ``invite-exception``) names."""
    settings = room.settings
    lists = {
        "ban": settings.bans,
        "exception": settings.exceptions,
        "invite-exception": settings.invite_exceptions,
    }
    return lists[setting]


def _mask(bans: list[RoomBan], by: str, on: bool, mask: str) -> bool:
    present = [ban for ban in bans if name_key(ban.mask) == name_key(mask)]
    if on:
        if present or len(bans) >= MAX_BANS:
            return False
        bans.append(RoomBan(mask, by, time.time()))
        return True
    for ban in present:
        bans.remove(ban)
    return bool(present)


def valid_key(key: str) -> bool:
    """A room key: 1 to MAX_KEY characters, no spaces, commas or control characters."""
    return 0 < len(key) <= MAX_KEY and key.isprintable() and not set(key) & {" ", ","}


def find(room: Room, name: str) -> Member:
    """``name`` among the room's members. Raises NoSuchMember."""
    member = room.members.get(name_key(name))
    if member is None:
        raise NoSuchMember(name)
    return member
