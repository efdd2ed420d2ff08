"""The accept loop of the text and IRC doors (net/listeners.serve_listeners).

Thousands connecting at once (issue #14's capacity, #16's storms): every
connection waiting is accepted as soon as the listener is ready, not one per
scheduling round, and each handler is its connection's task itself.
"""

from __future__ import annotations

import socket
from functools import partial

import trio

from trio_chat.net.listeners import HANDLER_TASK, serve_listeners

from ..conftest import STEP_TIMEOUT

WAITING = 40


async def test_every_connection_waiting_is_accepted_before_any_handler_runs(
    accepted: list[trio.SocketStream],
) -> None:
    [listener] = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listener.socket.getsockname()[1]
    # Connected before the loop runs: all of them wait in the kernel's queue.
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(WAITING)]
    # How many were accepted when each handler started.
    seen: list[int] = []
    done = trio.Event()

    async def handler(stream: trio.SocketStream) -> None:
        seen.append(len(accepted))
        async with stream:
            await stream.send_all(b"hello\n")
        if len(seen) == WAITING:
            done.set()

    try:
        with trio.fail_after(STEP_TIMEOUT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    partial(serve_listeners, handler, [listener], handler_nursery=nursery)
                )
                await done.wait()
                nursery.cancel_scope.cancel()
        assert seen == [WAITING] * WAITING
        assert [c.recv(6) for c in clients] == [b"hello\n"] * WAITING
    finally:
        for client in clients:
            client.close()


async def test_a_handler_is_its_connections_task() -> None:
    [listener] = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listener.socket.getsockname()[1]
    tasks: list[trio.lowlevel.Task] = []

    async def handler(stream: trio.SocketStream) -> None:
        tasks.append(trio.lowlevel.current_task())
        await stream.aclose()
        nursery.cancel_scope.cancel()

    with trio.fail_after(STEP_TIMEOUT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                partial(serve_listeners, handler, [listener], handler_nursery=nursery)
            )
            client = await trio.open_tcp_stream("127.0.0.1", port)
            await client.aclose()
    [task] = tasks
    # No wrapper coroutine parked under every connection: the handler's own.
    assert task.coro.cr_code is handler.__code__
    assert task.name == HANDLER_TASK
