"""Web members get the flusher's direct writes over plain TCP, as text members do.

Real loopback TCP, the real app: after the HTTP upgrade, the web door's
plain socket is the connection's direct I/O, so while the kernel has room
the flusher writes each member's frames itself and no writer task starts.
"""

from __future__ import annotations

import trio

from ..conftest import running_app
from .conftest import WsPeer


class Writers(trio.abc.Instrument):
    """Counts the connection writer tasks started while it is installed."""

    def __init__(self) -> None:
        self.started = 0

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        if task.name.endswith("Connection._writer"):
            self.started += 1


async def web_member(port: int, name: str) -> WsPeer:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    where = f"127.0.0.1:{port}"
    peer = await WsPeer.open(stream, host=where, origin=f"http://{where}")
    await peer.hello(name)
    return peer


async def test_a_web_members_deliveries_take_the_direct_path() -> None:
    async with running_app(web_port=0) as running:
        port: int = running.listener_of("web").socket.getsockname()[1]
        ana = await web_member(port, "ana")
        bob = await web_member(port, "bob")
        await ana.until("joined", name="bob")
        writers = Writers()
        trio.lowlevel.add_instrument(writers)
        try:
            for i in range(50):
                await bob.send(type="line", room="#lobby", text=f"hello {i}")
            for i in range(50):
                said = (await ana.until("message", **{"from": "bob"}))[-1]
                assert said["text"] == f"hello {i}"
            await ana.send(type="line", room="#lobby", text="hi bob")
            said = (await bob.until("message", **{"from": "ana"}))[-1]
            assert said["text"] == "hi bob"
        finally:
            trio.lowlevel.remove_instrument(writers)
        # The kernel had room for every frame (bob's echoes too): the flusher
        # wrote them itself, with no writer task for either member.
        assert writers.started == 0
        for peer in (ana, bob):
            await peer.stream.aclose()
