"""``make cluster``'s children: they live as long as the tool, not as long as a thread."""

from __future__ import annotations

import os
import socket
import sys
import threading
from pathlib import Path

import pytest
import trio
import trio._core._thread_cache as thread_cache

from trio_chat.tools import cluster

# Stands in for redis-server: says it is ready, then stays up.
FAKE_REDIS = [
    sys.executable,
    "-c",
    "import time; print('Ready to accept connections', flush=True); time.sleep(60)",
]


async def test_a_cluster_child_outlives_the_worker_threads_of_the_tool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The parent-death signal follows the thread that forked: a child forked in one
    # of trio's worker threads got SIGTERM once that thread had idled (10 s) and ended,
    # and `make cluster` stopped 10 s after it started. Idle threads end at once here.
    monkeypatch.setattr(thread_cache, "IDLE_TIMEOUT", 0.01)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            redis = await cluster.start_redis(FAKE_REDIS, nursery)
            try:
                workers = [t for t in threading.enumerate() if t.name.startswith("Trio thread")]

                def join_the_others() -> None:  # until they have ended (idle for 0.01 s)
                    for worker in workers:
                        if worker is not threading.current_thread():
                            worker.join()

                await trio.to_thread.run_sync(join_the_others)
                with trio.move_on_after(1):  # a SIGTERM would end it well within this
                    await redis.wait()
                assert redis.returncode is None, "the child was stopped with its thread"
            finally:
                redis.kill()
                await redis.wait()
                nursery.cancel_scope.cancel()
        redis.close()


async def test_a_server_that_stops_by_itself_stops_the_cluster(tmp_path: Path) -> None:
    # A server that cannot start (here: no Redis behind the fake one's port; a port
    # in use does the same) used to leave `make cluster` running, half up, until Ctrl+C.
    fake = tmp_path / "fake-redis-server"
    fake.write_text(f"#!{sys.executable}\n" + FAKE_REDIS[2].replace("; ", "\n") + "\n")
    fake.chmod(0o755)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        redis_port = probe.getsockname()[1]
    command = [
        sys.executable, "-m", "trio_chat.tools.cluster", "--redis-server", str(fake),
        "--redis-port", str(redis_port), "--ports", "0", "--web-ports", "0", "--irc-ports", "0",
    ]  # fmt: skip
    with trio.fail_after(60):
        done = await trio.run_process(
            command,
            capture_stderr=True,
            check=False,
            env={**os.environ, "XDG_DATA_HOME": str(tmp_path)},
        )
    errors = done.stderr.decode()
    assert done.returncode == 1, errors
    assert "cannot use Redis" in errors, errors
    assert "the server on port 0 stopped (exit code 1): stopping the others" in errors
