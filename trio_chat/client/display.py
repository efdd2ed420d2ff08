"""How the terminal client shows lines: colours, timestamps, the user's own lines.

Pure functions of their input (and the clock), so every rule is tested
without a terminal. Colours are plain ANSI SGR sequences, added only here,
on the client side, after the server's text has been cleaned of any escape
sequence of its own.
"""

from __future__ import annotations

import os
import re
import time
import zlib
from collections.abc import Callable, Mapping

from trio_chat.core.names import clean_text, name_key

# Foreground colours for names: distinct, readable on dark and light terminals.
NAME_COLOURS = (31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96)
RESET = "\x1b[0m"
DIM = "2"
BOLD = "1"
RED = "31"
PRIVATE = "1;35"

# Before each replayed line on a terminal, so that history never looks like live chat.
HISTORY_MARK = "| "
_PAST = re.compile(r"\[(\d\d:\d\d|\d{4}-\d\d-\d\d \d\d:\d\d)\] ")
_CHAT = re.compile(r"([^\s:*!\[][^\s:]*): ")
_ACTION = re.compile(r"\* (\S+) ")
_PRIVATE = re.compile(r"\[private\] (\S+): ")
# The echo of a private message you sent (no name starts with "[": only the server's).
_PRIVATE_TO = re.compile(r"\[private to (\S+)\] ")


def colour_wanted(stdout_is_tty: bool, no_color_flag: bool, env: Mapping[str, str]) -> bool:
    """Colours only on a terminal, and never with --no-color or NO_COLOR set (no-color.org)."""
    return stdout_is_tty and not no_color_flag and not env.get("NO_COLOR")


def name_colour(name: str) -> int:
    """A colour for ``name``: the same in every run and for every spelling of the name."""
    return NAME_COLOURS[zlib.crc32(name_key(name).encode()) % len(NAME_COLOURS)]


class Display:
    """Turns server lines and the user's own lines into what the terminal shows.

    Args:
        colour: add ANSI colours.
        timestamps: prefix live lines with the local time (``[HH:MM]``); lines
            replayed from history already carry the server's, and get
            :data:`HISTORY_MARK` before it.
        clock: returns the time to show (for tests).
    """

    def __init__(
        self,
        *,
        colour: bool,
        timestamps: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.colour = colour
        self.timestamps = timestamps
        self._clock = clock

    def incoming(self, line: str, me: str | None = None) -> str:
        """A line from the server, as shown; ``me``: the user's name (their own lines stand out).

        With ``/echo on`` the server sends the user's own messages back as the
        others see them: ``me: text``, ``* me waves``, ``[private to bob] text``.
        """
        line = clean_text(line)  # a server is trusted no more than a peer
        if _PAST.match(line):
            return self._past(line)
        return self._stamp() + self._body(line, me)

    def _past(self, line: str) -> str:
        """A replayed message: dimmed, no colours, and behind a marker.

        Live lines get a time on a terminal too, so the server's time alone
        does not set a replay apart; the marker does, with colours off as well.
        Without timestamps (a script), the server's line is left as it is.
        """
        return self._style(DIM, HISTORY_MARK + line if self.timestamps else line)

    def _body(self, line: str, me: str | None) -> str:
        if not self.colour:
            return line
        if line.startswith("*** "):
            return self._style(DIM, line)
        if line.startswith("! "):
            return self._style(RED, line)
        if _PRIVATE.match(line) or _PRIVATE_TO.match(line):
            return self._style(PRIVATE, line)
        action = _ACTION.match(line)
        if action:
            name = action.group(1)
            return f"* {self._name(name, me)} {line[action.end() :]}"
        chat = _CHAT.match(line)
        if chat:
            return f"{self._name(chat.group(1), me)}: {line[chat.end() :]}"
        return line

    def _name(self, name: str, me: str | None) -> str:
        """Another's name in its colour; the user's own in bold, in no colour of the palette."""
        if me is not None and name_key(name) == name_key(me):
            return self._style(BOLD, name)
        return self._style(f"{BOLD};{name_colour(name)}", name)

    def _stamp(self) -> str:
        if not self.timestamps:
            return ""
        return self._style(DIM, time.strftime("[%H:%M] ", time.localtime(self._clock())))

    def _style(self, sgr: str, text: str) -> str:
        return f"\x1b[{sgr}m{text}{RESET}" if self.colour else text


def wants_colour(no_color_flag: bool) -> bool:
    """Colour for this process's stdout."""
    return colour_wanted(os.isatty(1), no_color_flag, os.environ)
