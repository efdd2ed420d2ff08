"""IRCv3 draft/read-marker: ``MARKREAD target [timestamp=...]``, where one has read up to.

The server keeps, for each account (or nick, for those not logged in) and
target, the latest time a client said it read up to; it never goes back.
``MARKREAD target`` asks for it (``*``: none yet), ``MARKREAD target
timestamp=T`` sets it and is answered with the marker as it is then. Joining
a channel tells it before the end of NAMES. Markers are kept in memory by the
door, for as long as the server runs.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from trio_chat.core.names import name_key
from trio_chat.irc import caps, channels
from trio_chat.irc.chathistory_query import parse_time
from trio_chat.irc.codec import IrcMessage
from trio_chat.irc.dispatch import command
from trio_chat.irc.wire import People

if TYPE_CHECKING:
    from trio_chat.core.members import Room
    from trio_chat.irc.session import IrcSession

READ_MARKER = caps.register("draft/read-marker").name
# Markers kept per reader: the newest this many targets.
MAX_TARGETS = 1000

# Per door (its People): reader key -> target key -> (time, the timestamp as set).
_markers: weakref.WeakKeyDictionary[People, dict[str, dict[str, tuple[float, str]]]] = (
    weakref.WeakKeyDictionary()
)


def markers_of(session: IrcSession) -> dict[str, tuple[float, str]]:
    by_reader = _markers.setdefault(session.wire.people, {})
    person = session.wire.people.of(session.nick)
    reader = "account:" + name_key(person.account) if person.account else name_key(session.nick)
    return by_reader.setdefault(reader, {})


def tell(session: IrcSession, target: str) -> None:
    found = markers_of(session).get(name_key(target))
    shown = f"timestamp={found[1]}" if found else "*"
    session.send(IrcMessage("MARKREAD", (target, shown), session.settings.server))


@command("MARKREAD")
async def markread(session: IrcSession, message: IrcMessage) -> None:
    if not message.params:
        session.fail("MARKREAD", "NEED_MORE_PARAMS", "Missing parameters")
        return
    target = message.params[0]
    if len(message.params) > 1:
        kind, _, value = message.params[1].partition("=")
        try:
            if kind != "timestamp":
                raise ValueError(kind)
            when = parse_time(value)
        except ValueError:
            session.fail("MARKREAD", "INVALID_PARAMS", "Invalid timestamp")
            return
        markers = markers_of(session)
        old = markers.get(name_key(target))
        if old is None or when > old[0]:
            markers.pop(name_key(target), None)
            markers[name_key(target)] = (when, value)
            while len(markers) > MAX_TARGETS:
                del markers[next(iter(markers))]
    tell(session, target)


def on_join(session: IrcSession, room: Room) -> None:
    if READ_MARKER in session.caps:
        tell(session, room.name)


channels.BEFORE_END_OF_NAMES.append(on_join)
