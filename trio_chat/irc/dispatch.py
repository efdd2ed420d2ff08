"""The IRC door's command table: each command's handler, registered by its module.

Handlers live in modules by theme (:mod:`.registration`, :mod:`.channels`,
:mod:`.messaging`, :mod:`.queries`, :mod:`.server_info`); another module
(IRCv3's) adds its own with :func:`command` without touching these. The
session looks a command up here, checks it has enough parameters (``461``)
and that the client is registered if it must be (``451``), then awaits it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trio_chat.irc.codec import IrcMessage

if TYPE_CHECKING:
    from trio_chat.irc.session import IrcSession

Handler = Callable[["IrcSession", IrcMessage], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Command:
    handler: Handler
    # Parameters it needs at least (fewer: 461 ERR_NEEDMOREPARAMS).
    params: int = 0
    # Whether it may come before registration completes (else 451).
    early: bool = False


COMMANDS: dict[str, Command] = {}


def command(name: str, *, params: int = 0, early: bool = False) -> Callable[[Handler], Handler]:
    """Register the decorated handler for ``name`` (replacing an earlier one)."""

    def register(handler: Handler) -> Handler:
        COMMANDS[name.upper()] = Command(handler, params, early)
        return handler

    return register


# Around every command (IRCv3 labeled-response): called as wrapper(session, message, run),
# it must await run() once. Registered by their modules with :func:`wrapper`.
Wrapper = Callable[["IrcSession", IrcMessage, Callable[[], Awaitable[None]]], Awaitable[None]]
WRAPPERS: list[Wrapper] = []


def wrapper(func: Wrapper) -> Wrapper:
    WRAPPERS.append(func)
    return func
