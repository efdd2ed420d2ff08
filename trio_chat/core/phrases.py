"""Text for people, kept as data: the English sentence, and how to say it again.

The core words nothing a frontend can word (refusals are typed, departures
are reasons); but some rules explain themselves with facts only they know
(which character of a name is wrong, how long a password must be). Such an
explanation is a :class:`Phrase`: a ``str`` holding the English (for the log,
and for code that wants text), which also remembers its message, marked with
``N_`` for the catalogs, and its fields. A frontend words it in its reader's
language again (``trio_chat.text.wording.phrase``); a field that is itself a
Phrase is worded too.
"""

from __future__ import annotations

from typing import Any


class Phrase(str):
    """``Phrase(N_("a {what} is needed"), what=...)``: English text that can be worded again."""

    message: str
    fields: dict[str, Any]

    def __new__(cls, message: str, /, **fields: Any) -> Phrase:
        text = message.format(**fields) if fields else message
        self = super().__new__(cls, text)
        self.message = message
        self.fields = fields
        return self

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle keep the message
        return (_phrase, (self.message, self.fields))


def _phrase(message: str, fields: dict[str, Any]) -> Phrase:
    return Phrase(message, **fields)
