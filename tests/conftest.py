"""Shared test helpers: a line reader with deadlines, servers and connections.

Every helper more than one test module needs lives here (or is a fixture
here): no test module imports another's.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, settings

from trio_chat.app import SHUTDOWN_GRACE, App, ServerConfig, build_app
from trio_chat.client.chat import DEFAULT_BACKOFF, ChatClient
from trio_chat.client.keyboard import StreamKeyboard
from trio_chat.client.link import ConnectFailed
from trio_chat.client.rules import Backoff
from trio_chat.core.accounts import Guard
from trio_chat.core.admission import DEFAULT_MAX_CLIENTS, Admission
from trio_chat.core.history import DEFAULT_REPLAY, History
from trio_chat.core.hub import Hub
from trio_chat.core.limits import DEFAULT_LIMITS, Limits
from trio_chat.core.names import name_key
from trio_chat.core.passwords import ScryptCost
from trio_chat.core.service import ChatService
from trio_chat.i18n import languages, words_for
from trio_chat.irc.server import IrcFrontend
from trio_chat.net import listeners
from trio_chat.net.listeners import (
    KEEPALIVE_COUNT,
    KEEPALIVE_IDLE,
    KEEPALIVE_INTERVAL,
    USER_TIMEOUT_MS,
)
from trio_chat.text.server import TextFrontend
from trio_chat.tools.soak_clients import Ledger, Presence, Sent

# No single wait in a test may take longer than this (real or virtual seconds).
STEP_TIMEOUT = 10
# A whole trio-chat process, from its imports to its exit, on a loaded machine.
PROCESS_TIMEOUT = 30


# --- Hypothesis: a profile for CI, one for the desk -----------------------------------------

# On a shared CI runner any example may be slow, so no deadline and no "too
# slow" health check; and the gate must not turn red on an example never seen
# before: the same examples every run (derandomize), so a failure is one that
# reproduces. The blob replays it. (Hypothesis's own "ci" profile, written down.)
_BASE = settings.get_profile("default")
settings.register_profile(
    "ci",
    parent=_BASE,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# At the desk: new random examples each run, failures remembered in .hypothesis,
# and Hypothesis's deadline to notice an example grown slow.
settings.register_profile("dev", parent=_BASE, print_blob=True)


def hypothesis_profile(environ: Mapping[str, str]) -> str:
    """HYPOTHESIS_PROFILE if set; else "ci" where CI says so (CI=true, as CI services set)."""
    if "HYPOTHESIS_PROFILE" in environ:
        return environ["HYPOTHESIS_PROFILE"]
    return "ci" if environ.get("CI", "").lower() not in ("", "0", "false", "no") else "dev"


settings.load_profile(hypothesis_profile(os.environ))


def text_server(
    hub: Hub | None = None,
    *,
    history: History | None = None,
    replay: int = DEFAULT_REPLAY,
    guard: Guard | None = None,
    limits: Limits = DEFAULT_LIMITS,
    max_clients: int = DEFAULT_MAX_CLIENTS,
    lang: str = "en",
    **options: Any,
) -> TextFrontend:
    """A text frontend on a chat service over ``hub`` (a fresh one by default);
    ``lang``: the language of users who choose none."""
    service = ChatService(
        hub if hub is not None else Hub(name_key),
        guard=guard,
        history=history,
        limits=limits,
        replay=replay,
        lang=lang,
    )
    admission = Admission(
        max_clients=max_clients, limits=limits, guard=service.guard, counters=service.hub.counters
    )
    options.setdefault("host", "127.0.0.1")  # when it listens (run_app): loopback only
    return TextFrontend(service, admission, **options)


@asynccontextmanager
async def run_app(server: TextFrontend) -> AsyncIterator[tuple[App, trio.SocketListener]]:
    """``server`` run by the app (App.run: the hub's tasks, the shutdown order) on a free port.

    For tests that need a frontend built by hand (a hub's own settings); the
    app as ``trio-chat serve`` builds it is :func:`running_app`.
    """
    app = App(server.service, server.admission, [server])
    async with trio.open_nursery() as nursery:
        listeners: list[trio.SocketListener] = await nursery.start(app.run)
        try:
            yield app, listeners[0]
        finally:
            app.abort()


def shut_down(server: TextFrontend, why: str = "test", grace: float = SHUTDOWN_GRACE) -> None:
    """Shut the server down as the app does: stop listening, tell everyone, grace period."""
    App(server.service, server.admission, [server]).shutdown(why, grace)


class Peer:
    """The far end of a chat connection, as a test (or `nc`) sees it."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self._buffer = bytearray()
        self.eof = False

    async def send(self, *lines: str) -> None:
        await self.stream.send_all("".join(line + "\n" for line in lines).encode())

    async def send_bytes(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def line(self, within: float = STEP_TIMEOUT) -> str:
        """The next line the server sent (without "\\n"), waiting at most ``within`` s."""
        with trio.fail_after(within):
            while b"\n" not in self._buffer:
                data = await self.stream.receive_some(65536)
                if not data:
                    self.eof = True
                    raise EOFError(f"connection closed; unread: {bytes(self._buffer)!r}")
                self._buffer += data
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        return line.decode()

    async def until(self, wanted: str | tuple[str, ...]) -> list[str]:
        """Lines up to and including the first one starting with ``wanted``."""
        seen: list[str] = []
        while True:
            line = await self.line()
            seen.append(line)
            if line.startswith(wanted):
                return seen

    async def expect_eof(self, within: float = STEP_TIMEOUT) -> list[str]:
        """Read until the server closes; return the lines read on the way."""
        lines: list[str] = []
        try:
            while True:
                lines.append(await self.line(within))
        except EOFError:
            return lines

    async def register(self, name: str) -> list[str]:
        """Send ``name`` and read up to the welcome line."""
        greeting = await self.line()
        assert greeting.startswith(("*** Hello!", "*** ¡Hola!")), greeting
        await self.send(name)
        return await self.until(("*** Welcome", "*** ¡Te damos la bienvenida"))


class IrcPeer(Peer):
    """The far end of an IRC connection: lines end in CR LF both ways."""

    # The nick it registered with.
    nick = "*"

    async def send(self, *lines: str) -> None:
        await self.stream.send_all("".join(line + "\r\n" for line in lines).encode())

    async def line(self, within: float = STEP_TIMEOUT) -> str:
        line = await super().line(within)
        assert line.endswith("\r"), line
        return line[:-1]

    async def register(self, name: str) -> list[str]:
        """CAP LS 302, NICK and USER, CAP END: the lines up to the end of the MOTD."""
        self.nick = name
        await self.send("CAP LS 302", f"NICK {name}", f"USER {name} 0 * :Real {name}", "CAP END")
        return await self.until(":trio-chat 422 ")


@pytest.fixture(autouse=True)
def private_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home directory of the test's own, so that no test touches the user's files.

    The history's default path is under XDG_DATA_HOME (else ~/.local/share):
    a server a test starts without ``--db``, in the process or as a program
    (which inherits the environment, tmux panes included), writes in here.
    """
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    # English, whatever the desk's locale (a test that wants Spanish asks for it).
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    for variable, directory in XDG_DIRECTORIES.items():
        monkeypatch.setenv(variable, str(home / directory))
    return home


XDG_DIRECTORIES = {
    "XDG_DATA_HOME": ".local/share",
    "XDG_STATE_HOME": ".local/state",
    "XDG_CONFIG_HOME": ".config",
    "XDG_CACHE_HOME": ".cache",
}


# Real seconds every task may sit blocked before a frozen clock moves on.
STUCK = 1.0


@pytest.fixture
def frozen_clock(mock_clock: trio.testing.MockClock) -> trio.testing.MockClock:
    """Virtual time that stands still while a test waits on real sockets.

    No timeout (a linger, a farewell) expires however slow the machine is,
    so what a test sees does not depend on it; the test moves time with
    ``frozen_clock.jump``. Only a stuck test, every task blocked for STUCK
    real seconds, moves it on, to the next deadline: its fail_after still
    ends it. (autojump_clock jumps as soon as every task waits, even on
    the kernel delivering bytes over loopback: too soon for these tests.)
    """
    mock_clock.autojump_threshold = STUCK
    return mock_clock


@pytest.fixture
def accepted(monkeypatch: pytest.MonkeyPatch) -> list[trio.SocketStream]:
    """The server's end of each TCP connection accepted in the test, as its handler gets it.

    The text and IRC doors' accept loop makes each stream with
    ``listeners.accepted_stream``, ``trio.serve_listeners`` (the web door's)
    with ``SocketListener.accept``: this records them on the way.
    """
    streams: list[trio.SocketStream] = []
    accept = trio.SocketListener.accept
    make = listeners.accepted_stream

    async def recording(listener: trio.SocketListener) -> trio.SocketStream:
        stream = await accept(listener)
        streams.append(stream)
        return stream

    def recorded(sock: socket.socket) -> trio.SocketStream:
        stream = make(sock)
        streams.append(stream)
        return stream

    monkeypatch.setattr(trio.SocketListener, "accept", recording)
    monkeypatch.setattr(listeners, "accepted_stream", recorded)
    return streams


# What the server sets on every connection it accepts (enable_keepalive): the
# kernel drops a vanished peer within about two minutes.
SERVER_KEEPALIVE = {
    "SO_KEEPALIVE": 1,
    "TCP_KEEPIDLE": KEEPALIVE_IDLE,
    "TCP_KEEPINTVL": KEEPALIVE_INTERVAL,
    "TCP_KEEPCNT": KEEPALIVE_COUNT,
    "TCP_USER_TIMEOUT": USER_TIMEOUT_MS,
}


def keepalive_options(stream: trio.SocketStream) -> dict[str, int]:
    """How the kernel watches this connection for a vanished peer."""
    tcp = socket.IPPROTO_TCP
    return {
        "SO_KEEPALIVE": stream.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        "TCP_KEEPIDLE": stream.getsockopt(tcp, socket.TCP_KEEPIDLE),
        "TCP_KEEPINTVL": stream.getsockopt(tcp, socket.TCP_KEEPINTVL),
        "TCP_KEEPCNT": stream.getsockopt(tcp, socket.TCP_KEEPCNT),
        "TCP_USER_TIMEOUT": stream.getsockopt(tcp, socket.TCP_USER_TIMEOUT),
    }


@pytest.fixture
def hub() -> Hub:
    return Hub(name_key)


@pytest.fixture
def server(hub: Hub) -> TextFrontend:
    return text_server(hub, max_clients=50)


class MemoryConnector:
    """Opens in-memory connections served by ``server.handle`` in a nursery."""

    def __init__(self, server: TextFrontend, nursery: trio.Nursery) -> None:
        self.server = server
        self.nursery = nursery
        self.count = 0

    def shutdown(self, why: str = "test", grace: float = SHUTDOWN_GRACE) -> None:
        """Shut the server down as the app does (its connections here included)."""
        shut_down(self.server, why, grace)

    def open(self, *, lockstep: bool = False) -> Peer:
        client, server_side = (
            trio.testing.lockstep_stream_pair() if lockstep else trio.testing.memory_stream_pair()
        )
        self.count += 1
        self.nursery.start_soon(self.server.handle, server_side, f"memory:{self.count}")
        return Peer(client)

    async def join(self, name: str, **kwargs: bool) -> Peer:
        peer = self.open(**kwargs)
        await peer.register(name)
        return peer

    async def members(self, *names: str) -> list[Peer]:
        """Join ``names`` in order; everyone but the last has read up to the last's arrival."""
        peers = [await self.join(name) for name in names]
        for peer in peers[:-1]:
            await peer.until(f"*** {names[-1]} joined")
        return peers


@pytest.fixture
async def connector(server: TextFrontend) -> AsyncIterator[MemoryConnector]:
    async with trio.open_nursery() as handlers:
        yield MemoryConnector(server, handlers)
        handlers.cancel_scope.cancel()


class IrcConnector(MemoryConnector):
    """Opens in-memory IRC connections (the IRC door on the text door's service)."""

    def open(self, *, lockstep: bool = False) -> IrcPeer:
        peer = super().open(lockstep=lockstep)
        return IrcPeer(peer.stream)

    async def join(self, name: str, **kwargs: bool) -> IrcPeer:
        peer = self.open(**kwargs)
        await peer.register(name)
        return peer


def irc_door(server: TextFrontend, **options: Any) -> IrcFrontend:
    """The IRC door on ``server``'s service and admission."""
    return IrcFrontend(server.service, server.admission, **options)


@pytest.fixture
async def irc(server: TextFrontend) -> AsyncIterator[IrcConnector]:
    """IRC connections to the same chat as ``connector``'s text ones."""
    async with trio.open_nursery() as handlers:
        yield IrcConnector(irc_door(server), handlers)
        handlers.cancel_scope.cancel()


# --- the real assembly, in-process ----------------------------------------------------

# Scrypt at a cost a test can afford (the server's default takes a while per hash).
CHEAP_SCRYPT = ScryptCost(n=2**10, r=8, p=1)


class MemoryDoor:
    """A frontend for tests: the app serves memory connections like any others.

    Their handlers run in the app's handler nursery, so the app's shutdown
    (its grace deadline, and closing the history only once every handler is
    done) covers them as it covers TCP connections.
    """

    def __init__(self) -> None:
        self.nursery: trio.Nursery | None = None
        self._scope = trio.CancelScope()

    async def serve(
        self,
        handler_nursery: trio.Nursery,
        *,
        task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        self.nursery = handler_nursery
        task_status.started([])
        with self._scope:
            await trio.sleep_forever()

    def stop(self) -> None:
        self._scope.cancel()

    kind = "memory"

    def shutdown(self, deadline: float) -> None:
        pass  # the text frontend ends the memory connections still registering


class Running(MemoryConnector):
    """The app as ``trio-chat serve`` runs it: connect over TCP, or in memory (text frontend)."""

    def __init__(
        self, app: App, listeners: list[trio.SocketListener], nursery: trio.Nursery
    ) -> None:
        frontend = app.frontends[0]
        assert isinstance(frontend, TextFrontend)
        super().__init__(frontend, nursery)
        self.app = app
        self.hub = app.hub
        self.listeners = listeners
        self.listener = listeners[0]
        # Set when App.run has returned (after a shutdown, every connection is over).
        self.stopped = trio.Event()

    def listener_of(self, kind: str) -> trio.SocketListener:
        """The first listener of the frontend of ``kind`` ("text", "irc", "web")."""
        return self.app.listening[kind][0]

    async def connect(self, listener: trio.SocketListener | None = None) -> Peer:
        """A new TCP connection to ``listener`` (the first one by default)."""
        stream = await trio.testing.open_stream_to_socket_listener(listener or self.listener)
        return Peer(stream)

    async def connect_irc(self) -> IrcPeer:
        """A new TCP connection to the IRC door."""
        listener = self.listener_of("irc")
        return IrcPeer(await trio.testing.open_stream_to_socket_listener(listener))


@asynccontextmanager
async def running_app(
    *,
    scrypt_cost: ScryptCost = CHEAP_SCRYPT,
    clock: Callable[[], float] | None = None,
    **config: Any,
) -> AsyncIterator[Running]:
    """Build and run the real app (``build_app``, ``App.run``) until the block ends.

    ``config`` are ServerConfig fields; by default: loopback, a free port, history in
    memory. At the end every connection is cut and the history closed (flushed), as
    after a second Ctrl+C.
    """
    fields: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "db": ":memory:", **config}
    # The name the web tests' requests give (tests/web/conftest.py's HOST).
    fields.setdefault("web_hosts", ("chat.lan",))
    options: dict[str, Any] = {"scrypt_cost": scrypt_cost}
    if clock is not None:
        options["clock"] = clock
    app = await build_app(ServerConfig(**fields), **options)
    door = MemoryDoor()
    app.frontends.append(door)
    stopped = trio.Event()

    async def run(*, task_status: trio.TaskStatus[list[trio.SocketListener]]) -> None:
        try:
            await app.run(task_status=task_status)
        finally:
            stopped.set()

    async with trio.open_nursery() as nursery:
        listeners: list[trio.SocketListener] = await nursery.start(run)
        assert door.nursery is not None
        running = Running(app, listeners, door.nursery)
        running.stopped = stopped
        try:
            yield running
        finally:
            app.abort()


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    """The real app on a free loopback port, with default settings and history in memory."""
    async with running_app() as app:
        yield app


# --- the trio-chat program, as a user runs it ----------------------------------------------

TRIO_CHAT = str(Path(sys.executable).parent / "trio-chat")


class Program:
    """A running process whose stdin we write and whose output we read by lines."""

    def __init__(self, process: trio.Process, output: trio.abc.ReceiveStream) -> None:
        self.process = process
        assert process.stdin is not None
        self.io = Peer(trio.StapledStream(process.stdin, output))
        # What a server logged up to "listening on" (see running_server).
        self.startup: list[str] = []

    async def exit_code(self) -> int:
        with trio.fail_after(STEP_TIMEOUT):
            return await self.process.wait()


@asynccontextmanager
async def program(*args: str, read: str = "stdout") -> AsyncIterator[Program]:
    """``trio-chat *args``, killed at the end of the block if still running."""
    process = await trio.lowlevel.open_process(
        [TRIO_CHAT, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if read == "stderr" else subprocess.DEVNULL,
    )
    output = process.stdout if read == "stdout" else process.stderr
    assert output is not None
    try:
        yield Program(process, output)
    finally:
        if process.returncode is None:
            process.kill()
        with trio.CancelScope(shield=True):
            await process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                await stream.aclose()


@asynccontextmanager
async def running_server(
    *extra: str, default_history: bool = False
) -> AsyncIterator[tuple[Program, int]]:
    """A real server on a free port; history in memory unless ``extra`` gives ``--db``.

    With ``default_history`` and no ``--db``, history is where the server keeps it by
    default (in the test's own home, see ``private_home``).

    The server's log (stderr) is read up to its "listening on" line, kept
    in ``Program.startup``.
    """
    db = () if default_history or "--db" in extra else ("--db", ":memory:")
    async with program(
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--web-port",
        "0",
        "--irc-port",
        "0",
        "--irc-tls-port",  # with --tls-cert; never 6697, which another server may hold
        "0",
        *db,
        *extra,
        read="stderr",
    ) as srv:
        srv.startup.append(await srv.io.line(within=PROCESS_TIMEOUT))  # after the imports
        while not (match := LISTENING.search(srv.startup[-1])):
            srv.startup.append(await srv.io.line())
        yield srv, int(match.group(1))


# The server's "listening on 127.0.0.1:PORT" line, in any language (serve --lang speaks it).
LISTENING = re.compile(
    "(?:"
    + "|".join(
        re.escape(words_for(lang)("listening on {address} (max {n} clients)").split("{")[0])
        for lang in languages()
    )
    + r")127\.0\.0\.1:(\d+)"
)


async def run_trio_chat(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """``trio-chat *args`` to its end, with ``stdin``; output captured, any exit code."""
    with trio.fail_after(PROCESS_TIMEOUT):
        return await trio.run_process(
            [TRIO_CHAT, *args], stdin=stdin, capture_stdout=True, capture_stderr=True, check=False
        )


# --- what a user's terminal may be shown ---------------------------------------------------

# Characters that must never reach a user's terminal inside a line: C0 but tab,
# DEL, C1, and the bidirectional overrides and isolates.
FORBIDDEN = frozenset(
    [chr(c) for c in (*range(0x00, 0x09), *range(0x0A, 0x20), *range(0x7F, 0xA0))]
    + [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
)

# How every line a client may receive begins (README, "The protocol").
WELL_FORMED = re.compile(
    r"\*\*\* |! |\[private\] [^\s:]+: |\* [^\s:]+ |\[[-\d: ]+\] |[^\s:*!\[][^\s:]*: "
)


def assert_displayable(text: str) -> None:
    """No control characters, no escape sequences, no lone surrogates."""
    bad = [char for char in text if char in FORBIDDEN or 0xD800 <= ord(char) <= 0xDFFF]
    assert not bad, f"{bad!r} in {text!r}"


def assert_well_formed(lines: list[str]) -> None:
    """Each line is displayable and begins as a protocol line does."""
    for line in lines:
        assert_displayable(line)
        assert WELL_FORMED.match(line), line


# --- the soak's bookkeeping ----------------------------------------------------------------


def ledger_with(*presences: Presence, **deliveries: dict[str, float]) -> Ledger:
    """A ledger of one message, s.1 from s in #lobby (sent at 10, acknowledged at 11)."""
    ledger = Ledger()
    ledger.sent["s.1"] = Sent("s", "#lobby", sent=10.0, acked=11.0)
    ledger.presences = list(presences)
    ledger.deliveries = dict(deliveries)
    return ledger


# --- the chat client, in memory (test_client, test_reconnect) ---------------------------


class RecordingScreen:
    """A screen that remembers lines and lets a test wait for one."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._changed = trio.Event()

    def show(self, line: str) -> None:
        self.lines.append(line)
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, wanted: str, within: float = STEP_TIMEOUT, count: int = 1) -> None:
        """Wait until ``count`` lines start with ``wanted``."""
        with trio.move_on_after(within):
            while sum(line.startswith(wanted) for line in self.lines) < count:
                await self._changed.wait()
            return
        shown = "\n".join(self.lines)
        raise AssertionError(f"no {count} line(s) {wanted!r} within {within} s; shown:\n{shown}")

    def after(self, wanted: str) -> list[str]:
        """The lines after the last one starting with ``wanted``."""
        starts = [i for i, line in enumerate(self.lines) if line.startswith(wanted)]
        return self.lines[starts[-1] + 1 :] if starts else []


class Typist:
    """A keyboard fed by the test: ``type()`` lines, ``close()`` for Ctrl+D.

    An interactive one answers password prompts with the next line typed.
    """

    def __init__(self, *, interactive: bool = False) -> None:
        self._send, receive = trio.testing.memory_stream_one_way_pair()
        self.keyboard = StreamKeyboard(receive)
        self.keyboard.interactive = interactive

    async def type(self, *lines: str) -> None:
        await self._send.send_all("".join(line + "\n" for line in lines).encode())

    async def close(self) -> None:
        await self._send.aclose()


class Dialer:
    """The client's way to connect again: to ``server`` (another one after a restart).

    ``fail`` attempts from now on are refused; ``dialed`` counts the attempts.
    """

    def __init__(self, server: TextFrontend, nursery: trio.Nursery) -> None:
        self.server = server
        self.nursery = nursery
        self.fail = 0
        self.dialed = 0

    def open(self) -> trio.abc.Stream:
        client_side, server_side = trio.testing.memory_stream_pair()
        self.nursery.start_soon(self.server.handle, server_side, f"client:{self.dialed}")
        return client_side

    async def __call__(self) -> trio.abc.Stream:
        await trio.lowlevel.checkpoint()
        self.dialed += 1
        if self.fail:
            self.fail -= 1
            raise ConnectFailed("connection refused")
        return self.open()

    def restart(self, fail: int = 0) -> TextFrontend:
        """Shut the server down (its clients are told) and start a new one, same accounts."""
        old = self.server
        self.server = text_server(Hub(name_key), guard=old.service.guard)
        self.fail = fail
        shut_down(old, grace=1)
        return self.server


class RunningClient:
    def __init__(
        self, client: ChatClient, typist: Typist, screen: RecordingScreen, dialer: Dialer
    ) -> None:
        self.client = client
        self.typist = typist
        self.screen = screen
        self.dialer = dialer
        self.exit_code: int | None = None
        self.done = trio.Event()

    async def run(self) -> None:
        self.exit_code = await self.client.run()
        self.done.set()

    async def wait_exit(self, within: float = STEP_TIMEOUT) -> int | None:
        with trio.fail_after(within):
            await self.done.wait()
        return self.exit_code


StartClient = Callable[..., RunningClient]


@pytest.fixture
async def start_client(connector: MemoryConnector) -> AsyncIterator[StartClient]:
    """Starts ChatClients on memory connections to ``via`` (the connector's server)."""
    async with trio.open_nursery() as nursery:

        def start(
            name: str | None,
            *,
            interactive: bool = False,
            echo: bool = False,
            via: MemoryConnector = connector,
            server_password: str | None = None,
            password: str | None = None,
            reconnect: bool = False,
            backoff: Backoff = DEFAULT_BACKOFF,
            lang: str = "en",
        ) -> RunningClient:
            dialer = Dialer(via.server, via.nursery)
            typist = Typist(interactive=interactive)
            screen = RecordingScreen()
            client = ChatClient(
                dialer.open(),
                typist.keyboard,
                screen,
                name,
                echo=echo,
                server_password=server_password,
                password=password,
                connect=dialer,
                reconnect=reconnect,
                backoff=backoff,
                lang=lang,
            )
            running = RunningClient(client, typist, screen, dialer)
            nursery.start_soon(running.run)
            return running

        yield start
        nursery.cancel_scope.cancel()
