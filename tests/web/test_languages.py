"""The page's language: ``"lang"`` in the hello and a ``lang`` frame; the server's texts follow.

JSON fields, types and reason codes are the same in every language; only the
``text`` of a frame is in the member's language.
"""

from __future__ import annotations

from trio_chat.core.hub import Hub
from trio_chat.web.protocol import encode

from .conftest import WebConnector


async def test_the_hello_s_language_words_refusals_and_answers(
    web_connector: WebConnector, hub: Hub
) -> None:
    await web_connector.join("ana")
    bob = await web_connector.websocket()
    await bob.send(type="hello", name="ana", lang="es-ES")
    refused = await bob.receive()
    assert refused == {
        "type": "refused",
        "reason": "name-taken",
        "text": "el nombre ana ya está en uso",
    }
    await bob.send(type="hello", name="bob", lang="es-ES")
    await bob.until("history")
    await bob.send(type="line", room="#lobby", text="/frob")
    error = (await bob.until("error"))[-1]
    assert error["text"] == "comando desconocido /frob: escribe /help para ver la lista"
    await bob.send(type="line", room="#lobby", text="/help")
    assert (await bob.until("notice"))[-1] == {"type": "notice", "text": "Comandos:"}
    await bob.send(type="frob")
    error = (await bob.until("error", request="frob"))[-1]
    assert error["text"] == "tipo desconocido 'frob'"


async def test_a_lang_frame_at_any_time_switches_the_server_s_texts(
    web_connector: WebConnector, hub: Hub
) -> None:
    ana, bob = await web_connector.join("ana"), await web_connector.join("bob")
    await ana.until("joined", name="bob")
    await ana.send(type="lang", lang="es")
    assert (await ana.until("notice"))[-1] == {
        "type": "notice",
        "text": "Ahora te hablo en español",
    }
    await bob.send(type="quit", text="")
    quit = (await ana.until("quit"))[-1]
    assert quit == {"type": "quit", "name": "bob", "reason": "quit", "text": "se fue"}
    await ana.send(type="lang", lang="tlh")
    error = (await ana.until("error"))[-1]
    assert error["text"] == "idioma desconocido tlh: /lang muestra cuáles hay"
    await ana.send(type="line", room="#lobby", text="/lang en")
    assert (await ana.until("notice"))[-1]["text"] == "Now speaking English"
    await ana.send(type="line", room="#lobby", text="/frob")
    error = (await ana.until("error"))[-1]
    assert error["text"] == "unknown command /frob: type /help for the list"


async def test_members_of_a_language_share_its_encoder(
    web_connector: WebConnector, hub: Hub
) -> None:
    ana = await web_connector.websocket()
    await ana.send(type="lang", lang="es")  # before the hello: no answer, the page chose
    await ana.hello("ana")
    bob = await web_connector.websocket()
    await bob.hello("bob", lang="es")
    await web_connector.join("carl")
    spanish, other, english = hub.find("ana"), hub.find("bob"), hub.find("carl")
    assert spanish is not None
    assert other is not None
    assert english is not None
    assert spanish.encode is other.encode
    assert english.encode is encode
    assert spanish.encode is not encode
    await bob.send(type="line", room="#lobby", text="/who *")
    assert (await bob.until("notice"))[-1]["text"] == "En línea (3): ana, bob, carl"
