"""What the client knows of the server's lines, its exit codes, and how long it retries.

Pure rules, without I/O, shared by :mod:`trio_chat.client.chat` and its tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Exit codes (README, "The terminal client"). make treats EXIT_ENDED as a normal end.
EXIT_QUIT = 0  # you left: /quit, Ctrl+D, Ctrl+C, the end of a script's input
EXIT_FAILED = 1  # no chat at all: cannot connect, TLS refused, a bad option
EXIT_ENDED = 3  # the server ended it or turned you away, and the screen says why

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
# After these the server closes for good: coming back would be refused, or rude.
FINAL_PREFIXES = (
    "! you were kicked",
    "! you are banned",
    "! flooding",
    "! too many wrong operator passwords",
    # Our account logged in from another client: coming back would take it back.
    "! you logged in from elsewhere",
)
# The last line of the server's /help, and what the client adds after it on a terminal.
HELP_END = "***   //TEXT"
CLIENT_HELP = (
    "*** Keys: Up/Down recall earlier lines; Ctrl+U clears the input; Ctrl+D, Ctrl+C"
    " or /quit leaves. A paste sends one message per line.",
    "*** Your own lines are shown once the server took them, as the others see them.",
)
# A wrong password typed at a prompt is asked for again, up to this many tries in all.
PASSWORD_TRIES = 3
# The server's answer to a wrong account password that may be tried again.
_TRIES_LEFT = re.compile(r"! wrong password for \S+ \((\d+) tr(?:y|ies) left\)")


def is_quit(line: str) -> bool:
    verb = line.split(maxsplit=1)[0].lower() if line.strip() else ""
    return verb == "/quit"


def is_help(line: str) -> bool:
    return line.lower().split(maxsplit=1)[:1] == ["/help"]


def new_password(line: str) -> str | None:
    """The password a typed ``/register PASSWORD`` or ``/password NEW`` sets, if any."""
    verb, _, rest = line.strip().partition(" ")
    return (rest.strip() or None) if verb.lower() in ("/register", "/password") else None


def tries_left(refusal: str) -> int | None:
    """How many more tries ``! wrong password for NAME (N tries left)...`` allows, if that."""
    match = _TRIES_LEFT.match(refusal)
    return int(match[1]) if match else None


def registered_prompt(refusal: str, name: str) -> str | None:
    """What to show instead of ``the name NAME is registered: send /login ...``, if that."""
    if refusal.startswith(NAME_REGISTERED) and " is registered" in refusal:
        return f"*** {name} is a registered name: type its password (Enter alone: another name)"
    return None


@dataclass(frozen=True, slots=True)
class Backoff:
    """How the client reconnects: waits doubling from ``first`` up to ``longest``.

    It gives up when the next attempt would start more than ``give_up_after``
    seconds after the connection was lost. A connection that stayed up for
    ``stable_after`` seconds starts a new series; one that drops sooner (a
    server that takes us and drops us, or two clients logged in as one name
    taking it from each other) continues the series, so it ends.
    """

    first: float = 2.0
    longest: float = 30.0
    give_up_after: float = 120.0
    stable_after: float = 30.0


class Retry:
    """One series of reconnection attempts, from the moment the connection was lost."""

    def __init__(self, policy: Backoff, started: float) -> None:
        self.policy = policy
        self.started = started
        self.attempt = 0

    def next_delay(self, now: float) -> float | None:
        """How long to wait before the next attempt; ``None``: give up."""
        delay = min(self.policy.first * (1 << self.attempt), self.policy.longest)
        if now + delay - self.started > self.policy.give_up_after:
            return None
        self.attempt += 1
        return delay
