"""Operators: OPER (our operators' password), KICK (out of one channel), KILL (off the server).

The service's moderation decides: who is an operator, how many wrong
passwords end a connection, what a kick does and who hears of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trio_chat.core.refusals import (
    Muted,
    NoOperators,
    NoSuchMember,
    NoSuchRoom,
    NotInRoom,
    NotOperator,
    WrongOperPassword,
)
from trio_chat.irc import numerics as n
from trio_chat.irc.codec import IrcMessage
from trio_chat.irc.dispatch import command
from trio_chat.irc.formatting import strip_formatting

if TYPE_CHECKING:
    from trio_chat.irc.session import IrcSession

# The most nicks one KICK puts out (ISUPPORT TARGMAX=KICK:4); more are dropped, as allowed.
KICK_TARGETS = 4


@command("OPER", params=2)
async def oper(session: IrcSession, message: IrcMessage) -> None:
    try:
        became = session.service.moderation.oper(session.client, message.params[1])
    except NoOperators:
        session.reply(n.ERR_NOOPERHOST, "No O-lines for your host")
        return
    except WrongOperPassword:
        session.reply(n.ERR_PASSWDMISMATCH, "Password incorrect")
        return
    session.reply(n.RPL_YOUREOPER, "You are now an IRC operator")
    if became:
        session.send(IrcMessage("MODE", (session.nick, "+o"), session.mask()))


@command("KILL", params=2)
async def kill(session: IrcSession, message: IrcMessage) -> None:
    nick, reason = message.params[0], strip_formatting(message.params[1])
    try:
        session.flush()
        session.service.moderation.kick(session.client, nick, reason)
    except NotOperator:
        session.reply(n.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
    except NoSuchMember:
        session.reply(n.ERR_NOSUCHNICK, nick, "No such nick/channel")


@command("WALLOPS", params=1)
async def wallops(session: IrcSession, message: IrcMessage) -> None:
    """To every operator online (modern IRC allows WALLOPS to go to operators only)."""
    try:
        session.flush()
        session.service.moderation.to_operators(session.client, message.params[0])
    except NotOperator:
        session.reply(n.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")


@command("KICK", params=2)
async def kick(session: IrcSession, message: IrcMessage) -> None:
    """``KICK #c a,b`` or ``KICK #c,#d a,b`` (pairs, RFC 2812 3.2.8); one KICK line each."""
    channels = [word for word in message.params[0].split(",") if word]
    nicks = [word for word in message.params[1].split(",") if word][:KICK_TARGETS]
    reason = strip_formatting(message.params[2]) if len(message.params) > 2 else ""
    if len(channels) == 1:
        channels *= len(nicks)
    if not nicks or len(channels) != len(nicks):
        session.reply(n.ERR_NEEDMOREPARAMS, "KICK", "One channel, or one for each nick")
        return
    for channel, nick in zip(channels, nicks, strict=True):
        if not kick_one(session, channel, nick, reason):
            return


def kick_one(session: IrcSession, channel: str, nick: str, reason: str) -> bool:
    """Put ``nick`` out of ``channel``; False (and the error sent) if it cannot be done."""
    moderation = session.service.moderation
    try:
        session.flush()
        moderation.kick_out(session.client, channel, nick, reason)
    except NoSuchRoom:
        session.reply(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
        return False
    except NotOperator:
        session.reply(n.ERR_CHANOPRIVSNEEDED, channel, "You're not channel operator")
        return False
    except NoSuchMember:
        session.reply(n.ERR_NOSUCHNICK, nick, "No such nick/channel")
    except NotInRoom as exc:
        if exc.room.startswith("#"):
            session.reply(n.ERR_NOTONCHANNEL, channel, "You're not on that channel")
            return False
        session.reply(n.ERR_USERNOTINCHANNEL, nick, channel, "They aren't on that channel")
    except Muted:
        session.reply(n.ERR_CANNOTSENDTOCHAN, channel, "You are muted")
    return True
