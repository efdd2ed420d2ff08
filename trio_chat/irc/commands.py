"""Every module that registers IRC commands, imported once so the table is complete.

A new module of commands (IRCv3's) is imported here too.
"""

from __future__ import annotations

from trio_chat.irc import (  # labels...chathistory: IRCv3 (ircv3's)
    bot,
    channels,
    chanops,
    chathistory,
    extensions,
    labels,
    messaging,
    monitor,
    operators,
    queries,
    read_marker,
    registration,
    sasl,
    server_info,
    tagmsg,
    whox,
)

MODULES = (
    registration,
    server_info,
    channels,
    chanops,
    messaging,
    queries,
    operators,
    labels,
    monitor,
    extensions,
    tagmsg,
    whox,
    sasl,
    chathistory,
    bot,
    read_marker,
)
