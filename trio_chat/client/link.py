"""One connection of the client, and how it opens another: pure plumbing.

:class:`Link` records what the reader saw on a connection (let in? refused?
kicked?), from which the client decides what comes next; :func:`dial` opens
a new connection through the injected :data:`Connector` within a deadline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from trio_chat.client.server_lines import ServerLines, asks_password, needs_password, wrong_password
from trio_chat.i18n import Words

# How long the server may take to close after our /quit (or our refusal), with its last word.
QUIT_TIMEOUT = 2.0
# How long one attempt may take to connect.
CONNECT_TIMEOUT = 10.0
CONNECTION_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)

# Opens a new connection to the same server (raises ConnectFailed).
Connector = Callable[[], Awaitable[trio.abc.Stream]]


class ConnectFailed(Exception):
    """No connection to the server; the message says why, for the status line."""


@dataclass(eq=False)
class Link:
    """One connection, and what its reader has seen on it."""

    conn: trio.abc.Stream
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    down: trio.Event = field(default_factory=trio.Event)
    greeted: trio.Event = field(default_factory=trio.Event)
    verdict: trio.Event = field(default_factory=trio.Event)  # the answer to a name
    greeting: str = ""
    registered: bool = False
    since: float = 0.0  # when it was let in
    refusal: str = ""  # the last "! " line before that
    final: str = ""  # a line after which the server closes for good
    lost: bool = False  # a receive or send failed (not an orderly close)
    hung_up: bool = False  # we closed it, refused
    # /lang sent, its answer not yet in; set when it is (or when no answer will come).
    asking_lang: bool = False
    spoken: trio.Event = field(default_factory=trio.Event)

    def shut_out(self, lines: ServerLines) -> bool:
        """Whether a reconnection was refused for good: our password or name no longer work."""
        refusal = self.refusal
        return not self.registered and (
            wrong_password(lines, refusal)
            or (refusal.startswith("! ") and needs_password(refusal))
            or asks_password(lines, refusal)
        )

    async def send(self, line: str) -> None:
        await self.conn.send_all((line + "\n").encode("utf-8"))


async def dial(connect: Connector, _: Words) -> tuple[trio.abc.Stream | None, str]:
    """A new connection, or ``None`` and why not (in ``_``'s words)."""
    try:
        with trio.fail_after(CONNECT_TIMEOUT):
            return await connect(), ""
    except ConnectFailed as exc:
        return None, _("cannot connect ({why})", why=exc)
    except trio.TooSlowError:
        seconds = round(CONNECT_TIMEOUT)
        return None, _("cannot connect (no answer within {n} s)", n=seconds)
