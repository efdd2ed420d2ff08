"""`trio-chat serve` and its web options, as a user runs them."""

from __future__ import annotations

import re
import signal

import pytest
import trio

from trio_chat.__main__ import build_parser, main

from ..conftest import running_server
from .conftest import HttpClient


async def test_trio_chat_serve_logs_the_page_s_address_and_serves_it() -> None:
    async with running_server() as (server, _):
        line = await server.io.line()
        while "web page on this PC" not in line:  # after the text door's lines
            line = await server.io.line()
        match = re.search(r"web page on this PC: +http://127\.0\.0\.1:(\d+)/", line)  # --host
        assert match, line
        async with await trio.open_tcp_stream("127.0.0.1", int(match.group(1))) as stream:
            answer = await HttpClient(stream).request("/healthz")
            assert answer.status == 200
        server.process.send_signal(signal.SIGINT)
        assert await server.exit_code() == 0


def test_the_web_options() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.web_port, args.no_web, args.web_origin) == (8080, False, [])
    args = build_parser().parse_args(
        ["serve", "--no-web", "--web-origin", "https://a.example/", "--web-origin", "http://b:81"]
    )
    assert args.no_web
    assert args.web_origin == ["https://a.example", "http://b:81"]


@pytest.mark.parametrize("origin", ["nope", "ftp://a.example", "http://a.example/path"])
def test_an_origin_that_is_not_one_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], origin: str
) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--web-origin", origin])
    assert f"{origin!r} is not an origin: use http://HOST[:PORT]" in capsys.readouterr().err
