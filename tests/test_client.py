"""The client's logic against a real server handler, over memory streams."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import trio
import trio.testing

from trio_chat.client.terminal import ChatClient, StreamKeyboard
from trio_chat.core.accounts import Guard, ScryptCost
from trio_chat.core.hub import Hub
from trio_chat.text.server import ChatServer

from .conftest import STEP_TIMEOUT, MemoryConnector


class RecordingScreen:
    """A screen that remembers lines and lets a test wait for one."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._changed = trio.Event()

    def show(self, line: str) -> None:
        self.lines.append(line)
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, wanted: str) -> None:
        with trio.fail_after(STEP_TIMEOUT):
            while not any(line.startswith(wanted) for line in self.lines):
                await self._changed.wait()


class Typist:
    """A keyboard fed by the test: ``type()`` lines, ``close()`` for Ctrl+D."""

    def __init__(self, *, interactive: bool = False) -> None:
        self._send, receive = trio.testing.memory_stream_one_way_pair()
        self.keyboard = StreamKeyboard(receive)
        self.keyboard.interactive = interactive

    async def type(self, *lines: str) -> None:
        await self._send.send_all("".join(line + "\n" for line in lines).encode())

    async def close(self) -> None:
        await self._send.aclose()


class RunningClient:
    def __init__(self, client: ChatClient, typist: Typist, screen: RecordingScreen) -> None:
        self.client = client
        self.typist = typist
        self.screen = screen
        self.exit_code: int | None = None
        self.done = trio.Event()

    async def run(self) -> None:
        self.exit_code = await self.client.run()
        self.done.set()

    async def wait_exit(self) -> int | None:
        with trio.fail_after(STEP_TIMEOUT):
            await self.done.wait()
        return self.exit_code


StartClient = Callable[..., RunningClient]


@pytest.fixture
async def start_client(
    connector: MemoryConnector,
) -> AsyncIterator[StartClient]:
    async with trio.open_nursery() as nursery:

        def start(
            name: str | None,
            *,
            interactive: bool = False,
            echo: bool = False,
            via: MemoryConnector = connector,
            server_password: str | None = None,
            password: str | None = None,
        ) -> RunningClient:
            client_side, server_side = trio.testing.memory_stream_pair()
            via.count += 1
            via.nursery.start_soon(via.server.handle, server_side, "client")
            typist = Typist(interactive=interactive)
            screen = RecordingScreen()
            client = ChatClient(
                client_side,
                typist.keyboard,
                screen,
                name,
                echo=echo,
                server_password=server_password,
                password=password,
            )
            running = RunningClient(client, typist, screen)
            nursery.start_soon(running.run)
            return running

        yield start
        nursery.cancel_scope.cancel()


async def test_client_chats_and_quits_cleanly(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    bob = await connector.join("bob")
    ana = start_client("ana")
    await ana.screen.wait_for("*** Welcome, ana!")
    assert not any(line.startswith("*** Hello!") for line in ana.screen.lines)
    assert await bob.line() == "*** ana joined"
    await ana.typist.type("hi bob")
    assert await bob.line() == "ana: hi bob"
    await bob.send("hi ana")
    await ana.screen.wait_for("bob: hi ana")
    await ana.typist.type("/quit gotta go")
    assert await ana.wait_exit() == 0
    assert await bob.line() == "*** ana left (gotta go)"
    assert ana.screen.lines[-1] == "*** Bye!"


async def test_end_of_input_quits_with_exit_code_0(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    bob = await connector.join("bob")
    ana = start_client("ana")
    await ana.screen.wait_for("*** Welcome")
    await ana.typist.type("one last thing")
    await ana.typist.close()
    assert await ana.wait_exit() == 0
    assert await bob.until("*** ana left") == [
        "*** ana joined",
        "ana: one last thing",
        "*** ana left",
    ]


async def test_interrupt_quits_cleanly(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    bob = await connector.join("bob")
    ana = start_client("ana")
    await ana.screen.wait_for("*** Welcome")
    await bob.line()
    ana.client.interrupt()
    assert await ana.wait_exit() == 0
    assert await bob.line() == "*** ana left"


async def test_server_going_away_is_reported_with_a_nonzero_exit(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    ana = start_client("ana")
    await ana.screen.wait_for("*** Welcome")
    connector.server.shutdown(grace=1)
    assert await ana.wait_exit() == 1
    assert ana.screen.lines[-2:] == [
        "*** server shutting down",
        "*** disconnected: the server closed the connection",
    ]


async def test_name_is_asked_for_when_not_given(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    bob = await connector.join("bob")
    ana = start_client(None)
    # The server's greeting is the prompt for the name.
    await ana.screen.wait_for("*** Hello! Send your name")
    await ana.typist.type("ana", "hello")
    assert await bob.until("ana: hello") == ["*** ana joined", "ana: hello"]


async def test_rejected_name_lets_an_interactive_user_try_another(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    bob = await connector.join("bob")
    user = start_client("Bob", interactive=True)
    await user.screen.wait_for("! the name Bob is taken")
    await user.typist.type("robert", "hi")
    assert await bob.until("robert: hi") == ["*** robert joined", "robert: hi"]


async def test_rejected_name_stops_a_script_without_sending_its_lines(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    bob = await connector.join("bob")
    script = start_client("bob")
    await script.typist.type("robert")  # a valid name: it must not be sent as one
    assert await script.wait_exit() == 1
    assert any(line.startswith("! the name bob is taken") for line in script.screen.lines)
    await bob.send("/who")
    assert await bob.line() == "*** In #lobby (1): bob"


async def test_a_terminal_client_shows_its_own_messages_and_help(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    bob = await connector.join("bob")
    ana = start_client("ana", interactive=True, echo=True)
    await ana.screen.wait_for("*** Welcome")
    await ana.typist.type("hello", "/me waves", "/msg bob psst", "/help")
    await ana.screen.wait_for("***   //TEXT")
    assert [line for line in ana.screen.lines if not line.startswith("***")] == [
        "ana: hello",
        "* ana waves",
        "[private to bob] psst",
    ]
    assert any(line.startswith("*** Keys: Up/Down") for line in ana.screen.lines)
    assert await bob.until("[private] ana: psst") == [
        "*** ana joined",
        "ana: hello",
        "* ana waves",
        "[private] ana: psst",
    ]


async def test_help_shows_the_keys_before_the_commands_however_fast_the_server_answers(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    ana = start_client("ana", interactive=True, echo=True)
    await ana.screen.wait_for("*** Welcome")
    # The server's answer is on the screen before sending "/help" returns.
    sending = ana.client.conn.send_stream
    pump = sending.send_all_hook

    async def answered_before_the_send_returns() -> None:
        await pump()
        await ana.screen.wait_for("***   //TEXT")

    sending.send_all_hook = answered_before_the_send_returns
    await ana.typist.type("/help")
    await ana.screen.wait_for("*** Keys")
    await ana.screen.wait_for("***   //TEXT")
    starts = [line.split(":")[0] for line in ana.screen.lines if line.startswith("*** ")]
    assert starts.index("*** Keys") < starts.index("*** Commands")


async def test_a_script_gets_no_echo_of_its_own_lines(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    bob = await connector.join("bob")
    script = start_client("bot")
    await script.screen.wait_for("*** Welcome")
    await script.typist.type("hello", "/who")
    await script.screen.wait_for("*** In #lobby")
    assert await bob.until("bot: hello") == ["*** bot joined", "bot: hello"]
    assert not any("bot: hello" in line for line in script.screen.lines)


async def test_the_client_follows_the_room_it_is_in(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    ana = start_client("ana")
    await ana.screen.wait_for("*** Welcome")
    assert ana.client.room == "#lobby"
    await ana.typist.type("/join Dev")
    await ana.screen.wait_for("*** Now in #Dev")
    assert ana.client.room == "#Dev"


# --- passwords --------------------------------------------------------------------------

CHEAP = ScryptCost(n=2**10, r=8, p=1)


@pytest.fixture
async def locked(hub: Hub) -> AsyncIterator[MemoryConnector]:
    """A server that needs the password "door-pw-1" and has ana registered ("ana-pw-12")."""
    guard = Guard(server_password="door-pw-1", cost=CHEAP)
    await guard.register("ana", "ana-pw-12")
    async with trio.open_nursery() as nursery:
        yield MemoryConnector(ChatServer(hub, guard=guard), nursery)
        nursery.cancel_scope.cancel()


async def test_the_client_sends_the_server_password_and_logs_in_from_its_options(
    locked: MemoryConnector, start_client: StartClient
) -> None:
    ana = start_client("ANA", via=locked, server_password="door-pw-1", password="ana-pw-12")
    await ana.screen.wait_for("*** Welcome, ana!")
    assert ana.client.name == "ana"  # as registered
    assert not any("pw" in line for line in ana.screen.lines)


async def test_an_interactive_client_asks_for_the_passwords_the_server_needs(
    locked: MemoryConnector, start_client: StartClient
) -> None:
    ana = start_client("ana", via=locked, interactive=True)
    await ana.screen.wait_for("! this server needs a password: send /pass PASSWORD first")
    await ana.typist.type("door-pw-1")  # at the prompt "server password: "
    await ana.screen.wait_for("! the name ana is registered")
    await ana.typist.type("ana-pw-12")  # at the prompt "password for ana: "
    await ana.screen.wait_for("*** Welcome, ana!")


async def test_a_script_without_the_server_password_stops_with_the_reason(
    locked: MemoryConnector, start_client: StartClient
) -> None:
    script = start_client("bot", via=locked)
    assert await script.wait_exit() == 1
    assert "! this server needs a password: send /pass PASSWORD first" in script.screen.lines


async def test_a_wrong_password_ends_even_an_interactive_client(
    locked: MemoryConnector, start_client: StartClient
) -> None:
    ana = start_client("ana", via=locked, interactive=True, server_password="nope-nope")
    assert await ana.wait_exit() == 1
    assert "! wrong password" in ana.screen.lines


def test_lines_with_a_password_stay_out_of_the_input_history() -> None:
    from trio_chat.client.terminal import secret_free_history

    history = secret_free_history()
    typed = ["hello", "/oper Hunter-2-secret", "/REGISTER my secret", "/password new-one"]
    typed += ["/login ana pw", "/pass door", "/msg bob hi", "  /oper again"]
    for line in typed:
        history.append_string(line)
    # What Up/Down can recall (newest first).
    assert history.get_strings()[::-1] == ["/msg bob hi", "hello"]
