"""The command line's answers to mistakes, as a user reads them (`trio-chat` and `make`)."""

from __future__ import annotations

import argparse
import errno
import logging
import shlex
import socket
import ssl
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
import trio

from trio_chat import hints
from trio_chat.__main__ import build_parser, main
from trio_chat.app import ServerConfig
from trio_chat.core.store import HistoryStore
from trio_chat.net import tls
from trio_chat.startup import announce, describe_bind_error

from .conftest import STEP_TIMEOUT


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


# --- hints in the user's dialect: make variables under make, options otherwise -------------

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["make", "trio-chat"])
def dialect(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test as under ``make`` (TRIO_CHAT_VIA_MAKE=1) and as plain ``trio-chat``."""
    if request.param == "make":
        monkeypatch.setenv(hints.VIA_MAKE, "1")
    else:
        monkeypatch.delenv(hints.VIA_MAKE, raising=False)
    return str(request.param)


def in_dialect(dialect: str, make: str, cli: str) -> str:
    return make if dialect == "make" else cli


def make_dry_run(*args: str) -> tuple[list[str], list[str]]:
    """What runs trio-chat in ``make ARGS``, and its arguments, as the shell splits them."""
    dry_run = subprocess.run(
        ["make", "-n", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=STEP_TIMEOUT,
    )
    [line] = [
        line
        for line in dry_run.stdout.splitlines()
        if line.startswith(("exec ", "env ")) and "bin/trio-chat " in line
    ]
    words = shlex.split(line)
    [program] = [i for i, word in enumerate(words) if word.endswith("bin/trio-chat")]
    # make client adds `|| [ $? -eq 3 ]`: exit 3 (an end the client explained) is no error.
    end = words.index("||") if "||" in words else len(words)
    return words[:program], words[program + 1 : end]


def test_the_makefile_tells_trio_chat_it_runs_under_make() -> None:
    for verb in ("serve", "client", "cert"):
        runner, run = make_dry_run(verb)
        # serve and cert exec trio-chat (no shell between make and Ctrl+C); client
        # needs the shell for its exit code 3.
        assert runner[-2:] == ["env", f"{hints.VIA_MAKE}=1"]
        assert runner[:-2] == ([] if verb == "client" else ["exec"])
        assert run[0] == verb


def test_a_usage_error_under_make_is_one_line_in_make_variables(
    capsys: pytest.CaptureFixture[str], dialect: str
) -> None:
    error = usage_error(capsys, "serve", "--db", ":memory:", "--port", "99999")
    if dialect == "make":
        assert error == (
            "make serve: PORT: '99999' is not a port: use a number from 0 to 65535 "
            "(0: any free port)\n"
        )
    else:
        assert error.startswith("usage: trio-chat serve")
        assert "trio-chat serve: error: argument --port: '99999' is not a port" in error


def test_tls_cert_without_key_is_named_as_typed(
    capsys: pytest.CaptureFixture[str], dialect: str
) -> None:
    error = usage_error(capsys, "serve", "--db", ":memory:", "--tls-cert", "cert.pem")
    assert error == in_dialect(
        dialect,
        "make serve: TLS_CERT= and TLS_KEY= go together\n",
        "trio-chat serve: error: --tls-cert and --tls-key go together\n",
    )


def test_an_existing_certificate_is_replaced_as_typed(
    capsys: pytest.CaptureFixture[str], dialect: str, tmp_path: Path
) -> None:
    assert main(["cert", "--out", str(tmp_path)]) == 0
    made = capsys.readouterr().out
    assert in_dialect(
        dialect, "serve:  make serve TLS_CERT=", "serve:  trio-chat serve --tls-cert "
    )
    assert in_dialect(dialect, "TLS_CA=cert.pem\n", "--tls-ca cert.pem\n") in made
    assert main(["cert", "--out", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert error.endswith(
        f"keep it, or replace it with {in_dialect(dialect, 'FORCE=1', '--force')}\n"
    )


def test_no_server_there_suggests_starting_one_on_the_port_tried(
    capsys: pytest.CaptureFixture[str], dialect: str
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    assert main(["client", "--name", "ana", "--host", "127.0.0.1", "--port", str(free_port)]) == 1
    error = capsys.readouterr().err
    start = in_dialect(
        dialect, f"make serve PORT={free_port}", f"trio-chat serve --port {free_port}"
    )
    check = in_dialect(dialect, "HOST and PORT", "--host and --port")
    assert f"Start one with `{start}`, or check {check}." in error


async def test_the_server_s_hints_name_options_as_typed(
    dialect: str, caplog: pytest.LogCaptureFixture
) -> None:
    [listener] = await trio.open_tcp_listeners(0, host="127.0.0.1")
    async with listener:
        port = listener.socket.getsockname()[1]
        with caplog.at_level(logging.INFO, logger="trio_chat"):
            await announce([listener], ServerConfig("127.0.0.1", port))
    in_use = describe_bind_error(OSError(errno.EADDRINUSE, "in use"), ServerConfig(port=5000))
    assert (
        in_dialect(
            dialect,
            f"make client NAME=you PORT={port}\n",
            f"trio-chat client --name you --port {port}\n",
        )
        in caplog.text
    )
    assert in_dialect(dialect, "use HOST=0.0.0.0 to", "use --host 0.0.0.0 to") in caplog.text
    assert in_use.endswith(
        in_dialect(dialect, "choose another with PORT=5001", "choose another with --port 5001")
    )


def test_a_history_file_in_use_suggests_another_as_typed(
    dialect: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "history.sqlite3"
    with closing(HistoryStore(path)):
        code = main(
            [
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--web-port",
                "0",
                "--irc-port",
                "0",
                "--db",
                str(path),
            ]
        )
    assert code == 1
    [line] = [r.getMessage() for r in caplog.records if "in use" in r.getMessage()]
    assert f"history file {path} is in use by another trio-chat server" in line
    assert line.endswith(in_dialect(dialect, "DB=PATH", "--db PATH"))


def test_tls_advice_to_the_client_names_options_as_typed(dialect: str) -> None:
    error = ssl.SSLError(1, "wrong version number")
    error.reason = "WRONG_VERSION_NUMBER"
    advice = tls.describe_client_failure(error, "192.168.1.23")
    assert advice.startswith("the server does not speak TLS ")
    assert advice.endswith(
        in_dialect(
            dialect,
            "(started without TLS_CERT?): connect without TLS and TLS_CA, or start it with TLS",
            "(started without --tls-cert?): connect without --tls and --tls-ca, or start it "
            "with TLS",
        )
    )


# --- names ------------------------------------------------------------------------------


def test_make_passes_a_value_with_spaces_or_quotes_as_one_argument() -> None:
    _, run = make_dry_run("client", "NAME=ana maria", "HOST=it's here")
    assert run == ["client", "--name", "ana maria", "--host", "it's here"]


def test_a_name_with_a_space_is_one_line_saying_why(
    capsys: pytest.CaptureFixture[str], dialect: str
) -> None:
    error = usage_error(capsys, "client", "--name", "ana maria", "--port", "1")
    given = in_dialect(
        dialect, "make client: NAME='ana maria'", "trio-chat client: error: --name 'ana maria'"
    )
    assert (
        error == f"{given}: invalid character ' ' in name: use letters, digits and _-[]\\`^{{}}|\n"
    )


# --- every option has a make variable ---------------------------------------------------------

# A value each option accepts (any other option takes a file or a word).
SAMPLES = {
    "--port": "5001",
    "--irc-port": "6668",
    "--irc-tls-port": "6698",
    "--max-clients": "7",
    "--history": "9",
    "--history-keep-days": "30",
    "--history-max-mb": "200",
    "--flood-rate": "2.5",
    "--flood-burst": "3",
    "--max-per-address": "4",
    "--connect-rate": "6",
    "--exempt": "10.0.0.0/8",
    "--log-level": "debug",
    "--log-format": "json",
    "--days": "30",
    "--web-port": "8081",
    "--web-origin": "http://chat.lan:8080",
    "--web-host": "chat.lan",
    "--redis": "redis://127.0.0.1:6390/0",
    "--redis-heartbeat": "0.5",
    "--lang": "es",
}


def options_of(verb: str) -> list[argparse.Action]:
    [commands] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    parser = commands.choices[verb]
    return [a for a in parser._actions if a.option_strings and a.dest != "help"]


@pytest.mark.parametrize("verb", ["serve", "client", "cert"])
def test_every_option_has_a_make_variable_that_the_makefile_passes_on(verb: str) -> None:
    variables = hints.MAKE_VARIABLES[verb]
    assert sorted(variables) == sorted(a.option_strings[0] for a in options_of(verb))
    settings, direct = [], [verb]
    for action in options_of(verb):
        flag = action.option_strings[0]
        variable, takes_value = variables[flag]
        value = SAMPLES.get(flag, "chat.lan" if verb == "cert" else f"{variable.lower()} file")
        settings.append(f"{variable}={value}" if takes_value else f"{variable}=1")
        direct += [flag, value] if takes_value else [flag]
    _, run = make_dry_run(verb, *settings)
    assert build_parser().parse_args(run) == build_parser().parse_args(direct)


# --- each command loads what it needs (issue #10) ----------------------------------------------

LOADED = """
import sys
from trio_chat.__main__ import main
code = main(sys.argv[1:])
print(" ".join(sorted(name for name in sys.modules if name.startswith("trio_chat"))))
sys.exit(code)
"""


def loaded_by(*argv: str) -> set[str]:
    """The trio_chat modules ``trio-chat ARGV`` imports, in a fresh interpreter."""
    ran = subprocess.run(
        [sys.executable, "-c", LOADED, *argv],
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    assert "Traceback" not in ran.stderr, ran.stderr
    return set(ran.stdout.splitlines()[-1].split())


def test_cert_does_not_load_the_server_or_the_client(tmp_path: Path) -> None:
    loaded = loaded_by("cert", "--out", str(tmp_path))
    assert (tmp_path / "cert.pem").exists()
    assert "trio_chat.tools.certs" in loaded
    for server_or_client in ("trio_chat.app", "trio_chat.core.hub", "trio_chat.client"):
        assert server_or_client not in loaded
    assert not [name for name in loaded if name.startswith("trio_chat.text")]


def test_client_does_not_load_the_server() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    loaded = loaded_by("client", "--name", "ana", "--host", "127.0.0.1", "--port", str(free_port))
    assert "trio_chat.client.terminal" in loaded
    for server in ("trio_chat.app", "trio_chat.core.hub", "trio_chat.text.server"):
        assert server not in loaded


def test_every_command_still_lists_its_options_and_defaults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for verb, shown in (("serve", "--flood-rate N"), ("client", "--tls-ca FILE"), ("cert", "825")):
        with pytest.raises(SystemExit):
            main([verb, "--help"])
        assert shown in capsys.readouterr().out
