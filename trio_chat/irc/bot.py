"""IRCv3 bot mode (ISUPPORT ``BOT=B``): a client marks itself a bot with ``MODE nick +B``.

A bot's messages carry the ``bot`` tag (for ``message-tags`` clients), ``WHOIS``
says so (``335``) and ``WHO`` shows ``B`` in its flags. The mark is the IRC
door's own: bots are IRC clients (:class:`~trio_chat.irc.wire.Person`'s ``bot``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trio_chat.core.names import name_key
from trio_chat.irc import numerics as n
from trio_chat.irc import queries
from trio_chat.irc.codec import BadMessage, IrcMessage, format_message, parse
from trio_chat.irc.dispatch import command
from trio_chat.irc.server_info import ISUPPORT_EXTRA

if TYPE_CHECKING:
    from trio_chat.irc.session import IrcSession

BOT_MODE = "B"
RPL_WHOISBOT = "335"
ISUPPORT_EXTRA["BOT"] = BOT_MODE


def split_bot(changes: str) -> tuple[bool | None, str]:
    """Whether ``changes`` (``+iB``...) sets (True) or clears (False) B, and the rest."""
    adding, wanted, rest = True, None, ""
    for char in changes:
        if char in "+-":
            adding = char == "+"
            rest += char
        elif char == BOT_MODE:
            wanted = adding
        else:
            rest += char
    return wanted, rest if rest.strip("+-") else ""


@command("MODE", params=1)
async def mode(session: IrcSession, message: IrcMessage) -> None:
    target, args = message.params[0], message.params[1:]
    own = not target.startswith("#") and name_key(target) == name_key(session.nick)
    if not own or not args or BOT_MODE not in args[0]:
        await queries.mode(session, message)
        if own and not args:
            mark_umodeis(session)
        return
    wanted, rest = split_bot(args[0])
    if rest:
        await queries.mode(session, IrcMessage("MODE", (target, rest), message.source))
    person = session.wire.people.of(session.nick)
    if wanted is not None and person.irc and person.bot != wanted:
        person.bot = wanted
        change = ("+" if wanted else "-") + BOT_MODE
        session.send(IrcMessage("MODE", (session.nick, change), session.mask()))


def mark_umodeis(session: IrcSession) -> None:
    """Add B to the 221 just queued, for a bot."""
    if not session.wire.people.of(session.nick).bot:
        return
    lines = session.take_replies()
    for line in lines:
        reply = parse(line)
        if not isinstance(reply, BadMessage) and reply.command == n.RPL_UMODEIS:
            params = (*reply.params[:-1], reply.params[-1] + BOT_MODE)
            line = format_message(IrcMessage(reply.command, params, reply.source))
        session.send_line(line)


@command("WHOIS", params=1)
async def whois(session: IrcSession, message: IrcMessage) -> None:
    await queries.whois(session, message)
    lines = session.take_replies()
    for line in lines:
        reply = parse(line)
        if not isinstance(reply, BadMessage) and reply.command == n.RPL_ENDOFWHOIS:
            nick = reply.params[1]
            if session.service.hub.find(nick) is not None and session.wire.people.of(nick).bot:
                session.reply(RPL_WHOISBOT, nick, "is a bot")
        session.send_line(line)
