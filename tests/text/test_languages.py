"""The text door in each language: the same conversation, worded in English and in Spanish.

Each wire test runs once per language (the server's default, as ``serve --lang``
sets it) and asserts the lines a user of that language reads; what is protocol
(``*** ``, ``! ``, ``name: text``, command names) is the same in both.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trio.testing

import trio_chat
from trio_chat.core.events import Message, ServerEvent
from trio_chat.core.history import History
from trio_chat.core.hub import Hub
from trio_chat.core.names import name_key
from trio_chat.core.store import MEMORY, HistoryStore
from trio_chat.i18n import Words, words_for
from trio_chat.text import codec
from trio_chat.text.codec import encoder_for
from trio_chat.text.wording import ENGLISH

from ..conftest import MemoryConnector, Peer, run_trio_chat, running_server, text_server

# What each language says, by the test's own names for the lines.
SAYS = {
    "en": {
        "greeting": "*** Hello! Send your name (1-32 letters, digits and _-[]\\`^{}|, "
        "not starting with a digit or -), or /login NAME PASSWORD for a registered name",
        "no name": "! a name is needed; try another name",
        "space": "! invalid character ' ' in name: use letters, digits and _-[]\\`^{}|; "
        "try another name",
        "taken": "! the name ana is taken; try another name",
        "welcome": "*** Welcome, bob! Online: ana. Type /help for commands.",
        "joined": "*** bob joined",
        "who": "*** In #lobby (2): ana, bob",
        "unknown": "! unknown command /frob: type /help for the list",
        "usage": "! usage: /msg NAME TEXT",
        "nobody": "! nobody called carl is online (see /who)",
        "help": "*** Commands:",
        "help end": "***   //TEXT",
        "topic": "*** bob set the topic of #lobby: tea",
        "topic answer": "*** Topic of #lobby: tea",
        "now in": "*** Now in #dev (1): bob",
        "went": "*** bob left (went to #dev)",
        "history": "*** Last 1 message in #dev:",
        "history end": "*** End of history",
        "bye": "*** Bye!",
        "left": "*** bob left (see you)",
        "lang": "*** Languages: en English, es español (/lang CODE switches)",
    },
    "es": {
        "greeting": "*** ¡Hola! Envía tu nombre (de 1 a 32 letras, cifras y _-[]\\`^{}|; "
        "que no empiece por una cifra ni por -), o /login NOMBRE CONTRASEÑA si es un "
        "nombre registrado",
        "no name": "! hace falta un nombre; prueba con otro nombre",
        "space": "! carácter no válido ' ' en el nombre: usa letras, cifras y _-[]\\`^{}|; "
        "prueba con otro nombre",
        "taken": "! el nombre ana ya está en uso; prueba con otro",
        "welcome": "*** ¡Te damos la bienvenida, bob! En línea: ana. "
        "Escribe /help para ver los comandos.",
        "joined": "*** bob ha entrado",
        "who": "*** En #lobby (2): ana, bob",
        "unknown": "! comando desconocido /frob: escribe /help para ver la lista",
        "usage": "! uso: /msg NOMBRE TEXTO",
        "nobody": "! no hay nadie en línea que se llame carl (mira /who)",
        "help": "*** Comandos:",
        "help end": "***   //TEXTO",
        "topic": "*** bob ha puesto el tema de #lobby: tea",
        "topic answer": "*** Tema de #lobby: tea",
        "now in": "*** Ahora en #dev (1): bob",
        "went": "*** bob se ha ido (se fue a #dev)",
        "history": "*** Último mensaje en #dev:",
        "history end": "*** Fin del historial",
        "bye": "*** ¡Hasta luego!",
        "left": "*** bob se ha ido (see you)",
        "lang": "*** Idiomas: en English, es español (/lang CÓDIGO para cambiar)",
    },
}


@pytest.fixture(params=["en", "es"])
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def door(lang: str) -> AsyncIterator[MemoryConnector]:
    """A text door (with a room history) whose users read ``lang`` unless they choose another."""
    history = History(HistoryStore(MEMORY), name_key)
    await history.open()
    server = text_server(Hub(name_key, recorder=history), history=history, lang=lang)
    async with trio.open_nursery() as handlers:
        handlers.start_soon(history.run)
        yield MemoryConnector(server, handlers)
        handlers.cancel_scope.cancel()


async def ana_and_bob(door: MemoryConnector, lang: str) -> tuple[Peer, Peer]:
    """ana, then bob; ana has read bob's arrival."""
    ana, bob = await door.join("ana"), await door.join("bob")
    assert await ana.line() == SAYS[lang]["joined"]
    return ana, bob


async def test_the_name_step_in_the_users_language(door: MemoryConnector, lang: str) -> None:
    says = SAYS[lang]
    ana = await door.join("ana")
    bob = door.open()
    assert await bob.line() == says["greeting"]
    await bob.send("", "bad name", "ana", "bob")
    assert await bob.line() == says["no name"]
    assert await bob.line() == says["space"]
    assert await bob.line() == says["taken"]
    assert await bob.line() == says["welcome"]
    assert await ana.line() == says["joined"]


async def test_chat_commands_and_their_answers_in_the_users_language(
    door: MemoryConnector, lang: str
) -> None:
    says = SAYS[lang]
    ana, bob = await ana_and_bob(door, lang)
    await bob.send("hola", "/who", "/frob", "/msg", "/msg carl hi")
    assert await ana.line() == "bob: hola"  # what people say is never translated
    assert await bob.line() == says["who"]
    assert await bob.line() == says["unknown"]
    assert await bob.line() == says["usage"]
    assert await bob.line() == says["nobody"]
    await bob.send("/help")
    help_lines = await bob.until(says["help end"])
    assert help_lines[0] == says["help"]
    assert any(line.startswith("***   /join ") for line in help_lines)  # names stay
    await bob.send("/topic tea", "/topic")
    assert await ana.line() == says["topic"]
    assert await bob.line() == says["topic"]
    assert await bob.line() == says["topic answer"]


async def test_moving_history_and_leaving_in_the_users_language(
    door: MemoryConnector, lang: str
) -> None:
    says = SAYS[lang]
    ana, bob = await ana_and_bob(door, lang)
    await bob.send("/join dev", "in dev", "/history")
    assert await ana.line() == says["went"]
    assert await bob.line() == says["now in"]
    assert await bob.line() == says["history"]
    assert (await bob.line()).endswith("] bob: in dev")
    assert await bob.line() == says["history end"]
    await bob.send("/join lobby", "/quit see you")
    await ana.until(says["joined"])
    assert (await bob.until(says["bye"]))[-1] == says["bye"]
    assert await ana.line() == says["left"]


async def test_lang_lists_the_languages_each_in_its_own_words(
    door: MemoryConnector, lang: str
) -> None:
    peer = door.open()
    await peer.line()
    await peer.send("/lang")  # before a name too
    assert await peer.line() == SAYS[lang]["lang"]
    await peer.send("bob", "/lang")
    await peer.until("*** ")
    assert (await peer.until("*** Idiomas" if lang == "es" else "*** Languages"))[-1] == SAYS[lang][
        "lang"
    ]


# --- /lang: each user's own language --------------------------------------------------


async def test_lang_at_the_name_step_answers_and_asks_for_the_name_again_in_spanish(
    connector: MemoryConnector,
) -> None:
    peer = connector.open()
    assert (await peer.line()).startswith("*** Hello! Send your name")
    await peer.send("/lang klingon")
    assert await peer.line() == "! unknown language klingon: /lang lists them"
    await peer.send("/lang es_ES.UTF-8")
    assert await peer.line() == "*** Ahora te hablo en español"
    assert await peer.line() == SAYS["es"]["greeting"]
    await peer.send("/lang xx")
    assert await peer.line() == "! idioma desconocido xx: /lang muestra cuáles hay"
    await peer.send("bad name")
    assert await peer.line() == SAYS["es"]["space"]
    await peer.send("ana")
    assert (await peer.line()).startswith("*** ¡Te damos la bienvenida, ana! En línea: nadie")


async def test_lang_after_the_name_switches_every_line_that_follows(
    connector: MemoryConnector,
) -> None:
    ana, bob = await connector.members("ana", "bob")
    await bob.send("/lang es")
    assert await bob.line() == "*** Ahora te hablo en español"
    await ana.send("/join dev", "/nick anita")
    assert await bob.line() == "*** ana se ha ido (se fue a #dev)"  # the hub's, in bob's words
    await bob.send("/frob")
    assert await bob.line() == SAYS["es"]["unknown"]
    await bob.send("/lang en", "/frob")
    assert await bob.line() == "*** Now speaking English"
    assert await bob.line() == SAYS["en"]["unknown"]


async def test_two_languages_in_one_room_each_read_their_own_and_are_encoded_once_each(
    connector: MemoryConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    peers = await connector.members("ana", "bob", "carl", "dora", "eva")
    ana, spanish, english = peers[0], peers[1:3], peers[3:]
    for peer in spanish:
        await peer.send("/lang es")
        assert await peer.line() == "*** Ahora te hablo en español"
    formatted: list[tuple[ServerEvent, Words]] = []
    original = codec.format_event

    def counting(event: ServerEvent, _: Words = ENGLISH) -> str:
        formatted.append((event, _))
        return original(event, _)

    monkeypatch.setattr(codec, "format_event", counting)
    await ana.send("hola a todos", "/nick ana_maria")
    for peer in spanish:
        assert await peer.line() == "ana: hola a todos"
        assert await peer.line() == "*** ana ahora se llama ana_maria"
    for peer in english:
        assert await peer.line() == "ana: hola a todos"
        assert await peer.line() == "*** ana is now known as ana_maria"
    said = [words.lang for event, words in formatted if isinstance(event, Message)]
    assert sorted(said) == ["en", "es"]  # 4 readers, 2 languages: 2 encodings


def test_every_worded_message_is_one_the_catalogs_extract() -> None:
    """Only ``_(...)``, ``N_(...)`` and ``_.ngettext(...)`` are extracted: a literal
    worded through another name would silently stay English in every language."""
    package = Path(trio_chat.__file__).parent
    hidden = re.compile(r"\bwords(?:\.ngettext)?\(\s*[\"']")
    found = [
        f"{path.relative_to(package)}: {line.strip()}"
        for path in package.rglob("*.py")
        for line in path.read_text().splitlines()
        if hidden.search(line)
    ]
    assert found == []


def test_one_encoder_per_language_whatever_the_tag() -> None:
    spanish = encoder_for(words_for("es"))
    assert encoder_for(words_for("es_MX.UTF-8")) is spanish
    assert encoder_for(words_for("en")) is codec.encode
    assert encoder_for(words_for("tlh")) is codec.encode  # no catalog: English


async def test_a_peer_in_spanish_is_never_sent_an_untranslated_notice(
    door: MemoryConnector, lang: str
) -> None:
    """The shutdown notice is the hub's: each member's encoder words it."""
    ana: Peer = await door.join("ana")
    door.shutdown()
    last = await ana.expect_eof()
    wanted = "*** el servidor se está apagando" if lang == "es" else "*** server shutting down"
    assert wanted in last


# --- serve --lang ---------------------------------------------------------------------


async def test_serve_lang_es_greets_whoever_chose_nothing_in_spanish() -> None:
    async with running_server("--lang", "es") as (_server, port):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            peer = Peer(stream)
            assert await peer.line() == SAYS["es"]["greeting"]
            await peer.send("/lang en")
            assert await peer.line() == "*** Now speaking English"
            assert (await peer.line()).startswith("*** Hello! Send your name")


async def test_serve_lang_without_a_catalog_is_a_usage_error() -> None:
    ran = await run_trio_chat("serve", "--lang", "tlh")
    assert ran.returncode == 2
    assert "--lang: no catalog for 'tlh' (there is: en, es)" in ran.stderr.decode()


async def test_a_refused_connection_and_a_late_name_hear_the_server_s_default_language(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = text_server(lang="es", max_clients=1, name_timeout=5)
    async with trio.open_nursery() as handlers:
        door = MemoryConnector(server, handlers)
        first = door.open()
        assert await first.line() == SAYS["es"]["greeting"]
        assert await door.open().expect_eof() == ["! el servidor está lleno"]
        timeout = "! no has elegido nombre en 5 s: cierro la conexión"
        assert await first.expect_eof(within=10) == [timeout]
        handlers.cancel_scope.cancel()
