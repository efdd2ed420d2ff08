"""IRCv3 MONITOR: tell a client when the nicks it watches come online or go.

``MONITOR + a,b`` watches (and answers ``730``/``731`` for each at once),
``MONITOR - a`` stops, ``C`` clears, ``L`` lists (``732``, ``733``), ``S``
says who of them is online. Anyone counts, whatever their door: the hub's
presence seam (:attr:`~trio_chat.core.hub.Hub.presence`) tells the door's
:class:`Monitors` of every arrival, departure and change of name, and the
watchers get their numeric through the service, in their own outbox, as
their other events. A change of case only is no change. A watcher's list
ends with its session (it is dropped on the first notice it cannot take).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from trio_chat.core.events import Reply
from trio_chat.core.names import name_key
from trio_chat.core.refusals import InvalidName
from trio_chat.core.rules import valid_name
from trio_chat.irc.codec import IrcMessage, format_message
from trio_chat.irc.dispatch import command
from trio_chat.irc.server_info import ISUPPORT_EXTRA

if TYPE_CHECKING:
    from trio_chat.core.hub import Hub
    from trio_chat.irc.session import IrcSession

LIMIT = 100
RPL_MONONLINE, RPL_MONOFFLINE, RPL_MONLIST, RPL_ENDOFMONLIST = "730", "731", "732", "733"
ERR_MONLISTFULL = "734"
ERR_ERRONEUSNICKNAME = "432"
# Targets per 730/731/732 line: well within 512 bytes.
PER_LINE = 8

ISUPPORT_EXTRA["MONITOR"] = str(LIMIT)


class Monitors:
    """Who watches whom, for one hub (one server)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        # watched name key -> the sessions watching it; a session -> its targets by key.
        # Weak: a session that ended (and is gone) watches nothing any more.
        self.watchers: dict[str, weakref.WeakSet[IrcSession]] = {}
        self.lists: weakref.WeakKeyDictionary[IrcSession, dict[str, str]] = (
            weakref.WeakKeyDictionary()
        )
        hub.presence.append(self.presence)

    def add(self, session: IrcSession, target: str) -> None:
        self.lists.setdefault(session, {})[name_key(target)] = target
        self.watchers.setdefault(name_key(target), weakref.WeakSet()).add(session)

    def remove(self, session: IrcSession, target: str) -> None:
        key = name_key(target)
        self.lists.get(session, {}).pop(key, None)
        watching = self.watchers.get(key)
        if watching is not None:
            watching.discard(session)
            if not watching:
                del self.watchers[key]

    def clear(self, session: IrcSession) -> None:
        for target in list(self.lists.pop(session, {}).values()):
            self.remove(session, target)

    def presence(self, old: str | None, new: str | None) -> None:
        if old is not None and new is not None and name_key(old) == name_key(new):
            return
        if old is not None:
            self._tell(old, RPL_MONOFFLINE, old)
        if new is not None:
            self._tell(new, RPL_MONONLINE, None)

    def _tell(self, name: str, numeric: str, shown: str | None) -> None:
        for session in list(self.watchers.get(name_key(name), ())):
            if session.member is None or not session.member.present:
                self.clear(session)
                continue
            target = shown if shown is not None else session.wire.people.mask(name)
            line = numeric_line(session, numeric, target)
            session.service.tell(session.client, Reply((line,)))


_MONITORS: weakref.WeakKeyDictionary[Hub, Monitors] = weakref.WeakKeyDictionary()


def monitors_of(session: IrcSession) -> Monitors:
    hub = session.service.hub
    found = _MONITORS.get(hub)
    if found is None:
        found = _MONITORS[hub] = Monitors(hub)
    return found


def numeric_line(session: IrcSession, numeric: str, *params: str) -> str:
    return format_message(IrcMessage(numeric, (session.nick, *params), session.settings.server))


def _status(session: IrcSession, targets: list[str]) -> None:
    """730 for those of ``targets`` online (with their masks), 731 for the others."""
    online: list[str] = []
    offline: list[str] = []
    for target in targets:
        member = session.service.hub.find(target)
        if member is None:
            offline.append(target)
        else:
            online.append(session.wire.people.mask(member.name))
    for chunk in _chunks(online):
        session.reply(RPL_MONONLINE, ",".join(chunk))
    for chunk in _chunks(offline):
        session.reply(RPL_MONOFFLINE, ",".join(chunk))


def _chunks(items: list[str]) -> list[list[str]]:
    return [items[i : i + PER_LINE] for i in range(0, len(items), PER_LINE)]


def _add(session: IrcSession, monitors: Monitors, raw: str) -> None:
    targets: list[str] = []
    for target in filter(None, raw.split(",")):
        try:
            valid_name(target)
        except InvalidName:
            session.reply(ERR_ERRONEUSNICKNAME, target, "Erroneous nickname")
            continue
        watched = monitors.lists.get(session, {})
        if len(watched) >= LIMIT and name_key(target) not in watched:
            rest = raw.split(",")[raw.split(",").index(target) :]
            session.reply(ERR_MONLISTFULL, str(LIMIT), ",".join(rest), "Monitor list is full")
            break
        monitors.add(session, target)
        targets.append(target)
    _status(session, targets)


@command("MONITOR", params=1)
async def monitor(session: IrcSession, message: IrcMessage) -> None:
    monitors = monitors_of(session)
    sub = message.params[0].upper()
    targets = message.params[1] if len(message.params) > 1 else ""
    match sub:
        case "+":
            _add(session, monitors, targets)
        case "-":
            for target in filter(None, targets.split(",")):
                monitors.remove(session, target)
        case "C":
            monitors.clear(session)
        case "L":
            for chunk in _chunks(list(monitors.lists.get(session, {}).values())):
                session.reply(RPL_MONLIST, ",".join(chunk))
            session.reply(RPL_ENDOFMONLIST, "End of MONITOR list")
        case "S":
            _status(session, list(monitors.lists.get(session, {}).values()))
