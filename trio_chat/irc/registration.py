"""Registration: PASS, NICK, USER, CAP, and signing on through the service.

``CAP LS``/``CAP REQ`` hold registration until ``CAP END`` (IRCv3
capability negotiation, version 302). ``PASS`` is the server's password;
``NICK`` is checked as it comes (432, 433) and again when the client signs
on, since someone may have taken it meanwhile. After registration ``NICK``
renames (see :mod:`.queries`) and ``CAP REQ`` still works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trio_chat.core.names import clean_text
from trio_chat.core.refusals import (
    Banned,
    InvalidName,
    NameBanned,
    NameRegistered,
    NameTaken,
    PasswordNeeded,
    Refused,
    ServerClosing,
    WrongPassword,
    WrongServerPassword,
)
from trio_chat.irc import caps as capabilities
from trio_chat.irc import numerics as n
from trio_chat.irc.codec import IrcMessage
from trio_chat.irc.dispatch import command
from trio_chat.irc.server_info import welcome
from trio_chat.irc.wire import Person

if TYPE_CHECKING:
    from trio_chat.irc.session import IrcSession

# The longest ident kept from USER, and real name.
USERLEN = 16
REALNAMELEN = 100


@command("PASS", params=1, early=True)
async def pass_(session: IrcSession, message: IrcMessage) -> None:
    if session.registered:
        session.reply(n.ERR_ALREADYREGISTERED, "You may not reregister")
        return
    session.password = message.params[0]


@command("USER", params=4, early=True)
async def user(session: IrcSession, message: IrcMessage) -> None:
    if session.registered or session.person is not None:
        session.reply(n.ERR_ALREADYREGISTERED, "You may not reregister")
        return
    realname = clean_text(message.params[3]).strip()[:REALNAMELEN]
    if not message.params[0] or not realname:
        session.reply(n.ERR_NEEDMOREPARAMS, "USER", "Not enough parameters")
        return
    kept = "".join(c for c in message.params[0] if c.isascii() and (c.isalnum() or c in "-_."))
    ident = kept[:USERLEN] or "user"
    session.person = Person(ident, session.host, realname)


@command("NICK", early=True)
async def nick(session: IrcSession, message: IrcMessage) -> None:
    if not message.params or not message.params[0]:
        session.reply(n.ERR_NONICKNAMEGIVEN, "No nickname given")
        return
    wanted = message.params[0]
    if session.registered:
        await rename(session, wanted)
        return
    try:
        session.wanted = session.service.check_nick(session.client, wanted)
    except PasswordNeeded:
        session.wanted = wanted  # the password is checked on completing
    except Refused as exc:
        nick_refused(session, wanted, exc)


async def rename(session: IrcSession, wanted: str) -> None:
    old = session.nick
    try:
        new = await session.service.rename(session.client, wanted)
    except Refused as exc:
        nick_refused(session, wanted, exc)
        return
    session.wire.people.rename(old, new)


def nick_refused(session: IrcSession, wanted: str, exc: Refused) -> None:
    match exc:
        case InvalidName(problem):
            session.reply(n.ERR_ERRONEUSNICKNAME, wanted, f"Erroneous nickname: {problem}")
        case NameTaken():
            session.reply(n.ERR_NICKNAMEINUSE, wanted, "Nickname is already in use")
        case NameRegistered():
            session.reply(
                n.ERR_NICKNAMEINUSE, wanted, "Nickname is registered: log in with SASL to use it"
            )
        case NameBanned() | Banned():
            session.reply(n.ERR_ERRONEUSNICKNAME, wanted, "Nickname is banned")
        case _:
            raise exc


async def complete(session: IrcSession) -> None:
    """NICK and USER given, CAP done: sign on, or say why not."""
    assert session.wanted is not None
    assert session.person is not None
    service, client = session.service, session.client
    try:
        if service.needs_password and not client.admitted:
            if session.password is None:
                raise PasswordNeeded
            service.give_password(client, session.password)
        wanted = session.wanted
        session.wire.people.add(wanted, session.person)
        try:
            await service.sign_on(
                client, wanted, session.wire.encoder(session.caps), session.connection
            )
        finally:
            if client.member is None:
                session.wire.people.remove(wanted)
    except (PasswordNeeded, WrongServerPassword):
        session.reply(n.ERR_PASSWDMISMATCH, "Password incorrect")
        session.error("Closing Link: Bad password")
    except Banned as exc:
        session.reply(n.ERR_YOUREBANNEDCREEP, f"You are banned from this server ({exc.ban.term()})")
        session.error("Closing Link: Banned")
    except ServerClosing:
        session.error("Closing Link: Server shutting down")
    except WrongPassword:
        session.error("Closing Link: Wrong password")
    except Refused as exc:
        nick_refused(session, session.wanted, exc)
        session.wanted = None
    else:
        for cap in session.caps:
            found = capabilities.CAPABILITIES.get(cap)
            if found is not None and found.on_change is not None:
                found.on_change(session, True)
        welcome(session)


# --- CAP --------------------------------------------------------------------------


@command("CAP", params=1, early=True)
async def cap(session: IrcSession, message: IrcMessage) -> None:
    sub = message.params[0].upper()
    args = message.params[1:]
    match sub:
        case "LS":
            version = int(args[0]) if args and args[0].isdigit() else 0
            session.cap_version = max(session.cap_version, version)
            if not session.registered:
                session.negotiating = True
            cap_list(session, "LS", capabilities.listing(session.cap_version))
        case "LIST":
            cap_list(session, "LIST", sorted(session.caps))
        case "REQ":
            if not session.registered:
                session.negotiating = True
            request(session, args[0] if args else "")
        case "END":
            session.negotiating = False
        case _:
            session.reply(n.ERR_INVALIDCAPCMD, message.params[0], "Invalid CAP command")


def cap_list(session: IrcSession, sub: str, words: list[str]) -> None:
    """``CAP * LS :...``, over several lines (``*`` continuation, 302) if long."""
    lines: list[list[str]] = [[]]
    size = 0
    for word in words:
        if lines[-1] and size + len(word) > 380:
            lines.append([])
            size = 0
        lines[-1].append(word)
        size += len(word) + 1
    for index, group in enumerate(lines):
        more = index < len(lines) - 1 and session.cap_version >= 302
        params = (sub, "*", " ".join(group)) if more else (sub, " ".join(group))
        session.send(IrcMessage("CAP", (session.nick, *params), session.settings.server))


def request(session: IrcSession, text: str) -> None:
    """``CAP REQ``: all of them granted (ACK), or none (NAK)."""
    wanted = text.split()
    changes: list[tuple[str, bool]] = []
    for word in wanted:
        name, on = (word[1:], False) if word.startswith("-") else (word, True)
        if name not in capabilities.CAPABILITIES:
            changes = []
            break
        changes.append((name, on))
    if not changes:
        session.send(IrcMessage("CAP", (session.nick, "NAK", text), session.settings.server))
        return
    for name, on in changes:
        if on:
            session.caps.add(name)
        else:
            session.caps.discard(name)
    session.send(IrcMessage("CAP", (session.nick, "ACK", text), session.settings.server))
    member = session.member
    if member is not None:
        member.encode = session.wire.encoder(session.caps)
        for name, on in changes:
            hook = capabilities.CAPABILITIES[name].on_change
            if hook is not None:
                hook(session, on)
