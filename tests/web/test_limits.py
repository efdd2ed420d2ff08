"""The shared limits at the web door: admission, flood control, the name timeout."""

from __future__ import annotations

import trio
import trio.testing
from wsproto.events import BytesMessage

from trio_chat.core.hub import Hub
from trio_chat.core.limits import Limits
from trio_chat.core.names import name_key

from .conftest import WebConnector, web_server

# No address is exempt: the limits apply to the test's addresses.
STRICT = Limits(flood_rate=1, flood_burst=3, flood_patience=5, max_per_address=2, exempt=())


async def test_a_full_server_refuses_the_page_with_a_reason_it_can_show() -> None:
    async with trio.open_nursery() as nursery:
        door = WebConnector(web_server(Hub(name_key), max_clients=1), nursery)
        await door.join("ana")
        late = await door.websocket()
        frames = await late.closing()
        assert frames == [{"type": "refused", "reason": "server-full", "text": "server full"}]
        assert late.close_code == 1008
        page = await door.http().request("/")
        assert (page.status, page.text) == (503, "server full\n")
        nursery.cancel_scope.cancel()


async def test_too_many_connections_from_one_address_are_429() -> None:
    async with trio.open_nursery() as nursery:
        door = WebConnector(web_server(Hub(name_key), limits=STRICT), nursery)
        first, second = door.http("10.0.0.7"), door.http("10.0.0.7")
        assert (await first.request("/healthz")).status == 200
        assert (await second.request("/healthz")).status == 200
        third = await door.http("10.0.0.7").request("/healthz")
        assert third.status == 429
        assert "too many connections from your address" in third.text
        assert (await door.http("10.0.0.8").request("/healthz")).status == 200
        nursery.cancel_scope.cancel()


async def test_a_flooding_page_is_slowed_then_disconnected(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = Hub(name_key)
    async with trio.open_nursery() as nursery:
        door = WebConnector(web_server(hub, limits=STRICT), nursery)
        watcher = await door.join("watcher")
        flooder = await door.websocket(address="10.0.0.9")
        await flooder.hello("flooder")
        for n in range(40):
            await flooder.send(type="line", room="#lobby", text=f"spam {n}")
        frames = await flooder.closing()
        slow_down = "slow down: over 1 lines a second; lines are delayed"
        assert {"type": "notice", "text": slow_down} in frames
        assert frames[-2:] == [
            {"type": "error", "text": "flooding: too many lines for too long, disconnected"},
            {"type": "bye", "reason": "flooding", "text": "flooding"},
        ]
        assert flooder.close_code == 1008
        said = [f for f in await watcher.until("quit", name="flooder") if f["type"] == "message"]
        assert 0 < len(said) < 40  # what was paced got through; the rest never did
        assert [f["text"] for f in said] == [f"spam {n}" for n in range(len(said))]
        nursery.cancel_scope.cancel()


async def test_no_hello_within_the_name_timeout_closes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        door = WebConnector(web_server(Hub(name_key), name_timeout=5), nursery)
        quiet = await door.websocket()
        start = trio.current_time()
        frames = await quiet.closing()
        assert trio.current_time() - start >= 5
        assert frames == [{"type": "error", "text": "no name chosen within 5 s, closing"}]
        assert quiet.close_code == 1008
        nursery.cancel_scope.cancel()


async def test_page_loads_do_not_use_up_the_connect_rate_but_websockets_do() -> None:
    limits = Limits(connect_rate=3, exempt=())
    async with trio.open_nursery() as nursery:
        door = WebConnector(web_server(Hub(name_key), limits=limits), nursery)
        for _ in range(3):  # three page loads of five files, each file its own connection
            for path in ("/", "/app.js", "/style.css", "/favicon.svg", "/healthz"):
                client = door.http("10.0.0.7")
                assert (await client.request(path)).status == 200, path
                await client.stream.aclose()
        tabs = [await door.websocket(address="10.0.0.7") for _ in range(3)]
        for n, tab in enumerate(tabs):
            assert (await tab.hello(f"tab{n}"))[0]["type"] == "welcome"
        late = await door.websocket(address="10.0.0.7")
        assert await late.closing() == [
            {
                "type": "refused",
                "reason": "too-many-new-connections",
                "text": "too many new connections from your address (at most 3 a minute); "
                "try again later",
            }
        ]
        assert late.close_code == 1008
        # The page itself is still served to that address.
        assert (await door.http("10.0.0.7").request("/")).status == 200
        nursery.cancel_scope.cancel()


async def test_binary_frames_before_hello_are_paced_too(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        door = WebConnector(web_server(Hub(name_key), limits=STRICT), nursery)
        flooder = await door.websocket(address="10.0.0.9")
        for _ in range(40):
            await flooder.stream.send_all(flooder.ws.send(BytesMessage(data=b"\x00")))
        frames = await flooder.closing()
        assert (frames[-1]["type"], frames[-1]["reason"]) == ("bye", "flooding")
        assert flooder.close_code == 1008
        nursery.cancel_scope.cancel()
