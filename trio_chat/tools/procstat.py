"""A process's CPU and memory, from /proc (Linux): what the bench and the soak report."""

from __future__ import annotations

import os

__all__ = ["process_cpu_s", "process_peak_rss_kb", "process_rss_kb"]


def process_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` (0 if unknown)."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_kb(pid: int | None, key: str) -> int | None:
    if pid is None:
        return None
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def process_rss_kb(pid: int | None) -> int | None:
    return _status_kb(pid, "VmRSS")


def process_peak_rss_kb(pid: int | None) -> int | None:
    return _status_kb(pid, "VmHWM")
