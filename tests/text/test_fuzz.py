"""Fuzzing the line protocol: the sans-IO codec, the command parser, and a live session.

test_protocol.py checks each rule with chosen examples and a few general
properties. Here hypothesis throws what a hostile or broken client could send
(any bytes cut anywhere; command lines built from the real command names with
odd Unicode, control characters, lone surrogates, NUL, huge arguments) and
checks what a user would see: nothing raises but the documented errors, every
error is one ``! `` line, and every line sent is valid UTF-8 ending in
exactly one newline, free of control characters.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import string
from collections.abc import Iterator
from contextlib import contextmanager

import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trio_chat.core.events import (
    Action,
    Crowd,
    Error,
    Joined,
    Message,
    Notice,
    Parted,
    Past,
    Private,
    Renamed,
    ServerEvent,
    TopicChanged,
)
from trio_chat.core.hub import Hub
from trio_chat.core.names import (
    MAX_NAME_CHARS,
    MAX_TOPIC_CHARS,
    NAME_FIRST_PUNCTUATION,
    NAME_PUNCTUATION,
    ROOM_PUNCTUATION,
    BadName,
    check_name,
    check_room,
    clean_text,
    name_key,
)
from trio_chat.text.codec import BadLine, Line, LineBuffer, encode, format_event
from trio_chat.text.grammar import (
    COMMANDS,
    HISTORY_MAX,
    HistoryRequest,
    Invalid,
    Join,
    Me,
    Nick,
    PrivateMessage,
    Quit,
    Say,
    Topic,
    parse_command,
)

from ..conftest import (
    STEP_TIMEOUT,
    MemoryConnector,
    assert_displayable,
    assert_well_formed,
    text_server,
)

# Fuzzing is cheap per example but the suite must stay fast: modest counts.
CODEC = settings(max_examples=200, deadline=None)
SESSION = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def line_errors(max_bytes: int) -> set[str]:
    """The only reasons a LineBuffer gives for dropping a line (README, "Limits")."""
    return {f"line too long (max {max_bytes} bytes), dropped", "invalid UTF-8, line dropped"}


def assert_one_wire_line(data: bytes) -> str:
    """``data`` is one protocol line: valid UTF-8, exactly one newline, at the end."""
    assert data.endswith(b"\n"), data
    assert data.count(b"\n") == 1, data
    text = data[:-1].decode("utf-8")  # raises if not valid UTF-8
    assert_displayable(text)
    return text


def assert_error_line(reason: str) -> None:
    """What a user sees for an error: a single ``! `` line."""
    assert reason.strip(), "an error must say why"
    text = assert_one_wire_line(encode(Error(reason)))
    assert text.startswith("! ")


# --- strategies ---------------------------------------------------------------------

# Characters the parser and the name rules care about, and some that break naive code.
NASTY_CHARS = [
    "\x00", "\n", "\r", "\t", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\x9b", "\x9c",
    "\u00a0", "\u1680", "\u2028", "\u2029", "\u3000", "\u200b", "\u200d", "\ufeff",
    "\u202e", "\u2066", "\u2069", "\u0301", "\u0308", "\ufffd", "\U0001f600",
    "\ud800", "\udbff", "\udc00", "\udfff",  # lone surrogates
    "ß", "İ", "ﬃ", "ǅ", "Ω", "\uff41", "é", "e\u0301", "/", "//", "#", "*", "-", "_", ".", " ",
]  # fmt: skip
ESCAPES = ["\x1b[31m", "\x1b[2J", "\x1b]0;title\x07", "\x1b]8;;http://x\x1b\\", "\x9b1m", "\x1b"]

nasty_char = st.one_of(
    st.sampled_from(NASTY_CHARS),
    st.characters(),  # any code point but surrogates
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.sampled_from(string.ascii_letters + string.digits),
)
nasty_text = st.lists(st.one_of(nasty_char, st.sampled_from(ESCAPES)), max_size=24).map("".join)
# A long run of one character: far over every length limit, cheap to generate.
huge_text = st.builds(lambda char, n: char * n, nasty_char, st.integers(0, 20_000))
separator = st.sampled_from([" ", "  ", "\t", "\u3000", "\u00a0", "\x0b", "\x1b[0m", ""])


@st.composite
def command_lines(draw: st.DrawFn) -> str:
    """A line starting with a real command name (any case) and odd arguments."""
    verb = draw(st.sampled_from([*COMMANDS, "", "frob", "quit", "msg"]))
    verb = "".join(draw(st.sampled_from([c.lower(), c.upper()])) for c in verb)
    words = draw(st.lists(st.one_of(nasty_text, huge_text, st.sampled_from(["*", "-", "500"]))))
    line = draw(st.sampled_from(["/", "//", " /", "\x1b[1m/"])) + verb
    for word in words:
        line += draw(separator) + word
    return line


any_line = st.one_of(command_lines(), nasty_text, huge_text, st.text())


# --- LineBuffer ------------------------------------------------------------------------


def reference_lines(data: bytes, max_bytes: int) -> list[Line | BadLine]:
    """What LineBuffer must return for ``data`` then EOF: the README's rules, naively."""
    segments = data.split(b"\n")
    if segments[-1] == b"":
        segments.pop()  # data ended with a newline, or was empty
    events: list[Line | BadLine] = []
    for segment in segments:
        if segment.endswith(b"\r"):
            segment = segment[:-1]
        if len(segment) > max_bytes:
            events.append(BadLine(f"line too long (max {max_bytes} bytes), dropped"))
            continue
        try:
            events.append(Line(segment.decode("utf-8")))
        except UnicodeDecodeError:
            events.append(BadLine("invalid UTF-8, line dropped"))
    return events


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


# Bytes rich in what matters: line ends, multi-byte and broken UTF-8, encoded surrogates.
wire_bytes = st.lists(
    st.one_of(
        st.sampled_from(
            [
                b"\n",
                b"\r",
                b"\r\n",
                b"\r\r\n",
                b"\x00",
                b"\xc3\xa9",
                b"\xc3",
                b"\xff",
                b"\xed\xa0\x80",
            ]
        ),
        st.binary(max_size=40),
        any_line.map(lambda line: line.encode("utf-8", "surrogatepass")),
    ),
    max_size=30,
).map(b"".join)


@CODEC
@given(
    data=wire_bytes,
    cuts=st.lists(st.integers(min_value=0), max_size=30),
    max_bytes=st.sampled_from([1, 2, 3, 8, 64, 4096]),
)
def test_line_buffer_follows_the_rules_however_the_bytes_are_cut(
    data: bytes, cuts: list[int], max_bytes: int
) -> None:
    buffer = LineBuffer(max_bytes)
    events: list[Line | BadLine] = []
    for chunk in [*split_at(data, cuts), b""]:
        events += buffer.feed(chunk)
    assert events == reference_lines(data, max_bytes)
    for event in events:
        if isinstance(event, BadLine):
            assert event.reason in line_errors(max_bytes)
            assert_error_line(event.reason)
        else:
            # Decoded text never holds a newline or a lone surrogate (strict UTF-8).
            assert "\n" not in event.text
            event.text.encode("utf-8")


# --- the command parser ------------------------------------------------------------------


def shown_fields(command: object) -> list[str]:
    return [value for value in dataclasses.astuple(command) if isinstance(value, str)]


@CODEC
@given(any_line)
def test_parse_command_never_raises_and_what_it_keeps_is_displayable(line: str) -> None:
    command = parse_command(line)
    if command is None:
        assert not clean_text(line).strip()
        return
    for text in shown_fields(command):
        assert_displayable(text)
        text.encode("utf-8")
    match command:
        case Invalid(reason):
            assert_error_line(reason)
        case Say(text):
            assert text.strip()
        case Me(text) | Quit(text):
            assert text == text.strip()
        case Join(room):
            assert len(room.split()) == 1
        case Nick(name):
            # One word (a tab inside is left for check_name to refuse, with a reason).
            assert name
            assert " " not in name
            assert name == name.strip()
        case PrivateMessage(target, text):
            assert len(target.split()) == 1
            assert text
            assert text == text.strip()
        case Topic(str(topic)):
            assert len(topic) <= MAX_TOPIC_CHARS
        case HistoryRequest(count):
            assert 1 <= count <= HISTORY_MAX


def allowed_in_a_name(index: int, char: str, punctuation: frozenset[str]) -> bool:
    import unicodedata

    if index == 0 and punctuation == NAME_PUNCTUATION:  # RFC 2812: no digit, no '-' first
        return (char.isalpha() or char in NAME_FIRST_PUNCTUATION) and not char.isdecimal()
    mark = index > 0 and unicodedata.category(char) in ("Mn", "Mc")
    return char.isalpha() or char.isdecimal() or char in punctuation or mark


@CODEC
@given(st.one_of(nasty_text, huge_text, st.text(max_size=40)))
def test_a_name_is_valid_and_stable_or_refused_with_a_one_line_reason(raw: str) -> None:
    try:
        name = check_name(raw)
    except BadName as exc:
        assert_error_line(f"{exc}; try another name")
    else:
        assert 1 <= len(name) <= MAX_NAME_CHARS
        assert all(allowed_in_a_name(i, char, NAME_PUNCTUATION) for i, char in enumerate(name))
        assert "." not in name  # IRC clients read a dotted nick as a server name
        assert check_name(name) == name
        assert_one_wire_line(encode(Joined(name, "#lobby")))


@CODEC
@given(st.one_of(nasty_text, huge_text, st.text(max_size=40)))
def test_a_room_name_is_valid_and_stable_or_refused_with_a_one_line_reason(raw: str) -> None:
    try:
        room = check_room(raw)
    except BadName as exc:
        assert_error_line(str(exc))
    else:
        assert room.startswith("#")
        assert check_room(room) == room
        assert 2 <= len(room) <= MAX_NAME_CHARS + 1
        assert all(allowed_in_a_name(i, c, ROOM_PUNCTUATION) for i, c in enumerate(room[1:]))


@CODEC
@given(st.one_of(nasty_text, huge_text, st.text()))
def test_clean_text_removes_everything_a_terminal_would_obey(text: str) -> None:
    cleaned = clean_text(text)
    assert_displayable(cleaned)
    assert clean_text(cleaned) == cleaned


def test_a_lone_surrogate_is_removed_so_that_what_was_said_can_be_sent() -> None:
    # No decoded line holds one, but text from elsewhere may: it must not make
    # encoding fail for everyone in the room.
    assert parse_command("hi \ud800there\udfff") == Say("hi there")
    assert encode(Message("ana", "#lobby", clean_text("a\udc80b"))) == b"ana: ab\n"


# --- format_event and encode ----------------------------------------------------------------


def invalid_reason(line: str) -> str:
    """The reason parse_command gives for refusing ``line``."""
    command = parse_command(line)
    assert isinstance(command, Invalid), line
    return command.reason


# Lines parse_command refuses with a usage or a limit ("/x..." is always unknown).
REFUSED_LINES = [
    "/me",
    "/nick",
    "/msg bob",
    "/who x",
    "/history 0",
    "/join a b",
    "/topic " + "t" * 301,
]


# Names and texts as the hub gets them: names checked, texts cleaned.
valid_name = st.one_of(
    st.builds(
        str.__add__,
        st.sampled_from(string.ascii_letters + "".join(NAME_FIRST_PUNCTUATION)),
        st.text(
            string.ascii_letters + string.digits + "".join(NAME_PUNCTUATION),
            max_size=MAX_NAME_CHARS - 1,
        ),
    ),
    st.sampled_from(["José", "名前", "\uff41\uff4e\uff41", "நமஸ்தே", "e\u0301"]).map(check_name),
)
said = st.one_of(any_line).map(clean_text)
a_time = st.floats(min_value=0, max_value=4_102_444_800)  # up to 2100
said_event = st.one_of(
    st.builds(Message, valid_name, st.just("#lobby"), said, a_time),
    st.builds(Action, valid_name, st.just("#lobby"), said, a_time),
)
server_event: st.SearchStrategy[ServerEvent] = st.one_of(
    said_event,
    st.builds(Past, said_event),
    st.builds(Private, valid_name, valid_name, said),
    st.builds(Joined, valid_name, st.just("#lobby")),
    st.builds(Parted, valid_name, st.just("#lobby"), st.sampled_from(["", "went to #dev"]) | said),
    st.builds(
        Crowd,
        st.just("#big"),
        st.lists(valid_name, min_size=1, max_size=30).map(tuple),
        st.lists(valid_name, max_size=30).map(tuple),
    ),
    st.builds(Renamed, valid_name, valid_name),
    st.builds(TopicChanged, valid_name, st.just("#lobby"), said),
    st.builds(Notice, said),
    st.builds(Error, nasty_text.map(lambda text: invalid_reason("/x" + text))),
    st.builds(Error, st.sampled_from(REFUSED_LINES).map(invalid_reason)),
)


@CODEC
@given(server_event)
def test_every_event_encodes_to_exactly_one_utf8_line(event: ServerEvent) -> None:
    data = encode(event)
    text = assert_one_wire_line(data)
    assert text == format_event(event)
    # What a client's LineBuffer reads back is that same line.
    assert LineBuffer(len(data)).feed(data) == [Line(text)]


# --- a live session ------------------------------------------------------------------------


def assert_protocol_lines(data: bytes) -> list[str]:
    """``data`` is whole protocol lines, each well-formed; return them."""
    assert data.endswith(b"\n") or not data, data[-200:]
    lines = [raw.decode("utf-8") for raw in data.split(b"\n")[:-1]]
    assert_well_formed(lines)
    return lines


async def read_to_eof(stream: trio.abc.ReceiveStream) -> bytes:
    received = bytearray()
    while data := await stream.receive_some(65536):
        received += data
    return bytes(received)


@contextmanager
def captured_logs() -> Iterator[list[logging.LogRecord]]:
    """The server's log records at INFO and above, while the block runs."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("trio_chat")
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


# What a member may throw at the server in one write.
session_chunk = st.one_of(
    wire_bytes,
    command_lines().map(lambda line: line.encode("utf-8", "surrogatepass") + b"\n"),
    st.binary(min_size=1, max_size=300),
    st.integers(4000, 9000).map(lambda n: b"y" * n + b"\n"),  # around the line limit
    st.sampled_from([b"/help\n", b"/who *\n", b"/rooms\n", b"/join #x\n", b"/nick carl\n"]),
)


@SESSION
@given(chunks=st.lists(session_chunk, min_size=1, max_size=8))
async def test_a_member_sending_anything_never_breaks_the_server_or_the_room(
    chunks: list[bytes],
) -> None:
    hub = Hub(name_key)
    with captured_logs() as records, trio.fail_after(STEP_TIMEOUT):
        async with trio.open_nursery() as nursery:
            connector = MemoryConnector(text_server(hub), nursery)
            bob, carl, ana = await connector.members("bob", "carl", "ana")
            for chunk in chunks:
                try:
                    await ana.send_bytes(chunk)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    break  # an earlier /quit closed the connection
            # End any unfinished or over-long line, then leave.
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await ana.send_bytes(b"\n/quit\n")
            answers = assert_protocol_lines(await read_to_eof(ana.stream))
            assert answers[-1] == "*** Bye!"

            # The others were not disturbed: they still hear each other.
            await carl.send("after the storm")
            heard = await bob.until("carl: after the storm")
            assert_protocol_lines("".join(line + "\n" for line in heard).encode())
            assert hub.names() == ["bob", "carl"]
            for peer in (bob, carl):
                await peer.send("/quit")
                await read_to_eof(peer.stream)
        # Every session ended by itself: nothing was left running.
    assert len(hub) == 0
    assert not [r for r in records if r.levelno >= logging.WARNING or r.exc_info], records
