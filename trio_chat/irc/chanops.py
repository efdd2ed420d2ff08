"""Channel modes and invitations: MODE #channel and INVITE, through the room's rules.

The room's operators (who opened it, whom they named with ``+o``, and the
server's operators) change its rules; the service checks and announces
(:mod:`trio_chat.core.roomrules`). A query (``MODE #dev``, ``MODE #dev b``)
is answered to anyone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trio_chat.core import roomrules
from trio_chat.core.members import Room
from trio_chat.core.refusals import (
    AlreadyInRoom,
    BadSetting,
    NoSuchMember,
    NoSuchRoom,
    NotInRoom,
    NotRoomOperator,
)
from trio_chat.irc import numerics as n
from trio_chat.irc.codec import IrcMessage
from trio_chat.irc.dispatch import command
from trio_chat.irc.modes import LETTERS, SETTINGS, modes_of, parse_modes

if TYPE_CHECKING:
    from trio_chat.irc.session import IrcSession


def channel_mode(session: IrcSession, channel: str, args: tuple[str, ...]) -> None:
    try:
        room = session.service.room(channel)
    except NoSuchRoom:
        session.reply(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
        return
    member = session.client.named()
    if not args:
        session.reply(
            n.RPL_CHANNELMODEIS, room.name, *modes_of(room, member=room.name in member.rooms)
        )
        session.reply(n.RPL_CREATIONTIME, room.name, str(int(room.created)))
        return
    changes, unknown, lists = parse_modes(args)
    for char in unknown:
        session.reply(n.ERR_UNKNOWNMODE, char, "is unknown mode char to me")
    for letter in lists:
        mask_list(session, room, letter)
    if not changes:
        return
    try:
        session.flush()
        session.service.change_room(session.client, room.name, changes)
    except NotRoomOperator:
        session.reply(n.ERR_CHANOPRIVSNEEDED, room.name, "You're not channel operator")
    except BadSetting as exc:
        letter = SETTINGS.get(exc.setting, "*")
        session.reply(n.ERR_INVALIDMODEPARAM, room.name, letter, "*", "Invalid mode parameter")
    except NotInRoom as exc:
        if session.service.online() and _online(session, exc.room):
            session.reply(
                n.ERR_USERNOTINCHANNEL, exc.room, room.name, "They aren't on that channel"
            )
        else:
            session.reply(n.ERR_NOSUCHNICK, exc.room, "No such nick/channel")


# A list mode's numerics and the word of its end (RFC 2812 3.2.3, modern.ircdocs.horse).
LISTS = {
    "b": (n.RPL_BANLIST, n.RPL_ENDOFBANLIST, "End of channel ban list"),
    "e": (n.RPL_EXCEPTLIST, n.RPL_ENDOFEXCEPTLIST, "End of channel exception list"),
    "I": (n.RPL_INVEXLIST, n.RPL_ENDOFINVEXLIST, "End of Channel Invite Exception List"),
}


def mask_list(session: IrcSession, room: Room, letter: str) -> None:
    """``MODE #dev b``: one line per mask (who set it and when), then the end."""
    item, end, words = LISTS[letter]
    for mask in roomrules.masks_of(room, LETTERS[letter]):
        session.reply(item, room.name, mask.mask, mask.by, str(int(mask.time)))
    session.reply(end, room.name, words)


def _online(session: IrcSession, name: str) -> bool:
    try:
        session.service.member(name)
    except NoSuchMember:
        return False
    return True


@command("INVITE")
async def invite(session: IrcSession, message: IrcMessage) -> None:
    """``INVITE nick #chan``; a bare ``INVITE`` lists one's invitations (336, 337)."""
    if not message.params:
        for room in session.service.invitations(session.client):
            session.reply(n.RPL_INVITELIST, room)
        session.reply(n.RPL_ENDOFINVITELIST, "End of /INVITE list")
        return
    if len(message.params) < 2:
        session.reply(n.ERR_NEEDMOREPARAMS, "INVITE", "Not enough parameters")
        return
    nick, channel = message.params[0], message.params[1]
    try:
        session.flush()
        name = session.service.invite(session.client, channel, nick)
    except NoSuchMember:
        session.reply(n.ERR_NOSUCHNICK, nick, "No such nick/channel")
    except NoSuchRoom:
        session.reply(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
    except NotInRoom:
        session.reply(n.ERR_NOTONCHANNEL, channel, "You're not on that channel")
    except NotRoomOperator:
        session.reply(n.ERR_CHANOPRIVSNEEDED, channel, "You're not channel operator")
    except AlreadyInRoom:
        session.reply(n.ERR_USERONCHANNEL, nick, channel, "is already on channel")
    else:
        session.reply(n.RPL_INVITING, name, session.service.room(channel).name)
