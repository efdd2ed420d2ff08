"""The page and its WebSocket answer only to this server's names (DNS rebinding)."""

from __future__ import annotations

import logging
import socket

import pytest
import trio

from trio_chat.core.hub import Hub
from trio_chat.core.limits import LOG_BURST

from .conftest import HOST, Rejected, WebConnector, web_server

EVIL = "rebound.example:8080"


async def test_a_name_that_is_not_the_servers_gets_421_saying_how_to_allow_it(hub: Hub) -> None:
    async with trio.open_nursery() as nursery:
        door = WebConnector(web_server(hub), nursery)
        client = door.http()
        for path in ("/", "/app.js", "/i18n/es.json"):
            answer = await client.request(path, headers={"Host": EVIL})
            assert answer.status == 421
            assert "does not answer to the name rebound.example" in answer.text
            assert "--web-host rebound.example" in answer.text
            assert answer.headers["connection"] == "close"
            client = door.http()
        # The WebSocket too, even with an Origin that agrees with the Host.
        with pytest.raises(Rejected) as refused:
            await door.websocket(host=EVIL, origin=f"http://{EVIL}")
        assert refused.value.status == 421
        assert len(hub) == 0
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    "host",
    [
        HOST,
        "192.168.1.23:8080",
        "[fe80::1]:8080",
        "localhost:8080",
        "app.localhost",
        "CHAT.LAN.:8080",
        f"{socket.gethostname()}:8080",
        f"{socket.gethostname().partition('.')[0]}.local:8080",
    ],
)
async def test_addresses_localhost_this_machines_and_given_names_are_served(
    hub: Hub, host: str
) -> None:
    async with trio.open_nursery() as nursery:
        door = WebConnector(web_server(hub), nursery)
        answer = await door.http().request("/", headers={"Host": host})
        assert answer.status == 200
        peer = await door.websocket(host=host, origin=f"http://{host.lower()}")
        await peer.hello("ana")
        assert len(hub) == 1
        nursery.cancel_scope.cancel()


async def test_a_web_origins_host_is_one_of_the_names(hub: Hub) -> None:
    server = web_server(hub, hosts=(), origins=["https://chat.example.org"])
    async with trio.open_nursery() as nursery:
        door = WebConnector(server, nursery)
        answer = await door.http().request("/", headers={"Host": "chat.example.org"})
        assert answer.status == 200
        answer = await door.http().request("/", headers={"Host": HOST})
        assert answer.status == 421
        nursery.cancel_scope.cancel()


async def test_monitoring_paths_answer_whatever_the_name(hub: Hub) -> None:
    async with trio.open_nursery() as nursery:
        door = WebConnector(web_server(hub), nursery)
        answer = await door.http().request("/healthz", headers={"Host": EVIL})
        assert answer.status == 200
        nursery.cancel_scope.cancel()


async def test_refused_names_are_logged_a_few_times_a_minute(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    async with trio.open_nursery() as nursery:
        door = WebConnector(web_server(hub), nursery)
        with caplog.at_level(logging.INFO, logger="trio_chat.web"):
            for _ in range(LOG_BURST + 5):
                answer = await door.http().request("/", headers={"Host": EVIL})
                assert answer.status == 421
        lines = [r.getMessage() for r in caplog.records if "refused a request" in r.getMessage()]
        assert len(lines) == LOG_BURST
        assert "rebound.example" in lines[0]
        assert "--web-host rebound.example" in lines[0]
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    "host", ["evil.example@127.0.0.1", "[::1]evil.example", "127.0.0.1.evil.example", "a/b", ""]
)
async def test_hosts_that_only_look_like_addresses_are_refused(hub: Hub, host: str) -> None:
    async with trio.open_nursery() as nursery:
        door = WebConnector(web_server(hub), nursery)
        answer = await door.http().request("/", headers={"Host": host})
        assert answer.status == 421
        nursery.cancel_scope.cancel()
