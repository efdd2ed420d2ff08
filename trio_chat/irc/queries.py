"""Who is who: WHO, WHOIS, WHOWAS, ISON, USERHOST, AWAY and MODE.

Users of the other doors answer too: a text user ``bob`` is
``bob!bob@trio-chat`` with the real name ``bob``. Server operators are
``@`` in every channel and ``*`` in WHO; the user modes are ``i`` (not
listed by a WHO mask to those who share no channel; LUSERS counts them
apart), ``w`` (kept), ``o`` (given by OPER) and ``B`` (a bot: :mod:`.bot`).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from trio_chat.core.members import Member
from trio_chat.core.names import name_key
from trio_chat.core.refusals import NoSuchMember, NoSuchRoom
from trio_chat.irc import numerics as n
from trio_chat.irc.channels import prefix, visible
from trio_chat.irc.chanops import channel_mode
from trio_chat.irc.codec import IrcMessage
from trio_chat.irc.dispatch import command
from trio_chat.irc.formatting import strip_formatting

if TYPE_CHECKING:
    from trio_chat.irc.session import IrcSession

# The most WHO replies one mask gets.
WHO_MOST = 500


def _find(session: IrcSession, nick: str) -> Member | None:
    try:
        return session.service.member(nick)
    except NoSuchMember:
        return None


def _channels(session: IrcSession, member: Member) -> str:
    shown = []
    for name in sorted(member.rooms, key=name_key):
        room = session.service.room(name)
        if visible(session, room):
            shown.append(prefix(room, member, every="multi-prefix" in session.caps) + name)
    return " ".join(shown)


@command("WHO")
async def who(session: IrcSession, message: IrcMessage) -> None:
    mask = message.params[0] if message.params else "*"
    if mask.startswith("#"):
        try:
            room = session.service.room(mask)
        except NoSuchRoom:
            session.reply(n.RPL_ENDOFWHO, mask, "End of WHO list")
            return
        members = room.members.values() if visible(session, room) else ()
        for member in sorted(members, key=lambda m: name_key(m.name)):
            who_reply(session, room.name, member, prefix(room, member))
    else:
        pattern = name_key(mask)
        online = session.service.members(client=session.client)
        names = [name for name in online if fnmatchcase(name_key(name), pattern)]
        found = [m for name in names if (m := _find(session, name)) is not None]
        if any(char in mask for char in "*?"):
            found = [m for m in found if _listed(session, m)]
        for member in found[:WHO_MOST]:
            channel = _shared(session, member)
            status = prefix(session.service.room(channel), member) if channel != "*" else ""
            who_reply(session, channel, member, status)
    session.reply(n.RPL_ENDOFWHO, mask, "End of WHO list")


def _listed(session: IrcSession, member: Member) -> bool:
    """Whether a WHO mask lists ``member``: not if invisible (+i) and sharing no room."""
    own = session.client.named()
    invisible = session.wire.people.of(member.name).invisible
    return not invisible or member is own or bool(member.rooms & own.rooms)


def _shared(session: IrcSession, member: Member) -> str:
    """A channel ``member`` shares with the asker, or ``*``."""
    own = session.client.named().rooms
    return next(iter(sorted(member.rooms & own)), "*")


def who_reply(session: IrcSession, channel: str, member: Member, status: str = "") -> None:
    person = session.wire.people.of(member.name)
    flags = ("G" if member.away else "H") + ("*" if member.operator else "") + status
    session.reply(
        n.RPL_WHOREPLY,
        channel,
        person.ident,
        person.host,
        session.settings.server,
        member.name,
        flags,
        f"0 {person.realname}",
    )


@command("WHOIS", params=1)
async def whois(session: IrcSession, message: IrcMessage) -> None:
    nicks = message.params[-1]
    for nick in [word for word in nicks.split(",") if word][:1]:
        member = _find(session, nick)
        if member is None:
            session.reply(n.ERR_NOSUCHNICK, nick, "No such nick/channel")
            session.reply(n.RPL_ENDOFWHOIS, nick, "End of /WHOIS list")
            continue
        person = session.wire.people.of(member.name)
        name = member.name
        session.reply(n.RPL_WHOISUSER, name, person.ident, person.host, "*", person.realname)
        if member.rooms:
            session.reply(n.RPL_WHOISCHANNELS, name, _channels(session, member))
        session.reply(n.RPL_WHOISSERVER, name, session.settings.server, session.settings.info)
        if member.operator:
            session.reply(n.RPL_WHOISOPERATOR, name, "is an IRC operator")
        if person.account:
            session.reply(n.RPL_WHOISACCOUNT, name, person.account, "is logged in as")
        if member.away:
            session.reply(n.RPL_AWAY, name, member.away)
        session.reply(n.RPL_ENDOFWHOIS, name, "End of /WHOIS list")


@command("WHOWAS", params=1)
async def whowas(session: IrcSession, message: IrcMessage) -> None:
    nick = message.params[0].split(",")[0]
    count = int(message.params[1]) if len(message.params) > 1 and message.params[1].isdigit() else 0
    found = session.wire.people.was(nick)
    if count > 0:
        found = found[:count]
    if not found:
        session.reply(n.ERR_WASNOSUCHNICK, nick, "There was no such nickname")
    for was in found:
        person = was.person
        session.reply(n.RPL_WHOWASUSER, was.nick, person.ident, person.host, "*", person.realname)
        session.reply(n.RPL_WHOISSERVER, was.nick, session.settings.server, session.settings.info)
    session.reply(n.RPL_ENDOFWHOWAS, nick, "End of WHOWAS")


@command("ISON", params=1)
async def ison(session: IrcSession, message: IrcMessage) -> None:
    words = " ".join(message.params).split()
    online = [member.name for word in words if (member := _find(session, word)) is not None]
    session.reply(n.RPL_ISON, " ".join(online))


@command("USERHOST", params=1)
async def userhost(session: IrcSession, message: IrcMessage) -> None:
    words = " ".join(message.params).split()[:5]
    replies = []
    for word in words:
        member = _find(session, word)
        if member is None:
            continue
        person = session.wire.people.of(member.name)
        oper = "*" if member.operator else ""
        here = "-" if member.away else "+"
        replies.append(f"{member.name}{oper}={here}{person.ident}@{person.host}")
    session.reply(n.RPL_USERHOST, " ".join(replies))


@command("AWAY")
async def away(session: IrcSession, message: IrcMessage) -> None:
    why = strip_formatting(message.params[0]) if message.params else ""
    session.service.set_away(session.client, why)
    if session.client.named().away:
        session.reply(n.RPL_NOWAWAY, "You have been marked as being away")
    else:
        session.reply(n.RPL_UNAWAY, "You are no longer marked as being away")


# --- MODE -------------------------------------------------------------------------


@command("MODE", params=1)
async def mode(session: IrcSession, message: IrcMessage) -> None:
    target = message.params[0]
    if target.startswith("#"):
        channel_mode(session, target, message.params[1:])
    else:
        user_mode(session, target, message.params[1:])


def user_mode(session: IrcSession, nick: str, args: tuple[str, ...]) -> None:
    member = session.client.named()
    if _find(session, nick) is None:
        session.reply(n.ERR_NOSUCHNICK, nick, "No such nick/channel")
        return
    if name_key(nick) != name_key(member.name):
        session.reply(n.ERR_USERSDONTMATCH, "Can't change mode for other users")
        return
    if not args:
        session.reply(n.RPL_UMODEIS, "+" + "".join(sorted(modes_of(session))))
        return
    applied = apply_user_modes(session, args[0])
    if applied:
        session.send(IrcMessage("MODE", (member.name, applied), session.mask()))


def modes_of(session: IrcSession) -> set[str]:
    member = session.client.named()
    return session.modes | ({"o"} if member.operator else set())


def apply_user_modes(session: IrcSession, changes: str) -> str:
    """Apply ``+i-i``... (``o`` comes only from OPER); what changed, as ``+i``."""
    adding, done, unknown = True, "", False
    for char in changes:
        if char in "+-":
            adding = char == "+"
        elif char == "i":
            if (char in session.modes) != adding:
                session.modes.symmetric_difference_update(char)
                done += ("+" if adding else "-") + char
                if session.person is not None:
                    session.person.invisible = adding
        elif char == "w":
            if adding:
                session.modes.add(char)
            else:
                session.modes.discard(char)
        elif char != "o":
            unknown = True
    if unknown:
        session.reply(n.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")
    return done
