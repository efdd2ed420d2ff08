"""The server's lines the client acts on, in English and in the language it asked for.

The client follows a few of the server's lines: the welcome (its name as the
server spells it), the room it is in, its new name, a password to ask for, a
refusal after which coming back is pointless. The server words them in the
language the client asked for (``/lang``), from the same catalog the client
reads: so the client knows each such line by the server's English message
(its msgid, a template with ``{fields}``) and recognises it in English (an
older server, or one that did not take ``/lang``) or in that language.

What is protocol is not looked up: the ``*** `` and ``! `` prefixes, and the
command names in the server's instructions (``/pass``, ``/login``).
"""

from __future__ import annotations

import functools
import re
import string

from trio_chat.core.phrases import Phrase
from trio_chat.i18n import Words, words_for

# Fields that hold a name or a room: one word, never a space.
_WORD_FIELDS = frozenset({"name", "room", "old", "new", "by"})

# The server's messages (text/session.py, text/commands.py, text/wording.py,
# text/codec.py), as the server writes them in English.
WELCOME = "Welcome, {name}! Online: {online}. Type /help for commands."
NOW_IN = "Now in {room}"
KNOWN_AS = "{old} is now known as {new}"
ECHO_ON = "echo on"
PASSWORD_ACCEPTED = ("Password accepted. {rules}", "Password accepted already. {rules}")
WRONG_SERVER_PASSWORD = "wrong password"
WRONG_PASSWORD = "wrong password for {name}"
TRIES_LEFT = (
    "wrong password for {name} ({n} try left): send /login {name} PASSWORD",
    "wrong password for {name} ({n} tries left): send /login {name} PASSWORD",
)
NAME_REGISTERED = "the name {name} is registered: send /login {name} PASSWORD, or another name"
NOT_REGISTERED = "{name} is not registered: send the name alone (or /login another)"
NAME_TAKEN = "the name {name} is taken; try another name"
REGISTERED_NOW = (
    "{name} is registered to you now: next time, send /login {name} PASSWORD instead of your name"
)
PASSWORD_CHANGED = "the password of {name} is changed"
UNREGISTERED = "{name} is not registered any more"
# After these the server closes for good: coming back would be refused, or rude.
FINAL = (
    "you were kicked by {by}: {reason}",
    "you were kicked by {by}",
    "you are banned ({term})",
    "flooding: too many lines for too long, disconnected",
    "too many wrong operator passwords: disconnected",
    # Our account logged in from another client: coming back would take it back.
    "you logged in from elsewhere: this connection is closed",
)
# The last line of the server's /help (its words for //TEXT), after which the client adds its own.
HELP_END = "send TEXT starting with '/'"

# Every template above but the plural TRIES_LEFT, for the test that the server
# still writes each of them.
TEMPLATES = (
    WELCOME,
    NOW_IN,
    KNOWN_AS,
    ECHO_ON,
    *PASSWORD_ACCEPTED,
    WRONG_SERVER_PASSWORD,
    WRONG_PASSWORD,
    NAME_REGISTERED,
    NOT_REGISTERED,
    NAME_TAKEN,
    REGISTERED_NOW,
    PASSWORD_CHANGED,
    UNREGISTERED,
    *FINAL,
    HELP_END,
)


def _pattern(template: str) -> re.Pattern[str]:
    """``template`` as a regular expression: its fields are named groups."""
    parts: list[str] = []
    seen: set[str] = set()
    for literal, field, _spec, _conversion in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is None:
            continue
        if field in seen:
            parts.append(f"(?P={field})")
        else:
            seen.add(field)
            parts.append(f"(?P<{field}>\\S+)" if field in _WORD_FIELDS else f"(?P<{field}>.*?)")
    return re.compile("".join(parts))


@functools.cache
def _patterns(lang: str, template: str) -> tuple[re.Pattern[str], ...]:
    """The template in English and in ``lang`` (the same once if it has no translation)."""
    forms = dict.fromkeys([template, words_for(lang)(template)])  # English first
    return tuple(_pattern(form) for form in forms)


@functools.cache
def _plural_patterns(lang: str, singular: str, plural: str) -> tuple[re.Pattern[str], ...]:
    """Every form of a plural message, in English and in ``lang``."""
    # The forms unfilled (Words.ngettext fills them in): the catalog's own lookup.
    translations = words_for(lang)._translations
    forms = dict.fromkeys([singular, plural])
    for n in (0, 1, 2, 3, 5, 11, 21, 101):  # one of each form, in any language
        forms[translations.ngettext(singular, plural, n)] = None
    return tuple(_pattern(form) for form in forms)


class ServerLines:
    """Recognises the server's lines in English or in ``words``' language."""

    def __init__(self, words: Words) -> None:
        self.lang = words.lang

    def fields(self, template: str, text: str, *, whole: bool = True) -> dict[str, str] | None:
        """The fields of ``text`` (a line without its ``*** ``/``! ``) if it is ``template``.

        ``whole=False``: ``text`` only begins as the template does (a last field
        is then matched as short as it may be: a word field, one word).
        """
        for pattern in _patterns(self.lang, template):
            found = pattern.fullmatch(text) if whole else pattern.match(text)
            if found:
                return found.groupdict()
        return None

    def notice(self, template: str, line: str, *, whole: bool = True) -> dict[str, str] | None:
        """The fields of the ``*** `` notice ``line`` if it is ``template``."""
        if not line.startswith("*** "):
            return None
        return self.fields(template, line[4:], whole=whole)

    def error(self, template: str, line: str, *, whole: bool = True) -> dict[str, str] | None:
        """The fields of the ``! `` error ``line`` if it is ``template``."""
        if not line.startswith("! "):
            return None
        return self.fields(template, line[2:], whole=whole)

    def about(self, name: str | None, line: str, *templates: str) -> bool:
        """Whether ``line`` is one of these notices, about ``name``."""
        for template in templates:
            found = self.notice(template, line)
            if found is not None and found["name"] == name:
                return True
        return False

    def any_error(self, templates: tuple[str, ...], line: str) -> bool:
        return any(self.error(template, line) is not None for template in templates)

    def tries_left(self, line: str) -> int | None:
        """How many more tries a wrong account password allows, if the line says."""
        if not line.startswith("! "):
            return None
        for pattern in _plural_patterns(self.lang, *TRIES_LEFT):
            found = pattern.fullmatch(line[2:])
            if found and found["n"].isdigit():
                return int(found["n"])
        return None


def needs_password(line: str) -> bool:
    """Whether a greeting or a refusal asks for the server's password (``/pass``)."""
    return "/pass " in line


def is_greeting(line: str) -> bool:
    """Whether a notice before the name is the server's greeting: it says what to send."""
    return line.startswith("*** ") and ("/login " in line or "/pass " in line)


def wrong_password(lines: ServerLines, refusal: str) -> bool:
    """A wrong password: the server's (it closes then) or a registered name's."""
    return (
        lines.error(WRONG_SERVER_PASSWORD, refusal) is not None
        or lines.error(WRONG_PASSWORD, refusal) is not None
        or lines.tries_left(refusal) is not None
    )


def asks_password(lines: ServerLines, refusal: str) -> bool:
    """The server refused a registered name sent alone: its password is wanted."""
    return lines.error(NAME_REGISTERED, refusal) is not None


def worded(_: Words, text: object) -> str:
    """``text`` in ``_``'s language if the core made it a Phrase (its fields too), else as is."""
    if not isinstance(text, Phrase):
        return str(text)
    return _(text.message, **{key: worded(_, value) for key, value in text.fields.items()})
