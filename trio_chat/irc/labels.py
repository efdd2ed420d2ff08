"""IRCv3 labeled-response and batch: a labeled command's whole answer, labeled.

A client with ``labeled-response`` may tag a command ``@label=X``; everything
the server sends it because of that command comes back labeled: no line at
all is an ``ACK``, one line carries the label, more are one
``BATCH +ref labeled-response`` with the label on the ``BATCH`` line.

While a labeled command runs, the session's member writes through a
:class:`Capture` in place of its encoder (what the service sends it, its own
echo included, is kept, not queued), and the replies the session collects
are taken too; at the end they go out as one answer, in order, through the
session's replies. A client without ``batch`` gets a many-line answer
unbatched, the label on its first line.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trio_chat.core.events import Action, Message, Private, Reply, ServerEvent
from trio_chat.irc import caps
from trio_chat.irc.codec import BadMessage, IrcMessage, format_message, parse
from trio_chat.irc.dispatch import wrapper

if TYPE_CHECKING:
    from trio_chat.core.members import Encoder
    from trio_chat.irc.session import IrcSession

LABELED_RESPONSE = caps.register("labeled-response").name
BATCH = caps.register("batch").name
# The longest label kept (the spec: 64 bytes is enough for anyone).
MAX_LABEL = 64

_refs = itertools.count(1)


def new_batch_ref() -> str:
    """A batch reference unique on this server."""
    return f"b{next(_refs)}"


class Capture:
    """An encoder that keeps what it encodes, for one member, and queues nothing."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.kept: list[str] = []

    @property
    def caps(self) -> frozenset[str]:
        """The capabilities of the encoder it stands in for (others read them)."""
        found = getattr(self.inner, "caps", None)
        return found if isinstance(found, frozenset) else frozenset()

    def __call__(self, event: ServerEvent) -> bytes:
        if isinstance(event, PASSED_THROUGH):  # what others say: not an answer
            return self.inner(event)
        data = self.inner(event).decode("utf-8", "replace")
        self.kept.extend(line for line in data.split("\r\n") if line)
        return b""


@dataclass(frozen=True, slots=True)
class Delivery(Reply):
    """Lines for a member as a recipient (a TAGMSG to them), never part of a labeled answer."""


# Events that reach a member running a labeled command but answer no command of theirs:
# messages (to oneself too: the echo is the answer), lines for a recipient.
PASSED_THROUGH = (Message, Action, Private, Delivery)


def with_tags(line: str, tags: dict[str, str]) -> str:
    """``line`` (one formatted IRC line) with ``tags`` added."""
    message = parse(line)
    if isinstance(message, BadMessage):
        return line
    merged = IrcMessage(message.command, message.params, message.source, {**tags, **message.tags})
    return format_message(merged)


def answer(session: IrcSession, label: str, lines: list[str]) -> list[str]:
    """The labeled form of ``lines``: an ACK, one labeled line, or a labeled batch."""
    server = session.settings.server
    if not lines:
        return [format_message(IrcMessage("ACK", (), server, {"label": label}))]
    if len(lines) == 1:
        return [with_tags(lines[0], {"label": label})]
    if BATCH not in session.caps:
        return [with_tags(lines[0], {"label": label}), *lines[1:]]
    ref = new_batch_ref()
    start = IrcMessage("BATCH", (f"+{ref}", "labeled-response"), server, {"label": label})
    end = IrcMessage("BATCH", (f"-{ref}",), server)
    return [
        format_message(start),
        *(with_tags(line, {"batch": ref}) for line in lines),
        format_message(end),
    ]


@wrapper
async def labeled(
    session: IrcSession, message: IrcMessage, run: Callable[[], Awaitable[None]]
) -> None:
    label = message.tags.get("label")
    if label is None or LABELED_RESPONSE not in session.caps or len(label) > MAX_LABEL:
        await run()
        return
    session.flush()
    before = session.take_replies()
    member = session.member
    capture = Capture(member.encode) if member is not None else None
    if member is not None and capture is not None:
        member.encode = capture
    try:
        await run()
    finally:
        if member is not None and capture is not None and member.encode is capture:
            member.encode = capture.inner
    kept = capture.kept if capture is not None else []
    for line in [*before, *answer(session, label, [*kept, *session.take_replies()])]:
        session.send_line(line)
