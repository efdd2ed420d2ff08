"""How the client ends (its exit codes, under make too), and how it comes back.

The client runs on memory streams; backoff waits run on a mock clock, so
minutes of retries take no real time. `make client` runs for real.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
import trio

from trio_chat.client.rules import EXIT_ENDED, EXIT_QUIT, Backoff, Retry
from trio_chat.core.accounts import Guard
from trio_chat.core.hub import Hub
from trio_chat.core.passwords import ScryptCost
from trio_chat.text.server import TextFrontend

from ..conftest import MemoryConnector, Peer, RunningClient, StartClient, shut_down, text_server

CHEAP = ScryptCost(n=2**10, r=8, p=1)

# The repository: its Makefile runs the client.
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def patient_clock() -> trio.testing.MockClock:
    """A clock that jumps ahead only when nothing ran for a moment of real time.

    Passwords are hashed in a worker thread, which the autojump clock does not
    wait for: it would jump past every deadline while a hash is computed.
    """
    return trio.testing.MockClock(autojump_threshold=0.02)


def test_backoff_doubles_up_to_its_longest_wait_and_gives_up_after_two_minutes() -> None:
    retry = Retry(Backoff(), started=100.0)
    now, delays = 100.0, []
    while (delay := retry.next_delay(now)) is not None:
        delays.append(delay)
        now += delay
    assert delays == [2, 4, 8, 16, 30, 30, 30]
    assert now - 100.0 == 120


async def test_without_reconnecting_a_server_shutdown_ends_the_client_as_a_normal_end(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    ana = start_client("ana")
    await ana.screen.wait_for("*** Welcome")
    connector.shutdown(grace=1)
    assert await ana.wait_exit() == EXIT_ENDED
    assert ana.screen.lines[-2:] == [
        "*** server shutting down",
        "*** disconnected: the server closed the connection",
    ]


async def test_a_kick_ends_the_client_even_when_it_would_reconnect(
    hub: Hub, start_client: StartClient, connector: MemoryConnector
) -> None:
    ana = start_client("ana", reconnect=True)
    await ana.screen.wait_for("*** Welcome")
    op = await connector.join("op")
    member = hub.find("op")
    assert member is not None
    member.operator = True
    await op.send("/kick ana enough")
    assert await ana.wait_exit() == EXIT_ENDED
    assert "! you were kicked by op: enough" in ana.screen.lines
    assert ana.dialer.dialed == 0


async def test_three_wrong_operator_passwords_end_the_client_without_coming_back(
    hub: Hub, start_client: StartClient
) -> None:
    async with trio.open_nursery() as nursery:
        guard = Guard(oper_password="Oper-Secret-42")
        server = MemoryConnector(text_server(hub, guard=guard), nursery)
        ana = start_client("ana", via=server, reconnect=True)
        await ana.screen.wait_for("*** Welcome")
        await ana.typist.type("/oper guess-1", "/oper guess-2", "/oper guess-3")
        assert await ana.wait_exit() == EXIT_ENDED
        assert "! too many wrong operator passwords: disconnected" in ana.screen.lines
        assert ana.dialer.dialed == 0  # coming back would undo the limit on tries
        nursery.cancel_scope.cancel()


async def test_after_a_restart_the_client_comes_back_as_itself_in_its_room(
    autojump_clock: trio.testing.MockClock, start_client: StartClient
) -> None:
    ana = start_client("ana", reconnect=True, echo=True)
    await ana.screen.wait_for("*** Welcome")
    await ana.typist.type("/join dev")
    await ana.screen.wait_for("*** Now in #dev")
    lost_at = trio.current_time()
    server = ana.dialer.restart(fail=2)  # down for the first two attempts
    await ana.screen.wait_for("*** disconnected, reconnecting in 2 s (attempt 1)")
    await ana.typist.type("typed while away")  # sent once back
    bob = MemoryConnector(server, ana.dialer.nursery)
    await (await bob.join("bob")).send("/join dev")
    await ana.screen.wait_for("ana: typed while away", within=60)
    assert trio.current_time() - lost_at == pytest.approx(2 + 4 + 8)
    assert [line for line in ana.screen.lines if "reconnect" in line] == [
        "*** disconnected, reconnecting in 2 s (attempt 1)",
        "*** not connected: sending it once reconnected",
        "*** cannot connect (connection refused), reconnecting in 4 s (attempt 2)",
        "*** cannot connect (connection refused), reconnecting in 8 s (attempt 3)",
    ]
    assert any(line.startswith("*** Now in #dev (2): ana, bob") for line in ana.screen.lines)
    assert ana.client.room == "#dev"
    assert ana.client.prompt() == "[#dev] ana> "


async def test_while_the_name_is_still_taken_the_client_keeps_trying(
    autojump_clock: trio.testing.MockClock, start_client: StartClient
) -> None:
    ana = start_client("ana", reconnect=True)
    await ana.screen.wait_for("*** Welcome")
    server = ana.dialer.restart()
    holder = await MemoryConnector(server, ana.dialer.nursery).join("ana")
    await ana.screen.wait_for("*** the name ana is still taken (the old connection?)")
    await holder.send("/quit")
    await ana.screen.wait_for("*** Welcome, ana!", within=60, count=2)
    assert ana.screen.after("*** disconnected, reconnecting")[:2] == [
        "*** the name ana is still taken (the old connection?)",
        "*** reconnecting in 4 s (attempt 2)",
    ]


async def test_reconnecting_gives_up_after_about_two_minutes(
    autojump_clock: trio.testing.MockClock, start_client: StartClient
) -> None:
    ana = start_client("ana", reconnect=True)
    await ana.screen.wait_for("*** Welcome")
    ana.dialer.restart(fail=1000)
    assert await ana.wait_exit(within=300) == EXIT_ENDED
    assert ana.screen.lines[-1] == "*** gave up reconnecting after 7 attempts in 120 s"
    assert ana.dialer.dialed == 7


async def test_a_reconnection_logs_in_again_with_the_password_kept_in_memory(
    patient_clock: trio.testing.MockClock, start_client: StartClient, hub: Hub
) -> None:
    guard = Guard(server_password="door-pw-1", cost=CHEAP)
    await guard.register("ana", "ana-pw-12")
    async with trio.open_nursery() as nursery:
        locked = MemoryConnector(text_server(hub, guard=guard), nursery)
        ana = start_client(
            "ana",
            via=locked,
            interactive=True,
            reconnect=True,
            server_password="door-pw-1",
            password="ana-pw-12",
        )
        await ana.screen.wait_for("*** Welcome, ana!")
        await ana.typist.type("/nick ana_away")
        await ana.screen.wait_for("*** ana is now known as ana_away")
        ana.dialer.restart()
        await ana.screen.wait_for("*** ana is now known as ana_away", within=60, count=2)
        assert ana.screen.after("*** disconnected, reconnecting")[:3] == [
            "*** server password accepted",
            "*** Welcome, ana! Online: nobody else yet. Type /help for commands.",
            "*** ana is now known as ana_away",
        ]
        assert ana.client.name == "ana_away"
        nursery.cancel_scope.cancel()


async def test_a_password_set_during_the_chat_is_used_to_come_back(
    patient_clock: trio.testing.MockClock, start_client: StartClient, hub: Hub
) -> None:
    async with trio.open_nursery() as nursery:
        server = MemoryConnector(text_server(hub, guard=Guard(cost=CHEAP)), nursery)
        ana = start_client("ana", via=server, reconnect=True)
        await ana.screen.wait_for("*** Welcome, ana!")
        await ana.typist.type("/register Ana-Secret-77")
        await ana.screen.wait_for("*** ana is registered to you now")
        ana.dialer.restart()
        await ana.screen.wait_for("*** disconnected, reconnecting")
        await ana.screen.wait_for("*** Welcome, ana!", within=60, count=2)
        assert ana.screen.after("*** disconnected, reconnecting")[0].startswith("*** Welcome, ana!")
        nursery.cancel_scope.cancel()


async def test_a_client_whose_account_logs_in_elsewhere_stops_and_does_not_take_it_back(
    patient_clock: trio.testing.MockClock, start_client: StartClient, hub: Hub
) -> None:
    guard = Guard(cost=CHEAP)
    await guard.register("ana", "ana-pw-12")
    async with trio.open_nursery() as nursery:
        server = MemoryConnector(text_server(hub, guard=guard), nursery)
        home = start_client("ana", via=server, reconnect=True, password="ana-pw-12")
        await home.screen.wait_for("*** Welcome, ana!")
        work = start_client("ana", via=server, reconnect=True, password="ana-pw-12")
        with trio.fail_after(60):
            gone = await first_to_end(home, work)
        assert gone is home
        assert gone.exit_code == EXIT_ENDED
        assert "! you logged in from elsewhere: this connection is closed" in gone.screen.lines
        assert not any("reconnecting" in line for line in gone.screen.lines)
        assert not work.done.is_set()
        await work.typist.close()
        assert await work.wait_exit() == EXIT_QUIT
        nursery.cancel_scope.cancel()


async def first_to_end(*clients: RunningClient) -> RunningClient:
    """Wait until one of ``clients`` has ended; that one."""
    ended: list[RunningClient] = []
    async with trio.open_nursery() as nursery:
        for client in clients:

            async def wait(client: RunningClient = client) -> None:
                await client.done.wait()
                ended.append(client)
                nursery.cancel_scope.cancel()

            nursery.start_soon(wait)
    return ended[0]


async def test_make_client_takes_an_explained_end_as_success_and_a_failure_as_an_error(
    server: TextFrontend,
) -> None:
    if shutil.which("make") is None:
        pytest.fail("make is not installed")
    repo = REPO
    # The venv this test runs in; never reinstalled.
    make = ["make", "-s", "-C", str(repo), "-o", ".venv/.installed"]
    make += [f"BIN={Path(sys.executable).parent}", "client", "NAME=bot", "HOST=127.0.0.1"]

    async def handle(stream: trio.SocketStream) -> None:
        await server.handle(stream, "tcp")

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, handle, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        process = await trio.lowlevel.open_process(
            [*make, f"PORT={port}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stderr is not None
        bot = Peer(trio.StapledStream(process.stdin, process.stdout))
        await bot.until("*** Welcome, bot!")
        shut_down(server, grace=1)
        assert (await bot.expect_eof())[-1] == "*** disconnected: the server closed the connection"
        with trio.fail_after(10):
            assert await process.wait() == 0
        assert b"Error" not in await process.stderr.receive_some(65536)
        nursery.cancel_scope.cancel()
    failed = await trio.run_process(
        [*make, f"PORT={port}"], stdin=b"", capture_stdout=True, capture_stderr=True, check=False
    )
    assert failed.returncode != 0
    assert b"cannot connect" in failed.stderr
    assert b"Error 1" in failed.stderr
