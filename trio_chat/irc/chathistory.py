"""IRCv3 draft/chathistory: ``CHATHISTORY LATEST|BEFORE|AFTER|AROUND|BETWEEN|TARGETS``.

A channel's history is the room's SQLite history, read through the chat
service (:meth:`~trio_chat.core.service.ChatService.read_history`); the
request is parsed and planned by :mod:`.chathistory_query`. The answer is one
``chathistory`` batch of the messages, oldest first, each with its ``msgid``
and ``time`` as the client's capabilities show them. Only channels one is in
have a history to read (``FAIL CHATHISTORY INVALID_TARGET`` otherwise);
private messages are not kept, so a nick's history is an empty batch.
``TARGETS`` lists the channels one is in whose latest message falls between
the two times.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trio_chat.core.names import name_key
from trio_chat.irc import caps
from trio_chat.irc.chathistory_query import (
    MAX_LIMIT,
    MSGREFTYPES,
    Query,
    QueryError,
    format_time,
    parse_query,
    plan,
)
from trio_chat.irc.codec import IrcMessage, format_message
from trio_chat.irc.dispatch import command
from trio_chat.irc.labels import BATCH, new_batch_ref, with_tags
from trio_chat.irc.server_info import ISUPPORT_EXTRA

if TYPE_CHECKING:
    from trio_chat.core.store import Entry
    from trio_chat.irc.session import IrcSession

CHATHISTORY = caps.register("draft/chathistory").name
ISUPPORT_EXTRA["CHATHISTORY"] = str(MAX_LIMIT)
ISUPPORT_EXTRA["MSGREFTYPES"] = MSGREFTYPES


def send_batch(session: IrcSession, kind: tuple[str, ...], lines: list[str]) -> None:
    """``lines`` in one batch of ``kind`` (plain lines for a client without ``batch``)."""
    if BATCH not in session.caps:
        for line in lines:
            session.send_line(line)
        return
    ref, server = new_batch_ref(), session.settings.server
    session.send(IrcMessage("BATCH", (f"+{ref}", *kind), server))
    for line in lines:
        session.send_line(with_tags(line, {"batch": ref}))
    session.send(IrcMessage("BATCH", (f"-{ref}",), server))


def fail(session: IrcSession, error: QueryError) -> None:
    params = ("CHATHISTORY", error.code, *error.context, error.description)
    session.send(IrcMessage("FAIL", params, session.settings.server))


@command("CHATHISTORY")
async def chathistory(session: IrcSession, message: IrcMessage) -> None:
    try:
        query = parse_query(list(message.params))
        if query.subcommand == "TARGETS":
            await targets(session, query)
        else:
            await history(session, query)
    except QueryError as error:
        fail(session, error)


async def history(session: IrcSession, query: Query) -> None:
    target = query.target
    if not target.startswith("#"):
        send_batch(session, ("chathistory", target), [])
        return
    member = session.client.named()
    room = next((r for r in member.rooms if name_key(r) == name_key(target)), None)
    if room is None:
        raise QueryError(
            "INVALID_TARGET", (query.subcommand, target), "You are not in that channel"
        )
    read = plan(query)
    entries = await session.service.read_history(
        room, read.count, before=read.before, after=read.after, around=read.around
    )
    kept = [entry for entry in entries if read.keeps(entry.event.id)]
    send_batch(session, ("chathistory", room), lines_of(session, kept))


def lines_of(session: IrcSession, entries: list[Entry]) -> list[str]:
    encoder = session.wire.encoder(session.caps)
    lines: list[str] = []
    for entry in entries:
        data = encoder(entry.event).decode("utf-8", "replace")
        lines.extend(line for line in data.split("\r\n") if line)
    return lines


async def targets(session: IrcSession, query: Query) -> None:
    assert query.first is not None
    assert query.second is not None
    low, high = sorted((query.first.at_id(), query.second.at_id()))
    latest: list[tuple[float, str]] = []
    for room in sorted(session.client.named().rooms):
        entries = await session.service.read_history(room, 1)
        if entries and low < entries[-1].event.id < high:
            latest.append((entries[-1].event.time, room))
    server = session.settings.server
    lines = [
        format_message(IrcMessage("CHATHISTORY", ("TARGETS", room, format_time(when)), server))
        for when, room in sorted(latest)[: query.limit]
    ]
    send_batch(session, ("draft/chathistory-targets",), lines)
