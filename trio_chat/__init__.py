"""trio_chat: a multi-user chat server and terminal client on Trio."""

__version__ = "0.1.0"
