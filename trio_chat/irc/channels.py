"""Channels: JOIN, PART, NAMES, TOPIC, LIST. An IRC channel ``#dev`` is the room ``#dev``.

Joining replays the room's recent history, as the text door does: the
service reads it and enters the room in one step, so each message is seen
once, in the replay or live.
"""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from trio_chat.core import roomrules
from trio_chat.core.events import Joined, Parted, Past
from trio_chat.core.members import Member, Room
from trio_chat.core.names import name_key
from trio_chat.core.refusals import (
    BadRoomKey,
    BannedFromRoom,
    InvalidName,
    InviteOnly,
    NoSuchRoom,
    NotInRoom,
    NotRoomOperator,
    RoomFull,
    TooLong,
)
from trio_chat.core.roomrules import runs
from trio_chat.irc import numerics as n
from trio_chat.irc.codec import IrcMessage
from trio_chat.irc.dispatch import command
from trio_chat.irc.formatting import strip_formatting

if TYPE_CHECKING:
    from trio_chat.core.store import Entry
    from trio_chat.irc.session import IrcSession

# Bytes of nicks on one 353 line.
NAMES_BYTES = 400


def targets(text: str) -> list[str]:
    return [word for word in text.split(",") if word]


@command("JOIN", params=1)
async def join(session: IrcSession, message: IrcMessage) -> None:
    if message.params[0] == "0":
        for room in sorted(session.client.named().rooms):
            part_one(session, room, "Left all channels")
        return
    keys = targets(message.params[1]) if len(message.params) > 1 else []
    for index, channel in enumerate(targets(message.params[0])):
        await join_one(session, channel, keys[index] if index < len(keys) else "")


async def join_one(session: IrcSession, channel: str, key: str = "") -> None:
    if not channel.startswith("#"):
        session.reply(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
        return
    try:
        arrival = await session.service.enter(session.client, channel, key)
    except InvalidName:
        session.reply(n.ERR_NOSUCHCHANNEL, channel, "Invalid channel name")
        return
    except InviteOnly:
        session.reply(n.ERR_INVITEONLYCHAN, channel, "Cannot join channel (+i)")
        return
    except BadRoomKey:
        session.reply(n.ERR_BADCHANNELKEY, channel, "Cannot join channel (+k)")
        return
    except RoomFull:
        session.reply(n.ERR_CHANNELISFULL, channel, "Cannot join channel (+l)")
        return
    except BannedFromRoom:
        session.reply(n.ERR_BANNEDFROMCHAN, channel, "Cannot join channel (+b)")
        return
    if arrival.already:
        return
    room = arrival.room
    session.event(Joined(session.nick, room.name))
    if room.topic:
        topic_replies(session, room)
    names(session, room, joining=True)
    session.flush()
    (AFTER_JOIN or replay)(session, room, arrival.entries)


def replay(session: IrcSession, room: Room, entries: list[Entry]) -> None:
    """A room's recent history, as its members heard it."""
    for entry in entries:
        session.event(Past(entry.event))


def topic_replies(session: IrcSession, room: Room) -> None:
    """332, and 333 (who set it, when) if this run knows."""
    session.reply(n.RPL_TOPIC, room.name, room.topic)
    if room.topic_by:
        session.reply(n.RPL_TOPICWHOTIME, room.name, room.topic_by, str(int(room.topic_time)))


def prefix(room: Room, member: Member, *, every: bool = False) -> str:
    """``@`` for the room's (or the server's) operators, ``+`` for the voiced (both: ``every``)."""
    shown = "@" if runs(room, member) else ""
    if member in room.voiced and (every or not shown):
        shown += "+"
    return shown


def visible(session: IrcSession, room: Room) -> bool:
    """Whether the asker may see who is in ``room`` (the core's rule, for every door)."""
    return roomrules.visible(room, session.client.named())


# What follows a join instead of :func:`replay` (set by IRCv3's module: the history as a
# chathistory batch where negotiated, away-notify for the others).
AFTER_JOIN: Callable[[IrcSession, Room, list[Entry]], None] | None = None


# How a nick shows in NAMES (IRCv3 userhost-in-names shows nick!user@host).
NAMES_FORMS: list[Callable[[IrcSession, str], str | None]] = []


def name_shown(session: IrcSession, name: str) -> str:
    for form in NAMES_FORMS:
        shown = form(session, name)
        if shown is not None:
            return shown
    return name


# Lines a join adds before its 366 (IRCv3 read-marker's MARKREAD): (session, room) -> None.
BEFORE_END_OF_NAMES: list[Callable[[IrcSession, Room], None]] = []


def names(session: IrcSession, room: Room, *, joining: bool = False, end: bool = True) -> None:
    """353 lines and 366 for ``room`` (366 left to the caller with ``end=False``)."""
    line: list[str] = []
    size = 0
    symbol = "@" if room.settings.secret else "="
    every = "multi-prefix" in session.caps
    shown_members = room.members.values() if visible(session, room) else ()
    for member in sorted(shown_members, key=lambda m: name_key(m.name)):
        shown = prefix(room, member, every=every) + name_shown(session, member.name)
        if line and size + len(shown.encode()) > NAMES_BYTES:
            session.reply(n.RPL_NAMREPLY, symbol, room.name, " ".join(line))
            line, size = [], 0
        line.append(shown)
        size += len(shown.encode()) + 1
    if line:
        session.reply(n.RPL_NAMREPLY, symbol, room.name, " ".join(line))
    if joining:
        for hook in BEFORE_END_OF_NAMES:
            hook(session, room)
    if end:
        session.reply(n.RPL_ENDOFNAMES, room.name, "End of /NAMES list")


@command("NAMES")
async def names_command(session: IrcSession, message: IrcMessage) -> None:
    if not message.params:
        session.reply(n.RPL_ENDOFNAMES, "*", "End of /NAMES list")
        return
    asked = message.params[0]
    for channel in targets(asked):
        try:
            room = session.service.room(channel)
        except NoSuchRoom:
            continue  # no error for a channel that is not there (RFC 2812 3.2.5)
        names(session, room, end=False)
    # One 366 for the whole request: `366 nick #a,#b :End of /NAMES list`.
    session.reply(n.RPL_ENDOFNAMES, asked, "End of /NAMES list")


@command("PART", params=1)
async def part(session: IrcSession, message: IrcMessage) -> None:
    reason = strip_formatting(message.params[1]) if len(message.params) > 1 else ""
    for channel in targets(message.params[0]):
        part_one(session, channel, reason)


def part_one(session: IrcSession, channel: str, reason: str) -> None:
    try:
        room = session.service.room(channel)
        session.service.part(session.client, channel, reason)
    except NoSuchRoom:
        session.reply(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
        return
    except NotInRoom:
        session.reply(n.ERR_NOTONCHANNEL, channel, "You're not on that channel")
        return
    session.event(Parted(session.nick, room.name, reason))


@command("TOPIC", params=1)
async def topic(session: IrcSession, message: IrcMessage) -> None:
    channel = message.params[0]
    try:
        room = session.service.room(channel)
    except NoSuchRoom:
        session.reply(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
        return
    if len(message.params) == 1:
        if not visible(session, room):  # a secret room, from outside: as if there were none
            session.reply(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
        elif room.topic:
            topic_replies(session, room)
        else:
            session.reply(n.RPL_NOTOPIC, room.name, "No topic is set")
        return
    try:
        session.flush()
        session.service.set_topic(session.client, room.name, strip_formatting(message.params[1]))
    except NotInRoom:
        session.reply(n.ERR_NOTONCHANNEL, room.name, "You're not on that channel")
    except NotRoomOperator:
        session.reply(n.ERR_CHANOPRIVSNEEDED, room.name, "You're not channel operator")
    except TooLong as exc:
        session.reply(n.ERR_INPUTTOOLONG, f"Topic too long (max {exc.limit} {exc.unit})")


@command("LIST")
async def list_command(session: IrcSession, message: IrcMessage) -> None:
    """LIST, LIST #a,#b, and ELIST's filters: masks (M), !masks (N), >N and <N users (U)."""
    wanted = targets(message.params[0]) if message.params else []
    session.reply(n.RPL_LISTSTART, "Channel", "Users  Name")
    for room in session.service.rooms(client=session.client):
        if room.members and visible(session, room) and listed(room, wanted):
            session.reply(n.RPL_LIST, room.name, str(len(room.members)), room.topic)
    session.reply(n.RPL_LISTEND, "End of /LIST")


def listed(room: Room, wanted: list[str]) -> bool:
    """Whether ``room`` matches one of the names or masks, and every !mask, >N and <N."""
    count = len(room.members)
    key = name_key(room.name)
    names = [w for w in wanted if w[:1] not in "!<>"]
    if names and not any(fnmatchcase(key, name_key(name)) for name in names):
        return False
    for word in wanted:
        if word.startswith("!") and fnmatchcase(key, name_key(word[1:])):
            return False
        if word[:1] in "<>" and word[1:].isdigit():
            bound = int(word[1:])
            if not (count > bound if word[0] == ">" else count < bound):
                return False
    return True
