"""CHATHISTORY requests parsed and planned as history reads (sans-IO)."""

from __future__ import annotations

import pytest

from trio_chat.core.stamps import first_id_at
from trio_chat.irc.chathistory_query import (
    MAX_LIMIT,
    Query,
    QueryError,
    Read,
    Ref,
    format_time,
    parse_query,
    parse_time,
    plan,
)

T = "2026-12-01T12:00:00.123Z"
T_SECONDS = parse_time(T)


def test_time_tags_read_back_to_the_millisecond() -> None:
    assert format_time(T_SECONDS) == T
    assert format_time(T_SECONDS + 0.0004) == T


def test_latest_with_a_star_reads_the_last_messages() -> None:
    query = parse_query(["LATEST", "#dev", "*", "10"])
    assert query == Query("LATEST", "#dev", None, None, 10)
    assert plan(query) == Read(10)


def test_latest_after_a_msgid_keeps_only_newer_ones() -> None:
    assert plan(parse_query(["latest", "#dev", "msgid=42", "5"])) == Read(5, above=42)


def test_before_after_and_around_a_msgid() -> None:
    assert plan(parse_query(["BEFORE", "#dev", "msgid=42", "5"])) == Read(5, before=42)
    assert plan(parse_query(["AFTER", "#dev", "msgid=42", "5"])) == Read(5, after=42)
    assert plan(parse_query(["AROUND", "#dev", "msgid=42", "5"])) == Read(5, around=42)


def test_timestamps_bound_at_the_millisecond_shown() -> None:
    ms_start = first_id_at(int(T_SECONDS * 1000) / 1000)
    ms_end = first_id_at((int(T_SECONDS * 1000) + 1) / 1000)
    before = plan(parse_query(["BEFORE", "#dev", f"timestamp={T}", "5"]))
    after = plan(parse_query(["AFTER", "#dev", f"timestamp={T}", "5"]))
    assert before.before == ms_start
    # A message shown at T itself is not "after T".
    assert after.after == ms_end - 1


def test_between_reads_from_the_first_reference_towards_the_second() -> None:
    assert plan(parse_query(["BETWEEN", "#dev", "msgid=10", "msgid=20", "5"])) == Read(
        5, after=10, below=20
    )
    assert plan(parse_query(["BETWEEN", "#dev", "msgid=20", "msgid=10", "5"])) == Read(
        5, before=20, above=10
    )
    assert Read(5, after=10, below=20).keeps(19)
    assert not Read(5, after=10, below=20).keeps(20)


def test_targets_takes_two_timestamps() -> None:
    query = parse_query(["TARGETS", f"timestamp={T}", f"timestamp={T}", "3"])
    assert query.first == Ref(time=T_SECONDS)
    assert query.limit == 3


def test_limits_are_capped() -> None:
    assert parse_query(["LATEST", "#dev", "*", "100000"]).limit == MAX_LIMIT


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ([], "NEED_MORE_PARAMS"),
        (["LATEST", "#dev", "*"], "NEED_MORE_PARAMS"),
        (["BETWEEN", "#dev", "msgid=1", "2"], "NEED_MORE_PARAMS"),
        (["SIDEWAYS", "#dev", "*", "10"], "INVALID_PARAMS"),
        (["BEFORE", "#dev", "*", "10"], "INVALID_PARAMS"),
        (["BEFORE", "#dev", "msgid=abc", "10"], "INVALID_PARAMS"),
        (["BEFORE", "#dev", "timestamp=yesterday", "10"], "INVALID_PARAMS"),
        (["LATEST", "#dev", "*", "ten"], "INVALID_PARAMS"),
    ],
)
def test_bad_requests_say_why(params: list[str], code: str) -> None:
    with pytest.raises(QueryError) as refused:
        parse_query(params)
    assert refused.value.code == code
