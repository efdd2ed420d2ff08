"""SASL PLAIN's exchange (sans-IO): chunks, ends, aborts and bad responses."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_chat.irc.sasl_plain import (
    Continue,
    Credentials,
    Failed,
    PlainExchange,
    parse_plain,
    plain_response,
)


def run(*params: str) -> list[object]:
    exchange = PlainExchange()
    return [exchange.feed(param) for param in params]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_a_short_response_logs_in_at_once() -> None:
    assert run("PLAIN", b64(b"\0ana\0sesame")) == [
        Continue(prompt=True),
        Credentials("ana", "sesame"),
    ]


def test_the_mechanism_is_case_insensitive_and_an_unknown_one_fails() -> None:
    assert run("plain") == [Continue(prompt=True)]
    assert run("SCRAM-SHA-256") == [Failed("unknown-mechanism")]


@pytest.mark.parametrize("size", [397, 400, 592, 1000])
def test_chunked_responses_of_any_length_come_together(size: int) -> None:
    password = "x" * size
    chunks = plain_response("foo", password)
    assert all(len(chunk) <= 400 for chunk in chunks)
    steps = run("PLAIN", *chunks)
    assert steps[-1] == Credentials("foo", password)
    assert all(step == Continue(prompt=False) for step in steps[1:-1])


def test_a_full_last_chunk_waits_for_plus() -> None:
    chunk = b64(b"foo\0foo\0" + b"bar" * 97)
    assert len(chunk) == 400
    assert run("PLAIN", chunk, "+")[1:] == [Continue(prompt=False), Credentials("foo", "bar" * 97)]


def test_abort_too_long_and_endless_responses_fail() -> None:
    assert run("PLAIN", "*")[-1] == Failed("aborted")
    assert run("PLAIN", "A" * 500)[-1] == Failed("too-long")
    endless = run("PLAIN", *(["A" * 400] * 20))
    assert Failed("malformed") in endless


@pytest.mark.parametrize(
    "raw",
    [
        b"\0\0sesame",  # no account
        b"\0ana\0",  # no password
        b"bob\0ana\0sesame",  # acting as someone else
        b"\0ana\0ses\0ame",  # a NUL in the password
        b"\0ana\0\xff",  # not UTF-8
    ],
)
def test_malformed_plain_responses_fail(raw: bytes) -> None:
    assert parse_plain(b64(raw)) == Failed("malformed")


def test_invalid_base64_fails() -> None:
    assert run("PLAIN", "!!!")[-1] == Failed("malformed")


def test_the_same_authzid_as_authcid_is_fine() -> None:
    assert parse_plain(b64(b"ana\0ana\0pw")) == Credentials("ana", "pw")


@given(st.text(min_size=1).filter(lambda s: "\0" not in s), st.text(min_size=1))
def test_what_a_client_sends_the_exchange_reads_back(account: str, password: str) -> None:
    password = password.replace("\0", "")
    if not password:
        return
    assert run("PLAIN", *plain_response(account, password))[-1] in (
        Credentials(account, password),
        Failed("malformed"),  # over MAX_RESPONSE
    )


def test_the_sans_io_ircv3_modules_do_not_import_trio() -> None:
    code = (
        "import trio_chat.irc.sasl_plain, trio_chat.irc.chathistory_query, sys; "
        "assert 'trio' not in sys.modules, 'trio imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
