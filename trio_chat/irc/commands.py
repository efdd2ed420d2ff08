"""Every module that registers IRC commands, imported once so the table is complete.

A new module of commands (IRCv3's) is imported here too.
"""

from __future__ import annotations

from trio_chat.irc import channels, messaging, operators, queries, registration, server_info

MODULES = (registration, server_info, channels, messaging, queries, operators)
