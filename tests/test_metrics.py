"""/metrics as Prometheus reads it: the real app's counters, parsed by prometheus_client."""

from __future__ import annotations

import re
from pathlib import Path

import prometheus_client
import trio
from prometheus_client.parser import text_string_to_metric_families

from trio_chat import __version__
from trio_chat.app import App

from .conftest import STEP_TIMEOUT, Running, running_app

OPER_SECRET = "oper-Secret-42"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(app: App) -> tuple[dict[str, str], Samples]:
    """What a scrape of ``app`` shows: each family's type, and every sample's value."""
    body, content_type = app.metrics.render()
    assert content_type.startswith("text/plain; version=")
    types: dict[str, str] = {}
    samples: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        types[family.name] = family.type
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return types, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[name, frozenset(labels.items())]


async def test_the_metrics_follow_two_users_chatting_a_refusal_and_a_kick(
    tmp_path: Path,
) -> None:
    oper_file = tmp_path / "oper.txt"
    oper_file.write_text(OPER_SECRET + "\n")
    with trio.fail_after(STEP_TIMEOUT):
        async with running_app(oper_password_file=str(oper_file)) as chat:
            types, idle = scrape(chat.app)
            assert value(idle, "trio_chat_connections", frontend="text") == 0
            ana = await chat.join("ana")
            bob = await chat.join("bob")
            await ana.until("*** bob joined")
            _, before = scrape(chat.app)
            assert value(before, "trio_chat_connections", frontend="text") == 2
            assert value(before, "trio_chat_members") == 2

            await ana.send("hello bob", "/me waves", "/join dev")
            assert await bob.line() == "ana: hello bob"
            assert await bob.line() == "* ana waves"
            await ana.until("*** Now in #dev")
            await bob.send("/msg nobody hi?")  # a refusal: nobody of that name
            assert (await bob.until("! "))[0] == "*** ana left (went to #dev)"
            _, said = scrape(chat.app)
            assert value(said, "trio_chat_messages_total", kind="message") == 1
            assert value(said, "trio_chat_messages_total", kind="action") == 1
            assert value(said, "trio_chat_refusals_total", reason="no_such_member") == 1
            assert value(said, "trio_chat_rooms") == value(before, "trio_chat_rooms") + 1
            # The message and the action to bob, bob's refusal, and ana's replies
            # to /join (at least): each recipient once.
            deliveries = value(said, "trio_chat_deliveries_total")
            assert deliveries >= value(before, "trio_chat_deliveries_total") + 3

            await ana.send(f"/oper {OPER_SECRET}", "/kick bob enough")
            await bob.expect_eof()
            await ana.until("*** bob was kicked by ana: enough")
            _, after = scrape(chat.app)
            assert value(after, "trio_chat_evictions_total", reason="kicked") == 1
            assert value(after, "trio_chat_evictions_total", reason="too_slow") == 0
            assert value(after, "trio_chat_departures_total", reason="kicked") == 1
            assert value(after, "trio_chat_connections", frontend="text") == 1
            assert value(after, "trio_chat_connections_accepted_total", frontend="text") == 2
            assert value(after, "trio_chat_members") == 1

            # Every message is written to the history in a batch, each batch timed.
            await chat.app.service.read_history("#lobby", 1)  # waits for the commit
            _, written = scrape(chat.app)
            batches = value(written, "trio_chat_history_write_seconds_count")
            assert batches >= 1
            assert value(written, "trio_chat_history_write_seconds_bucket", le="+Inf") == batches
            assert value(written, "trio_chat_history_write_seconds_sum") > 0

    assert types["trio_chat_connections"] == "gauge"
    assert types["trio_chat_rooms"] == "gauge"
    assert types["trio_chat_members"] == "gauge"
    for counter in ("messages", "deliveries", "evictions", "refusals"):
        assert types[f"trio_chat_{counter}"] == "counter"
    assert types["trio_chat_history_write_seconds"] == "histogram"
    assert value(idle, "trio_chat_build_info", version=__version__) == 1
    assert "process_resident_memory_bytes" in types


async def test_the_readme_documents_every_metric_the_server_exports(running: Running) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("\n## Metrics\n")[1].split("\n## ")[0]
    documented = set(re.findall(r"^\| `(trio_chat_\w+)`", section, re.MULTILINE))
    types, _ = scrape(running.app)
    exported = {name for name in types if name.startswith("trio_chat_")}
    # The parser names a counter family without its _total.
    assert {re.sub(r"_total$", "", name) for name in documented} == exported


async def test_a_connection_refused_at_the_door_is_counted() -> None:
    with trio.fail_after(STEP_TIMEOUT):
        async with running_app(max_clients=1) as chat:
            await chat.join("ana")
            turned_away = chat.open()
            assert await turned_away.expect_eof() == ["! server full"]
            _, samples = scrape(chat.app)
            assert value(samples, "trio_chat_refusals_total", reason="server_full") == 1
            assert value(samples, "trio_chat_connections", frontend="text") == 1


async def test_two_servers_in_one_process_count_apart_and_touch_no_global_registry() -> None:
    with trio.fail_after(STEP_TIMEOUT):
        async with running_app() as busy, running_app() as quiet:
            ana = await busy.join("ana")
            await ana.send("hello")
            await ana.send("/who")  # answered after "hello" was handled
            await ana.until("*** ")
            _, busy_samples = scrape(busy.app)
            _, quiet_samples = scrape(quiet.app)
    assert value(busy_samples, "trio_chat_messages_total", kind="message") == 1
    assert value(quiet_samples, "trio_chat_messages_total", kind="message") == 0
    assert value(quiet_samples, "trio_chat_connections", frontend="text") == 0
    assert b"trio_chat" not in prometheus_client.generate_latest(prometheus_client.REGISTRY)
