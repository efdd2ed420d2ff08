"""One connection of the client, and how it opens another: pure plumbing.

:class:`Link` records what the reader saw on a connection (let in? refused?
kicked?), from which the client decides what comes next; :func:`dial` opens
a new connection through the injected :data:`Connector` within a deadline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from trio_chat.client.rules import NEEDS_SERVER_PASSWORD, WRONG_PASSWORD, registered_prompt

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

    def shut_out(self) -> bool:
        """Whether a reconnection was refused for good: our password or name no longer work."""
        refusal = self.refusal
        return not self.registered and (
            refusal.startswith((WRONG_PASSWORD, NEEDS_SERVER_PASSWORD))
            or registered_prompt(refusal, "") is not None
        )

    async def send(self, line: str) -> None:
        await self.conn.send_all((line + "\n").encode("utf-8"))


async def dial(connect: Connector) -> tuple[trio.abc.Stream | None, str]:
    """A new connection, or ``None`` and why not."""
    try:
        with trio.fail_after(CONNECT_TIMEOUT):
            return await connect(), ""
    except ConnectFailed as exc:
        return None, f"cannot connect ({exc})"
    except trio.TooSlowError:
        return None, f"cannot connect (no answer within {CONNECT_TIMEOUT:.0f} s)"
