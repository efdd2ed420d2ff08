"""The benchmark runs end to end on a tiny scenario and reports every field."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_chat.tools.bench import SUSTAINED_P99_MS, Run, summary, sustained
from trio_chat.tools.bench_report import methods, ratios, table
from trio_chat.tools.bench_scenarios import ALL, SCENARIOS, chosen
from trio_chat.tools.bench_servers import listening_pid, parse_target

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
    "read_p99_ms",
    "measured",
    "warmup_s",
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
        # 6 clients, 2 senders: every message reaches the 5 others, none lost.
        assert phase["sent"] > 0
        assert phase["deliveries"] == phase["expected_deliveries"] == phase["sent"] * 5
        assert phase["lost"] == 0
        if generator == "c":
            # The server's runqueue wait (a starved server), from /proc.
            assert phase["server_wait_s"] >= 0


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
    # Every message reaches the 5 other pages (a page's own echo is not counted), none lost.
    assert phase["sent"] > 0
    assert phase["deliveries"] == phase["expected_deliveries"] == phase["sent"] * 5
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
    # IRC users joined #lobby: every PRIVMSG reaches the 5 others (no echo-message), none lost.
    assert phase["sent"] > 0
    assert phase["deliveries"] == phase["expected_deliveries"] == phase["sent"] * 5
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


async def _bench(tmp_path: Path, *args: str) -> tuple[str, dict[tuple[str, str], dict[str, Any]]]:
    report = tmp_path / "bench.json"
    command = [sys.executable, "-m", "trio_chat", "bench", *args, "--json", str(report)]
    with trio.fail_after(100):
        done = await trio.run_process(
            command, capture_stdout=True, capture_stderr=True, check=False
        )
    assert done.returncode == 0, done.stderr.decode()
    runs = json.loads(report.read_text())
    return done.stdout.decode(), {(run["target"], run["scenario"]): run for run in runs}


async def test_a_mixed_room_of_text_irc_and_web_members_loses_nothing(tmp_path: Path) -> None:
    # The C generator: a third of the 6 clients on each door, all in #lobby.
    out, runs = await _bench(tmp_path, "--scenario", "tiny-mixed", "--generator", "c")
    assert "load generator: C" in out
    [phase] = runs["trio_chat", "tiny-mixed"]["phases"]
    # Every message reaches the 5 others whatever their door (a page's own echo not counted).
    assert phase["sent"] > 0
    assert phase["deliveries"] == phase["expected_deliveries"] == phase["sent"] * 5
    # Messages after the warm-up have latencies; those in it only count for loss.
    assert 0 < phase["measured"] <= phase["deliveries"]


async def test_tls_members_and_idle_capacity_end_to_end(tmp_path: Path) -> None:
    out, runs = await _bench(tmp_path, "--scenario", "tiny-tls", "--scenario", "tiny-capacity")
    [phase] = runs["trio_chat", "tiny-tls"]["phases"]
    assert phase["deliveries"] == phase["expected_deliveries"] == phase["sent"] * 5 > 0
    assert phase["p50_ms"] is not None
    # A newcomer arrived in the middle of the load and got in (its TLS handshake
    # included); it is no reader: the deliveries above are the 5 others'.
    assert phase["newcomer_s"] > 0
    assert "a newcomer" in out
    capacity = runs["trio_chat", "tiny-capacity"]
    assert capacity["clients"] == 50
    assert capacity["phases"] == []
    assert capacity["kb_per_client"] > 0
    assert "KiB per connection" in out


def test_every_scenario_is_selectable_by_its_name_with_its_twins() -> None:
    assert all(name == scenario.name for name, scenario in ALL.items())
    assert [s.name for s in chosen(["mixed"])] == ["mixed", "mixed-text"]
    assert [s.name for s in chosen(["tls-fanout", "tls-fanout-plain"])] == [
        "tls-fanout",
        "tls-fanout-plain",
    ]
    assert SCENARIOS["fanout-1000"].rates == (50, 200, 450, 600)
    assert SCENARIOS["capacity"].clients == 15_000
    assert {s.name for s in chosen(None)} >= {"fanout-1000", "capacity", "mixed", "tls-fanout"}


def _phase(rate: float, p50: float, p99: float, lost: int = 0) -> dict[str, Any]:
    fields = {"deliveries_per_s": 1000, "p999_ms": p99, "max_ms": p99, "read_p99_ms": p99}
    fields |= {"elapsed_s": 5, "loadgen_cpu_s": 1, "server_cpu_s": 2, "server_peak_rss_kb": 1024}
    return {"rate": rate, "p50_ms": p50, "p99_ms": p99, "lost": lost, **fields}


def test_the_ratio_table_sets_each_target_beside_the_first_and_each_twin_beside_its_own() -> None:
    trio_chat = Run("trio_chat", "fanout-1000", 1000, phases=[_phase(450, 10.0, 40.0)])
    ngircd = Run("ngircd", "fanout-1000", 1000, phases=[_phase(450, 5.0, 20.0)])
    mixed = Run("trio_chat", "mixed", 1000, phases=[_phase(300, 12.0, 36.0)])
    text = Run("trio_chat", "mixed-text", 1000, phases=[_phase(300, 10.0, 30.0, lost=2)])
    report = ratios([trio_chat, ngircd, mixed, text], {"mixed": "mixed-text"})
    assert "ngircd vs trio_chat: p50 5.0 vs 10.0 ms (0.50x), p99 20.0 vs 40.0 ms (0.50x)" in report
    assert "mixed / mixed-text" in report
    assert "p99 36.0 vs 30.0 ms (1.20x), lost 0 vs 2" in report
    rows = table([trio_chat, ngircd]).splitlines()
    assert rows[0].split()[:3] == ["target", "scenario", "clients"]
    assert rows[2].split()[:4] == ["ngircd", "fanout-1000", "1000", "450"]


def test_a_rate_whose_server_waited_for_a_cpu_is_flagged_starved() -> None:
    starved = _phase(300, 100.0, 700.0) | {"server_wait_s": 3.0}
    fed = _phase(300, 10.0, 30.0) | {"server_wait_s": 0.2}
    rows = table([Run("trio_chat", "fanout-1000-web", 1000, phases=[starved, fed])])
    [first, second] = rows.splitlines()[1:]
    assert first.endswith("(server starved: waited 60% for a CPU)")
    assert "starved" not in second
    assert SCENARIOS["fanout-1000-web"].web


def test_a_target_is_a_command_or_a_running_server() -> None:
    running = parse_target("ngircd=127.0.0.1:6670")
    assert (running.name, running.address, running.command) == ("ngircd", ("127.0.0.1", 6670), [])
    assert parse_target("localhost:7000").name == "localhost:7000"
    started = parse_target("python -m trio_chat serve --port {port}")
    assert started.address is None
    assert started.command[-1] == "{port}"
    named = parse_target("before=/base/.venv/bin/python -m trio_chat serve --port {port}")
    assert (named.name, named.command[0]) == ("before", "/base/.venv/bin/python")


def test_a_running_servers_process_is_found_by_its_listening_port() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert listening_pid(listener.getsockname()[1]) == os.getpid()


def test_each_phase_says_how_its_p99_reads_when_measured_the_other_ways() -> None:
    phase = _phase(200, 10.0, 40.0) | {"read_p99_ms": 44.5, "scheduled_p99_ms": 41.0}
    phase |= {"with_warmup_p99_ms": 80.0, "send_lag_p99_ms": 1.5}
    report = methods([Run("trio_chat", "fanout-1000", 1000, phases=[phase], load_average=3.5)])
    assert (
        "trio_chat fanout-1000 200/s: send stamp to kernel arrival 40.0, to the loop's read "
        "44.5, from the scheduled send time 41.0, warm-up included 80.0; lag 1.5" in report
    )
    assert "load average (1 min) at the end of each run: 3.5 to 3.5" in report


def test_ratios_of_several_rounds_compare_runs_of_the_same_round_with_the_first_target() -> None:
    def run(target: str, round_: int, p99: float) -> Run:
        return Run(target, "fanout-100", 100, phases=[_phase(500, 1.0, p99)], round=round_)

    # Round 2 ran in reverse order: trio_chat is still the reference.
    runs = [run("trio_chat", 0, 10.0), run("before", 0, 20.0)]
    runs += [run("before", 1, 30.0), run("trio_chat", 1, 15.0)]
    report = ratios(runs)
    assert "fanout-100 (round 2)" in report
    assert "before vs trio_chat: p50 1.0 vs 1.0 ms (1.00x), p99 20.0 vs 10.0 ms (2.00x)" in report
    assert "before vs trio_chat: p50 1.0 vs 1.0 ms (1.00x), p99 30.0 vs 15.0 ms (2.00x)" in report
    assert "trio_chat vs before" not in report
