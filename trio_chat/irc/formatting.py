"""IRC text formatting (bold, colours...) taken out of what IRC users say, sans-IO.

The chat keeps plain text: the core removes control characters from every
line (:func:`~trio_chat.core.names.clean_text`). For IRC's formatting that
would leave the digits of a colour behind (``\\x0304red`` would read ``04red``),
so the IRC door removes each formatting code whole first, as
modern.ircdocs.horse's "Formatting" describes them: bold ``\\x02``, italics
``\\x1d``, underline ``\\x1f``, strikethrough ``\\x1e``, monospace ``\\x11``,
reverse ``\\x16``, reset ``\\x0f``, colour ``\\x03`` with up to two digits and
``,`` and up to two more, hex colour ``\\x04`` with six hex digits and ``,``
and six more.
"""

from __future__ import annotations

import re

_FORMATTING = re.compile(
    r"\x03(?:[0-9]{1,2}(?:,[0-9]{1,2})?)?"
    r"|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)
_CODES = frozenset("\x02\x03\x04\x0f\x11\x16\x1d\x1e\x1f")


def strip_formatting(text: str) -> str:
    """``text`` without IRC formatting codes (a colour's digits go with it)."""
    if _CODES.isdisjoint(text):
        return text
    return _FORMATTING.sub("", text)
