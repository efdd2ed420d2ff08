"""WHOX (ISUPPORT ``WHOX``): ``WHO mask %fields[,token]`` answers 354 with those fields.

The fields, always in this order whatever the order asked: ``t`` the token,
``c`` channel, ``u`` username, ``i`` IP, ``h`` host, ``s`` server, ``n`` nick,
``f`` flags, ``d`` hops, ``l`` idle seconds, ``a`` account (``0``: none),
``o`` op level, ``r`` real name. Who is listed, and with which flags, is
plain WHO's answer (:mod:`.queries`): this module rewrites its 352 lines (and adds
bot mode's ``B`` to the flags of bots, and with multi-prefix every prefix, for plain WHO
too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trio_chat.irc import channels, queries
from trio_chat.irc import numerics as n
from trio_chat.irc.codec import BadMessage, IrcMessage, parse
from trio_chat.irc.dispatch import command
from trio_chat.irc.extensions import MULTI_PREFIX
from trio_chat.irc.server_info import ISUPPORT_EXTRA

if TYPE_CHECKING:
    from trio_chat.irc.session import IrcSession

RPL_WHOSPCRPL = "354"
FIELDS = "tcuihsnfdlaor"
# A token is at most 3 digits (the WHOX convention).
TOKEN_CHARS = 3

ISUPPORT_EXTRA["WHOX"] = ""


def whox_fields(row: tuple[str, ...], fields: str, token: str, account: str) -> list[str]:
    """The 354 parameters (after the asker's nick) for one 352 row's parameters."""
    channel, user, host, server, nick, flags, rest = row[1:8]
    hops, _, realname = rest.partition(" ")
    values = {
        "t": token,
        "c": channel,
        "u": user,
        "i": "255.255.255.255",
        "h": host,
        "s": server,
        "n": nick,
        "f": flags,
        "d": hops or "0",
        "l": "0",
        "a": account or "0",
        "o": "n/a",
        "r": realname,
    }
    return [values[field] for field in FIELDS if field in fields]


def every_prefix(session: IrcSession, row: tuple[str, ...]) -> tuple[str, ...]:
    """With multi-prefix: every prefix (``@+``) of the member in the row's channel."""
    if MULTI_PREFIX not in session.caps or row[1] == "*":
        return row
    room, member = session.service.hub.room(row[1]), session.service.hub.find(row[5])
    if room is None or member is None:
        return row
    flags = row[6].rstrip("@+") + channels.prefix(room, member, every=True)
    return (*row[:6], flags, *row[7:])


@command("WHO")
async def who(session: IrcSession, message: IrcMessage) -> None:
    whox = len(message.params) > 1 and message.params[1].startswith("%")
    fields, _, token = message.params[1][1:].partition(",") if whox else ("", "", "")
    token = token[:TOKEN_CHARS] if token.isdigit() else "0"
    earlier = session.take_replies()
    await queries.who(session, IrcMessage("WHO", message.params[:1], message.source))
    answer = session.take_replies()
    for line in earlier:
        session.send_line(line)
    for line in answer:
        reply = parse(line)
        if isinstance(reply, BadMessage) or reply.command != n.RPL_WHOREPLY:
            session.send_line(line)
            continue
        person = session.wire.people.of(reply.params[5])
        row = every_prefix(session, reply.params)
        if person.bot:  # IRCv3 bot mode: B in the flags
            row = (*row[:6], row[6][:1] + "B" + row[6][1:], *row[7:])
        if not whox:
            session.reply(n.RPL_WHOREPLY, *row[1:])
            continue
        session.reply(RPL_WHOSPCRPL, *whox_fields(row, fields, token, person.account))
