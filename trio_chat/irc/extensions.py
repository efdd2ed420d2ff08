"""Small IRCv3 extensions: who is away, real names, joins, names lists, history on joining.

* ``away-notify``: ``AWAY`` is told to those sharing a channel (and on joining).
* ``setname``: ``SETNAME :new real name``, told to oneself and those sharing a channel.
* ``extended-join``: ``JOIN #chan account :real name`` (``*`` for no account).
* ``multi-prefix``: every prefix in NAMES and WHO (we have one, ``@``: nothing to add).
* ``userhost-in-names``: NAMES shows ``nick!user@host``.
* ``extended-monitor``: those who MONITOR a nick hear its AWAY, SETNAME and ACCOUNT too.
* ``account-tag``: ``account=name`` on what a logged-in user says.
* ``account-notify``: ``ACCOUNT name`` when someone logs in (SASL after registering).
* ``cap-notify``: our capabilities never change while a client is connected, so there
  is never a ``CAP NEW``/``DEL`` to send; offered so that clients know.
* ``batch`` with ``server-time``: joining replays the room's history as one
  ``chathistory`` batch (else the history comes as plain messages, as before).

Who hears what is decided by the member's encoder: the capabilities that change
what a member is sent are ``wire`` ones (:mod:`.caps`), so the encoder knows them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from trio_chat.core.events import Joined, Past, Reply, ServerEvent
from trio_chat.core.names import clean_text, name_key
from trio_chat.irc import caps, channels, queries, server_info
from trio_chat.irc.codec import IrcMessage, format_message
from trio_chat.irc.dispatch import command
from trio_chat.irc.labels import BATCH, new_batch_ref, with_tags
from trio_chat.irc.monitor import monitors_of
from trio_chat.irc.registration import REALNAMELEN
from trio_chat.irc.wire import ACCOUNT_TAG, EVENT_HOOKS, IrcEncoder

if TYPE_CHECKING:
    from trio_chat.core.members import Member, Room
    from trio_chat.core.store import Entry
    from trio_chat.irc.session import IrcSession

AWAY_NOTIFY = caps.register("away-notify", wire=True).name
SETNAME = caps.register("setname", wire=True).name
EXTENDED_JOIN = caps.register("extended-join", wire=True).name
MULTI_PREFIX = caps.register("multi-prefix").name
USERHOST_IN_NAMES = caps.register("userhost-in-names").name
CAP_NOTIFY = caps.register("cap-notify").name
EXTENDED_MONITOR = caps.register("extended-monitor").name
ACCOUNT_NOTIFY = caps.register("account-notify", wire=True).name
caps.register(ACCOUNT_TAG, wire=True)
# The longest real name SETNAME takes, as USER's (ISUPPORT NAMELEN: the spec requires it).
NAMELEN = REALNAMELEN
server_info.ISUPPORT_EXTRA["NAMELEN"] = str(NAMELEN)


def caps_of(member: Member) -> frozenset[str]:
    """The wire capabilities of ``member`` (none for a text or web user)."""
    found = getattr(member.encode, "caps", None)
    return found if isinstance(found, frozenset) else frozenset()


def tell_with(session: IrcSession, cap: str, members: Iterable[Member], line: IrcMessage) -> None:
    """Send ``line`` to those of ``members`` whose clients negotiated ``cap``."""
    audience = [m for m in members if cap in caps_of(m)]
    if audience:
        session.service.hub.send_each(audience, Reply((format_message(line),)))


def sharing(session: IrcSession, rooms: Iterable[str] | None = None) -> set[Member]:
    """Those who share a channel with the session's member (``rooms``: these only), not it."""
    member = session.client.named()
    found: set[Member] = set()
    for name in member.rooms if rooms is None else rooms:
        found.update(session.service.room(name).members.values())
    found.discard(member)
    return found


def watching(session: IrcSession) -> set[Member]:
    """Those MONITORing the session's nick with ``extended-monitor`` (they hear its AWAY,
    SETNAME and ACCOUNT as if they shared a channel)."""
    watchers = monitors_of(session).watchers.get(name_key(session.nick), ())
    return {
        s.member
        for s in watchers
        if s is not session and EXTENDED_MONITOR in s.caps and s.member is not None
    }


def audience(session: IrcSession) -> set[Member]:
    """Who hears of the session's AWAY, SETNAME, ACCOUNT (with the matching capability)."""
    return sharing(session) | watching(session)


# --- away-notify ------------------------------------------------------------------


def away_line(session: IrcSession) -> IrcMessage:
    away = session.client.named().away
    return IrcMessage("AWAY", (away,) if away else (), session.mask())


@command("AWAY")
async def away(session: IrcSession, message: IrcMessage) -> None:
    await queries.away(session, message)
    tell_with(session, AWAY_NOTIFY, audience(session), away_line(session))


# --- setname ----------------------------------------------------------------------


@command("SETNAME", params=1)
async def setname(session: IrcSession, message: IrcMessage) -> None:
    realname = clean_text(message.params[0]).strip()  # as USER's
    if not realname or len(realname) > NAMELEN:
        session.fail("SETNAME", "INVALID_REALNAME", "Real name is not valid")
        return
    person = session.person if not session.registered else session.wire.people.of(session.nick)
    if person is None or not person.irc:
        session.fail("SETNAME", "CANNOT_CHANGE_REALNAME", "Register first")
        return
    person.realname = realname
    if not session.registered:
        return
    line = IrcMessage("SETNAME", (realname,), session.mask())
    if SETNAME in session.caps:
        session.send(line)
    tell_with(session, SETNAME, audience(session), line)


# --- extended-join, userhost-in-names ---------------------------------------------


def extended_join(encoder: IrcEncoder, event: ServerEvent) -> list[IrcMessage] | None:
    if not isinstance(event, Joined) or EXTENDED_JOIN not in encoder.caps:
        return None
    person = encoder.people.of(event.name)
    params = (event.room, person.account or "*", person.realname)
    return [IrcMessage("JOIN", params, encoder.people.mask(event.name))]


def userhost(session: IrcSession, name: str) -> str | None:
    return session.wire.people.mask(name) if USERHOST_IN_NAMES in session.caps else None


# --- after a join: away-notify, history as a batch --------------------------------


def after_join(session: IrcSession, room: Room, entries: list[Entry]) -> None:
    if session.client.named().away:
        tell_with(session, AWAY_NOTIFY, sharing(session, [room.name]), away_line(session))
    if BATCH not in session.caps or not entries:
        channels.replay(session, room, entries)
        return
    encoder = session.wire.encoder(session.caps)
    ref = new_batch_ref()
    server = session.settings.server
    lines = [format_message(IrcMessage("BATCH", (f"+{ref}", "chathistory", room.name), server))]
    for entry in entries:
        data = encoder(Past(entry.event)).decode("utf-8", "replace")
        lines.extend(with_tags(line, {"batch": ref}) for line in data.split("\r\n") if line)
    lines.append(format_message(IrcMessage("BATCH", (f"-{ref}",), server)))
    session.event(Reply(tuple(lines)))


# HELPOP: HELP's other name (some clients and irctest use it).
command("HELPOP")(server_info.help_command)

EVENT_HOOKS.append(extended_join)
channels.NAMES_FORMS.append(userhost)
channels.AFTER_JOIN = after_join
