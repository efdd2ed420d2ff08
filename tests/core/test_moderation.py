"""Server password, registered names and operators, as users see them (memory streams)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest
import trio
import trio.testing

from trio_chat.core.accounts import Guard
from trio_chat.core.hub import Hub
from trio_chat.core.names import name_key
from trio_chat.core.passwords import ScryptCost

from ..conftest import STEP_TIMEOUT, MemoryConnector, Peer, text_server

# Cheap hashes: the rules, not scrypt's cost, are under test here.
CHEAP = ScryptCost(n=2**10, r=8, p=1)
SERVER_SECRET = "door-Secret-77"
OPER_SECRET = "oper-Secret-42"
ANA_SECRET = "ana-Secret-1234"
SECRETS = (SERVER_SECRET, OPER_SECRET, ANA_SECRET, "ana-New-5678", "Wrong-Guess-99")


class Clock:
    """A wall clock the test moves by hand (for bans that expire)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Recorder(Peer):
    """A peer that keeps every line the server sent, for the no-leak checks."""

    seen: list[str]

    async def line(self, within: float = STEP_TIMEOUT) -> str:
        text = await super().line(within)
        self.seen.append(text)
        return text


class Server:
    """A text frontend on memory streams, with its guard and hub at hand."""

    def __init__(self, nursery: trio.Nursery, guard: Guard) -> None:
        self.hub = Hub(name_key)
        self.guard = guard
        self.connector = MemoryConnector(text_server(self.hub, guard=guard), nursery)
        self.seen: list[str] = []

    def open(self, peer: str | None = None) -> Recorder:
        client, server_side = trio.testing.memory_stream_pair()
        self.connector.count += 1
        where = peer or f"memory:{self.connector.count}"
        self.connector.nursery.start_soon(self.connector.server.handle, server_side, where)
        recorder = Recorder(client)
        recorder.seen = self.seen
        return recorder

    async def join(self, name: str, *, peer: str | None = None) -> Recorder:
        recorder = self.open(peer)
        await recorder.register(name)
        return recorder

    async def login(self, name: str, password: str) -> Recorder:
        recorder = self.open()
        await recorder.line()
        await recorder.send(f"/login {name} {password}")
        await recorder.until("*** Welcome")
        return recorder

    async def oper(self, name: str, *, peer: str | None = None) -> Recorder:
        op = await self.join(name, peer=peer)
        await op.send(f"/oper {OPER_SECRET}")
        assert await op.line() == "*** You are an operator now: /help lists your commands"
        return op


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def chat(clock: Clock) -> AsyncIterator[Server]:
    guard = Guard(oper_password=OPER_SECRET, cost=CHEAP, clock=clock)
    async with trio.open_nursery() as nursery:
        yield Server(nursery, guard)
        nursery.cancel_scope.cancel()


@pytest.fixture
async def locked() -> AsyncIterator[Server]:
    """A server with a password."""
    guard = Guard(server_password=SERVER_SECRET, cost=CHEAP)
    async with trio.open_nursery() as nursery:
        yield Server(nursery, guard)
        nursery.cancel_scope.cancel()


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


@pytest.fixture(autouse=True)
def _no_secret_anywhere(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """After every test here: no password in any log record (at DEBUG) or in any line sent."""
    yield None
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        for secret in SECRETS:
            assert secret not in text, record


def assert_no_secret(lines: list[str]) -> None:
    assert lines, "no lines were checked"
    for line in lines:
        for secret in SECRETS:
            assert secret not in line, line


# --- the server password ----------------------------------------------------------


async def test_a_password_server_asks_for_pass_first_and_lets_a_name_retry(
    locked: Server,
) -> None:
    peer = locked.open()
    assert await peer.line() == (
        "*** Hello! This server needs a password: send /pass PASSWORD, then your name"
    )
    await peer.send("ana")
    assert await peer.line() == "! this server needs a password: send /pass PASSWORD first"
    await peer.send(f"/pass {SERVER_SECRET}")
    assert (await peer.line()).startswith("*** Password accepted. Send your name")
    await peer.send("ana")
    assert (await peer.line()).startswith("*** Welcome, ana!")
    assert_no_secret(locked.seen)


async def test_pass_and_name_in_one_packet_work_like_nc_sends_them(locked: Server) -> None:
    peer = locked.open()
    await peer.line()
    await peer.send_bytes(f"/pass {SERVER_SECRET}\nana\nhello\n".encode())
    await peer.until("*** Welcome, ana!")


async def test_a_wrong_server_password_is_refused_closed_and_logged_without_it(
    locked: Server, caplog: pytest.LogCaptureFixture
) -> None:
    peer = locked.open("192.0.2.9:5555")
    await peer.line()
    await peer.send("/pass Wrong-Guess-99", "ana")
    assert await peer.expect_eof() == ["! wrong password"]
    assert "wrong server password from 192.0.2.9:5555" in caplog.text
    assert locked.hub.names() == []


async def test_a_server_without_a_password_answers_pass_kindly(chat: Server) -> None:
    peer = chat.open()
    assert (await peer.line()).startswith("*** Hello! Send your name")
    await peer.send("/pass whatever")
    assert (await peer.line()).startswith("*** This server needs no password. Send your name")
    await peer.send("ana")
    await peer.until("*** Welcome, ana!")


# --- registered names ----------------------------------------------------------------


async def test_register_then_the_name_needs_login_and_a_wrong_password_closes(
    chat: Server, caplog: pytest.LogCaptureFixture
) -> None:
    ana = await chat.join("ana")
    await ana.send(f"/register {ANA_SECRET}")
    assert await ana.line() == (
        "*** ana is registered to you now: next time, send /login ana PASSWORD instead of your name"
    )
    await ana.send("/quit")
    await ana.expect_eof()

    intruder = chat.open("198.51.100.4:4000")
    await intruder.line()
    await intruder.send("ANA")
    assert await intruder.line() == (
        "! the name ANA is registered: send /login ANA PASSWORD, or another name"
    )
    # A few tries, as for a mistyped password; the last wrong one closes.
    await intruder.send("/login ana Wrong-Guess-99")
    assert await intruder.line() == (
        "! wrong password for ana (2 tries left): send /login ana PASSWORD"
    )
    await intruder.send("/login ana Wrong-Guess-98", "/login ana Wrong-Guess-97")
    assert await intruder.expect_eof() == [
        "! wrong password for ana (1 try left): send /login ana PASSWORD",
        "! wrong password for ana",
    ]
    assert "wrong password for ana from 198.51.100.4:4000" in caplog.text

    again = await chat.login("ANA", ANA_SECRET)  # any case: the registered spelling is used
    await again.send("/who")
    assert await again.line() == "*** In #lobby (1): ana"
    assert_no_secret(chat.seen)


async def test_login_to_a_name_nobody_registered_is_refused_and_may_retry(chat: Server) -> None:
    peer = chat.open()
    await peer.line()
    await peer.send("/login bob some-password")
    assert await peer.line() == "! bob is not registered: send the name alone (or /login another)"
    await peer.send("/login bob")
    assert await peer.line() == "! usage: /login NAME PASSWORD"
    await peer.send("/who")
    assert await peer.line() == (
        "! send your name first (or /login NAME PASSWORD for a registered name)"
    )
    await peer.send("bob")
    await peer.until("*** Welcome, bob!")


async def test_nick_to_a_registered_name_needs_its_login(chat: Server) -> None:
    ana = await chat.join("ana")
    await ana.send(f"/register {ANA_SECRET}")
    await ana.until("*** ana is registered")
    bob = await chat.join("bob")
    await ana.send("/nick anita")
    await bob.until("*** ana is now known as anita")
    await bob.send("/nick Ana")
    assert await bob.line() == "! the name Ana is registered to someone else"
    await ana.send("/nick ana")  # ana logged in (registered) on this connection: she may
    assert await bob.line() == "*** anita is now known as ana"


async def test_register_rules_password_change_and_unregister(chat: Server) -> None:
    ana = await chat.join("ana")
    await ana.send("/register short")
    assert await ana.line() == "! a password needs at least 6 characters"
    await ana.send("/register")
    assert await ana.line() == "! usage: /register PASSWORD"
    await ana.send("/password ana-New-5678")
    assert await ana.line() == "! ana is not registered (/register PASSWORD claims it)"
    await ana.send(f"/register {ANA_SECRET}")
    await ana.until("*** ana is registered")
    await ana.send(f"/register {ANA_SECRET}")
    assert await ana.line() == "! ana is registered already: /password NEW changes its password"
    await ana.send("/password ana-New-5678")
    assert await ana.line() == "*** the password of ana is changed"
    await ana.send("/quit")
    await ana.expect_eof()

    old = chat.open()
    await old.line()
    await old.send(f"/login ana {ANA_SECRET}")
    assert (await old.line()).startswith("! wrong password for ana (2 tries left)")
    await old.send("/quit")
    ana = await chat.login("ana", "ana-New-5678")
    await ana.send("/unregister")
    assert await ana.line() == "*** ana is not registered any more"
    await ana.send("/quit")
    await ana.expect_eof()
    await chat.join("ana")  # a plain name again
    assert_no_secret(chat.seen)


async def test_a_login_takes_the_name_from_a_connection_still_holding_it(chat: Server) -> None:
    ghost = await chat.join("ana")
    await ghost.send(f"/register {ANA_SECRET}")
    await ghost.until("*** ana is registered")
    bob = await chat.join("bob")
    await chat.login("ana", ANA_SECRET)
    assert await bob.line() == "*** ana left (logged in from elsewhere)"
    assert await bob.line() == "*** ana joined"
    await ghost.expect_eof()


async def test_commands_that_carry_a_password_hide_it_from_repr() -> None:
    from trio_chat.text.grammar import parse_command, parse_name_step

    for line in (f"/register {ANA_SECRET}", f"/password {ANA_SECRET}", f"/oper {ANA_SECRET}"):
        assert ANA_SECRET not in repr(parse_command(line))
    for line in (f"/pass {ANA_SECRET}", f"/login ana {ANA_SECRET}"):
        assert ANA_SECRET not in repr(parse_name_step(line))
    for line in (f"/login ana {ANA_SECRET}", f"/pass {ANA_SECRET}"):
        assert ANA_SECRET not in repr(parse_command(line))


# --- operators -----------------------------------------------------------------------


async def test_oper_with_the_right_password_and_operators_only_for_others(
    chat: Server, caplog: pytest.LogCaptureFixture
) -> None:
    bob = await chat.join("bob")
    for command in ("/kick ana", "/ban ana", "/unban ana", "/bans", "/mute ana", "/unmute ana"):
        await bob.send(command)
        assert await bob.line() == "! operators only", command
    await bob.send("/oper Wrong-Guess-99")
    assert await bob.line() == "! wrong operator password (2 tries left)"
    assert "wrong operator password from bob (memory:1)" in caplog.text
    await bob.send("/help")
    assert not any("/kick" in line for line in await bob.until("***   //TEXT"))
    await bob.send(f"/oper {OPER_SECRET}")
    assert await bob.line() == "*** You are an operator now: /help lists your commands"
    assert "bob (memory:1) is now an operator" in caplog.text
    await bob.send("/help")
    shown = await bob.until("***   //TEXT")
    assert "*** Operator commands:" in shown
    assert any("/ban NAME|ADDRESS [TIME]" in line for line in shown)
    assert_no_secret(chat.seen)


async def test_three_wrong_operator_passwords_close_the_connection(chat: Server) -> None:
    carl = await chat.join("carl")
    bob = await chat.join("bob")
    for _ in range(3):
        await bob.send("/oper Wrong-Guess-99")
    # Told how many tries are left, and why the connection ends.
    assert await bob.expect_eof() == [
        "! wrong operator password (2 tries left)",
        "! wrong operator password (1 try left)",
        "! too many wrong operator passwords: disconnected",
    ]
    assert "*** bob left (too many wrong operator passwords)" in await carl.until("*** bob left")


async def test_a_server_without_operators_says_so() -> None:
    async with trio.open_nursery() as nursery:
        server = Server(nursery, Guard(cost=CHEAP))
        ana = await server.join("ana")
        await ana.send(f"/oper {OPER_SECRET}")
        assert await ana.line() == "! this server has no operators"
        nursery.cancel_scope.cancel()


async def test_kick_tells_the_room_and_the_kicked_why_and_closes(
    chat: Server, caplog: pytest.LogCaptureFixture
) -> None:
    op = await chat.oper("op")
    bob = await chat.join("bob")
    await op.until("*** bob joined")
    await op.send("/kick bob stop spamming")
    assert await op.line() == "*** bob left (kicked by op: stop spamming)"
    assert await bob.expect_eof() == ["! you were kicked by op: stop spamming"]
    assert "bob (memory:2) left: kicked by op: stop spamming" in caplog.text
    await op.send("/kick nobody")
    assert await op.line() == "! nobody called nobody is online (see /who)"
    assert chat.hub.names() == ["op"]


async def test_kick_in_another_room_is_confirmed_to_the_operator(chat: Server) -> None:
    op = await chat.oper("op")
    bob = await chat.join("bob")
    await bob.send("/join dev")
    await bob.until("*** Now in #dev")
    await op.send("/kick bob")
    assert await op.until("*** bob was") == [
        "*** bob joined",
        "*** bob left (went to #dev)",
        "*** bob was kicked by op",
    ]
    assert await bob.expect_eof() == ["! you were kicked by op"]


async def test_mute_stops_every_line_reaching_anyone_until_unmute(chat: Server) -> None:
    op = await chat.oper("op")
    bob = await chat.join("bob")
    carl = await chat.join("carl")
    await bob.until("*** carl joined")
    await op.until("*** carl joined")
    await op.send("/mute bob")
    for peer in (op, bob, carl):
        assert await peer.line() == "*** op muted bob"
    for line in ("hello?", "/me shouts", "/msg carl psst", "/topic spam", "/nick bobby"):
        await bob.send(line)
        assert await bob.line() == "! you are muted", line
    await bob.send("/topic")  # only shows the topic: allowed
    assert await bob.line() == "*** No topic in #lobby"
    await op.send("/mute bob")
    assert await op.line() == "*** bob is muted"
    # bob leaves and comes back: still muted for this run.
    await bob.send("/quit")
    await bob.expect_eof()
    bob = await chat.join("bob")
    await bob.send("still here")
    assert await bob.line() == "! you are muted"
    await op.send("/unmute bob")
    assert await bob.line() == "*** op unmuted bob"
    await bob.send("thanks")
    # carl's next chat line is bob's: none of the muted lines reached him.
    said = [line for line in await carl.until("bob: thanks") if not line.startswith("***")]
    assert said == ["bob: thanks"]


async def test_ban_of_a_name_kicks_refuses_later_and_unban_lifts_it(
    chat: Server, caplog: pytest.LogCaptureFixture
) -> None:
    op = await chat.oper("op")
    bob = await chat.join("bob")
    await op.until("*** bob joined")
    await op.send("/ban Bob")
    assert await op.line() == "*** op banned Bob permanently"
    assert await op.line() == "*** bob left (banned by op)"
    assert await bob.expect_eof() == [
        "*** op banned Bob permanently",
        "! you are banned (permanently)",
    ]
    assert "op (memory:1) banned Bob (name) permanently" in caplog.text
    assert "bob (memory:2) left: banned by op" in caplog.text

    again = chat.open()
    await again.line()
    await again.send("BOB")
    assert await again.expect_eof() == ["! you are banned (permanently)"]
    carl = await chat.join("carl")
    await carl.send("/nick bob")
    assert await carl.line() == "! the name bob is banned"

    assert await op.line() == "*** carl joined"
    await op.send("/bans")
    assert await op.until("***   Bob") == ["*** Bans (1):", "***   Bob (name) permanently, by op"]
    await op.send("/unban bob")
    assert await op.line() == "*** op lifted the ban on Bob"
    assert "op lifted the ban on Bob (name)" in caplog.text
    await op.send("/unban bob")
    assert await op.line() == "! bob is not banned (see /bans)"
    await op.send("/bans")
    assert await op.line() == "*** No bans"
    await chat.join("bob")


async def test_ban_of_an_address_refuses_it_at_connect_and_kicks_who_is_on_it(
    chat: Server,
) -> None:
    op = await chat.oper("op")
    bob = await chat.join("bob", peer="203.0.113.7:40000")
    carl = await chat.join("carl", peer="203.0.113.8:40000")
    await op.until("*** carl joined")
    await op.send("/ban 203.0.113.7")
    assert await op.line() == "*** op banned 203.0.113.7 permanently"
    assert await op.line() == "*** bob left (banned by op)"
    assert (await bob.expect_eof())[-1] == "! you are banned (permanently)"
    refused = chat.open("203.0.113.7:40001")  # refused before any greeting
    assert await refused.expect_eof() == ["! you are banned (permanently)"]
    # A network: everyone in it.
    await op.send("/ban 203.0.113.0/24 1h")
    await op.until("*** carl left (banned by op)")
    assert (await carl.expect_eof())[-1].startswith("! you are banned (until ")
    await chat.join("dave", peer="[2001:db8::1]:5000")


async def test_a_connection_choosing_its_name_when_its_address_is_banned_cannot_join(
    chat: Server,
) -> None:
    op = await chat.oper("op")
    waiting = chat.open("203.0.113.9:40000")
    assert (await waiting.line()).startswith("*** Hello!")
    await op.send("/ban 203.0.113.9 5m")
    assert (await op.line()).startswith("*** op banned 203.0.113.9 until ")
    await waiting.send("troll", "hello all")
    assert (await waiting.expect_eof())[0].startswith("! you are banned (until ")
    await op.send("/who")
    assert await op.line() == "*** In #lobby (1): op"


async def test_an_operator_cannot_ban_their_own_address_or_name(chat: Server) -> None:
    op = await chat.oper("op", peer="192.168.1.20:5000")
    bob = await chat.join("bob", peer="192.168.1.21:5000")
    await op.until("*** bob joined")
    for target in ("192.168.1.0/24", "192.168.1.20", "op"):
        await op.send(f"/ban {target}")
        assert await op.line() == f"! a ban on {target} would ban you too: not done"
    await op.send("/bans")
    assert await op.line() == "*** No bans"
    await bob.send("still here")
    assert await op.line() == "bob: still here"


async def test_a_timed_ban_expires(chat: Server, clock: Clock) -> None:
    op = await chat.oper("op")
    await op.send("/ban bob 10m")
    assert (await op.line()).startswith("*** op banned bob until ")
    refused = chat.open()
    await refused.line()
    await refused.send("bob")
    assert (await refused.expect_eof())[0].startswith("! you are banned (until ")
    clock.now += 9 * 60
    await op.send("/bans")
    assert (await op.until("***   bob"))[0] == "*** Bans (1):"
    clock.now += 61
    await op.send("/bans")
    assert await op.line() == "*** No bans"
    await chat.join("bob")


async def test_bad_ban_arguments_are_explained(chat: Server) -> None:
    op = await chat.oper("op")
    await op.send("/ban bob soon")
    assert await op.line() == (
        "! bad duration 'soon': use a number and s, m, h, d or w (10m, 2h, 1d)"
    )
    await op.send("/ban bad*name")
    assert (await op.line()).startswith("! invalid character '*' in name")
    await op.send("/ban")
    assert await op.line() == "! usage: /ban NAME|ADDRESS [TIME]"
