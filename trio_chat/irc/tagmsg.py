"""IRCv3 message-tags' TAGMSG: tags and no text, to a channel or a nick.

Only IRC clients that negotiated ``message-tags`` hear a TAGMSG (a text user
could not show one), with the sender's client-only tags (``+name=value``),
a fresh ``msgid`` and, where asked, the ``time``; the sender gets its echo
with ``echo-message``. The chat service is not involved: nothing is said in
the chat, nothing recorded. A PRIVMSG's client tags are relayed by the service
with the message (:mod:`.messaging`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from trio_chat.core.refusals import CannotSpeak, Muted, NoSuchMember, NoSuchRoom
from trio_chat.irc import numerics as n
from trio_chat.irc.caps import ECHO_MESSAGE, MESSAGE_TAGS, SERVER_TIME
from trio_chat.irc.codec import IrcMessage, format_message
from trio_chat.irc.dispatch import command
from trio_chat.irc.extensions import caps_of
from trio_chat.irc.labels import Delivery
from trio_chat.irc.messaging import cannot_send, client_tags
from trio_chat.irc.wire import iso_time

if TYPE_CHECKING:
    from trio_chat.core.members import Member
    from trio_chat.irc.session import IrcSession


def tagged(session: IrcSession, target: str, tags: dict[str, str], caps: Iterable[str]) -> str:
    """The TAGMSG line for a client with ``caps``."""
    shown = dict(tags)
    if SERVER_TIME not in caps:
        shown.pop("time", None)
    return format_message(IrcMessage("TAGMSG", (target,), session.mask(), shown))


def deliver(
    session: IrcSession, members: Iterable[Member], target: str, tags: dict[str, str]
) -> None:
    for member in members:
        caps = caps_of(member)
        if MESSAGE_TAGS in caps:
            line = tagged(session, target, tags, caps)
            session.service.hub.deliver(member, Delivery((line,)))


@command("TAGMSG", params=1)
async def tagmsg(session: IrcSession, message: IrcMessage) -> None:
    target = message.params[0]
    # The server's tags before the client's (message-tags: so that a cut keeps them).
    tags = {
        "msgid": secrets.token_hex(12),
        "time": iso_time(time.time()),
        **dict(client_tags(message)),
    }
    me = session.client.named()
    try:
        if target.startswith("#"):
            room = session.service.room(target)
            if room.name not in me.rooms:
                raise NoSuchRoom(target)
            session.service.may_speak(session.client, room.name)
            deliver(session, [m for m in room.members.values() if m is not me], room.name, tags)
        else:
            session.service.may_speak(session.client)
            deliver(session, [session.service.member(target)], target, tags)
    except NoSuchRoom:
        session.reply(n.ERR_CANNOTSENDTOCHAN, target, "Cannot send to channel")
        return
    except (NoSuchMember, CannotSpeak, Muted) as refusal:
        cannot_send(session, target, refusal)
        return
    if ECHO_MESSAGE in session.caps:
        session.send_line(tagged(session, target, tags, session.caps))
