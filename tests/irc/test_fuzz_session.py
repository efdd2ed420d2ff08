"""Fuzzing a live IRC session: whatever a client sends, the server answers in well-formed
IRC lines, the connection ends cleanly on QUIT, and the others in the room go on."""

from __future__ import annotations

import contextlib
import logging

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import STEP_TIMEOUT, IrcConnector, irc_door, text_server
from trio_chat.core.hub import Hub
from trio_chat.core.names import name_key
from trio_chat.irc.codec import MAX_LINE_BYTES, MessageBuffer
from trio_chat.irc.commands import MODULES
from trio_chat.irc.dispatch import COMMANDS

assert MODULES  # the table is complete

SESSION = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

word = st.one_of(
    st.sampled_from(["#dev", "#lobby", "bob", "ana", "*", "0", "+o", "-n", "+kl", ":", ""]),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
)
command_line = st.builds(
    lambda verb, words: " ".join([verb, *words]),
    st.sampled_from(sorted(set(COMMANDS) - {"QUIT"})),
    st.lists(word, max_size=5),
)
chunk = st.one_of(
    command_line.map(lambda line: line.encode("utf-8", "replace") + b"\r\n"),
    st.binary(min_size=1, max_size=200),
    st.integers(500, 5000).map(lambda n: b"PRIVMSG #dev :" + b"y" * n + b"\r\n"),
)


def well_formed(data: bytes) -> list[str]:
    """Every line a whole IRC line: UTF-8, CR LF, within 512 bytes beside its tags."""
    assert data.endswith(b"\r\n"), data[-200:]
    lines = data.split(b"\r\n")[:-1]
    for raw in lines:
        text = raw.decode("utf-8")
        body = text.split(" ", 1)[1] if text.startswith("@") else text
        assert len(body.encode()) + 2 <= MAX_LINE_BYTES, text
        assert "\0" not in text
        assert "\r" not in text
        assert "\n" not in text
    parsed = MessageBuffer().feed(data)
    assert len(parsed) == len(lines)
    return [raw.decode() for raw in lines]


@SESSION
@given(chunks=st.lists(chunk, min_size=1, max_size=8))
async def test_an_irc_client_sending_anything_never_breaks_the_server(chunks: list[bytes]) -> None:
    hub = Hub(name_key)
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("trio_chat").addHandler(handler)
    try:
        with trio.fail_after(STEP_TIMEOUT):
            async with trio.open_nursery() as nursery:
                irc = IrcConnector(irc_door(text_server(hub)), nursery)
                bob = await irc.join("bob")
                await bob.send("JOIN #dev")
                await bob.until(":trio-chat 366 ")
                ana = await irc.join("ana")
                await ana.send("JOIN #dev")
                await ana.until(":trio-chat 366 ")
                for data in chunks:
                    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                        await ana.send_bytes(data)
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    await ana.send_bytes(b"\r\nQUIT :done\r\n")
                received = bytearray()
                while data := await ana.stream.receive_some(65536):
                    received += data
                lines = well_formed(bytes(received))
                assert lines[-1].startswith("ERROR :Closing Link")
                await bob.send("PING :still")
                seen = await bob.until(":trio-chat PONG trio-chat :still")
                well_formed("".join(line + "\r\n" for line in seen).encode())
                nursery.cancel_scope.cancel()
    finally:
        logging.getLogger("trio_chat").removeHandler(handler)
    assert not [r for r in records if r.exc_info], records
