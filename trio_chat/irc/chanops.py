"""Channel modes and invitations: MODE #channel and INVITE, through the room's rules.

The room's operators (who opened it, whom they named with ``+o``, and the
server's operators) change its rules; the service checks and announces
(:mod:`trio_chat.core.roomrules`). A query (``MODE #dev``, ``MODE #dev b``)
is answered to anyone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
from trio_chat.irc.modes import SETTINGS, modes_of, parse_modes

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
    if "b" in lists:
        for ban in room.settings.bans:
            session.reply(n.RPL_BANLIST, room.name, ban.mask, ban.by, str(int(ban.time)))
        session.reply(n.RPL_ENDOFBANLIST, room.name, "End of channel ban list")
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


def _online(session: IrcSession, name: str) -> bool:
    try:
        session.service.member(name)
    except NoSuchMember:
        return False
    return True


@command("INVITE", params=2)
async def invite(session: IrcSession, message: IrcMessage) -> None:
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
