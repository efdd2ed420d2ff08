"""The command line's answers to mistakes, as a user reads them (`trio-chat` and `make`)."""

from __future__ import annotations

import pytest

from trio_chat.__main__ import main


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run ``trio-chat ARGV``, which must stop as a usage error (exit 2); its stderr."""
    with pytest.raises(SystemExit) as stopped:
        main(list(argv))
    assert stopped.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    return captured.err


# --- port numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["99999", "65536", "-5", "five"])
def test_serve_refuses_a_port_that_is_not_one(
    capsys: pytest.CaptureFixture[str], port: str
) -> None:
    error = usage_error(capsys, "serve", "--host", "127.0.0.1", "--db", ":memory:", "--port", port)
    assert error.endswith(
        f"argument --port: {port!r} is not a port: use a number from 0 to 65535 "
        "(0: any free port)\n"
    )


@pytest.mark.parametrize("port", ["0", "99999", "-1"])
def test_client_refuses_a_port_that_is_not_a_server_s(
    capsys: pytest.CaptureFixture[str], port: str
) -> None:
    error = usage_error(capsys, "client", "--port", port)
    assert error.endswith(
        f"argument --port: {port!r} is not a port: use a number from 1 to 65535\n"
    )
