"""The sans-IO line codec: plain synchronous tests, no trio, no I/O."""

from __future__ import annotations

import dataclasses
import itertools
import re
import subprocess
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_chat.core.events import (
    Action,
    Dismissed,
    Error,
    Joined,
    Message,
    Notice,
    Parted,
    Private,
    Reason,
    Renamed,
    ServerEvent,
)
from trio_chat.core.events import (
    Quit as Departed,
)
from trio_chat.core.names import MAX_NAME_CHARS, BadName, check_name, clean_text, name_key
from trio_chat.text.codec import MAX_LINE_BYTES, BadLine, Line, LineBuffer, encode, format_event
from trio_chat.text.grammar import (
    COMMANDS,
    Command,
    Help,
    Invalid,
    Me,
    Nick,
    PrivateMessage,
    Quit,
    Say,
    Who,
    parse_command,
)

# "ana" in fullwidth letters: a different string, but the same name.
FULLWIDTH_ANA = "\uff41\uff4e\uff41"
# A small line cap, so over-long lines are short enough to read in a test.
SMALL_MAX = 8


def feed_all(buffer: LineBuffer, *chunks: bytes) -> list[Line | BadLine]:
    """Feed every chunk in order and return all the events they produced."""
    events: list[Line | BadLine] = []
    for chunk in chunks:
        events += buffer.feed(chunk)
    return events


def texts(events: list[Line | BadLine]) -> list[str]:
    """The Line texts, with "BAD" standing for each BadLine, for compact asserts."""
    return [event.text if isinstance(event, Line) else "BAD" for event in events]


def is_forbidden_control(char: str) -> bool:
    """C0 except tab, DEL and C1: what must never reach a terminal."""
    code = ord(char)
    return (code < 0x20 and char != "\t") or 0x7F <= code <= 0x9F


# --- LineBuffer ------------------------------------------------------------------


def test_lines_split_on_newline() -> None:
    assert LineBuffer().feed(b"hello\n") == [Line("hello")]


def test_one_carriage_return_before_newline_is_dropped() -> None:
    assert LineBuffer().feed(b"hello\r\n") == [Line("hello")]


def test_only_one_carriage_return_is_dropped() -> None:
    assert LineBuffer().feed(b"hello\r\r\n") == [Line("hello\r")]


def test_carriage_return_inside_a_line_is_kept_for_clean_text_to_remove() -> None:
    assert LineBuffer().feed(b"a\rb\n") == [Line("a\rb")]


def test_every_line_from_one_chunk_is_returned() -> None:
    assert LineBuffer().feed(b"ana\nhi all\r\nhow are you?\n") == [
        Line("ana"),
        Line("hi all"),
        Line("how are you?"),
    ]


def test_empty_lines_are_returned_as_empty_lines() -> None:
    assert LineBuffer().feed(b"\n\r\n") == [Line(""), Line("")]


def test_unterminated_part_waits_for_the_rest_of_its_line() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"one\ntw") == [Line("one")]
    assert buffer.feed(b"o\nthr") == [Line("two")]
    assert buffer.feed(b"ee\n") == [Line("three")]


def test_a_line_split_into_single_bytes_comes_out_whole() -> None:
    buffer = LineBuffer()
    assert feed_all(buffer, *(bytes([b]) for b in b"hello\r\n")) == [Line("hello")]


def test_carriage_return_and_newline_in_separate_chunks() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"hello\r") == []
    assert buffer.feed(b"\n") == [Line("hello")]


def test_multibyte_character_split_across_chunks_decodes() -> None:
    data = "José 😀\n".encode()
    buffer = LineBuffer()
    assert feed_all(buffer, data[:4], data[4:8], data[8:]) == [Line("José 😀")]


def test_line_of_exactly_max_bytes_is_accepted() -> None:
    assert LineBuffer(SMALL_MAX).feed(b"x" * SMALL_MAX + b"\n") == [Line("x" * SMALL_MAX)]


def test_max_bytes_line_with_crlf_is_accepted_even_when_split() -> None:
    buffer = LineBuffer(SMALL_MAX)
    assert feed_all(buffer, b"x" * SMALL_MAX + b"\r", b"\n") == [Line("x" * SMALL_MAX)]


def test_over_long_line_gives_one_bad_line_and_the_next_line_is_fine() -> None:
    events = LineBuffer(SMALL_MAX).feed(b"x" * (SMALL_MAX + 1) + b"\nnext\n")
    assert texts(events) == ["BAD", "next"]
    assert events[0] == BadLine(f"line too long (max {SMALL_MAX} bytes), dropped")


def test_over_long_line_arriving_in_pieces_is_reported_once() -> None:
    buffer = LineBuffer(SMALL_MAX)
    events = feed_all(buffer, *[b"x" * 5] * 10, b"xx\nnext\n")
    assert texts(events) == ["BAD", "next"]


def test_over_long_line_is_reported_as_soon_as_it_is_too_long() -> None:
    buffer = LineBuffer(SMALL_MAX)
    assert texts(buffer.feed(b"x" * 100)) == ["BAD"]
    assert buffer.feed(b"y" * 100) == []
    assert buffer.feed(b"z\nok\n") == [Line("ok")]


def test_real_limit_accepts_exactly_4096_bytes() -> None:
    assert MAX_LINE_BYTES == 4096
    line = b"x" * 4096
    assert LineBuffer().feed(line + b"\r\n") == [Line("x" * 4096)]


def test_real_limit_rejects_4097_bytes_and_keeps_the_connection_usable() -> None:
    events = LineBuffer().feed(b"x" * 4097 + b"\nafter\n")
    assert texts(events) == ["BAD", "after"]
    assert isinstance(events[0], BadLine)
    assert "4096" in events[0].reason


def test_real_limit_counts_bytes_not_characters() -> None:
    # 2049 two-byte characters are 4098 bytes: too long, although only 2049 characters.
    events = LineBuffer().feed("é".encode() * 2049 + b"\nok\n")
    assert texts(events) == ["BAD", "ok"]


def test_invalid_utf8_gives_bad_line_and_the_next_line_is_fine() -> None:
    events = LineBuffer().feed(b"caf\xe9\nok\n")
    assert events == [BadLine("invalid UTF-8, line dropped"), Line("ok")]


def test_truncated_utf8_sequence_is_invalid() -> None:
    events = LineBuffer().feed("é".encode()[:1] + b"\n")
    assert texts(events) == ["BAD"]


def test_eof_flushes_an_unterminated_last_line() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"one\ntwo") == [Line("one")]
    assert buffer.feed(b"") == [Line("two")]


def test_eof_drops_a_trailing_carriage_return() -> None:
    buffer = LineBuffer()
    assert feed_all(buffer, b"bye\r", b"") == [Line("bye")]


def test_eof_after_complete_lines_gives_nothing() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"one\n") == [Line("one")]
    assert buffer.feed(b"") == []


def test_eof_with_over_long_unterminated_line_within_the_slack_is_rejected() -> None:
    # SMALL_MAX + 1 bytes fit in the buffer (the last one might have been "\r").
    buffer = LineBuffer(SMALL_MAX)
    assert buffer.feed(b"x" * (SMALL_MAX + 1)) == []
    assert texts(buffer.feed(b"")) == ["BAD"]


def test_eof_in_the_middle_of_an_over_long_line_gives_nothing_more() -> None:
    buffer = LineBuffer(SMALL_MAX)
    assert texts(buffer.feed(b"x" * (SMALL_MAX + 5))) == ["BAD"]
    assert buffer.feed(b"more") == []
    assert buffer.feed(b"") == []


def test_eof_with_invalid_utf8_last_line_is_bad() -> None:
    buffer = LineBuffer()
    assert texts(feed_all(buffer, b"\xff", b"")) == ["BAD"]


def test_buffer_is_reusable_after_eof() -> None:
    buffer = LineBuffer(SMALL_MAX)
    feed_all(buffer, b"x" * 100, b"")
    assert buffer.feed(b"fresh\n") == [Line("fresh")]


# A byte stream rich in the bytes the codec cares about.
stream_bytes = st.lists(
    st.one_of(
        st.sampled_from([b"\n", b"\r", b"\r\n", b"x", b"\xc3\xa9", b"\xc3", b"\xff"]),
        st.binary(max_size=12),
    ),
    max_size=40,
).map(b"".join)


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


@given(
    data=stream_bytes,
    cuts=st.lists(st.integers(min_value=0), max_size=20),
    max_bytes=st.integers(min_value=1, max_value=16),
)
def test_events_do_not_depend_on_how_the_stream_is_chunked(
    data: bytes, cuts: list[int], max_bytes: int
) -> None:
    whole = feed_all(LineBuffer(max_bytes), data, b"")
    pieces = feed_all(LineBuffer(max_bytes), *split_at(data, cuts), b"")
    assert pieces == whole


@given(chunks=st.lists(st.binary(max_size=64), max_size=20))
def test_arbitrary_bytes_never_raise_and_lines_hold_no_newline(chunks: list[bytes]) -> None:
    buffer = LineBuffer(SMALL_MAX * 4)
    events = feed_all(buffer, *chunks, b"")
    for event in events:
        assert isinstance(event, Line | BadLine)
        if isinstance(event, Line):
            assert "\n" not in event.text
        else:
            assert event.reason


@given(
    chunks=st.lists(st.one_of(stream_bytes, st.binary(max_size=200)), max_size=20),
    max_bytes=st.integers(min_value=1, max_value=32),
)
def test_buffer_never_holds_more_than_max_plus_one_bytes(
    chunks: list[bytes], max_bytes: int
) -> None:
    buffer = LineBuffer(max_bytes)
    for chunk in chunks:
        buffer.feed(chunk)
        assert len(buffer._buffer) <= max_bytes + 1


# --- clean_text -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        pytest.param("\x1b[31mred\x1b[0m", "red", id="sgr-color"),
        pytest.param("\x1b[1;38;5;196mbold\x1b[m", "bold", id="sgr-256-color"),
        pytest.param("a\x1b[2Ab", "ab", id="cursor-up"),
        pytest.param("a\x1b[10;20Hb", "ab", id="cursor-position"),
        pytest.param("\x1b[2J\x1b[Hhi", "hi", id="clear-screen"),
        pytest.param("\x1b[?25lhidden cursor", "hidden cursor", id="private-mode"),
        pytest.param("\x1b]0;pwned\x07hi", "hi", id="osc-title-bel"),
        pytest.param("\x1b]2;pwned\x1b\\hi", "hi", id="osc-title-st"),
        pytest.param("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "link", id="osc-hyperlink"),
        pytest.param("\x9b31mred", "red", id="c1-csi"),
        pytest.param("\x9d0;t\x9chi", "hi", id="c1-osc-c1-st"),
        pytest.param("hi\x1b", "hi", id="bare-esc-at-end"),
        pytest.param("ding\x07", "ding", id="bel"),
        pytest.param("abc\x08\x08\x08xyz", "abcxyz", id="backspace"),
        pytest.param("nul\x00byte", "nulbyte", id="nul"),
        pytest.param("del\x7fete", "delete", id="del"),
        pytest.param("a\x85b", "ab", id="c1-nel"),
        pytest.param("a\x90q$data\x9cb", "ab", id="c1-dcs-c1-st"),
        pytest.param("a\x1bPq$data\x1b\\b", "ab", id="dcs-st"),
        pytest.param("a\x80b\x8dc", "abc", id="c1-controls"),
        pytest.param("a\rb\x0bc\x0cd", "abcd", id="cr-vt-ff"),
        pytest.param("evil\u202etxt.exe", "eviltxt.exe", id="bidi-rlo"),
        pytest.param("\u202ax\u202by\u202cz\u202d", "xyz", id="bidi-embeddings"),
        pytest.param("\u2066a\u2067b\u2068c\u2069", "abc", id="bidi-isolates"),
    ],
)
def test_clean_text_removes_escapes_and_controls(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@pytest.mark.parametrize(
    "text",
    [
        "hello, world!",
        "col1\tcol2",
        "José Ñandú über façade",
        "😀👍🏽 🇵🇹",
        "你好\uff0c世界",
        "こんにちは",
        "",
        "  spaced  ",
    ],
)
def test_clean_text_keeps_normal_text(text: str) -> None:
    assert clean_text(text) == text


@given(st.text())
def test_clean_text_output_has_no_control_characters(text: str) -> None:
    cleaned = clean_text(text)
    assert not any(is_forbidden_control(char) for char in cleaned)
    assert "\x1b" not in cleaned


@given(st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"])))
def test_clean_text_leaves_printable_text_alone(text: str) -> None:
    assert clean_text(text) == text


# --- names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "ana",
        "Ana_1",
        "x-y",
        "José",
        "Zoë",
        "I\u015f\u0131l",  # Turkish
        FULLWIDTH_ANA,
        "名前",
        "a" * MAX_NAME_CHARS,
        "[ana]",
        "_ana",
        "a\\b`c^d{e}f|g",
    ],
)
def test_valid_names_are_accepted_unchanged(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    ("name", "complaint"),
    [
        pytest.param("", "a name is needed", id="empty"),
        pytest.param("   ", "a name is needed", id="blank"),
        pytest.param("a" * 33, "name too long", id="33-chars"),
        pytest.param("ana maria", "invalid character ' '", id="space"),
        pytest.param("ana:1", "invalid character ':'", id="colon"),
        pytest.param("an*", "invalid character '*'", id="star"),
        pytest.param("a/b", "invalid character '/'", id="slash"),
        pytest.param("hey!", "invalid character '!'", id="bang"),
        pytest.param("ana😀", "invalid character '😀'", id="emoji"),
        pytest.param("a\tb", "invalid character", id="tab"),
        pytest.param("a\x1bb", "invalid character", id="escape"),
        pytest.param("a\u202eb", "invisible character U+202E", id="bidi"),
        pytest.param("j.doe", "invalid character '.'", id="dot-is-a-server-name-on-irc"),
        pytest.param("1ana", "a name cannot start with '1'", id="leading-digit"),
        pytest.param("-ana", "a name cannot start with '-'", id="leading-dash"),
        pytest.param("\ufb01x", "invalid character '\ufb01' in name (write 'fi')", id="ligature"),
        pytest.param("\u05e9\u05dc\u05d5\u05ddx", "this name mixes right-to-left", id="bidi-rule"),
    ],
)
def test_invalid_names_are_rejected_with_a_reason(name: str, complaint: str) -> None:
    with pytest.raises(BadName, match="^" + re.escape(complaint)):
        check_name(name)


def test_name_surrounding_whitespace_is_trimmed() -> None:
    assert check_name("  ana \t") == "ana"


def test_trimming_happens_before_the_length_check() -> None:
    assert check_name(" " + "a" * MAX_NAME_CHARS + " ") == "a" * MAX_NAME_CHARS


def test_decomposed_name_is_normalised_to_composed() -> None:
    decomposed = "Jose\u0301"
    assert decomposed != "José"
    assert check_name(decomposed) == "José"


def test_name_length_is_counted_after_normalisation() -> None:
    decomposed = "e\u0301" * MAX_NAME_CHARS  # 64 code points, 32 characters once composed
    assert check_name(decomposed) == "é" * MAX_NAME_CHARS


@pytest.mark.parametrize(
    ("one", "other"),
    [
        pytest.param("ANA", "ana", id="case"),
        pytest.param("ZOË", "zoë", id="unicode-case"),
        pytest.param("ΣΟΦΟΣ", "σοφος", id="greek-final-sigma"),
        pytest.param(FULLWIDTH_ANA, "ana", id="fullwidth-width-mapped"),
        pytest.param("Jose\u0301", "josé", id="decomposed"),
        pytest.param("ana\u034f", "ana", id="invisible-removed"),
    ],
)
def test_name_key_matches_names_that_look_the_same(one: str, other: str) -> None:
    assert name_key(one) == name_key(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [("ana", "ann"), ("ana", "ana_"), ("ana[", "ana{"), ("Straße", "STRASSE"), ("ana", "\u0430na")],
)
def test_name_key_tells_different_names_apart(one: str, other: str) -> None:
    assert name_key(one) != name_key(other)


@given(st.text())
def test_name_key_is_idempotent(text: str) -> None:
    key = name_key(text)
    assert name_key(key) == key
    assert unicodedata.is_normalized("NFC", key)


# --- parse_command ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "command"),
    [
        pytest.param("hello", Say("hello"), id="say"),
        pytest.param("  indented", Say("  indented"), id="say-keeps-spaces"),
        pytest.param("//slash", Say("/slash"), id="double-slash"),
        pytest.param("//", Say("/"), id="double-slash-alone"),
        pytest.param("/help", Help(), id="help"),
        pytest.param("/who", Who(), id="who"),
        pytest.param("/who *", Who(everyone=True), id="who-everyone"),
        pytest.param("/who ignored", Invalid("usage: /who [*]"), id="who-with-args"),
        pytest.param("/quit", Quit(""), id="quit"),
        pytest.param("/quit gone fishing", Quit("gone fishing"), id="quit-reason"),
        pytest.param("/quit   bye  ", Quit("bye"), id="quit-reason-trimmed"),
        pytest.param("/QUIT", Quit(""), id="quit-upper"),
        pytest.param("/Help", Help(), id="help-mixed-case"),
        pytest.param("/WHO", Who(), id="who-upper"),
        pytest.param("/me waves", Me("waves"), id="me"),
        pytest.param("/ME waves hello", Me("waves hello"), id="me-upper"),
        pytest.param("/nick bob", Nick("bob"), id="nick"),
        pytest.param("/nick   bob  ", Nick("bob"), id="nick-trimmed"),
        pytest.param("/msg bob hi there", PrivateMessage("bob", "hi there"), id="msg"),
        pytest.param("/msg bob   psst  ", PrivateMessage("bob", "psst"), id="msg-trimmed"),
        pytest.param("/Msg bob x", PrivateMessage("bob", "x"), id="msg-mixed-case"),
    ],
)
def test_parse_command(line: str, command: Command) -> None:
    assert parse_command(line) == command


@pytest.mark.parametrize(
    ("line", "verb"),
    [
        ("/me", "me"),
        ("/me   ", "me"),
        ("/nick", "nick"),
        ("/join", "join"),
        ("/msg", "msg"),
        ("/msg bob", "msg"),
        ("/msg bob    ", "msg"),
    ],
)
def test_command_with_wrong_arguments_answers_its_usage(line: str, verb: str) -> None:
    assert parse_command(line) == Invalid(f"usage: {COMMANDS[verb][0]}")


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("/nick bad name!", "invalid character ' ' in name"),
        ("/nick bad!", None),  # one word: the session checks it, with the same words
        ("/join bad room", "invalid character ' ' in room name"),
        ("/join #dev\tops", "invalid character '\\t' in room name"),
    ],
)
def test_a_name_of_several_words_is_refused_with_the_name_rule_it_breaks(
    line: str, why: str | None
) -> None:
    if why is None:
        assert parse_command(line) == Nick("bad!")
    else:
        allowed = "_-.[]" if "room" in why else "_-[]"
        assert parse_command(line) == Invalid(f"{why}: use letters, digits and {allowed}\\`^{{}}|")


def test_usages_name_the_arguments() -> None:
    assert parse_command("/msg") == Invalid("usage: /msg NAME TEXT")
    assert parse_command("/nick") == Invalid("usage: /nick NEW")
    assert parse_command("/me") == Invalid("usage: /me ACTION")


@pytest.mark.parametrize("line", ["/frobnicate", "/FROB now", "/", "/ hello"])
def test_unknown_command_is_invalid_and_points_to_help(line: str) -> None:
    command = parse_command(line)
    assert isinstance(command, Invalid)
    assert "unknown command" in command.reason
    assert "/help" in command.reason


def test_unknown_command_reason_names_the_command_in_lower_case() -> None:
    assert parse_command("/Frob x") == Invalid("unknown command /frob: type /help for the list")


@pytest.mark.parametrize("line", ["", " ", "   \t ", "\x07", "\x1b[2J"])
def test_blank_lines_are_ignored(line: str) -> None:
    assert parse_command(line) is None


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("\x1b[31mred\x1b[0m alert\x07", Say("red alert")),
        ("hi\u202eereht", Say("hiereht")),
        ("/me \x1b]0;x\x07dances", Me("dances")),
        ("/msg bob \x08\x08secret", PrivateMessage("bob", "secret")),
        ("/nick \x1b[1mbob", Nick("bob")),
        ("/quit \x00bye", Quit("bye")),
    ],
)
def test_control_characters_are_stripped_from_what_users_send(line: str, command: Command) -> None:
    assert parse_command(line) == command


@given(st.text())
def test_parse_command_never_raises_and_invalid_always_says_why(line: str) -> None:
    command = parse_command(line)
    if isinstance(command, Invalid):
        assert command.reason.strip()
    if command is not None:
        shown = "".join(str(value) for value in dataclasses.astuple(command))
        assert not any(is_forbidden_control(char) for char in shown)


# --- encode / format_event --------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "wire"),
    [
        pytest.param(Message("ana", "#lobby", "hi"), b"ana: hi\n", id="message"),
        pytest.param(Action("ana", "#lobby", "waves"), b"* ana waves\n", id="action"),
        pytest.param(Private("ana", "bob", "psst"), b"[private] ana: psst\n", id="private"),
        pytest.param(Joined("ana", "#lobby"), b"*** ana joined\n", id="joined"),
        pytest.param(Parted("ana", "#lobby"), b"*** ana left\n", id="parted"),
        pytest.param(Departed("ana", Reason.QUIT), b"*** ana left\n", id="quit"),
        pytest.param(Departed("ana", Reason.QUIT, "bye"), b"*** ana left (bye)\n", id="quit-words"),
        pytest.param(
            Departed("ana", Reason.KICKED, "spam", "op"),
            b"*** ana left (kicked by op: spam)\n",
            id="kicked",
        ),
        pytest.param(
            Dismissed(Reason.ELSEWHERE),
            b"! you logged in from elsewhere: this connection is closed\n",
            id="dismissed-elsewhere",
        ),
        pytest.param(Parted("ana", "#lobby", ""), b"*** ana left\n", id="parted-empty"),
        pytest.param(Departed("ana", Reason.TOO_SLOW), b"*** ana left (too slow)\n", id="too-slow"),
        pytest.param(Renamed("ana", "anna"), b"*** ana is now known as anna\n", id="renamed"),
        pytest.param(Notice("server shutting down"), b"*** server shutting down\n", id="notice"),
        pytest.param(Error("no such user: zed"), b"! no such user: zed\n", id="error"),
    ],
)
def test_encode_gives_exact_bytes(event: ServerEvent, wire: bytes) -> None:
    assert encode(event) == wire
    assert format_event(event) + "\n" == wire.decode()


def test_encode_uses_utf8() -> None:
    assert encode(Message("José", "#lobby", "olá 😀 你好")) == (
        b"Jos\xc3\xa9: ol\xc3\xa1 \xf0\x9f\x98\x80 \xe4\xbd\xa0\xe5\xa5\xbd\n"
    )


def test_encoded_event_round_trips_through_the_line_buffer() -> None:
    event = Message("José", "#lobby", "olá 😀")
    assert LineBuffer().feed(encode(event)) == [Line(format_event(event))]


# --- the codec stays sans-IO ----------------------------------------------------------


def test_protocol_module_does_not_import_trio() -> None:
    modules = (
        "trio_chat.text.codec, trio_chat.text.grammar, trio_chat.text.wording, trio_chat.irc.codec"
    )
    code = f"import {modules}, sys; assert 'trio' not in sys.modules"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


# --- accounts and operators --------------------------------------------------------------


def test_name_step_lines() -> None:
    from trio_chat.text.grammar import Login, Name, Pass, parse_name_step

    assert parse_name_step("ana") == Name("ana")
    assert parse_name_step("a\x1bb") == Name("a\x1bb")  # check_name refuses it, whole
    assert parse_name_step("/PASS  two words ") == Pass("two words")
    assert parse_name_step("/login ana my pass phrase") == Login("ana", "my pass phrase")
    assert parse_name_step("/login ana") == Invalid("usage: /login NAME PASSWORD")
    assert parse_name_step("/pass") == Invalid("usage: /pass PASSWORD")
    assert parse_name_step("/who") == Invalid(
        "send your name first (or /login NAME PASSWORD for a registered name)"
    )


def test_account_and_operator_commands_parse() -> None:
    from trio_chat.text.grammar import (
        Ban,
        Bans,
        Kick,
        Mute,
        NewPassword,
        Oper,
        Register,
        Unban,
        Unregister,
    )

    assert parse_command("/register my secret") == Register("my secret")
    assert parse_command("/password new one") == NewPassword("new one")
    assert parse_command("/unregister") == Unregister()
    assert parse_command("/oper pw") == Oper("pw")
    assert parse_command("/kick bob go away") == Kick("bob", "go away")
    assert parse_command("/kick bob") == Kick("bob", "")
    assert parse_command("/ban bob") == Ban("bob", None)
    assert parse_command("/ban 10.0.0.0/8 2H") == Ban("10.0.0.0/8", 7200)
    assert parse_command("/unban bob") == Unban("bob")
    assert parse_command("/bans") == Bans()
    assert parse_command("/mute bob") == Mute("bob", on=True)
    assert parse_command("/unmute bob") == Mute("bob", on=False)
    assert parse_command("/login ana pw") == Invalid(
        "you are in already: /login is for the name step"
    )
    assert parse_command("/kick") == Invalid("usage: /kick NAME [REASON]")
    assert parse_command("/ban a b c") == Invalid("usage: /ban NAME|ADDRESS [TIME]")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("10m", 600),
        ("2h", 7200),
        ("1d", 86400),
        ("1w", 604800),
        ("0m", None),
        ("10", None),
        ("m", None),
        ("-1h", None),
        ("1y", None),
        ("999999999w", 10 * 365 * 86400),
    ],
)
def test_durations(text: str, seconds: int | None) -> None:
    from trio_chat.text.grammar import parse_duration

    assert parse_duration(text) == seconds
