"""IRC channel modes as the core's room rules (core/roomrules.py), both ways.

``MODE #dev +ok bob secret`` is two changes: (``op``, on, ``bob``) and
(``key``, on, ``secret``). ``n`` (no messages from outside, on by default)
is the room setting ``outside`` turned around: ``-n`` is (``outside``, on).
"""

from __future__ import annotations

from trio_chat.core.members import Room
from trio_chat.core.roomrules import Change

LETTERS = {
    "o": "op",
    "v": "voice",
    "b": "ban",
    "e": "exception",
    "I": "invite-exception",
    "k": "key",
    "l": "limit",
    "t": "topic-locked",
    "m": "moderated",
    "i": "invite-only",
    "s": "secret",
    "n": "outside",
}
# Letters whose sign is the setting's turned around.
INVERTED = frozenset("n")
SETTINGS = {setting: letter for letter, setting in LETTERS.items()}
# Modes with a parameter when set, and when unset (RFC 2811, ISUPPORT CHANMODES).
ARG_ON = frozenset("ovbeIkl")
ARG_OFF = frozenset("ovbeIk")
# The list modes: without a parameter they ask for the list (RFC 2811 4.3).
LIST_MODES = frozenset("beI")
CHANMODES = "Ibe,k,l,imnst"
PREFIX = "(ov)@+"


def mode_words(change: Change) -> tuple[str, ...]:
    """``("+o", "bob")`` or ``("-t",)`` for one change."""
    setting, on, value = change
    letter = SETTINGS[setting]
    word = ("+" if on != (letter in INVERTED) else "-") + letter
    return (word, value) if (letter in ARG_ON if on else letter in ARG_OFF) else (word,)


def mode_line(changes: tuple[Change, ...]) -> tuple[str, ...]:
    """All of ``changes`` as one MODE's words: ``("+o-v", "bob", "ann")``."""
    letters, args = "", []
    sign = ""
    for change in changes:
        word, *value = mode_words(change)
        if word[0] != sign:
            sign = word[0]
            letters += sign
        letters += word[1]
        args += value
    return (letters, *args)


def parse_modes(words: tuple[str, ...]) -> tuple[list[Change], list[str], list[str]]:
    """``+ok bob secret`` as changes, plus the unknown letters and the lists asked for (``beI``)."""
    changes: list[Change] = []
    unknown: list[str] = []
    lists: list[str] = []
    args = list(words[1:])
    on = True
    for char in words[0] if words else "":
        if char in "+-":
            on = char == "+"
        elif char not in LETTERS:
            unknown.append(char)
        elif char in (ARG_ON if on else ARG_OFF):
            if not args:
                if char in LIST_MODES and char not in lists:
                    lists.append(char)
                continue
            changes.append((LETTERS[char], on, args.pop(0)))
        else:
            changes.append((LETTERS[char], on != (char in INVERTED), ""))
    return changes, unknown, lists


def modes_of(room: Room, *, member: bool) -> tuple[str, ...]:
    """``("+nt", "key")``: 324's words (the key only for members)."""
    settings = room.settings
    letters = ("" if settings.outside else "n") + "".join(
        SETTINGS[flag]
        for flag in ("topic-locked", "moderated", "invite-only", "secret")
        if getattr(settings, flag.replace("-", "_"))
    )
    args: list[str] = []
    if settings.key:
        letters += "k"
        args.append(settings.key if member else "*")
    if settings.limit:
        letters += "l"
        args.append(str(settings.limit))
    return ("+" + letters, *args)
