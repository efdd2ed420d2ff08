"""What the client knows of the server's lines, and its exit codes.

Pure rules, without I/O, shared by :mod:`trio_chat.client.chat` and its tests.
"""

from __future__ import annotations

# Exit codes.
EXIT_QUIT = 0  # you left: /quit, Ctrl+D, Ctrl+C, the end of a script's input
EXIT_FAILED = 1  # the server went away or turned you away, or no connection at all

# The welcome line that accepts our name, and the greetings before it.
WELCOME_PREFIX = "*** Welcome, "
GREETING_PREFIX = "*** Hello! "
PASSWORD_GREETING = "*** Hello! This server needs a password"
PASSWORD_ACCEPTED = "*** Password accepted"
# The server's refusals that a password answers.
NEEDS_SERVER_PASSWORD = "! this server needs a password"
NAME_REGISTERED = "! the name "
WRONG_PASSWORD = "! wrong password"
# Where the server puts everyone at first, and the notice that says where we are now.
FIRST_ROOM = "#lobby"
ROOM_PREFIX = "*** Now in "
# The server's answer to /echo on.
ECHO_ON = "*** echo on"
# The last line of the server's /help, and what the client adds after it on a terminal.
HELP_END = "***   //TEXT"
CLIENT_HELP = (
    "*** Keys: Up/Down recall earlier lines; Ctrl+U clears the input; Ctrl+D, Ctrl+C"
    " or /quit leaves. A paste sends one message per line.",
    "*** Your own lines are shown once the server took them, as the others see them.",
)
# A wrong password typed at a prompt is asked for again, up to this many tries in all.
PASSWORD_TRIES = 3


def is_quit(line: str) -> bool:
    verb = line.split(maxsplit=1)[0].lower() if line.strip() else ""
    return verb == "/quit"


def is_help(line: str) -> bool:
    return line.lower().split(maxsplit=1)[:1] == ["/help"]


def registered_prompt(refusal: str, name: str) -> str | None:
    """What to show instead of ``the name NAME is registered: send /login ...``, if that."""
    if refusal.startswith(NAME_REGISTERED) and " is registered" in refusal:
        return f"*** {name} is a registered name: type its password (Enter alone: another name)"
    return None
