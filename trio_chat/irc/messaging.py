"""PRIVMSG and NOTICE, to channels and nicks; CTCP ACTION is the chat's ``/me``.

A message says something through the service: in a room (``say``, ``act``)
or to one member (``private``). What an IRC line cannot carry whole once
the sender's ``nick!ident@host`` is in front of it is refused with ``417``
rather than cut: nothing accepted is silently shortened. Other CTCP
requests (VERSION, PING...) are not relayed: the sender hears so.

NOTICE never gets an automatic reply (RFC 2812): its errors are not sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trio_chat.core.events import ClientTags
from trio_chat.core.names import name_key
from trio_chat.core.refusals import CannotSpeak, Muted, NoSuchMember, NotInRoom, TooLong
from trio_chat.irc import numerics as n
from trio_chat.irc.codec import MAX_LINE_BYTES, IrcMessage
from trio_chat.irc.dispatch import command
from trio_chat.irc.formatting import strip_formatting
from trio_chat.irc.wire import private_action

if TYPE_CHECKING:
    from trio_chat.irc.session import IrcSession

# The most targets one PRIVMSG or NOTICE reaches (ISUPPORT MAXTARGETS, TARGMAX); the others
# get 407 ERR_TOOMANYTARGETS (RFC 2812 3.3.1).
MAX_TARGETS = 4
# CTCP messages are framed by this (the closing one may be missing); only ACTION is relayed.
CTCP = "\x01"
# The most of an unrelayed CTCP command's name the notice shows.
MAX_CTCP_SHOWN = 32


@command("PRIVMSG")
async def privmsg(session: IrcSession, message: IrcMessage) -> None:
    speak(session, message, quiet=False)


@command("NOTICE")
async def notice(session: IrcSession, message: IrcMessage) -> None:
    speak(session, message, quiet=True)


def speak(session: IrcSession, message: IrcMessage, *, quiet: bool) -> None:
    if not message.params or not message.params[0]:
        if not quiet:
            session.reply(n.ERR_NORECIPIENT, f"No recipient given ({message.command})")
        return
    if len(message.params) < 2 or not message.params[1]:
        if not quiet:
            session.reply(n.ERR_NOTEXTTOSEND, "No text to send")
        return
    text = message.params[1]
    wanted = list(dict.fromkeys(t for t in message.params[0].split(",") if t))
    for target in wanted[MAX_TARGETS:]:
        if not quiet:
            session.reply(n.ERR_TOOMANYTARGETS, target, f"Too many targets (at most {MAX_TARGETS})")
    for target in wanted[:MAX_TARGETS]:
        if not fits(session, message.command, target, text):
            if not quiet:
                session.reply(n.ERR_INPUTTOOLONG, "Input line was too long")
            continue
        say_one(session, target, text, quiet=quiet, tags=client_tags(message))


def fits(session: IrcSession, command: str, target: str, text: str) -> bool:
    """Whether the line others will receive (with our mask in front) fits in 512 bytes."""
    line = f":{session.mask()} {command} {target} :{text}\r\n"
    return len(line.encode()) <= MAX_LINE_BYTES


def client_tags(message: IrcMessage) -> ClientTags:
    """The client-only tags (``+name``) of ``message``, to relay (IRCv3 message-tags)."""
    return tuple((key, value) for key, value in message.tags.items() if key.startswith("+"))


def say_one(
    session: IrcSession, target: str, text: str, *, quiet: bool, tags: ClientTags = ()
) -> None:
    service, client = session.service, session.client
    action = False
    if text.startswith(CTCP):
        verb, _, rest = text[1:].removesuffix(CTCP).partition(" ")
        if verb.upper() != "ACTION":
            if not quiet:
                shown = strip_formatting(verb)[:MAX_CTCP_SHOWN] or "(empty)"
                session.notice(f"CTCP {shown} is not relayed here: only ACTION (/me) is")
            return
        action, text = True, rest
    text = strip_formatting(text)
    try:
        session.flush()
        if target.startswith("@#"):
            service.say_to_operators(client, target[1:], text)
        elif target.startswith("#"):
            if action:
                service.act(client, target, text, tags=tags)
            else:
                service.say(client, target, text, notice=quiet, tags=tags)
        elif action:
            service.private(client, target, private_action(session.nick, text), tags=tags)
        else:
            recipient = service.private(client, target, text, notice=quiet, tags=tags).target
            away = service.member(recipient).away
            if away and not quiet:
                session.reply(n.RPL_AWAY, recipient, away)
    except NotInRoom:
        if quiet:
            pass
        elif any(name_key(target) == name_key(r.name) for r in service.rooms()):
            session.reply(n.ERR_CANNOTSENDTOCHAN, target, "Cannot send to channel")
        else:
            session.reply(n.ERR_NOSUCHCHANNEL, target, "No such channel")
    except (NoSuchMember, CannotSpeak, Muted) as refusal:
        if not quiet:
            cannot_send(session, target, refusal)
    except TooLong as exc:
        if not quiet:
            session.reply(n.ERR_INPUTTOOLONG, f"Too long (max {exc.limit} {exc.unit})")


def cannot_send(
    session: IrcSession, target: str, refusal: NoSuchMember | CannotSpeak | Muted
) -> None:
    """Answer what the service refused of a message (or a TAGMSG) to ``target``."""
    if isinstance(refusal, NoSuchMember):
        session.reply(n.ERR_NOSUCHNICK, target, "No such nick/channel")
    elif isinstance(refusal, CannotSpeak):
        session.reply(n.ERR_CANNOTSENDTOCHAN, target, "Cannot send to channel (+m)")
    else:
        session.reply(n.ERR_CANNOTSENDTOCHAN, target, "You are muted")
