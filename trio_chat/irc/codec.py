"""IRC messages, sans-IO: bytes in, :class:`IrcMessage` out; messages in, bytes out.

Theory of operation
-------------------
Nothing here does I/O or imports trio (the h11/wsproto pattern, like the
text door's codec). A session feeds whatever it received into a
:class:`MessageBuffer` and gets back complete messages, or :class:`BadMessage`
for a line it could not take; the connection stays usable either way.

The grammar is RFC 1459/2812 as modern.ircdocs.horse and IRCv3 message-tags
write it down::

    [@tags SPACE] [:source SPACE] command *(SPACE param) [SPACE :trailing] CRLF

Rules:

* A message ends in ``\\n``; one ``\\r`` before it is dropped (``\\r\\n``
  is the norm, a bare ``\\n`` is accepted). Empty lines are ignored.
* The message without its tags is at most 512 bytes with its ``\\r\\n``
  (:data:`MAX_LINE_BYTES`); a client's tag data (between ``@`` and the space)
  is at most 4094 bytes (:data:`MAX_CLIENT_TAG_BYTES`), as IRCv3 message-tags
  says: the server adds at most as much of its own (a few dozen bytes here),
  so a relayed line's tags, ``@`` + the server's + ``;`` + the client's +
  space, stay within the spec's total of 8191 (:data:`MAX_TAGS_BYTES`).
  Longer is :data:`TOO_LONG` (the session answers ``417 ERR_INPUTTOOLONG``;
  tags are never cut, the spec forbids it), dropped up to its newline; the
  buffer never grows past the limit.
* UTF-8 only (ISUPPORT ``UTF8ONLY``): a line that is not is :data:`NOT_UTF8`
  (``FAIL <command> INVALID_UTF8``), dropped.
* Tag values are escaped (``\\:`` ``\\s`` ``\\\\`` ``\\r`` ``\\n``) on the
  wire and unescaped here; :func:`format_message` escapes them back.
* Spaces between parameters may be several (RFC 1459); a leading ``:``
  starts the trailing parameter, which may hold spaces or be empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The longest message without tags, in bytes, with its "\r\n".
MAX_LINE_BYTES = 512
# The longest tag data a client may send (without the "@" and the space).
MAX_CLIENT_TAG_BYTES = 4094
# The longest tags part of any line (message-tags: "@", 4094 of the server's, ";", 4094 of
# the client's, and the space).
MAX_TAGS_BYTES = 8191
# A command has at most this many parameters (RFC 2812): the 15th takes the rest.
MAX_PARAMS = 15

# Why a line was refused.
TOO_LONG = "too long"
NOT_UTF8 = "not UTF-8"
NO_COMMAND = "no command"

_ESCAPES = {";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"}
_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_ESCAPE_TABLE = str.maketrans(_ESCAPES)
# Commands whose one parameter is text: written after ":" always (a PART's or TOPIC's
# first is a channel: ``PART #dev``, and their text is the second, trailing anyway).
_TEXT_COMMANDS = frozenset({"QUIT", "ERROR", "AWAY", "NOTICE", "PRIVMSG"})
# What never goes on the wire inside a parameter: it would end or cut the line.
_LINE_BREAKERS = str.maketrans({"\r": " ", "\n": " ", "\0": " "})


@dataclass(frozen=True, slots=True)
class IrcMessage:
    """One IRC message: ``command`` upper case, ``params`` with the trailing one last."""

    command: str
    params: tuple[str, ...] = ()
    source: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def trailing(self) -> bool:
        """Whether the last parameter is written after ``:`` even where not needed."""
        return len(self.params) > 1 or self.command in _TEXT_COMMANDS

    @property
    def last(self) -> str:
        """The last parameter ("" if there is none)."""
        return self.params[-1] if self.params else ""


@dataclass(frozen=True, slots=True)
class BadMessage:
    """A line that was dropped: ``why`` (TOO_LONG, NOT_UTF8...) and its command if known."""

    why: str
    command: str = "*"


# --- decoding -------------------------------------------------------------------


class MessageBuffer:
    """Split a byte stream into IRC messages, enforcing the length limits.

    ``feed(data)`` returns what ``data`` completed; ``feed(b"")`` is the end
    of the stream and parses an unterminated last line.
    """

    __slots__ = ("_buffer", "_discarding", "_scanned")

    # The longest line accepted at all: tags, their "@" and space, and the rest.
    LIMIT = MAX_CLIENT_TAG_BYTES + 2 + MAX_LINE_BYTES

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._scanned = 0
        self._discarding = False

    def feed(self, data: bytes | bytearray) -> list[IrcMessage | BadMessage]:
        if not data:
            return self._finish()
        if self._discarding:
            newline = data.find(b"\n")
            if newline < 0:
                return []
            self._discarding = False
            data = data[newline + 1 :]
        buffer = self._buffer
        buffer += data
        out: list[IrcMessage | BadMessage] = []
        start = 0
        while (newline := buffer.find(b"\n", max(start, self._scanned))) >= 0:
            made = decode_line(bytes(buffer[start:newline]))
            if made is not None:
                out.append(made)
            start = newline + 1
        del buffer[:start]
        self._scanned = len(buffer)
        if len(buffer) > self.LIMIT:
            out.append(BadMessage(TOO_LONG, _command_of(bytes(buffer))))
            buffer.clear()
            self._scanned = 0
            self._discarding = True
        return out

    def _finish(self) -> list[IrcMessage | BadMessage]:
        rest = bytes(self._buffer)
        self._buffer.clear()
        self._scanned = 0
        if self._discarding or not rest:
            self._discarding = False
            return []
        made = decode_line(rest)
        return [] if made is None else [made]


def decode_line(raw: bytes) -> IrcMessage | BadMessage | None:
    """One line's bytes (without ``\\n``) as a message; None for an empty line."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if not raw.strip(b" "):
        return None
    tags_size = raw.find(b" ") if raw.startswith(b"@") else 0
    if tags_size < 0:
        return BadMessage(NO_COMMAND)
    body_start = tags_size and _skip_spaces(raw, tags_size)
    if tags_size - 1 > MAX_CLIENT_TAG_BYTES or len(raw) - body_start > MAX_LINE_BYTES - 2:
        return BadMessage(TOO_LONG, _command_of(raw))
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return BadMessage(NOT_UTF8, _command_of(raw))
    return parse(line)


def _skip_spaces(raw: bytes, index: int) -> int:
    while index < len(raw) and raw[index] == 0x20:
        index += 1
    return index


def _command_of(raw: bytes) -> str:
    """The command of a line that could not be taken, as far as it can be told ("*")."""
    words = raw.split()
    while words and words[0][:1] in (b"@", b":"):
        words.pop(0)
    if not words:
        return "*"
    command = words[0].decode("ascii", "replace").upper()
    return command if command.isalnum() and len(command) <= 32 else "*"


def parse(line: str) -> IrcMessage | BadMessage:
    """One decoded line (without its terminator) as a message."""
    tags: dict[str, str] = {}
    rest = line.lstrip(" ")
    if rest.startswith("@"):
        raw_tags, _, rest = rest[1:].partition(" ")
        tags = parse_tags(raw_tags)
        rest = rest.lstrip(" ")
    source = None
    if rest.startswith(":"):
        raw_source, _, rest = rest[1:].partition(" ")
        source = raw_source
        rest = rest.lstrip(" ")
    middle, colon, trailing = rest.partition(" :")
    if middle.startswith(":"):  # no middle parameters: "CMD :trailing" cannot be; "CMD" can
        return BadMessage(NO_COMMAND)
    words = [word for word in middle.split(" ") if word]
    if not words:
        return BadMessage(NO_COMMAND)
    command, params = words[0].upper(), words[1:]
    if colon:
        params.append(trailing)
    if len(params) > MAX_PARAMS:
        params[MAX_PARAMS - 1 :] = [" ".join(params[MAX_PARAMS - 1 :])]
    return IrcMessage(command, tuple(params), source, tags)


def parse_tags(raw: str) -> dict[str, str]:
    """``a=1;b;c=x\\sy`` as ``{"a": "1", "b": "", "c": "x y"}`` (the last of a repeated key)."""
    tags: dict[str, str] = {}
    for part in raw.split(";"):
        if not part:
            continue
        key, _, value = part.partition("=")
        if key:
            tags[key] = unescape_tag(value)
    return tags


def unescape_tag(value: str) -> str:
    """A tag value as sent, unescaped (``\\x`` is ``x``; a final lone ``\\`` is dropped)."""
    if "\\" not in value:
        return value
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        following = next(chars, "")
        out.append(_UNESCAPES.get(following, following))
    return "".join(out)


def escape_tag(value: str) -> str:
    """A tag value as it goes on the wire."""
    return value.translate(_ESCAPE_TABLE)


# --- encoding -------------------------------------------------------------------


def format_message(message: IrcMessage) -> str:
    """The line (without ``\\r\\n``) for ``message``.

    The last parameter is trailing (``:``) where it must be, and where
    ``message.trailing`` says (by default when there are two or more, as
    most servers write them: weak clients count on it).

    Characters that would end the line (CR, LF, NUL) become spaces.
    """
    parts: list[str] = []
    if message.tags:
        parts.append("@" + ";".join(_tag(key, value) for key, value in message.tags.items()))
    if message.source:
        parts.append(":" + message.source)
    parts.append(message.command)
    params = [param.translate(_LINE_BREAKERS) for param in message.params]
    if params:
        for param in params[:-1]:
            parts.append(param.replace(" ", "") or "*")
        last = params[-1]
        needed = not last or " " in last or last.startswith(":")
        parts.append(":" + last if needed or message.trailing else last)
    return " ".join(parts)


def _tag(key: str, value: str) -> str:
    return f"{key}={escape_tag(value)}" if value else key


def encode(message: IrcMessage) -> bytes:
    """The bytes sent for ``message``, ``\\r\\n`` included."""
    return (format_message(message) + "\r\n").encode("utf-8", "replace")


def fit_text(prefix_bytes: int, text: str) -> list[str]:
    """``text`` cut into pieces that fit in a message of which ``prefix_bytes`` are taken.

    Pieces are cut at a space where one is near, and never inside a UTF-8
    character; at least one piece (maybe empty) is returned.
    """
    room = max(MAX_LINE_BYTES - 2 - prefix_bytes, 16)
    data = text.encode("utf-8", "replace")
    if len(data) <= room:
        return [text]
    pieces: list[str] = []
    while len(data) > room:
        cut = room
        while cut > 0 and (data[cut] & 0xC0) == 0x80:  # inside a character
            cut -= 1
        space = data.rfind(b" ", room // 2, cut)
        if space > 0:
            cut = space + 1
        pieces.append(data[:cut].decode("utf-8").rstrip(" ") or data[:cut].decode("utf-8"))
        data = data[cut:]
    if data:
        pieces.append(data.decode("utf-8"))
    return pieces
