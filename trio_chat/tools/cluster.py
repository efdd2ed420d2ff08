"""``make cluster``: a local Redis and two (or more) trio_chat servers sharing it.

For trying several servers by hand: redis-server on ``--redis-port`` (no
persistence, in a temporary folder), then ``trio-chat serve --port N --redis
URL`` for each port of ``--ports``, each with its own history file next to
the default one (``history-N.sqlite3``). Their logs are shown prefixed with
the port. Ctrl+C (or SIGTERM) stops the servers first, then Redis; so does a
server that stops by itself (its port is in use, say), and the tool exits 1.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from typing import IO

import trio

from trio_chat.core.datafile import default_path

LOGGER = logging.getLogger("trio_chat.cluster")

READY = b"Ready to accept connections"
# prctl(2): the signal a child gets when its parent dies.
PR_SET_PDEATHSIG = 1
# Seconds redis-server has to start, and the servers to stop after Ctrl+C.
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM if this tool dies (even by SIGKILL). Linux only."""
    # Elsewhere (no prctl): a tool killed outright leaves them to be stopped by hand.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Child:
    """A child process forked by this tool's main thread, its output as a trio stream.

    Not ``trio.lowlevel.open_process``: that forks in a worker thread, and the
    parent-death signal follows the thread that forked, so every child got SIGTERM
    when that thread went idle for 10 s and ended (the cluster stopped by itself).
    """

    def __init__(self, command: list[str], *, output: str) -> None:
        popen = subprocess.Popen(  # a fork: a millisecond or so, once per child at start
            command,
            stdout=subprocess.PIPE if output == "stdout" else None,
            stderr=subprocess.PIPE if output == "stderr" else None,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        pipe: IO[bytes] | None = getattr(popen, output)
        assert pipe is not None
        self.popen = popen
        self.output = trio.lowlevel.FdStream(os.dup(pipe.fileno()))
        pipe.close()
        self._pidfd = os.pidfd_open(popen.pid)

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def send_signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    async def wait(self) -> int:
        """Its exit code, once it has ended (the pidfd turns readable then)."""
        if self.popen.poll() is None:
            await trio.lowlevel.wait_readable(self._pidfd)
        return self.popen.wait()

    def close(self) -> None:
        self.output.close()
        os.close(self._pidfd)


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make cluster", description=__doc__.split("\n")[0])
    parser.add_argument("--redis-port", type=int, default=6390, help="default 6390")
    parser.add_argument(
        "--ports", default="5000 5001", help="the servers' ports (default '5000 5001')"
    )
    parser.add_argument(
        "--web-ports", default="8080 8081", help="their web pages' ports (default '8080 8081')"
    )
    parser.add_argument(
        "--irc-ports", default="6667 6668", help="their IRC ports (default '6667 6668')"
    )
    parser.add_argument("--redis-server", default="redis-server", help="the program")
    return parser.parse_args(argv)


async def pipe_lines(stream: trio.abc.ReceiveStream | None, prefix: str) -> None:
    """Copy ``stream`` to stderr, each line after ``prefix``."""
    if stream is None:
        return
    buffer = b""
    async for chunk in stream:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            sys.stderr.write(f"{prefix} {line.decode(errors='replace')}\n")


async def start_redis(command: list[str], nursery: trio.Nursery) -> Child:
    """redis-server, once it accepts connections (its later lines are shown)."""
    # Its own session: Ctrl+C reaches this tool only, which stops Redis last.
    process = Child(command, output="stdout")
    seen = b""
    with trio.fail_after(START_TIMEOUT):
        while READY not in seen:
            chunk = await process.output.receive_some()
            if not chunk:
                raise RuntimeError(f"redis-server ended: {seen.decode(errors='replace')}")
            seen += chunk
    nursery.start_soon(pipe_lines, process.output, "[redis]")
    return process


async def run(args: argparse.Namespace) -> int:
    if shutil.which(args.redis_server) is None:
        LOGGER.error("%s not found (Debian: apt install redis-server)", args.redis_server)
        return 1
    ports = args.ports.replace(",", " ").split()
    with (
        tempfile.TemporaryDirectory(prefix="trio-chat-redis-") as folder,
        trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals,
    ):
        redis_command = [
            args.redis_server, "--port", str(args.redis_port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", folder, "--logfile", "",
        ]  # fmt: skip
        async with trio.open_nursery() as nursery:
            redis = await start_redis(redis_command, nursery)
            url = f"redis://127.0.0.1:{args.redis_port}/0"
            LOGGER.info("Redis at %s; starting servers on ports %s", url, ", ".join(ports))
            web_ports = args.web_ports.replace(",", " ").split()
            irc_ports = args.irc_ports.replace(",", " ").split()
            servers = [
                await start_server(port, web, irc, url, nursery)
                for port, web, irc in zip(ports, web_ports, irc_ports, strict=True)
            ]
            ended: list[str] = []
            async with trio.open_nursery() as waiting:
                waiting.start_soon(_first_signal, signals, waiting.cancel_scope)
                for port, server in zip(ports, servers, strict=False):
                    waiting.start_soon(_until_ended, port, server, ended, waiting.cancel_scope)
            # Signals meanwhile are taken by the receiver: the servers stop in their own time.
            await _stop(servers)
            redis.send_signal(signal.SIGTERM)
            await redis.wait()
            nursery.cancel_scope.cancel()
        for child in [*servers, redis]:
            child.close()
    return 1 if ended else 0


async def start_server(port: str, web: str, irc: str, url: str, nursery: trio.Nursery) -> Child:
    """``trio-chat serve`` on ``port`` (web page on ``web``, IRC on ``irc``) sharing ``url``,
    logged as [PORT]."""
    db = default_path().with_name(f"history-{port}.sqlite3")
    command = [
        sys.executable, "-m", "trio_chat", "serve", "--port", port, "--web-port", web,
        "--irc-port", irc, "--redis", url, "--db", str(db),
    ]  # fmt: skip
    server = Child(command, output="stderr")
    nursery.start_soon(pipe_lines, server.output, f"[{port}]")
    return server


async def _until_ended(port: str, server: Child, ended: list[str], scope: trio.CancelScope) -> None:
    """Wait for ``server`` to end; if it ends by itself (say, its port is in use), stop all."""
    code = await server.wait()
    ended.append(port)
    LOGGER.error("the server on port %s stopped (exit code %d): stopping the others", port, code)
    scope.cancel()


async def _first_signal(signals: AsyncIterator[int], scope: trio.CancelScope) -> None:
    async for _ in signals:
        scope.cancel()
        return


async def _stop(servers: list[Child]) -> None:
    """SIGTERM each server (a graceful shutdown), SIGKILL whoever is still up after the timeout."""
    for server in servers:
        server.send_signal(signal.SIGTERM)
    with trio.move_on_after(STOP_TIMEOUT):
        for server in servers:
            await server.wait()
    for server in servers:
        if server.returncode is None:
            server.kill()
            await server.wait()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="[cluster] %(message)s")
    try:
        return trio.run(run, parse(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:  # a second Ctrl+C, redelivered once all is stopped
        return 0


if __name__ == "__main__":
    sys.exit(main())
