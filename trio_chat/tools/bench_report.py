"""The bench's results: one :class:`Run` per scenario and target, the table and the summary."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

SUSTAINED_P99_MS = 100.0
# A generator busier than this fraction of its core is the bottleneck.
# A server that waited longer than this share of the phase for a CPU was starved
# by other processes on its core: its latency is the machine's, not its own.
STARVED = 0.2
SATURATED = 0.9


@dataclass
class Run:
    target: str
    scenario: str
    clients: int
    registration_s: float | None = None
    server_rss_kb: int | None = None
    kb_per_client: float | None = None
    phases: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    generator: str | None = None
    # The machine's 1-minute load average when the run ended (shared machines).
    load_average: float | None = None
    # Which repetition (--rounds): ratios compare runs of the same round.
    round: int = 0


def sustained(run: Run) -> float | None:
    """The highest rate with no loss and p99 under the limit."""
    best = None
    for phase in run.phases:
        if phase["lost"] == 0 and (phase["p99_ms"] or 0) < SUSTAINED_P99_MS:
            best = phase["rate"]
    return best


def table(runs: Sequence[Run]) -> str:
    rows = [
        f"{'target':<18} {'scenario':<21} clients  rate/s  deliv/s   lost  p50ms  p99ms "
        "p99.9ms  maxms  readp99  srvCPU% genCPU% peakRSS"
    ]
    for run in runs:
        head = f"{run.target:<18} {run.scenario:<21} {run.clients:>7}"
        if run.error:
            rows.append(f"{head}  error: {run.error}")
            continue
        if not run.phases:
            rows.append(
                f"{head}  all registered in {run.registration_s or 0:.1f} s; server RSS "
                f"{(run.server_rss_kb or 0) / 1024:.0f} MiB, {run.kb_per_client or 0:.1f} KiB "
                "per connection"
            )
        for p in run.phases:
            secs = p["elapsed_s"] or 1
            gen = p["loadgen_cpu_s"] / secs
            flag = " (generator saturated)" if gen > SATURATED else ""
            # The C generator reads the server's runqueue wait (/proc/PID/schedstat).
            starved = (p.get("server_wait_s") or 0) / secs
            if starved > STARVED:
                flag += f" (server starved: waited {100 * starved:.0f}% for a CPU)"
            rows.append(
                f"{head} {p['rate']:>7g} {p['deliveries_per_s']:>8.0f} {p['lost']:>6} "
                f"{_ms(p['p50_ms'])} {_ms(p['p99_ms'])} {_ms(p['p999_ms'])} "
                f"{_ms(p.get('max_ms'))}   {_ms(p.get('read_p99_ms'))} "
                f"{100 * p['server_cpu_s'] / secs:>7.0f}% {100 * gen:>6.0f}% "
                f"{(p['server_peak_rss_kb'] or 0) / 1024:>6.0f}M{flag}"
            )
            if p.get("unattributed"):
                rows.append(
                    f"{'':<18} {'  without a name':<21} {'':>7}  {p['unattributed']} of "
                    f"{p['deliveries']} deliveries came without their sender's name"
                )
            if p.get("newcomer_s") is not None:
                rows.append(
                    f"{'':<18} {'  a newcomer':<21} {1:>7}  registered in "
                    f"{p['newcomer_s']:.2f} s, during the load"
                )
            if p.get("stalled"):
                rows.append(
                    f"{'':<18} {'  stalled readers':<21} {p['stalled']:>7}  "
                    f"dropped by the server: {p['stalled_dropped']}"
                )
            if p.get("cross_p99_ms") is not None:
                rows.append(
                    f"{'':<18} {'  of which':<21} {'':>7} {'':>7} "
                    f"{p['cross_deliveries_per_s']:>8.0f} cross-server, p99 "
                    f"{p['cross_p99_ms']:.1f} ms"
                )
    return "\n".join(rows)


def _ms(value: float | None) -> str:
    return f"{value:>6.1f}" if value is not None else "     -"


def summary(runs: Sequence[Run]) -> str:
    lines = ["", "sustained (no loss, p99 < 100 ms), and registration time:"]
    by_scenario: dict[str, dict[str, Run]] = {}
    for run in runs:
        by_scenario.setdefault(run.scenario, {})[run.target] = run
    for scenario, targets in by_scenario.items():
        if not any(run.phases for run in targets.values()):
            continue  # capacity: no messages, already in the table
        parts = []
        for name, run in targets.items():
            rate = sustained(run)
            reg = f", registered in {run.registration_s:.1f} s" if run.registration_s else ""
            parts.append(f"{name} {rate or 0:.0f} msg/s{reg}")
        rates = [sustained(r) or 0 for r in targets.values()]
        ratio = f"  (ratio {rates[0] / rates[1]:.1f}x)" if len(rates) == 2 and rates[1] else ""
        lines.append(f"  {scenario:<14} " + "; ".join(parts) + ratio)
    lines += _memory_costs(by_scenario)
    lines += _irc_costs(by_scenario)
    return "\n".join(lines)


def _irc_costs(by_scenario: dict[str, dict[str, Run]]) -> list[str]:
    """What an IRC delivery cost the server over a text one, rate by rate (``-irc`` twins)."""
    lines = []
    for scenario, targets in by_scenario.items():
        for name, irc in targets.items():
            text = by_scenario.get(scenario.removesuffix("-irc"), {}).get(name)
            if not scenario.endswith("-irc") or text is None:
                continue
            texts = {p["rate"]: p for p in text.phases if p["deliveries"]}
            for p in (p for p in irc.phases if p["deliveries"] and p["rate"] in texts):
                t = texts[p["rate"]]
                irc_us = 1e6 * p["server_cpu_s"] / p["deliveries"]
                text_us = 1e6 * t["server_cpu_s"] / t["deliveries"]
                over = f"{100 * (irc_us / text_us - 1):+.0f} %" if text_us else "-"
                lines.append(
                    f"  {scenario} at {p['rate']:.0f} msg/s: {name}'s CPU per delivery IRC "
                    f"{irc_us:.2f} us, text {text_us:.2f} us ({over}); p99 IRC "
                    f"{_ms(p['p99_ms']).strip()} ms, text {_ms(t['p99_ms']).strip()} ms"
                )
    return lines


def _peak_kb(run: Run) -> int | None:
    peaks = [p["server_peak_rss_kb"] for p in run.phases if p.get("server_peak_rss_kb")]
    return max(peaks) if peaks else None


def _memory_costs(by_scenario: dict[str, dict[str, Run]]) -> list[str]:
    """What a scenario cost in peak memory over its ``-control`` twin (same load, no stall)."""
    lines = []
    for scenario, targets in by_scenario.items():
        if not scenario.endswith("-control"):
            continue
        for name, control in targets.items():
            run = by_scenario.get(scenario.removesuffix("-control"), {}).get(name)
            if (
                run is None
                or (peak := _peak_kb(run)) is None
                or (base := _peak_kb(control)) is None
            ):
                continue
            lines.append(
                f"  {run.scenario}: {name}'s peak memory with the stalled reader minus "
                f"without: {(peak - base) / 1024:+.2f} MiB"
            )
    return lines


def ratios(runs: Sequence[Run], twins: dict[str, str] | None = None) -> str:
    """Each target's p50 and p99 beside the first target's, rate by rate and round by
    round, and each scenario beside its twin (``twins``: scenario -> its comparison)."""
    lines = ["", "ratios in this run (figure / the first's; x < 1: lower latency):"]
    groups: dict[tuple[str, int], list[Run]] = {}
    reference: dict[str, str] = {}  # a scenario's first target (round 1 runs in order)
    for run in runs:
        if not run.error:
            groups.setdefault((run.scenario, run.round), []).append(run)
            reference.setdefault(run.scenario, run.target)
    several = len({run.round for run in runs}) > 1
    pairs = []
    for (scenario, round_), group in groups.items():
        name = f"{scenario} (round {round_ + 1})" if several else scenario
        base = next((r for r in group if r.target == reference[scenario]), None)
        pairs += [(name, base, other) for other in group if base and other is not base]
        twin = (twins or {}).get(scenario)
        if twin is None:
            continue
        for run in group:
            mate = next((r for r in groups.get((twin, round_), []) if r.target == run.target), None)
            pairs += [(name.replace(scenario, f"{scenario} / {twin}"), mate, run)] if mate else []
    for label, base, other in pairs:
        assert base is not None
        rates = {p["rate"]: p for p in base.phases}
        for p in other.phases:
            if (b := rates.get(p["rate"])) is None:
                continue
            lines.append(
                f"  {label:<30} {p['rate']:>6g}/s  {other.target} vs {base.target}: "
                f"p50 {_pair(p['p50_ms'], b['p50_ms'])}, p99 {_pair(p['p99_ms'], b['p99_ms'])}"
                f", lost {p['lost']} vs {b['lost']}"
            )
    return "\n".join(lines if len(lines) > 2 else [])


def _pair(value: float | None, base: float | None) -> str:
    if value is None or base is None:
        return "-"
    ratio = f" ({value / base:.2f}x)" if base else ""
    return f"{value:.1f} vs {base:.1f} ms{ratio}"


# The same deliveries' p99, measured the ways generators differ (the C generator's).
METHODS = (
    ("p99_ms", "send stamp to kernel arrival"),
    ("read_p99_ms", "to the loop's read"),
    ("scheduled_p99_ms", "from the scheduled send time"),
    ("with_warmup_p99_ms", "warm-up included"),
)


def methods(runs: Sequence[Run]) -> str:
    """Per phase, p99 of the same deliveries by each way of measuring, and the send lag."""
    lines = ["", "p99 ms of the same deliveries, measured four ways (and the sender's lag p99):"]
    for run in runs:
        for p in run.phases:
            if p.get("scheduled_p99_ms") is None:
                continue
            figures = ", ".join(f"{label} {_ms(p.get(key)).strip()}" for key, label in METHODS)
            lines.append(
                f"  {run.target} {run.scenario} {p['rate']:g}/s: {figures}; "
                f"lag {_ms(p.get('send_lag_p99_ms')).strip()}"
            )
    loads = [run.load_average for run in runs if run.load_average is not None]
    if loads:
        lines.append(
            f"\nload average (1 min) at the end of each run: {min(loads):.1f} to "
            f"{max(loads):.1f} on {os.cpu_count()} cores (above 1 per core, others' work "
            "takes CPU from the server and the generator)"
        )
    return "\n".join(lines if len(lines) > 2 or loads else [])
