"""The benchmark runs end to end on a tiny scenario and reports every field."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import trio

from trio_chat.tools.bench import SUSTAINED_P99_MS, Run, summary, sustained

PHASE_FIELDS = {
    "rate",
    "sent",
    "expected_deliveries",
    "deliveries",
    "lost",
    "deliveries_per_s",
    "messages_per_s",
    "p50_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
    "server_cpu_s",
    "server_peak_rss_kb",
    "loadgen_cpu_s",
    "elapsed_s",
    "stalled_dropped",
    "disconnected",
}


@pytest.mark.parametrize("generator", ["python", "c"])
async def test_tiny_bench_against_both_servers(tmp_path: Path, generator: str) -> None:
    report = tmp_path / "bench.json"
    command = [sys.executable, "-m", "trio_chat", "bench", "--scenario", "tiny"]
    done = await trio.run_process(
        [*command, "--generator", generator, "--json", str(report)],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    out = done.stdout.decode()
    # The C generator is built with the machine's compiler (CI has gcc).
    assert f"load generator: {'C' if generator == 'c' else 'Python'}" in out
    assert "deliv/s" in out
    assert "p99ms" in out
    assert "ratio" in out
    runs = json.loads(report.read_text())
    assert [run["target"] for run in runs] == ["trio_chat", "threaded-original"]
    for run in runs:
        assert run["error"] is None
        assert run["registration_s"] > 0
        assert run["server_rss_kb"] > 0
        [phase] = run["phases"]
        assert set(phase) >= PHASE_FIELDS
        # 5 clients, 2 senders: every message reaches the 4 others, none lost.
        assert phase["sent"] > 0
        assert phase["deliveries"] == phase["expected_deliveries"] == phase["sent"] * 4
        assert phase["lost"] == 0


def test_sustained_is_the_highest_rate_without_loss_under_the_latency_limit() -> None:
    run = Run("x", "s", 10)
    run.phases = [
        {"rate": 100, "lost": 0, "p99_ms": 5.0},
        {"rate": 200, "lost": 0, "p99_ms": SUSTAINED_P99_MS + 1},
        {"rate": 300, "lost": 3, "p99_ms": 5.0},
    ]
    assert sustained(run) == 100
    run.phases[1]["p99_ms"] = 50.0
    assert sustained(run) == 200


def test_summary_shows_what_a_stalled_reader_cost_in_memory() -> None:
    def run(scenario: str, peak_kb: int) -> Run:
        phase = {"rate": 200, "lost": 0, "p99_ms": 5.0, "server_peak_rss_kb": peak_kb}
        return Run("trio_chat", scenario, 100, phases=[phase])

    text = summary([run("slow-consumer-control", 36_000), run("slow-consumer", 36_512)])
    assert (
        "slow-consumer: trio_chat's peak memory with the stalled reader minus without: +0.50 MiB"
        in text
    )


async def test_tiny_bench_with_web_pages(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    command = [sys.executable, "-m", "trio_chat", "bench", "--scenario", "tiny-web"]
    done = await trio.run_process(
        [*command, "--json", str(report)], capture_stdout=True, capture_stderr=True, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    [run] = json.loads(report.read_text())
    assert (run["target"], run["scenario"], run["error"]) == ("trio_chat", "tiny-web", None)
    [phase] = run["phases"]
    # Every message reaches the 4 other pages (a page's own echo is not counted), none lost.
    assert phase["sent"] > 0
    assert phase["deliveries"] == phase["expected_deliveries"] == phase["sent"] * 4
    assert phase["p99_ms"] is not None


async def test_two_servers_sharing_a_redis_report_cross_server_deliveries(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    command = [sys.executable, "-m", "trio_chat", "bench", "--scenario", "tiny-2servers"]
    done = await trio.run_process(
        [*command, "--json", str(report)], capture_stdout=True, capture_stderr=True, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    assert "cross-server, p99" in done.stdout.decode()
    [run] = json.loads(report.read_text())
    [phase] = run["phases"]
    # 6 clients, 3 on each server, 2 senders: each message reaches 5, 3 of them on the other.
    assert phase["deliveries"] == phase["expected_deliveries"] == phase["sent"] * 5
    assert phase["cross_deliveries_per_s"] * 1.0 == pytest.approx(phase["sent"] * 3, rel=0.01)


@pytest.mark.parametrize("generator", ["python", "c"])
async def test_tiny_bench_with_irc_users_beside_text(tmp_path: Path, generator: str) -> None:
    report = tmp_path / "bench.json"
    command = [sys.executable, "-m", "trio_chat", "bench", "--scenario", "tiny"]
    command += ["--scenario", "tiny-irc", "--generator", generator, "--json", str(report)]
    with trio.fail_after(50):
        done = await trio.run_process(
            command, capture_stdout=True, capture_stderr=True, check=False
        )
    assert done.returncode == 0, done.stderr.decode()
    runs = {(run["target"], run["scenario"]): run for run in json.loads(report.read_text())}
    irc = runs["trio_chat", "tiny-irc"]
    assert irc["error"] is None
    [phase] = irc["phases"]
    # IRC users joined #lobby: every PRIVMSG reaches the 4 others (no echo-message), none lost.
    assert phase["sent"] > 0
    assert phase["deliveries"] == phase["expected_deliveries"] == phase["sent"] * 4
    assert phase["p99_ms"] is not None
    assert "tiny-irc at 20 msg/s: trio_chat's CPU per delivery IRC" in done.stdout.decode()


def test_summary_compares_irc_with_text_at_the_same_rate() -> None:
    def run(scenario: str, cpu_s: float, p99: float) -> Run:
        phase = {
            "rate": 200,
            "lost": 0,
            "p99_ms": p99,
            "deliveries": 100_000,
            "server_cpu_s": cpu_s,
        }
        return Run("trio_chat", scenario, 1000, phases=[phase])

    text = summary([run("fanout-1000", 1.0, 40.0), run("fanout-1000-irc", 1.1, 44.0)])
    assert (
        "fanout-1000-irc at 200 msg/s: trio_chat's CPU per delivery IRC 11.00 us, text 10.00 us "
        "(+10 %); p99 IRC 44.0 ms, text 40.0 ms" in text
    )
