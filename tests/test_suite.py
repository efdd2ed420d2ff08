"""The test suite's own rules: what every test may rely on, and may not do."""

from __future__ import annotations

import ast
import os
import signal
import sqlite3
from contextlib import closing
from pathlib import Path

import trio
from hypothesis import settings

from trio_chat.core.datafile import default_path

from .conftest import Peer, hypothesis_profile, running_server

TESTS = Path(__file__).parent


def test_no_test_module_imports_another_test_modules_helpers() -> None:
    # Shared helpers live in conftest.py: a test module that imports another
    # runs (or breaks with) that module's set-up, and moving either breaks both.
    offenders = []
    for module in sorted(TESTS.rglob("test_*.py")):
        for node in ast.walk(ast.parse(module.read_text(), str(module))):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or "", *(alias.name for alias in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.split(".")[-1].startswith("test_"):
                    offenders.append(f"{module.relative_to(TESTS)}:{node.lineno} imports {name}")
    assert offenders == []


async def test_a_server_run_without_db_keeps_its_history_in_the_tests_own_home(
    private_home: Path,
) -> None:
    assert Path.home() == private_home
    expected = private_home / ".local" / "share" / "trio_chat" / "history.sqlite3"
    assert default_path() == expected
    async with running_server(default_history=True) as (server, port):
        assert any(f"history: {expected} (0 messages)" in line for line in server.startup)
        async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
            ana = Peer(stream)
            await ana.register("ana")
            await ana.send("kept at home", "/quit")
            assert await ana.expect_eof() == ["*** Bye!"]
        server.process.send_signal(signal.SIGINT)
        assert await server.exit_code() == 0
    with closing(sqlite3.connect(expected)) as db:
        assert db.execute("SELECT text FROM messages").fetchall() == [("kept at home",)]


def test_ci_runs_hypothesis_without_a_deadline_on_the_same_examples_every_time() -> None:
    ci = settings.get_profile("ci")
    assert (ci.deadline, ci.derandomize) == (None, True)
    assert settings.get_profile("dev").deadline is not None
    assert hypothesis_profile({"CI": "true"}) == "ci"
    assert hypothesis_profile({"CI": "1"}) == "ci"
    assert hypothesis_profile({}) == "dev"
    assert hypothesis_profile({"CI": "false"}) == "dev"
    assert hypothesis_profile({"CI": "true", "HYPOTHESIS_PROFILE": "dev"}) == "dev"
    # The profile this run chose is the one in force.
    chosen = settings.get_profile(hypothesis_profile(os.environ))
    assert (settings().deadline, settings().derandomize) == (chosen.deadline, chosen.derandomize)
