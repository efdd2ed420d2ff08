"""The rules for names, room names and what users say, shared by every frontend.

Names are compared by :func:`name_key` (NFKC, case-folded); they are shown as
given (NFC, trimmed). Text from users is cleaned of escape sequences and
control characters (:func:`clean_text`) so that it never reaches another
user's terminal as anything but text.
"""

from __future__ import annotations

import re
import unicodedata

# The longest name, in characters (after Unicode normalisation).
MAX_NAME_CHARS = 32
# The longest room topic, in characters.
MAX_TOPIC_CHARS = 300
# The longest message (or action), in UTF-8 bytes: the text protocol's whole line.
MAX_TEXT_BYTES = 4096
# The most messages of history one request may ask for.
MAX_HISTORY = 500
# Characters allowed in a name besides letters and digits.
NAME_PUNCTUATION = frozenset("_-.")

# ANSI escape sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other
# ESC sequences, and their 8-bit C1 forms. Removed whole, so that no stray
# parameters ("[31m") are left behind.
_ANSI_ESCAPE = re.compile(
    r"""
    (?: \x1b\[ | \x9b ) [0-?]* [ -/]* [@-~]?                 # CSI
  | (?: \x1b[\]PX^_] | [\x90\x98\x9d\x9e\x9f] ) .*? (?: \x07 | \x1b\\ | \x9c | $ )  # OSC, DCS...
  | \x1b [ -/]* [0-~]?                                          # other ESC sequences
    """,
    re.VERBOSE | re.DOTALL,
)
# Everything else that must never reach a terminal: C0 except tab, DEL, C1, and
# the bidirectional overrides that can make a line read differently than it is.
# Lone surrogates too: no decoded line holds one, but text from elsewhere may,
# and it could not be encoded for anyone.
_CONTROL_CHARS = dict.fromkeys(
    [
        *range(0x00, 0x09),
        *range(0x0A, 0x20),
        0x7F,
        *range(0x80, 0xA0),
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
        *range(0xD800, 0xE000),
    ]
)


def clean_text(text: str) -> str:
    """Remove escape sequences and control characters (tab stays)."""
    if text.isprintable():  # the common case: nothing to remove
        return text
    return _ANSI_ESCAPE.sub("", text).translate(_CONTROL_CHARS)


# --- names -----------------------------------------------------------------


class BadName(ValueError):
    """A name that breaks the naming rules; ``str(exc)`` says which."""


def check_name(raw: str) -> str:
    """Return the name as it will be shown (NFC, trimmed), or raise BadName."""
    return _check_word(raw, "name")


def check_room(raw: str) -> str:
    """Return the room name as shown (``#`` + NFC name), or raise BadName.

    The ``#`` is optional on input. Room names follow the rules of user names.
    """
    word = raw.strip()
    return "#" + _check_word(word[1:] if word.startswith("#") else word, "room name")


def _check_word(raw: str, what: str) -> str:
    word = unicodedata.normalize("NFC", raw.strip())
    if not word:
        raise BadName(f"a {what} is needed")
    if len(word) > MAX_NAME_CHARS:
        raise BadName(f"{what} too long (max {MAX_NAME_CHARS} characters)")
    for index, char in enumerate(word):
        # Combining marks (Mn, Mc) complete a letter in many scripts (नमस्ते, தமிழ்).
        mark = index > 0 and unicodedata.category(char) in ("Mn", "Mc")
        if not (char.isalpha() or char.isdecimal() or char in NAME_PUNCTUATION or mark):
            raise BadName(
                f"invalid character {char!r} in {what}: use letters, digits, '_', '-' and '.'"
            )
    return word


def name_key(name: str) -> str:
    """The form names are compared in: case-insensitive after NFKC normalisation."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
