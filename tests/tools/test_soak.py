"""The soak runs end to end against a real server, and its counting catches what goes wrong."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import trio

from trio_chat.tools import soak
from trio_chat.tools.soak import Figures, Options, Run, ServerLog, judge, leaks
from trio_chat.tools.soak_clients import Presence, account

from ..conftest import ledger_with


async def test_a_tiny_soak_of_a_healthy_server_passes_and_reports_every_field(
    tmp_path: Path,
) -> None:
    results_file = tmp_path / "soak.json"
    command = [sys.executable, "-m", "trio_chat", "soak", "--clients", "4", "--seconds", "2"]
    done = await trio.run_process(
        [*command, "--rate", "4", "--seed", "7", "--json", str(results_file)],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    out = done.stdout.decode()
    assert done.returncode == 0, out + done.stderr.decode()
    for heading in ("connections", "deliveries", "server fds", "server RSS", "server log"):
        assert heading in out
    assert out.splitlines()[-2] == "PASS"
    results = json.loads(results_file.read_text())
    assert results["passed"] is True
    assert results["problems"] == []
    assert results["options"] == {"clients": 4, "seconds": 2.0, "rate": 4.0, "seed": 7}
    # 4 clients and 5 warm-up connections, each one or more times.
    assert results["connections"] >= 9
    assert results["quits"] + results["drops"] == results["connections"]
    deliveries = results["deliveries"]
    assert deliveries["messages"] > 0
    assert deliveries["unacked"] == 0
    assert deliveries["expected"] > 0
    assert deliveries["delivered"] == deliveries["expected"]
    assert deliveries["lost"] == deliveries["misrouted"] == deliveries["duplicates"] == 0
    server = results["server"]
    assert server["pid"] > 0
    for moment in ("idle", "start", "end"):
        assert server[moment]["fds"] > 0
        assert server[moment]["sockets"] > 0
        assert server[moment]["rss_kb"] > 0
    assert server["end"]["fds"] <= server["start"]["fds"]
    assert server["peak_rss_kb"] >= server["end"]["rss_kb"]
    assert server["exit_code"] == 0
    assert results["client_errors"] == results["client_failures"] == []
    log = results["server_log"]
    assert log["problems"] == []
    assert log["events"]["registered"] == results["connections"]
    assert log["events"]["left"] + log["events"].get("dropped", 0) == results["connections"]


def test_judge_fails_a_run_for_loss_leaks_errors_and_a_bad_exit() -> None:
    run = Run(Options())
    run.exit_code = 0
    healthy = account(run.ledger)
    assert judge(run, healthy) == []
    run.ledger.errors.append("c0g0 got: ! slow down")
    run.log.handle('{"level": "WARNING", "message": "dropping c1g0 (x): too slow"}')
    run.log.handle("Traceback (most recent call last):")
    run.exit_code = 1
    lossy = account(ledger_with(Presence("ana", "#lobby", start=1.0), ana={}))
    assert judge(run, lossy) == [
        "1 expected deliveries lost",
        "clients received 1 error line(s)",
        "the server logged 2 warning/error line(s)",
        "the server exited with 1 after SIGTERM",
    ]


def test_leaks_compare_the_end_with_the_start_and_with_no_client_at_all() -> None:
    idle, start = Figures(10, 3, 1000), Figures(12, 3, 1200)
    assert leaks(idle, start, Figures(12, 3, 5000)) == []
    assert leaks(idle, start, Figures(13, 4, 1200)) == [
        "file descriptors leaked: 12 at start, 13 at end",
        "sockets leaked: 3 before any client, 4 at end",
    ]
    assert leaks(None, None, Figures(None, None, None)) == []


def test_server_log_counts_connection_events_and_finds_the_port() -> None:
    log = ServerLog()
    log.handle('{"level": "INFO", "event": "listening", "address": "127.0.0.1:4321"}')
    log.handle('{"level": "INFO", "event": "registered", "name": "a"}')
    log.handle('{"level": "INFO", "event": "left", "name": "a", "reason": "quit"}')
    log.handle('{"level": "INFO", "event": "left", "reason": "no name"}')  # not a member
    assert log.port == 4321
    assert log.listening.is_set()
    assert log.events == {"listening": 1, "registered": 1, "left": 1}
    assert log.problems == []


def test_a_server_that_does_not_start_is_reported_plainly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = [sys.executable, "-c", "import sys; sys.exit('cannot listen')"]
    monkeypatch.setattr(soak, "server_command", lambda tmp: broken)
    assert soak.main(["--seconds", "1", "--json", str(tmp_path / "r.json")]) == 2
    error = capsys.readouterr().err
    assert error == "trio-chat soak: the server did not start: not JSON: cannot listen\n"
