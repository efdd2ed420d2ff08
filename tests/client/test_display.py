"""How the terminal client shows lines: colours, timestamps, own lines."""

from __future__ import annotations

import time

import pytest

from trio_chat.client.display import NAME_COLOURS, Display, colour_wanted, name_colour

NOON = time.mktime((2026, 11, 23, 12, 34, 0, 0, 0, -1))


def plain() -> Display:
    return Display(colour=False, timestamps=False)


def coloured() -> Display:
    return Display(colour=True, timestamps=False)


@pytest.mark.parametrize(
    "line",
    ["ana: hi", "* ana waves", "[private] bob: psst", "*** bob joined", "! unknown command"],
)
def test_plain_display_shows_server_lines_unchanged(line: str) -> None:
    assert plain().incoming(line) == line


def test_escape_sequences_from_the_server_are_removed() -> None:
    assert plain().incoming("evil: \x1b[2Jgone\x1b]0;title\x07") == "evil: gone"


def test_live_lines_get_the_local_time_and_replayed_lines_keep_theirs_behind_a_mark() -> None:
    display = Display(colour=False, timestamps=True, clock=lambda: NOON)
    assert display.incoming("ana: hi") == "[12:34] ana: hi"
    assert display.incoming("[09:15] ana: earlier") == "| [09:15] ana: earlier"
    assert display.incoming("[2026-11-20 09:15] * ana waved") == "| [2026-11-20 09:15] * ana waved"


def test_replayed_lines_are_dimmed_without_name_colours_and_plain_for_a_script() -> None:
    terminal = Display(colour=True, timestamps=True, clock=lambda: NOON)
    assert terminal.incoming("[09:15] ana: earlier", me="bob") == (
        "\x1b[2m| [09:15] ana: earlier\x1b[0m"
    )
    live = terminal.incoming("ana: now")
    assert live.startswith("\x1b[2m[12:34] \x1b[0m\x1b[1;")  # a live line: time, coloured name
    assert plain().incoming("[09:15] ana: earlier") == "[09:15] ana: earlier"


def test_names_are_coloured_stably_and_case_insensitively() -> None:
    display = coloured()
    colour = name_colour("ana")
    assert colour in NAME_COLOURS
    assert name_colour("ANA") == colour
    assert display.incoming("ana: hi") == f"\x1b[1;{colour}mana\x1b[0m: hi"
    assert display.incoming("* ana waves") == f"* \x1b[1;{colour}mana\x1b[0m waves"
    # Different names spread over the palette.
    assert len({name_colour(f"user{i}") for i in range(50)}) >= len(NAME_COLOURS) // 2


def test_private_messages_errors_and_notices_stand_apart() -> None:
    display = coloured()
    assert display.incoming("[private] bob: psst") == "\x1b[1;35m[private] bob: psst\x1b[0m"
    assert display.incoming("! no such user") == "\x1b[31m! no such user\x1b[0m"
    assert display.incoming("*** bob joined") == "\x1b[2m*** bob joined\x1b[0m"


def test_own_lines_echoed_by_the_server_stand_out() -> None:
    display = coloured()
    own = "\x1b[1mana\x1b[0m"  # bold, in none of the palette's colours
    assert display.incoming("ana: hi", me="ana") == f"{own}: hi"
    assert display.incoming("* Ana waves", me="ana") == "* \x1b[1mAna\x1b[0m waves"
    assert display.incoming("[private to bob] psst", me="ana") == (
        "\x1b[1;35m[private to bob] psst\x1b[0m"
    )
    colour = name_colour("bob")
    assert display.incoming("bob: ana: hi", me="ana") == f"\x1b[1;{colour}mbob\x1b[0m: ana: hi"
    # Without colours, own lines are shown exactly as the others see them.
    assert plain().incoming("ana: hi", me="ana") == "ana: hi"


@pytest.mark.parametrize(
    ("tty", "flag", "env", "wanted"),
    [
        (True, False, {}, True),
        (False, False, {}, False),
        (True, True, {}, False),
        (True, False, {"NO_COLOR": "1"}, False),
        (True, False, {"NO_COLOR": ""}, True),
    ],
)
def test_colour_only_on_a_terminal_without_no_color(
    tty: bool, flag: bool, env: dict[str, str], wanted: bool
) -> None:
    assert colour_wanted(tty, flag, env) is wanted
