"""The sans-IO IRC codec: the ircdocs parser test vectors, the limits, and fuzzing."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from parser_tests.data import msg_join, msg_split

from trio_chat.irc.codec import (
    MAX_CLIENT_TAG_BYTES,
    MAX_LINE_BYTES,
    NOT_UTF8,
    TOO_LONG,
    BadMessage,
    IrcMessage,
    MessageBuffer,
    encode,
    escape_tag,
    fit_text,
    format_message,
    parse,
    unescape_tag,
)
from trio_chat.irc.formatting import strip_formatting


@pytest.mark.parametrize("case", msg_split["tests"], ids=lambda case: case["input"][:40])
def test_splits_as_the_ircdocs_vectors_say(case: dict[str, object]) -> None:
    atoms = case["atoms"]
    assert isinstance(atoms, dict)
    tags = {key: value or "" for key, value in (atoms.get("tags") or {}).items()}
    expected = IrcMessage(
        atoms["verb"].upper(), tuple(atoms.get("params", [])), atoms.get("source"), tags
    )
    assert parse(str(case["input"])) == expected


@pytest.mark.parametrize("case", msg_join["tests"], ids=lambda case: str(case["atoms"]["verb"]))
def test_joins_as_the_ircdocs_vectors_say(case: dict[str, object]) -> None:
    atoms = case["atoms"]
    assert isinstance(atoms, dict)
    tags = {key: value or "" for key, value in (atoms.get("tags") or {}).items()}
    message = IrcMessage(atoms["verb"], tuple(atoms.get("params", [])), atoms.get("source"), tags)
    # Ours writes a trailing ":" more often than needed; what it means must be the same.
    assert parse(format_message(message)) == parse(str(case["matches"][0]))


def test_the_buffer_splits_on_newlines_and_ignores_empty_lines() -> None:
    buffer = MessageBuffer()
    assert buffer.feed(b"NICK ana\r\n\r\nUSER a 0 * :A") == [IrcMessage("NICK", ("ana",))]
    assert buffer.feed(b"na\nPING") == [IrcMessage("USER", ("a", "0", "*", "Ana"))]
    assert buffer.feed(b"") == [IrcMessage("PING")]


def test_limits_512_bytes_and_4094_of_client_tags() -> None:
    body = "PRIVMSG #a :" + "x" * (MAX_LINE_BYTES - 2 - 12)
    assert parse(body) == IrcMessage("PRIVMSG", ("#a", body[12:]))
    assert MessageBuffer().feed(body.encode() + b"\r\n")[0] == IrcMessage(
        "PRIVMSG", ("#a", body[12:])
    )
    assert MessageBuffer().feed(body.encode() + b"x\r\n") == [BadMessage(TOO_LONG, "PRIVMSG")]
    tags = "@+a=" + "v" * (MAX_CLIENT_TAG_BYTES - 3)
    assert isinstance(MessageBuffer().feed(f"{tags} TAGMSG #a\r\n".encode())[0], IrcMessage)
    assert MessageBuffer().feed(f"{tags}v TAGMSG #a\r\n".encode()) == [
        BadMessage(TOO_LONG, "TAGMSG")
    ]


def test_an_endless_line_is_refused_once_and_the_buffer_stays_bounded() -> None:
    buffer = MessageBuffer()
    out = []
    for _ in range(100):
        out += buffer.feed(b"PRIVMSG #a :" + b"x" * 1000)
        assert len(buffer._buffer) <= MessageBuffer.LIMIT
    assert out == [BadMessage(TOO_LONG, "PRIVMSG")]
    assert buffer.feed(b"tail\r\nPING x\r\n") == [IrcMessage("PING", ("x",))]


def test_invalid_utf8_is_refused_and_the_next_line_is_fine() -> None:
    assert MessageBuffer().feed(b"PRIVMSG #a :caf\xe9\r\nPING x\r\n") == [
        BadMessage(NOT_UTF8, "PRIVMSG"),
        IrcMessage("PING", ("x",)),
    ]


def test_tag_values_are_escaped_and_unescaped() -> None:
    value = "a;b c\\d\re\nf"
    assert escape_tag(value) == "a\\:b\\sc\\\\d\\re\\nf"
    assert unescape_tag(escape_tag(value)) == value
    assert unescape_tag("x\\") == "x"
    assert unescape_tag("\\q") == "q"
    message = IrcMessage("PRIVMSG", ("#a", "hi"), "ana!a@h", {"time": "2026", "+t": value})
    assert parse(format_message(message)) == message


def test_nothing_that_ends_a_line_gets_into_one() -> None:
    data = encode(IrcMessage("PRIVMSG", ("#a", "one\r\ntwo\0three"), "x"))
    assert data == b":x PRIVMSG #a :one  two three\r\n"


def test_fit_text_cuts_between_characters_and_keeps_everything() -> None:
    text = "😀" * 300
    pieces = fit_text(40, text)
    assert "".join(pieces) == text
    assert all(len(piece.encode()) <= MAX_LINE_BYTES - 2 - 40 for piece in pieces)


# --- fuzzing --------------------------------------------------------------------------------

WORD = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters=" \r\n\0:"), min_size=1
).filter(lambda word: not word.startswith("@"))


@given(st.binary(max_size=3000), st.lists(st.integers(0, 3000), max_size=5))
def test_any_bytes_cut_anywhere_give_messages_or_clear_refusals(
    data: bytes, cuts: list[int]
) -> None:
    buffer = MessageBuffer()
    out: list[IrcMessage | BadMessage] = []
    start = 0
    for cut in sorted(cuts):
        out += buffer.feed(data[start:cut])
        start = max(start, cut)
    out += buffer.feed(data[start:])
    out += buffer.feed(b"")
    for made in out:
        assert isinstance(made, IrcMessage | BadMessage)
        if isinstance(made, IrcMessage):
            assert made.command
            assert " " not in made.command
            assert all("\n" not in param for param in made.params)
    assert len(buffer._buffer) == 0


@given(
    st.lists(WORD, min_size=1, max_size=14),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\0")),
    st.dictionaries(
        st.from_regex(r"\+?[a-z][a-z0-9-]{0,10}", fullmatch=True),
        st.text(st.characters(blacklist_categories=("Cs",))),
        max_size=3,
    ),
)
def test_what_is_formatted_parses_back(
    middle: list[str], trailing: str, tags: dict[str, str]
) -> None:
    message = IrcMessage(middle[0].upper(), (*middle[1:], trailing), "src", tags)
    assert parse(format_message(message)) == message


# --- formatting codes, and staying sans-IO ------------------------------------------------

FORMATTING_CODES = "\x02\x03\x04\x0f\x11\x16\x1d\x1e\x1f"


def test_formatting_codes_go_with_their_colour_digits() -> None:
    assert strip_formatting("\x0304red\x03 \x0304,12on blue\x03 \x033x") == "red on blue x"
    assert strip_formatting("\x04FF8800hex\x04 \x04ff8800,000000both\x0f") == "hex both"
    assert strip_formatting("\x02b\x02\x1di\x1d\x1fu\x1f\x1es\x1e\x11m\x11\x16r\x16") == "biusmr"
    # A comma with no digit after it, and a third digit, are text (modern.ircdocs.horse).
    assert strip_formatting("\x0312,x \x03123") == ",x 3"
    assert strip_formatting("plain, 12 and 3,4") == "plain, 12 and 3,4"


@given(st.text(st.sampled_from([*FORMATTING_CODES, "a", "1", ",", "F", " "])))
def test_no_formatting_code_is_left_and_plain_text_stays(text: str) -> None:
    stripped = strip_formatting(text)
    assert not set(stripped) & set(FORMATTING_CODES)
    if not set(text) & set(FORMATTING_CODES):
        assert stripped == text


def test_the_codec_and_formatting_do_not_import_trio() -> None:
    code = (
        "import sys, trio_chat.irc.codec, trio_chat.irc.formatting;"
        " assert 'trio' not in sys.modules, sorted(sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
