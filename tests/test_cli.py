"""As a user would: the real `trio-chat serve` and `trio-chat client` processes."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import trio
import trustme

from trio_chat.client.rules import EXIT_ENDED

from .conftest import Peer, Program, program, run_trio_chat, running_server


def client_args(name: str, port: int) -> list[str]:
    return ["client", "--name", name, "--host", "127.0.0.1", "--port", str(port)]


async def test_two_clients_chat_a_script_runs_and_sigint_stops_everything() -> None:
    async with running_server() as (server, port):
        async with program(*client_args("ana", port)) as ana:
            await ana.io.until("*** Welcome, ana!")
            async with program(*client_args("bob", port)) as bob:
                await bob.io.until("*** Welcome, bob! Online: ana.")
                await chat_then_sigint(server, ana, bob, port)
        assert await server.exit_code() == 0
        rest = await server.io.expect_eof()
        assert any("SIGINT received: shutting down, 2 connection(s)" in line for line in rest)
        assert not any("Traceback" in line for line in rest)


async def chat_then_sigint(server: Program, ana: Program, bob: Program, port: int) -> None:
    assert await ana.io.line() == "*** bob joined"

    await bob.io.send("hi ana")
    assert await ana.io.line() == "bob: hi ana"
    await ana.io.send("hi bob")
    assert await bob.io.line() == "ana: hi bob"

    # printf 'hello from a script\n/quit\n' | trio-chat client --name bot
    script = await run_trio_chat(*client_args("bot", port), stdin=b"hello from a script\n/quit\n")
    assert script.returncode == 0
    assert b"*** Welcome, bot!" in script.stdout
    assert b"\x1b" not in script.stdout  # plain: no colours or escape codes
    assert script.stderr == b""
    assert await ana.io.until("*** bot left") == [
        "*** bot joined",
        "bot: hello from a script",
        "*** bot left",
    ]

    server.process.send_signal(signal.SIGINT)
    for client in (ana, bob):
        lines = await client.io.until("*** disconnected")
        assert lines[-2:] == [
            "*** server shutting down",
            "*** disconnected: the server closed the connection",
        ]
        assert await client.exit_code() == EXIT_ENDED


async def test_sigterm_stops_the_server_with_a_client_that_never_reads() -> None:
    async with running_server() as (server, port):
        reader = Peer(await trio.open_tcp_stream("127.0.0.1", port))
        await reader.register("reader")
        # A member that never reads, with a small receive buffer: its writer
        # gets stuck in a send, which only the shutdown's grace period ends.
        deaf = trio.socket.socket()
        deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await deaf.connect(("127.0.0.1", port))
        await deaf.send(b"deaf\n")
        await reader.until("*** deaf joined")
        await reader.send(*(["x" * 4000] * 50), "/who")
        assert (await reader.until("*** In #lobby"))[-1] == "*** In #lobby (2): deaf, reader"
        server.process.send_signal(signal.SIGTERM)
        assert await server.exit_code() == 0
        deaf.close()
        await reader.stream.aclose()


async def test_client_without_a_server_explains_and_fails() -> None:
    with trio.socket.socket() as probe:
        await probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    result = await run_trio_chat(*client_args("ana", free_port))
    assert result.returncode == 1
    error = result.stderr.decode()
    assert f"cannot connect to 127.0.0.1:{free_port}: connection refused" in error
    assert "trio-chat serve" in error
    assert "Traceback" not in error


async def test_server_on_a_busy_port_explains_and_fails() -> None:
    async with running_server() as (_, port):
        result = await run_trio_chat(
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--web-port",
            "0",
            "--irc-port",
            "0",
            "--db",
            ":memory:",
        )
    assert result.returncode == 1
    error = result.stderr.decode()
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in error
    assert "Traceback" not in error


async def test_module_entry_point_and_version() -> None:
    result = await trio.run_process(
        [sys.executable, "-m", "trio_chat", "--version"],
        capture_stdout=True,
    )
    assert result.stdout.decode().startswith("trio-chat ")


# --- passwords ----------------------------------------------------------------------------


def secret_file(directory: Path, name: str, secret: str) -> str:
    path = directory / name
    path.write_text(secret + "\n")
    return str(path)


async def test_a_password_server_lets_in_who_knows_it_and_no_one_else(tmp_path: Path) -> None:
    door = secret_file(tmp_path, "door", "Door-Secret-5")
    mine = secret_file(tmp_path, "mine", "Bot-Secret-99")
    async with running_server("--password-file", door) as (server, port):
        async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
            nc = Peer(stream)
            assert await nc.line() == (
                "*** Hello! This server needs a password: send /pass PASSWORD, then your name"
            )
            await nc.send("nc_user")
            assert await nc.line() == "! this server needs a password: send /pass PASSWORD first"
            await nc.send("/pass Wrong-Guess-1")
            assert await nc.expect_eof() == ["! wrong password"]

        async def client(*options: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
            return await run_trio_chat(*client_args("bot", port), *options, stdin=stdin)

        first = await client("--server-password-file", door, stdin=b"/register Bot-Secret-99\n")
        assert first.returncode == 0, first
        assert b"*** bot is registered to you now" in first.stdout
        again = await client("--server-password-file", door, "--password-file", mine, stdin=b"")
        assert again.returncode == 0, again
        assert b"*** Welcome, bot!" in again.stdout
        unnamed = await client("--server-password-file", door, stdin=b"")
        assert unnamed.returncode == EXIT_ENDED
        assert b"! the name bot is registered: send /login bot PASSWORD" in unnamed.stdout
        locked_out = await client(stdin=b"hello\n")
        assert locked_out.returncode == EXIT_ENDED
        assert b"! this server needs a password: send /pass PASSWORD first" in locked_out.stdout

        server.process.send_signal(signal.SIGINT)
        assert await server.exit_code() == 0
        log = "\n".join(await server.io.expect_eof())
    assert "wrong server password from 127.0.0.1:" in log
    assert re.search(r"bot \(127\.0\.0\.1:\d+\) registered their name", log)
    for secret in ("Door-Secret-5", "Bot-Secret-99", "Wrong-Guess-1"):
        assert secret not in log


async def test_serve_with_a_missing_or_empty_password_file_exits_1_with_one_clear_line(
    tmp_path: Path,
) -> None:
    empty = secret_file(tmp_path, "empty", "")
    for option, path, why in (
        ("--password-file", str(tmp_path / "missing"), "cannot read the password file"),
        ("--oper-password-file", empty, f"the operator password file {empty} is empty"),
    ):
        serve = [
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
            ":memory:",
        ]
        result = await run_trio_chat(*serve, option, path)
        assert result.returncode == 1
        error = result.stderr.decode()
        assert why in error
        assert "Traceback" not in error
        assert "listening" not in error


async def test_limits_from_the_command_line_apply_to_loopback_with_exempt_none() -> None:
    limits = ("--exempt", "none", "--max-per-address", "1", "--flood-rate", "50")
    async with running_server(*limits, "--flood-burst", "2") as (server, port):
        ana = Peer(await trio.open_tcp_stream("127.0.0.1", port))
        await ana.register("ana")
        second = Peer(await trio.open_tcp_stream("127.0.0.1", port))
        assert await second.expect_eof() == ["! too many connections from your address (at most 1)"]
        await second.stream.aclose()
        logged = await server.io.line()
        while "refused" not in logged:
            logged = await server.io.line()
        assert logged.endswith("too many connections from this address (at most 1)")
        # Lines over the rate are delayed, not lost, and the sender is told once.
        await ana.send(*(f"/msg ana n{i}" for i in range(10)))
        lines = await ana.until("[private] ana: n9")
        # Once per episode of flooding (tests/core/test_limits.py, in virtual time); in
        # real time a loaded machine may let the sender fall under the rate in between.
        assert "! slow down: over 50 lines a second; lines are delayed" in lines
        assert [line for line in lines if not line.startswith("!")] == [
            f"[private] ana: n{i}" for i in range(10)
        ]
        await ana.stream.aclose()


# --- TLS ---------------------------------------------------------------------------------


def tls_client_args(name: str, port: int, ca: Path, host: str = "127.0.0.1") -> list[str]:
    return ["client", "--name", name, "--host", host, "--port", str(port), "--tls-ca", str(ca)]


async def test_tls_from_trio_chat_cert_to_a_chat(tmp_path: Path) -> None:
    # The README's steps: make cert, serve with it, clients trust cert.pem.
    made = await run_trio_chat("cert", "--out", str(tmp_path))
    assert (made.returncode, made.stderr) == (0, b"")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    async with running_server("--tls-cert", str(cert), "--tls-key", str(key)) as (server, port):
        async with program(*tls_client_args("ana", port, cert)) as ana:
            await ana.io.until("*** Welcome, ana!")
            script = await run_trio_chat(
                *tls_client_args("bot", port, cert), stdin=b"hello over TLS\n/quit\n"
            )
            assert script.returncode == 0, script.stderr
            assert b"*** Welcome, bot! Online: ana." in script.stdout
            assert script.stderr == b""
            assert await ana.io.until("*** bot left") == [
                "*** bot joined",
                "bot: hello over TLS",
                "*** bot left",
            ]
            await ana.io.send("/quit")
            assert await ana.io.expect_eof() == ["*** Bye!"]
            assert await ana.exit_code() == 0
        server.process.send_signal(signal.SIGINT)
        assert await server.exit_code() == 0
        log = await server.io.expect_eof()
        assert not any("Traceback" in line or "TLS handshake failed" in line for line in log)


async def test_tls_client_refuses_a_certificate_without_its_host(tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost")  # `--host 127.0.0.1` is not in it
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    tls_args = ("--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem"))
    async with running_server(*tls_args) as (server, port):
        refused = await run_trio_chat(
            *tls_client_args("ana", port, tmp_path / "ca.pem"), stdin=b"hi\n"
        )
        assert refused.returncode == 1
        error = refused.stderr.decode()
        assert error.startswith(
            f"trio-chat: no secure connection to 127.0.0.1:{port}: "
            "the server's certificate is not valid for 127.0.0.1 (IP address mismatch"
        )
        assert error.count("\n") == 1
        assert refused.stdout == b""
        # One line in the server's log, and it goes on serving.
        line = await server.io.line()
        while "TLS handshake failed" not in line:
            assert "Traceback" not in line
            line = await server.io.line()
        fine = await run_trio_chat(
            *tls_client_args("bob", port, tmp_path / "ca.pem", host="localhost"), stdin=b"/quit\n"
        )
        assert fine.returncode == 0, fine.stderr
        assert b"*** Welcome, bob!" in fine.stdout


async def test_a_client_without_tls_on_a_tls_server_is_told_what_to_do(tmp_path: Path) -> None:
    made = await run_trio_chat("cert", "--out", str(tmp_path))
    assert made.returncode == 0
    tls_args = ("--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem"))
    async with running_server(*tls_args) as (_, port):
        result = await run_trio_chat(*client_args("ana", port), stdin=b"hi\n")
    assert result.returncode == EXIT_ENDED
    # (A "*** disconnected" line may follow, as the close races the refused name.)
    assert result.stdout.decode().splitlines()[0] == (
        "! this server speaks TLS: connect with --tls-ca cert.pem (make client TLS_CA=cert.pem)"
        " or --tls"
    )


async def test_tls_client_against_a_plain_server_says_so(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    async with running_server() as (_, port):
        result = await run_trio_chat(*tls_client_args("ana", port, tmp_path / "ca.pem"))
    assert result.returncode == 1
    error = result.stderr.decode()
    assert "the server does not speak TLS" in error
    assert "Traceback" not in error


async def test_tls_setup_errors_are_one_clear_line(tmp_path: Path) -> None:
    made = await run_trio_chat("cert", "--out", str(tmp_path))
    assert made.returncode == 0
    cert = str(tmp_path / "cert.pem")
    serve = [
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
        ":memory:",
    ]
    cases = [
        (["--tls-cert", cert, "--tls-key", "missing.pem"], "cannot read missing.pem: no such file"),
        (["--tls-cert", cert, "--tls-key", cert], f"{cert} is not a PEM private key"),
    ]
    for extra, expected in cases:
        result = await run_trio_chat(*serve, *extra)
        assert result.returncode == 1
        error = result.stderr.decode()
        assert error.count("\n") == 1, error
        assert f"ERROR   cannot serve TLS: {expected}" in error
    client = await run_trio_chat(*tls_client_args("ana", 1, tmp_path / "nope.pem"))
    assert client.returncode == 1
    assert client.stderr.decode() == (
        f"trio-chat: cannot use TLS: cannot read {tmp_path / 'nope.pem'}: no such file\n"
    )
