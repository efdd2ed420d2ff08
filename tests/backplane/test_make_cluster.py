"""``make cluster``'s tool: a local Redis and two servers sharing it, stopped by Ctrl+C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import trio
import trio.testing

from ..conftest import Peer
from .conftest import free_port

TEST_TIMEOUT = 30


async def test_the_cluster_tool_runs_two_servers_that_share_rooms_then_stops_them() -> None:
    redis_port, ports = free_port(), [free_port(), free_port()]
    command = [sys.executable, "-m", "trio_chat.tools.cluster", "--redis-port", str(redis_port)]
    command += ["--ports", " ".join(map(str, ports))]
    command += ["--web-ports", f"{free_port()} {free_port()}"]
    command += ["--irc-ports", f"{free_port()} {free_port()}"]
    with trio.fail_after(TEST_TIMEOUT):
        process = await trio.lowlevel.open_process(command, stderr=subprocess.PIPE)
        assert process.stderr is not None
        log = Peer(trio.StapledStream(trio.testing.MemorySendStream(), process.stderr))
        try:
            listening: set[int] = set()
            while len(listening) < 2:
                line = await log.line()
                if found := re.search(r"(?<!IRC: )listening on [\d.]+:(\d+)", line):
                    listening.add(int(found.group(1)))
            assert listening == set(ports)
            ana = Peer(await trio.open_tcp_stream("127.0.0.1", ports[0]))
            bob = Peer(await trio.open_tcp_stream("127.0.0.1", ports[1]))
            await ana.register("ana")
            await bob.register("bob")
            await ana.until("*** bob joined")
            await bob.send("hi from the other server")
            await ana.until("bob: hi from the other server")
            process.send_signal(signal.SIGINT)
            assert await process.wait() == 0
            await ana.until("*** server shutting down")
            for peer in (ana, bob):
                await peer.stream.aclose()
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()
            await process.stderr.aclose()
