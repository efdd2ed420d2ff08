"""The rules for names, room names and what users say, shared by every frontend.

One rule for every door
-----------------------
A name any door accepts must work on every other: a text user's name is an
IRC nick to irssi, WeeChat and HexChat users, and the reverse. So a name is
1 to :data:`MAX_NAME_CHARS` characters (after NFC) of letters of any script
(with their combining marks), digits and the RFC 2812 nick punctuation
``_-[]\\`^{}|``; it starts with a letter or one of ``_[]\\`^{}|`` (never a
digit or ``-``, as RFC 2812 says). ``.`` is refused: IRC clients read a
dotted nick as a server name. Invisible characters (Unicode's
default-ignorable code points: U+034F, variation selectors, the Hangul
fillers, ...) are refused, so that nobody can be a pixel-identical ``ana``,
and a letter carries at most :data:`MAX_MARKS` stacked marks. A name must
also be valid under RFC 8265 (PRECIS ``UsernameCaseMapped``): that refuses
compatibility forms (``ﬁ``, ``ǅ``) and names that mix right-to-left letters
with others in a misleading order.

Room names (:func:`check_room`) are ``#`` + the same characters, plus ``.``
(``#python.fr``), and may start with any of them but a mark. An IRC channel
``#dev`` is the room ``#dev`` that text users join with ``/join dev``:
:func:`channel_room` and :func:`room_channel` map between them.

Comparing names
---------------
Names are compared by :func:`name_key`: RFC 8265's ``UsernameCaseMapped``
comparison (width mapping, so fullwidth ``\uff41\uff4e\uff41`` is ``ana``; Unicode
lower case; NFC), with invisible characters removed first. That is what IRC's
``CASEMAPPING=rfc8265`` (:data:`CASEMAPPING`) says, as Ergo advertises it; for
the ASCII nicks most people use it is plain ASCII lower case. Names are shown
as given (NFC, trimmed).

What users say
--------------
Text from users is cleaned by :func:`clean_text` so that it never reaches
another user's terminal as anything but text.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import precis_i18n

from trio_chat.core.phrases import Phrase
from trio_chat.i18n import N_

# The longest name, in characters (after Unicode normalisation).
MAX_NAME_CHARS = 32
# The longest room topic, in characters.
MAX_TOPIC_CHARS = 300
# The longest message (or action), in UTF-8 bytes: the text protocol's whole line.
MAX_TEXT_BYTES = 4096
# The most messages of history one request may ask for.
MAX_HISTORY = 500
# Characters allowed in a name besides letters and digits (RFC 2812's specials and '-').
NAME_PUNCTUATION = frozenset("_-[]\\`^{}|")
# Of those, the ones a name may start with (RFC 2812: not '-', and not a digit).
NAME_FIRST_PUNCTUATION = NAME_PUNCTUATION - {"-"}
# Characters allowed in a room name besides letters and digits.
ROOM_PUNCTUATION = NAME_PUNCTUATION | {"."}
# What the refusals tell users they may use.
NAME_CHARACTERS = Phrase(N_("letters, digits and {punctuation}"), punctuation="_-[]\\`^{}|")
ROOM_CHARACTERS = Phrase(N_("letters, digits and {punctuation}"), punctuation="_-.[]\\`^{}|")
# The most combining marks stacked on one letter (in names and in messages).
MAX_MARKS = 4

# IRC's ISUPPORT values that describe these rules truthfully.
CASEMAPPING = "rfc8265"
NICKLEN = MAX_NAME_CHARS  # characters, as the names are counted
ROOM_PREFIX = "#"
CHANTYPES = ROOM_PREFIX
CHANNELLEN = MAX_NAME_CHARS + len(ROOM_PREFIX)

_PROFILE = precis_i18n.get_profile("UsernameCaseMapped")
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): characters
# that show as nothing, or nothing of their own (the test checks the list
# against precis-i18n's). A regex, so that even a 4 KB text costs microseconds.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


# --- cleaning what users say ---------------------------------------------------

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
# Everything else that must never reach a terminal: C0 except tab, DEL, C1; the
# line and paragraph separators (U+2028/2029: a line break to some terminals);
# the bidirectional marks, embeddings, overrides and isolates that can make a
# line read differently than it is; the interlinear annotation characters
# (U+FFF9-FFFB: text that some renderers hide or show above another).
# Lone surrogates too: no decoded line holds one, but text from elsewhere may,
# and it could not be encoded for anyone.
_CONTROL_CHARS = dict.fromkeys(
    [
        *range(0x00, 0x09),
        *range(0x0A, 0x20),
        0x7F,
        *range(0x80, 0xA0),
        0x061C,
        0x200E,
        0x200F,
        0x2028,
        0x2029,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
        *range(0xD800, 0xE000),
        *range(0xFFF9, 0xFFFC),
    ]
)
# The most combining marks stacked on one character of a message: enough for
# Vietnamese, Hebrew with points and cantillation, Tibetan stacks; "Zalgo" text
# piles dozens, spilling over the lines above and below.
MAX_TEXT_MARKS = 8


# Supplementary-plane blocks that hold marks (not emoji, which are above them).
_SUPPLEMENTARY_MARKS = re.compile("[\U00010000-\U0001efff\U000e0000-\U000e0fff]")


def clean_text(text: str) -> str:
    """Remove escape sequences and control characters (tab stays), cap stacked marks."""
    if text.isascii() and text.isprintable():  # the common case: nothing to remove
        return text
    if not text.isprintable():
        text = _ANSI_ESCAPE.sub("", text).translate(_CONTROL_CHARS)
    # A set with supplementary ranges makes re slow: only used where it can match.
    stacked = _stacked_marks(_SUPPLEMENTARY_MARKS.search(text) is not None)
    return stacked.sub(r"\1", text) if stacked.search(text) else text


@functools.cache
def _stacked_marks(supplementary: bool) -> re.Pattern[str]:
    """Matches more than MAX_TEXT_MARKS non-spacing or enclosing marks in a row."""
    blocks = [range(0x0300, 0x10000)]
    if supplementary:
        blocks += [range(0x10000, 0x1F000), range(0xE0100, 0xE01F0)]
    ranges: list[list[int]] = []
    for code in (code for block in blocks for code in block):
        if unicodedata.category(chr(code)) not in ("Mn", "Me"):
            continue
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    group = "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)
    return re.compile(f"([{group}]{{{MAX_TEXT_MARKS}}})[{group}]+")


# --- names -----------------------------------------------------------------


class BadName(ValueError):
    """A name that breaks the naming rules; ``problem`` (``str(exc)``) says which."""

    def __init__(self, problem: Phrase) -> None:
        super().__init__(problem)
        self.problem = problem


# What a name rule says it is checking (a field of its refusals, worded too).
NAME = Phrase(N_("name"))
ROOM_NAME = Phrase(N_("room name"))


def check_name(raw: str) -> str:
    """Return the name as it will be shown (NFC, trimmed), or raise BadName."""
    word = _check_word(raw, NAME, NAME_PUNCTUATION)
    first = word[0]
    if first.isdecimal() or not (first.isalpha() or first in NAME_FIRST_PUNCTUATION):
        raise BadName(
            Phrase(
                N_("a name cannot start with {char}: start it with a letter or one of {allowed}"),
                char=repr(first),
                allowed="_[]\\`^{}|",
            )
        )
    return word


def check_room(raw: str) -> str:
    """Return the room name as shown (``#`` + NFC name), or raise BadName.

    The ``#`` is optional on input. Room names take the characters of user
    names and ``.``, in any order.
    """
    word = raw.strip()
    if word.startswith(ROOM_PREFIX):
        word = word[len(ROOM_PREFIX) :]
    return ROOM_PREFIX + _check_word(word, ROOM_NAME, ROOM_PUNCTUATION)


def channel_room(channel: str) -> str:
    """The room an IRC channel parameter names (``#Dev`` -> ``#Dev``), or raise BadName.

    Unlike text and web users, who may leave the ``#`` out, IRC clients give
    it: a channel without it is none.
    """
    if not channel.startswith(ROOM_PREFIX):
        raise BadName(
            Phrase(
                N_("{channel} is not a room name: room names start with {prefix}"),
                channel=repr(channel),
                prefix=repr(ROOM_PREFIX),
            )
        )
    return check_room(channel)


def room_channel(room: str) -> str:
    """The IRC channel name of a room as the core shows it (``#dev``): the same text."""
    return room


def _check_word(raw: str, what: Phrase, punctuation: frozenset[str]) -> str:
    allowed = NAME_CHARACTERS if punctuation == NAME_PUNCTUATION else ROOM_CHARACTERS
    word = unicodedata.normalize("NFC", raw.strip())
    if not word:
        raise BadName(Phrase(N_("a {what} is needed"), what=what))
    if len(word) > MAX_NAME_CHARS:
        raise BadName(
            Phrase(N_("{what} too long (max {n} characters)"), what=what, n=MAX_NAME_CHARS)
        )
    marks = 0
    for index, char in enumerate(word):
        if _INVISIBLE.match(char):
            raise BadName(
                Phrase(
                    N_("invisible character {code} in {what}: use {allowed}"),
                    code=f"U+{ord(char):04X}",
                    what=what,
                    allowed=allowed,
                )
            )
        # Combining marks (Mn, Mc) complete a letter in many scripts (नमस्ते, தமிழ்).
        mark = index > 0 and unicodedata.category(char) in ("Mn", "Mc")
        marks = marks + 1 if mark else 0
        if marks > MAX_MARKS:
            raise BadName(
                Phrase(
                    N_("too many marks on one letter in {what} (max {n})"), what=what, n=MAX_MARKS
                )
            )
        if not (char.isalpha() or char.isdecimal() or char in punctuation or mark):
            raise BadName(_invalid(char, what, allowed))
    _check_precis(word, what, allowed)
    return word


def _invalid(char: str, what: Phrase, allowed: Phrase, plain: str = "") -> Phrase:
    if plain:
        return Phrase(
            N_("invalid character {char} in {what} (write {plain}): use {allowed}"),
            char=repr(char),
            what=what,
            plain=repr(plain),
            allowed=allowed,
        )
    return Phrase(
        N_("invalid character {char} in {what}: use {allowed}"),
        char=repr(char),
        what=what,
        allowed=allowed,
    )


def _check_precis(word: str, what: Phrase, allowed: Phrase) -> None:
    """What RFC 8265 refuses besides: compatibility forms, mixed directions."""
    try:
        _PROFILE.enforce(word)
    except UnicodeEncodeError as exc:
        if exc.reason.endswith("bidi_rule"):
            raise BadName(
                Phrase(
                    N_(
                        "this {what} mixes right-to-left letters with others in a way that can "
                        "read differently than it is"
                    ),
                    what=what,
                )
            ) from None
        char = word[exc.start] if 0 <= exc.start < len(word) else word[0]
        plain = unicodedata.normalize("NFKC", char)
        raise BadName(_invalid(char, what, allowed, plain if plain != char else "")) from None


def without_invisible(text: str) -> str:
    """``text`` without default-ignorable code points (invisible characters)."""
    return text if text.isascii() else _INVISIBLE.sub("", text)


def name_key(name: str) -> str:
    """The form names are compared in (RFC 8265 case mapping, invisible characters removed).

    Never raises: a text that is no valid name still gets a key (lower case,
    NFC), so that looking it up simply finds nobody.
    """
    if name.isascii():  # most names: RFC 8265 is ASCII lower case for them
        return name.lower()
    visible = unicodedata.normalize("NFC", _INVISIBLE.sub("", name))
    if len(visible) > MAX_NAME_CHARS:  # no name: spare it RFC 8265's slow steps
        return _plain_key(visible)
    return _short_key(visible)


@functools.lru_cache(maxsize=4096)  # of at most MAX_NAME_CHARS characters each
def _short_key(visible: str) -> str:
    try:
        return _PROFILE.enforce(visible)
    except UnicodeEncodeError:
        return _plain_key(visible)


def _plain_key(visible: str) -> str:
    return unicodedata.normalize("NFC", visible.lower())


def fitting_name(raw: str) -> str | None:
    """``raw`` if it is a valid name, else the closest valid one, or None if none is.

    For names kept from before the rule (registered names, bans): invisible
    characters go, compatibility forms become plain (``ﬁ`` -> ``fi``), other
    characters a name cannot have become ``_`` (``j.doe`` -> ``j_doe``), marks
    past :data:`MAX_MARKS` go, and a name that cannot start as it does gets a
    ``_`` in front (``1ana`` -> ``_1ana``). Never raises.
    """
    try:
        return check_name(raw)
    except BadName:
        pass
    chars: list[str] = []
    marks = 0
    for char in without_invisible(unicodedata.normalize("NFKC", raw.strip())):
        mark = bool(chars) and unicodedata.category(char) in ("Mn", "Mc")
        marks = marks + 1 if mark else 0
        if marks > MAX_MARKS:
            continue
        allowed = char.isalpha() or char.isdecimal() or char in NAME_PUNCTUATION or mark
        chars.append(char if allowed else "_")
    if chars and (chars[0].isdecimal() or chars[0] == "-"):
        chars.insert(0, "_")
    try:
        return check_name("".join(chars)[:MAX_NAME_CHARS])
    except BadName:
        return None
