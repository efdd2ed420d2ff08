"""The command line in the operator's language: --help, usage errors, start-up hints."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import trio

from trio_chat import cli_words

from .conftest import STEP_TIMEOUT, program, run_trio_chat


@pytest.fixture
def spanish_desk(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Spanish locale in the environment (LC_CTYPE keeps UTF-8 where es_ES is not installed)."""
    monkeypatch.setenv("LANG", "es_ES.UTF-8")
    monkeypatch.setenv("LC_CTYPE", "C.UTF-8")


@pytest.mark.parametrize("verb", ["", "serve", "client", "cert"])
async def test_help_is_english_by_default(verb: str) -> None:
    done = await run_trio_chat(*([verb] if verb else []), "--help")
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr
    assert out.startswith("usage: trio-chat")
    assert "show this help message and exit" in out


@pytest.mark.parametrize("verb", ["", "serve", "client", "cert"])
async def test_help_in_spanish_from_the_environment(spanish_desk: None, verb: str) -> None:
    done = await run_trio_chat(*([verb] if verb else []), "--help")
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr
    assert out.startswith("uso: trio-chat"), out
    assert "opciones:" in out
    assert "muestra esta ayuda y sale" in out
    assert "usage" not in out
    assert "show this help" not in out


async def test_client_help_in_spanish_with_lang() -> None:
    done = await run_trio_chat("client", "--lang", "es", "--help")
    out = done.stdout.decode()
    assert out.startswith("uso: trio-chat client"), out
    assert "--name NAME           tu nombre (se te pide si no lo das)" in out
    assert "conecta con TLS" in out


async def test_lang_on_the_command_line_wins_over_the_environment(spanish_desk: None) -> None:
    done = await run_trio_chat("client", "--help", "--lang=en")
    assert done.stdout.decode().startswith("usage: trio-chat client")


async def test_a_usage_error_in_spanish() -> None:
    done = await run_trio_chat("client", "--lang", "es", "--port", "x")
    assert done.returncode == 2
    assert done.stderr.decode().splitlines()[-1] == (
        "trio-chat client: error: argumento --port: 'x' no es un puerto: "
        "usa un número del 1 al 65535"
    )


async def test_an_unknown_language_is_a_usage_error() -> None:
    done = await run_trio_chat("client", "--lang", "xx")
    assert done.returncode == 2
    assert "no catalog for 'xx' (there is: en, es)" in done.stderr.decode()


async def test_the_client_says_why_it_cannot_connect_in_spanish() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        done = await run_trio_chat("client", "--lang", "es", "--port", str(port), "--name", "ana")
    assert done.returncode == 1
    said = done.stderr.decode()
    assert said.startswith(f"trio-chat: no se puede conectar a localhost:{port}: "), said
    assert "¿Está el servidor en marcha? Arranca uno con `trio-chat serve --port" in said


async def test_the_start_up_hints_in_spanish(spanish_desk: None) -> None:
    async with program(
        "serve", "--host", "127.0.0.1", "--port", "0", "--db", ":memory:", "--no-irc",
        "--no-web", read="stderr",
    ) as server:  # fmt: skip
        lines = [await server.io.line()]
        while "en este PC:" not in lines[-1]:
            lines.append(await server.io.line())
    said = "\n".join(lines)
    assert "escuchando en 127.0.0.1:" in said
    assert "historial: solo en memoria (--db :memory:), se pierde al salir" in said
    assert " (máximo " in said
    assert "trio-chat client --name tu_nombre --port " in lines[-1]
    assert "listening" not in said


async def test_a_bind_error_in_spanish(spanish_desk: None) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with trio.fail_after(STEP_TIMEOUT):
            done = await run_trio_chat(
                "serve", "--host", "127.0.0.1", "--port", str(port), "--db", ":memory:",
                "--no-irc", "--no-web",
            )  # fmt: skip
    assert done.returncode == 1
    assert (
        f"no se puede escuchar en 127.0.0.1:{port}: el puerto está ocupado "
        f"(¿otro servidor de trio-chat?); elige otro con --port {port + 1}"
    ) in done.stderr.decode()


def test_the_lang_option_is_found_before_the_parser_is_built() -> None:
    assert cli_words.asked_language(["client", "--lang", "es", "--name", "x"]) == "es"
    assert cli_words.asked_language(["client", "--lang=es"]) == "es"
    assert cli_words.asked_language(["client", "--name", "--", "--lang", "es"]) is None
    assert cli_words.language_of(["client", "--lang", "xx"]) == "en"


async def test_a_bad_name_is_refused_in_spanish_before_connecting() -> None:
    done = await run_trio_chat("client", "--lang", "es", "--name", "9ana")
    assert done.returncode == 2
    assert done.stderr.decode().startswith(
        "trio-chat client: error: --name 9ana: un nombre no puede empezar por '9'"
    )


async def test_cert_says_what_it_wrote_in_spanish(tmp_path: Path) -> None:
    done = await run_trio_chat("cert", "--lang", "es", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    said = done.stdout.decode().splitlines()
    assert said[0] == f"creado {tmp_path / 'cert.pem'} (el certificado: cópialo en los otros PC)"
    assert said[2].startswith("válido hasta el ")
    assert "--name tu_nombre --host DIRECCION" in said[-1]
