"""IRCv3 draft/chathistory: ``CHATHISTORY LATEST|BEFORE|AFTER|AROUND|BETWEEN|TARGETS``.

A channel's history is the room's SQLite history, read through the chat
service (:meth:`~trio_chat.core.service.ChatService.read_history`); the
request is parsed and planned by :mod:`.chathistory_query`. The answer is one
``chathistory`` batch of the messages, oldest first, each with its ``msgid``
and ``time`` as the client's capabilities show them. Only channels one is in
have a history to read (``FAIL CHATHISTORY INVALID_TARGET`` otherwise). A
nick's history is one's conversation with them, which the service keeps for
logged-in accounts only (:mod:`trio_chat.core.conversations`): an empty batch
for a client logged in to none. ``TARGETS`` lists the channels one is in and
the nicks one's account wrote with whose latest message falls between the two
references (both excluded), oldest first.
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
    from collections.abc import Sequence

    from trio_chat.core.privatestore import PrivateEntry
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
    read = plan(query)
    if not target.startswith("#"):
        found = await session.service.read_private_history(
            session.client,
            target,
            read.count,
            before=read.before,
            after=read.after,
            around=read.around,
        )
        ours = [entry for entry in found if read.keeps(entry.event.id)]
        send_batch(session, ("chathistory", target), lines_of(session, ours))
        return
    member = session.client.named()
    room = next((r for r in member.rooms if name_key(r) == name_key(target)), None)
    if room is None:
        raise QueryError(
            "INVALID_TARGET", (query.subcommand, target), "You are not in that channel"
        )
    entries = await session.service.read_history(
        room, read.count, before=read.before, after=read.after, around=read.around
    )
    kept = [entry for entry in entries if read.keeps(entry.event.id)]
    send_batch(session, ("chathistory", room), lines_of(session, kept))


def lines_of(session: IrcSession, entries: Sequence[Entry | PrivateEntry]) -> list[str]:
    encoder = session.wire.encoder(session.caps)
    lines: list[str] = []
    for entry in entries:
        data = encoder(entry.event).decode("utf-8", "replace")
        lines.extend(line for line in data.split("\r\n") if line)
    return lines


async def targets(session: IrcSession, query: Query) -> None:
    assert query.first is not None
    assert query.second is not None
    early, late = sorted((query.first, query.second), key=lambda ref: ref.at_id())
    low, high = early.after_id(), late.before_id()
    latest: list[tuple[int, float, str]] = []
    for room in sorted(session.client.named().rooms):
        entries = await session.service.read_history(room, 1)
        if entries and low < entries[-1].event.id < high:
            latest.append((entries[-1].event.id, entries[-1].event.time, room))
    latest += await session.service.private_targets(
        session.client, above=low, below=high, limit=query.limit
    )
    server = session.settings.server
    lines = [
        format_message(IrcMessage("CHATHISTORY", ("TARGETS", name, format_time(when)), server))
        for _, when, name in sorted(latest)[: query.limit]
    ]
    send_batch(session, ("draft/chathistory-targets",), lines)
