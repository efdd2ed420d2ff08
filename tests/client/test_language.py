"""The client in Spanish: its own words, and ``/lang`` to the server before its name."""

from __future__ import annotations

import trio
import trio.testing

from trio_chat.client.chat import ChatClient
from trio_chat.client.server_lines import TEMPLATES, TRIES_LEFT, WELCOME
from trio_chat.core.accounts import Guard, ScryptCost
from trio_chat.core.hub import Hub
from trio_chat.i18n import words_for
from trio_chat.tools import catalogs

from ..conftest import (
    MemoryConnector,
    Peer,
    RecordingScreen,
    StartClient,
    Typist,
    text_server,
)

ES = words_for("es")
# How the welcome to ana begins, in the server's Spanish (or English, if it has none).
WELCOMED = "*** " + ES(WELCOME).split("{online}")[0].format(name="ana")
ENGLISH_GREETING = "*** Hello! Send your name, or /login NAME PASSWORD for a registered name"
SPANISH_GREETING = "*** ¡Hola! Envía tu nombre, o /login NOMBRE CONTRASEÑA si está registrado"


class ScriptedServer:
    """The server's side of a client's memory connection, line by line from the test."""

    def __init__(self, lang: str, *, name: str | None = "ana", interactive: bool = False) -> None:
        client_side, server_side = trio.testing.memory_stream_pair()
        self.peer = Peer(server_side)
        self.typist = Typist(interactive=interactive)
        self.screen = RecordingScreen()
        self.client = ChatClient(client_side, self.typist.keyboard, self.screen, name, lang=lang)


async def test_a_spanish_client_asks_for_spanish_before_its_name() -> None:
    server = ScriptedServer("es")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.client.run)
        await server.peer.send(ENGLISH_GREETING)
        assert await server.peer.line() == "/lang es"
        # A server that speaks it says so, and greets again in Spanish: then the name.
        await server.peer.send("*** Ahora hablo español", SPANISH_GREETING)
        assert await server.peer.line() == "ana"
        await server.peer.send("*** " + ES(WELCOME, name="ana", online="nadie más"))
        await server.screen.wait_for("*** ")
        # Nothing of the English start is shown, nor the answer to /lang.
        assert server.screen.lines == ["*** " + ES(WELCOME, name="ana", online="nadie más")]
        nursery.cancel_scope.cancel()


async def test_an_english_client_asks_for_english_on_a_server_that_speaks_spanish() -> None:
    server = ScriptedServer("en")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.client.run)
        await server.peer.send(SPANISH_GREETING)  # serve --lang es: its default
        assert await server.peer.line() == "/lang en"
        await server.peer.send("*** Now speaking English", ENGLISH_GREETING)
        assert await server.peer.line() == "ana"
        welcome = "*** Welcome, ana! Online: nobody else yet. Type /help for commands."
        await server.peer.send(welcome)
        await server.screen.wait_for(welcome)
        assert server.screen.lines == [welcome]
        nursery.cancel_scope.cancel()


async def test_asked_for_a_name_the_user_reads_only_the_spanish_greeting() -> None:
    server = ScriptedServer("es", name=None, interactive=True)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.client.run)
        await server.peer.send(ENGLISH_GREETING)
        assert await server.peer.line() == "/lang es"
        await server.peer.send("*** Ahora hablo español", SPANISH_GREETING)
        await server.screen.wait_for(SPANISH_GREETING)
        assert server.client.prompt() == "nombre: "
        await server.typist.type("ana")
        assert await server.peer.line() == "ana"
        assert server.screen.lines == [SPANISH_GREETING]
        nursery.cancel_scope.cancel()


async def test_a_server_without_lang_lets_the_spanish_client_in_all_the_same() -> None:
    server = ScriptedServer("es")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.client.run)
        await server.peer.send(ENGLISH_GREETING)
        assert await server.peer.line() == "/lang es"
        await server.peer.send("! send your name first (or /login NAME PASSWORD)")
        assert await server.peer.line() == "ana"
        welcome = "*** Welcome, ana! Online: nobody else yet. Type /help for commands."
        await server.peer.send(welcome)
        await server.screen.wait_for(welcome)
        assert server.screen.lines == [welcome]  # not the refusal of a /lang the user never typed
        nursery.cancel_scope.cancel()


async def test_the_spanish_client_gets_in_on_this_server(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    ana = start_client("ana", lang="es")
    await ana.screen.wait_for(WELCOMED)
    assert not any(line.startswith("! ") for line in ana.screen.lines), ana.screen.lines
    await ana.typist.type("/quit")
    assert await ana.wait_exit() == 0


async def test_the_client_s_own_words_are_spanish(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    ana = start_client("ana", lang="es")
    await ana.screen.wait_for(WELCOMED)
    connector.shutdown()
    assert await ana.wait_exit() == 3
    assert ana.screen.lines[-1] == "*** desconectado: el servidor cerró la conexión"


async def test_a_spanish_client_is_asked_its_password_again_in_spanish(
    hub: Hub, start_client: StartClient
) -> None:
    guard = Guard(cost=ScryptCost(n=2**10, r=8, p=1))
    await guard.register("ana", "ana-pw-12")
    async with trio.open_nursery() as nursery:
        locked = MemoryConnector(text_server(hub, guard=guard), nursery)
        ana = start_client("ana", via=locked, interactive=True, lang="es")
        await ana.screen.wait_for("*** ana es un nombre registrado: escribe su contraseña")
        await ana.typist.type("wrong-pw-1")
        await ana.screen.wait_for("*** inténtalo de nuevo (te quedan 2 intentos)")
        await ana.typist.type("ana-pw-12")
        await ana.screen.wait_for(WELCOMED)
        nursery.cancel_scope.cancel()


def test_the_client_knows_the_server_s_lines_by_the_server_s_own_messages() -> None:
    """Each server line the client follows is a message the server itself words (so the
    client recognises it in every language), not a copy that went out of date."""
    where: dict[str | tuple[str, str], set[str]] = {}
    for message in catalogs.extract():
        key = message.id if isinstance(message.id, str) else tuple(message.id)
        where[key] = {path for path, _ in message.locations}
    for template in (*TEMPLATES, TRIES_LEFT):
        users = where.get(template, set())
        assert any(not path.startswith("trio_chat/client/") for path in users), template


async def test_after_the_server_s_help_the_client_lists_its_keys_in_spanish(
    connector: MemoryConnector, start_client: StartClient
) -> None:
    ana = start_client("ana", lang="es", echo=True)
    await ana.screen.wait_for(WELCOMED)
    await ana.typist.type("/help")
    await ana.screen.wait_for("*** Teclas: Arriba/Abajo recuperan líneas anteriores")
    keys = ana.screen.lines.index(next(ln for ln in ana.screen.lines if "Teclas:" in ln))
    assert "//" in ana.screen.lines[keys - 1]  # right after the server's last help line
    assert ana.screen.lines[keys + 1].startswith("*** Tus propias líneas aparecen")


def test_the_server_s_lines_are_known_in_english_and_in_spanish() -> None:
    from trio_chat.client.server_lines import KNOWN_AS, NOW_IN, ServerLines

    lines, en = ServerLines(ES), words_for("en")
    for _ in (en, ES):
        welcome = "*** " + _(WELCOME, name="ana", online="bob, carl")
        assert lines.notice(WELCOME, welcome) == {"name": "ana", "online": "bob, carl"}
        now_in = "*** " + _(NOW_IN, room="#dev") + " (2): ana, bob"
        assert lines.notice(NOW_IN, now_in, whole=False) == {"room": "#dev"}
        renamed = "*** " + _(KNOWN_AS, old="ana", new="ana_away")
        assert lines.notice(KNOWN_AS, renamed) == {"old": "ana", "new": "ana_away"}
        for n in (1, 2):
            assert lines.tries_left("! " + _.ngettext(*TRIES_LEFT, n, name="ana")) == n
    assert ES(WELCOME) != WELCOME  # the server's Spanish is there to be known
    assert (
        lines.notice(WELCOME, "bob: *** Welcome, ana! Online: x. Type /help for commands.") is None
    )
    assert lines.notice(KNOWN_AS, "*** ana is now known as") is None
