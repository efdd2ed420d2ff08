"""The server's log: one line per connection event, as text or as JSON, and no secrets."""

from __future__ import annotations

import json
import logging
import re
import signal
import sys
from typing import Any

import pytest
import trio
import trio.testing

from trio_chat.core.hub import Hub
from trio_chat.logs import FIELDS, JsonFormatter
from trio_chat.text.server import TextFrontend

from .conftest import Peer, Program, running_server, text_server

SECRET = "hunter2-s3cret"


class ServerLog:
    """The lines a real server wrote to stderr, parsed as JSON as they come."""

    def __init__(self, server: Program) -> None:
        self.server = server
        self.entries: list[dict[str, Any]] = []
        self.raw: list[str] = []

    async def until(self, event: str, **fields: str) -> dict[str, Any]:
        """Read the log up to the first line of ``event`` with these fields."""
        while True:
            entry = await self._next()
            if entry.get("event") == event and all(entry.get(k) == v for k, v in fields.items()):
                return entry

    async def _next(self) -> dict[str, Any]:
        line = await self.server.io.line()
        self.raw.append(line)
        entry: dict[str, Any] = json.loads(line)  # every line is one JSON object
        self.entries.append(entry)
        return entry

    async def rest(self) -> None:
        """Read to the end (after the server was told to stop)."""
        try:
            while True:
                await self._next()
        except EOFError:
            pass


class Client(Peer):
    """A real TCP connection, and its address as the server logs it."""

    def __init__(self, stream: trio.SocketStream) -> None:
        super().__init__(stream)
        host, port = stream.socket.getsockname()[:2]
        self.address = f"{host}:{port}"


async def connect(port: int) -> Client:
    return Client(await trio.open_tcp_stream("127.0.0.1", port))


async def flood(peer: Peer) -> None:
    """Ask for /help over and over, never reading the answers: the queue fills."""
    try:
        for _ in range(100):
            await peer.send(*["/help"] * 1000)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass  # dropped by the server: what the test waits for


async def fill(port: int, attempts: int) -> tuple[Client, list[Client]]:
    """Connect until the server is full; the refused connection and those held open."""
    held = []
    for _ in range(attempts):
        client = await connect(port)
        first = await client.line()
        if first == "! server full":
            await client.expect_eof()
            return client, held
        assert first.startswith("*** Hello!"), first
        held.append(client)
    raise AssertionError(f"not full after {attempts} connections")


async def test_json_log_has_one_line_per_connection_event_with_address_and_name() -> None:
    # At most 5 at once: ana, and up to 3 closed connections the server still lingers on.
    async with running_server(
        "--log-format", "json", "--log-level", "debug", "--max-clients", "5"
    ) as (server, port):
        log = ServerLog(server)
        ana = await connect(port)
        await ana.send(f"{SECRET} not a name")  # refused as a name, never logged
        await ana.register("ana")
        await log.until("registered", address=ana.address, name="ana")
        await ana.send("/nick anna", f"/pass {SECRET}", f"/login anna {SECRET}", f"hi {SECRET}")
        await ana.until("! ")  # the unknown /pass
        await log.until("renamed", address=ana.address, name="anna", old_name="ana")

        shy = await connect(port)
        assert (await shy.line()).startswith("*** Hello!")
        await shy.stream.aclose()
        await log.until("left", address=shy.address, reason="no name")

        bob = await connect(port)
        await bob.register("bob")
        await bob.send("/quit gone fishing")
        await bob.expect_eof()
        await bob.stream.aclose()
        await log.until("left", address=bob.address, name="bob", reason="gone fishing")

        deaf = await connect(port)
        await deaf.register("deaf")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(flood, deaf)
            await log.until("dropped", address=deaf.address, name="deaf", reason="too slow")
            nursery.cancel_scope.cancel()
        await deaf.stream.aclose()

        carl = await connect(port)
        await carl.register("carl")
        await carl.stream.aclose()
        await log.until("left", address=carl.address, name="carl", reason="connection closed")

        full, held = await fill(port, attempts=6)
        await log.until("refused", address=full.address, reason="server full")
        for client in (full, *held):
            await client.stream.aclose()

        server.process.send_signal(signal.SIGINT)
        await log.rest()
        assert await server.exit_code() == 0
        await ana.stream.aclose()

    for entry in log.entries:
        assert {"time", "level", "logger", "message"} <= set(entry)
        assert set(entry) <= {"time", "level", "logger", "message", *FIELDS}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["time"])
    events = [(e.get("event"), e.get("address"), e.get("name"), e["level"]) for e in log.entries]
    for who, event, name, level in [
        (ana, "registered", "ana", "INFO"),
        (ana, "renamed", "anna", "INFO"),
        (full, "refused", None, "WARNING"),
        (shy, "left", None, "INFO"),
        (bob, "registered", "bob", "INFO"),
        (bob, "left", "bob", "INFO"),
        (deaf, "dropped", "deaf", "WARNING"),
        (carl, "left", "carl", "INFO"),
    ]:
        # Exactly one line for each event of each connection.
        assert events.count((event, who.address, name, level)) == 1, (event, events)
    # deaf left once (dropped), and is not logged leaving a second time.
    assert [e for e in events if e[1] == deaf.address] == [
        ("registered", deaf.address, "deaf", "INFO"),
        ("dropped", deaf.address, "deaf", "WARNING"),
    ]
    assert any(e.get("event") == "shutdown" for e in log.entries)
    assert SECRET not in "\n".join(log.raw)


async def test_text_log_is_the_default_and_still_readable() -> None:
    async with running_server() as (server, port):
        ana = await connect(port)
        await ana.register("ana")
        await ana.send("/quit")
        await ana.expect_eof()
        server.process.send_signal(signal.SIGINT)
        lines = await server.io.expect_eof()
        assert await server.exit_code() == 0
        await ana.stream.aclose()
    joined = f"INFO    ana joined from {ana.address}"
    left = f"INFO    ana ({ana.address}) left: quit"
    for wanted in (joined, left):
        [line] = [line for line in lines if line.endswith(wanted)]
        assert re.fullmatch(r"\d\d:\d\d:\d\d " + re.escape(wanted), line)
    assert not any(line.startswith("{") for line in lines)


# --- in process: events that need virtual time or a peer gone at the wrong moment ---


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="trio_chat")
    return caplog


def as_json(log: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The captured records, as ``--log-format json`` writes them."""
    formatter = JsonFormatter()
    return [json.loads(formatter.format(record)) for record in log.records]


def events(log: pytest.LogCaptureFixture) -> list[tuple[str, str | None, str]]:
    return [(e["event"], e.get("address"), e["level"]) for e in as_json(log)]


async def test_a_name_timeout_is_one_line(
    server: TextFrontend, log: pytest.LogCaptureFixture, autojump_clock: trio.testing.MockClock
) -> None:
    client, server_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.handle, server_side, "memory:1")
        peer = Peer(client)
        assert (await peer.line()).startswith("*** Hello!")
        assert await peer.line(within=100) == "! no name chosen within 60 s, closing"
        await peer.expect_eof()
    assert events(log) == [("name_timeout", "memory:1", "INFO")]


async def test_a_peer_gone_before_the_greeting_is_one_disconnected_line(
    server: TextFrontend, log: pytest.LogCaptureFixture
) -> None:
    client, server_side = trio.testing.memory_stream_pair()
    await client.aclose()
    await server.handle(server_side, "memory:1")
    [entry] = as_json(log)
    assert (entry["event"], entry["address"], entry["level"]) == (
        "disconnected",
        "memory:1",
        "INFO",
    )
    assert entry["reason"]


async def test_refusing_a_peer_already_gone_is_one_line(
    hub: Hub, log: pytest.LogCaptureFixture
) -> None:
    full = text_server(hub, max_clients=1)
    full.admission.connections = 1
    client, server_side = trio.testing.memory_stream_pair()
    await client.aclose()
    await full.handle(server_side, "memory:2")
    assert events(log) == [("refused", "memory:2", "WARNING")]


def test_json_lines_carry_only_known_fields_and_the_traceback() -> None:
    logger = logging.getLogger("trio_chat.test")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logger.makeRecord(
            logger.name,
            logging.ERROR,
            __file__,
            1,
            "error serving %s",
            ("1.2.3.4:5",),
            sys.exc_info(),
            extra={"fields": {"event": "error", "address": "1.2.3.4:5", "password": SECRET}},
        )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "error serving 1.2.3.4:5"
    assert (entry["level"], entry["logger"], entry["event"]) == ("ERROR", "trio_chat.test", "error")
    assert entry["address"] == "1.2.3.4:5"
    assert "ValueError: boom" in entry["exception"]
    assert SECRET not in json.dumps(entry)
