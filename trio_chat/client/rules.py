"""The client's own rules: exit codes, the help it adds, how long it retries.

Pure rules, without I/O, shared by :mod:`trio_chat.client.chat` and its tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from trio_chat.i18n import N_

# Exit codes (README, "The terminal client"). make treats EXIT_ENDED as a normal end.
EXIT_QUIT = 0  # you left: /quit, Ctrl+D, Ctrl+C, the end of a script's input
EXIT_FAILED = 1  # no chat at all: cannot connect, TLS refused, a bad option
EXIT_ENDED = 3  # the server ended it or turned you away, and the screen says why

# Where the server puts everyone at first (a room's name is the same in every language).
FIRST_ROOM = "#lobby"
# What the client adds after the server's /help on a terminal (see server_lines.HELP_END).
CLIENT_HELP = (
    N_(
        "Keys: Up/Down recall earlier lines; Ctrl+U clears the input; Ctrl+D, Ctrl+C"
        " or /quit leaves. A paste sends one message per line."
    ),
    N_("Your own lines are shown once the server took them, as the others see them."),
)
# A wrong password typed at a prompt is asked for again, up to this many tries in all.
PASSWORD_TRIES = 3


def is_quit(line: str) -> bool:
    verb = line.split(maxsplit=1)[0].lower() if line.strip() else ""
    return verb == "/quit"


def is_help(line: str) -> bool:
    return line.lower().split(maxsplit=1)[:1] == ["/help"]


def new_password(line: str) -> str | None:
    """The password a typed ``/register PASSWORD`` or ``/password NEW`` sets, if any."""
    verb, _, rest = line.strip().partition(" ")
    return (rest.strip() or None) if verb.lower() in ("/register", "/password") else None


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
