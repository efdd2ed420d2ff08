"""The servers and generators ``trio-chat bench`` runs: targets, ports, pinning, the C build.

A target is a command (a fresh server per scenario, ``{port}`` etc. replaced) or
``HOST:PORT``, a server already running (ngIRCd, InspIRCd, another checkout):
its process is found by its listening socket in ``/proc``, for its CPU and memory.
The C generator and the threaded original ship inside the package
(:mod:`trio_chat.benchmarks`); the generator is compiled once per source into
the user's cache directory.
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from trio_chat.tools.bench_scenarios import Scenario

PYTHON_LOADGEN = [sys.executable, "-m", "trio_chat.tools.loadgen"]
THREADED_ORIGINAL = [sys.executable, "-m", "trio_chat.benchmarks.threaded_original"]
CFLAGS = ["-O2", "-pthread"]
_NAMED = re.compile(r"^(?P<name>[\w.-]+)=(?P<command>\S.*)$")
_ADDRESS = re.compile(r"^(?:(?P<name>[\w.-]+)=)?(?P<host>[\w.-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d+)$")


@dataclass
class Target:
    name: str
    # "{port}" becomes the port, "{webport}" the web port, "{ircport}" the IRC port,
    # "{tmp}" a temporary directory, "{cert}"/"{key}" a self-signed certificate's files.
    command: list[str] = field(default_factory=list)
    # A server already running (HOST:PORT): nothing is started.
    address: tuple[str, int] | None = None
    # Added to the command for a TLS scenario.
    tls_args: list[str] = field(default_factory=list)
    # Files written into {tmp} first (a peer's configuration), placeholders filled.
    files: dict[str, str] = field(default_factory=dict)
    # Speaks only IRC: --port waits for its IRC port (the -irc scenarios).
    irc_only: bool = False


TLS_ARGS = ["--tls-cert", "{cert}", "--tls-key", "{key}"]


def trio_chat_target() -> Target:
    command = [sys.executable, "-m", "trio_chat", "serve", "--host", "127.0.0.1"]
    command += ["--port", "{port}", "--db", "{tmp}/history.sqlite3", "--log-level", "warning"]
    command += ["--web-port", "{webport}", "--irc-port", "{ircport}"]
    # As many clients as this machine's open-file limit allows (capacity: 15,000).
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    limit = hard - 64 if hard != resource.RLIM_INFINITY else 1 << 20
    command += ["--max-clients", str(max(limit, 1000))]
    return Target("trio_chat", command, tls_args=TLS_ARGS)


def original_target() -> Target:
    return Target("threaded-original", [*THREADED_ORIGINAL, "{port}"])


def parse_target(spec: str) -> Target:
    """``[NAME=]HOST:PORT`` (running) or ``[NAME=]COMMAND`` (started per scenario)."""
    if match := _ADDRESS.match(spec):
        host, port = match["host"].strip("[]"), int(match["port"])
        return Target(match["name"] or f"{host}:{port}", address=(host, port))
    name, command = spec, spec
    if named := _NAMED.match(spec):
        name, command = named["name"], named["command"]
    return Target(name, shlex.split(command), tls_args=TLS_ARGS)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(
    port: int, process: subprocess.Popen[bytes] | None, timeout: float = 20.0, host: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode}")
        try:
            with socket.create_connection((host or "127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)  # polling a port another process opens
    raise RuntimeError(f"nothing listens on port {port}")


def listening_pid(port: int) -> int | None:
    """The process holding the listening socket of ``port`` (same user), from /proc."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(f"socket:[{cols[9]}]")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                return int(proc.name)
        except OSError:
            continue
    return None


def pinned(core: int) -> list[str]:
    """A taskset prefix pinning to ``core``, when there are cores to spare."""
    if (os.cpu_count() or 1) < 2 or not _has("taskset"):
        return []
    return ["taskset", "-c", str(core)]


def _has(program: str) -> bool:
    return any((Path(d) / program).exists() for d in os.environ.get("PATH", "").split(":"))


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "trio-chat"


LOADGEN_FILES = ("loadgen.c", "loadgen_wire.h", "loadgen_run.h")


def loadgen_sources() -> dict[str, str]:
    """The C generator's files, from the installed package (or the checkout)."""
    package = resources.files("trio_chat.benchmarks")
    return {name: (package / name).read_text() for name in LOADGEN_FILES}


def c_loadgen(directory: Path | None = None) -> list[str] | None:
    """The C load generator, compiled into ``directory`` (the cache) if not there yet.

    ``None`` if there is no C compiler or it fails. The binary's name holds a hash
    of the source, compiler and flags, so an upgrade builds anew.
    """
    compiler = next((c for c in ("cc", "gcc", "clang") if _has(c)), None)
    if compiler is None:
        return None
    sources = loadgen_sources()
    key = hashlib.sha256("\0".join([*sources.values(), compiler, *CFLAGS]).encode())
    binary = (directory or cache_dir()) / f"loadgen-{key.hexdigest()[:16]}"
    if binary.exists():
        return [str(binary)]
    try:
        binary.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=binary.parent) as work:
            for name, text in sources.items():
                (Path(work) / name).write_text(text)
            built = Path(work) / "loadgen"
            command = [compiler, *CFLAGS, "-o", str(built), str(Path(work) / "loadgen.c")]
            if subprocess.run(command, capture_output=True, check=False).returncode != 0:
                return None
            os.replace(built, binary)  # atomic: a concurrent build finds a whole binary
    except OSError:
        return None
    return [str(binary)]


@dataclass
class Ports:
    text: int
    web: int
    irc: int
    host: str = "127.0.0.1"


def start_servers(
    target: Target, scenario: Scenario, tmp: str
) -> tuple[list[Ports], list[subprocess.Popen[bytes]]]:
    """The target's server(s), pinned to core 0 (with their Redis, if several), listening.

    Returns each server's ports, and the processes (Redis first; none for an address).
    """
    if target.address is not None:
        host, port = target.address
        wait_listening(port, None, timeout=2.0, host=host)
        return [Ports(port, port, port, host)], []
    ports = [Ports(free_port(), free_port(), free_port()) for _ in range(scenario.servers)]
    processes: list[subprocess.Popen[bytes]] = []
    extra: list[str] = []
    if scenario.servers > 1:
        redis_port = free_port()
        redis = [*pinned(0), "redis-server", "--port", str(redis_port), "--bind", "127.0.0.1"]
        redis += ["--save", "", "--appendonly", "no", "--dir", tmp]
        processes.append(subprocess.Popen(redis, stdout=subprocess.DEVNULL))
        wait_listening(redis_port, processes[0])
        extra = ["--redis", f"redis://127.0.0.1:{redis_port}/0"]
    command = [*target.command, *(target.tls_args if scenario.tls else [])]
    for each in ports:
        home = Path(tmp) / str(each.text)
        home.mkdir()
        values = {"port": each.text, "webport": each.web, "ircport": each.irc, "tmp": home}
        values |= {"cert": Path(tmp) / "cert.pem", "key": Path(tmp) / "key.pem"}
        parts = [_fill(part, values) for part in command]
        for name, template in target.files.items():
            (home / name).write_text(_fill(template, values))
        processes.append(
            subprocess.Popen(
                [*pinned(0), *parts, *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )
        wait_listening(each.irc if target.irc_only else each.text, processes[-1])
    return ports, processes


def _fill(part: str, values: dict[str, object]) -> str:
    for name, value in values.items():
        part = part.replace("{" + name + "}", str(value))
    return part


def server_pid(target: Target, processes: Sequence[subprocess.Popen[bytes]]) -> int | None:
    if target.address is not None:
        return listening_pid(target.address[1])
    return processes[-1].pid if processes else None
