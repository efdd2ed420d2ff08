"""The one name rule: valid IRC nicks, no invisible characters, one casemapping (issue #16, 3)."""

from __future__ import annotations

import re

import pytest

from trio_chat.core.names import (
    CASEMAPPING,
    CHANNELLEN,
    MAX_MARKS,
    MAX_NAME_CHARS,
    MAX_TEXT_MARKS,
    NICKLEN,
    BadName,
    channel_room,
    check_name,
    check_room,
    clean_text,
    name_key,
    room_channel,
    without_invisible,
)

from ..conftest import MemoryConnector

# The look-alikes of issue #16: each showed as a second "ana" in /who.
LOOK_ALIKES = [
    pytest.param("ana\u034f", "U+034F", id="combining-grapheme-joiner"),
    pytest.param("ana\ufe0f", "U+FE0F", id="variation-selector-16"),
    pytest.param("ana\U000e0100", "U+E0100", id="variation-selector-17"),
    pytest.param("ana\u17b4", "U+17B4", id="khmer-vowel-inherent-aq"),
    pytest.param("ana\u180b", "U+180B", id="mongolian-free-variation-selector"),
    pytest.param("ana\u3164", "U+3164", id="hangul-filler"),
    pytest.param("\u115fana", "U+115F", id="hangul-choseong-filler"),
    pytest.param("\u3164", "U+3164", id="only-a-hangul-filler"),
    pytest.param("an\u200ba", "U+200B", id="zero-width-space"),
    pytest.param("ana\u00ad", "U+00AD", id="soft-hyphen"),
]


@pytest.mark.parametrize(("name", "code"), LOOK_ALIKES)
def test_invisible_characters_are_refused_in_names_saying_which(name: str, code: str) -> None:
    with pytest.raises(BadName, match=re.escape(f"invisible character {code} in name:")):
        check_name(name)


@pytest.mark.parametrize(("name", "code"), LOOK_ALIKES)
def test_invisible_characters_are_refused_in_room_names(name: str, code: str) -> None:
    with pytest.raises(BadName, match=re.escape(f"invisible character {code} in room name:")):
        check_room("#" + name)


@pytest.mark.parametrize(("name", "code"), LOOK_ALIKES[:7])
def test_names_are_compared_with_invisible_characters_removed(name: str, code: str) -> None:
    assert name_key(name) == name_key("ana")
    assert name_key("#" + name.upper()) == name_key("#ana")


async def test_who_cannot_show_two_look_alike_anas(connector: MemoryConnector) -> None:
    ana = await connector.join("ana")
    for param in LOOK_ALIKES:
        name, code = param.values
        mallory = connector.open()
        await mallory.line()  # greeting
        await mallory.send(str(name))
        refusal = await mallory.line()
        assert refusal.startswith(f"! invisible character {code} in name"), refusal
        assert refusal.endswith("; try another name")
    await ana.send("/who")
    assert await ana.line() == "*** In #lobby (1): ana"


@pytest.mark.parametrize(
    ("name", "complaint"),
    [
        ("j.doe", "invalid character '.' in name"),  # IRC clients: a server name
        ("1ana", "a name cannot start with '1'"),
        ("-ana", "a name cannot start with '-'"),
        ("ana@host", "invalid character '@' in name"),
        ("ana!x", "invalid character '!' in name"),
        ("#ana", "invalid character '#' in name"),
        ("q" + "\u0301" * (MAX_MARKS + 1), "too many marks on one letter in name"),
    ],
)
def test_what_irc_clients_cannot_take_as_a_nick_is_no_name(name: str, complaint: str) -> None:
    with pytest.raises(BadName, match="^" + complaint):
        check_name(name)


@pytest.mark.parametrize(
    "name",
    ["Jos\u00e9", "Zo\u00eb", "ana[away]", "_ana_", "`^{}|\\", "x-1", "q" + "\u0301" * MAX_MARKS],
)
def test_letters_of_any_script_and_the_rfc2812_specials_are_names(name: str) -> None:
    assert check_name(name) == name


def test_the_irc_values_describe_the_rule() -> None:
    assert CASEMAPPING == "rfc8265"
    assert NICKLEN == MAX_NAME_CHARS
    assert CHANNELLEN == MAX_NAME_CHARS + 1  # with its '#'
    assert check_room("#" + "d" * (CHANNELLEN - 1)) == "#" + "d" * (CHANNELLEN - 1)
    with pytest.raises(BadName, match="too long"):
        check_room("#" + "d" * CHANNELLEN)
    # rfc8265 is ASCII lower case for ASCII, and unlike rfc1459, [ is not {.
    assert name_key("ANA[]") == "ana[]" != name_key("ana{}")
    assert name_key("ZO\u00cb") == name_key("zo\u00eb")


def test_an_irc_channel_is_the_room_of_the_same_name() -> None:
    assert channel_room("#dev") == check_room("dev") == "#dev"
    assert channel_room("#lobby") == "#lobby"
    assert room_channel(check_room("python.fr")) == "#python.fr"
    assert name_key(channel_room("#DEV")) == name_key(check_room("dev"))
    with pytest.raises(BadName, match="room names start with '#'"):
        channel_room("dev")
    with pytest.raises(BadName, match="a room name is needed"):
        channel_room("#")


# --- what users say ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("said", "seen"),
    [
        pytest.param("one\u2028two\u2029three", "onetwothree", id="line-paragraph-separators"),
        pytest.param("\u200fana\u200e \u061cx", "ana x", id="bidi-marks"),
        pytest.param("a\u202eb\u2066c\u2069", "abc", id="bidi-overrides-isolates"),
        pytest.param("see\ufff9hidden\ufffanote\ufffb", "seehiddennote", id="interlinear"),
    ],
)
def test_messages_lose_what_makes_them_read_otherwise(said: str, seen: str) -> None:
    assert clean_text(said) == seen


def test_stacked_marks_are_capped_and_the_letters_kept() -> None:
    zalgo = "h" + "\u0336\u0301" * 20 + "i" + "\u0489" * 30 + "!"
    cleaned = clean_text(zalgo)
    assert cleaned == "h" + ("\u0336\u0301" * 20)[:MAX_TEXT_MARKS] + "i" + "\u0489" * 8 + "!"
    assert clean_text(cleaned) == cleaned
    # Marks of the supplementary planes too (musical combining marks).
    assert clean_text("x" + "\U0001d167" * 20) == "x" + "\U0001d167" * MAX_TEXT_MARKS


@pytest.mark.parametrize(
    "text",
    [
        "Tie\u0302\u0301ng Vie\u0323\u0302t",  # Vietnamese, decomposed
        "\u05e9\u05c1\u05bc\u05b8\u05c1\u0591",  # Hebrew with points and cantillation
        "\u0928\u092e\u0938\u094d\u0924\u0947",  # Devanagari
        "\u2764\ufe0f 1\ufe0f\u20e3",  # emoji with their selectors and keycaps
    ],
)
def test_real_writing_keeps_its_marks(text: str) -> None:
    assert clean_text(text) == text


def test_the_invisible_characters_are_unicodes_default_ignorables() -> None:
    from precis_i18n.unicode import UnicodeData

    ignorable = UnicodeData().default_ignorable
    # Unicode puts them in these planes (0, 1 and 14) only.
    planes = (range(0xD800), range(0xE000, 0x20000), range(0xE0000, 0xF0000))
    every = "".join(chr(code) for plane in planes for code in plane)
    ours = set(every) - set(without_invisible(every))
    assert sorted(ours) == [char for char in every if ignorable(ord(char))]


def test_a_long_text_has_a_key_of_its_own_without_invisible_characters() -> None:
    long = "\u00e9" * 4000
    assert name_key(long + "\u200b") == name_key(long) == long
    assert name_key(name_key(long.upper())) == long
