"""CHATHISTORY of a nick over TCP: private conversations, kept for logged-in accounts only."""

from __future__ import annotations

import re

from ..conftest import IrcPeer, running_app
from .conftest import irc_user, quiet, register_account, sasl_user

CAPS = ("batch", "server-time", "message-tags", "echo-message", "draft/chathistory")
EVER = "timestamp=2020-01-01T00:00:00.000Z timestamp=2262-01-01T00:00:00.000Z"


def history_of(lines: list[str]) -> list[str]:
    """``sender -> target: text`` for each message in the one chathistory batch of ``lines``."""
    start = next(line for line in lines if " BATCH +" in line)
    ref = start.split("+")[1].split()[0]
    inside = lines[lines.index(start) + 1 : lines.index(f":trio-chat BATCH -{ref}")]
    said = [re.search(r":(\w+)!\S+ (?:PRIVMSG|NOTICE) (\S+) :(.*)$", line) for line in inside]
    return [f"{m[1]} -> {m[2]}: {m[3]}" for m in said if m]


async def hears(peer: IrcPeer, text: str) -> None:
    lines = await quiet(peer)
    assert any(line.endswith(text) for line in lines), lines


async def ask(peer: IrcPeer, request: str) -> list[str]:
    await peer.send(f"CHATHISTORY {request}")
    return await quiet(peer)


async def test_both_accounts_read_their_conversation_by_the_other_nick() -> None:
    async with running_app(irc_port=0) as running:
        await register_account(running, "ana", "sesame1")
        await register_account(running, "bob", "sesame2")
        async with (
            sasl_user(running, "ana", "sesame1", *CAPS) as ana,
            sasl_user(running, "bob", "sesame2", *CAPS) as bob,
        ):
            await ana.send("PRIVMSG bob :hi bob")
            await hears(bob, "PRIVMSG bob :hi bob")
            await bob.send("NOTICE ana :hi ana")
            await hears(ana, "NOTICE ana :hi ana")
            await quiet(ana)
            conversation = ["ana -> bob: hi bob", "bob -> ana: hi ana"]
            assert history_of(await ask(ana, "LATEST bob * 10")) == conversation
            assert history_of(await ask(bob, "LATEST ANA * 10")) == conversation
            batch = (await ask(bob, "LATEST ANA * 10"))[0]
            assert batch.endswith(" chathistory :ANA"), batch
            notice = [line for line in await ask(bob, "LATEST ana * 10") if "hi ana" in line]
            assert " NOTICE ana :hi ana" in notice[0]
            # Ids and times: the same references as in a channel.
            found = re.search(r"msgid=(\d+)", notice[0])
            assert found
            after = history_of(await ask(ana, f"BEFORE bob msgid={found[1]} 10"))
            assert after == ["ana -> bob: hi bob"]
            assert history_of(await ask(ana, "LATEST carol * 10")) == []


async def test_only_the_logged_in_party_keeps_it_and_the_name_later_reads_nothing() -> None:
    async with running_app(irc_port=0) as running:
        await register_account(running, "ana", "sesame1")
        async with sasl_user(running, "ana", "sesame1", *CAPS) as ana:
            async with irc_user(running, "bob", *CAPS) as bob:
                await ana.send("PRIVMSG bob :secret for bob")
                await hears(bob, "PRIVMSG bob :secret for bob")
                await bob.send("PRIVMSG ana :secret for ana")
                await hears(ana, "PRIVMSG ana :secret for ana")
                kept = ["ana -> bob: secret for bob", "bob -> ana: secret for ana"]
                assert history_of(await ask(ana, "LATEST bob * 10")) == kept
                # bob is logged in to no account: nothing is kept for a name.
                assert history_of(await ask(bob, "LATEST ana * 10")) == []
                await bob.send("QUIT")
            # Whoever registers "bob" afterwards reads nothing of it.
            await register_account(running, "bob", "sesame2")
            async with sasl_user(running, "bob", "sesame2", *CAPS) as new_bob:
                assert history_of(await ask(new_bob, "LATEST ana * 10")) == []


async def test_messages_to_oneself_are_kept_once() -> None:
    async with running_app(irc_port=0) as running:
        await register_account(running, "ana", "sesame1")
        async with sasl_user(running, "ana", "sesame1", *CAPS) as ana:
            await ana.send("PRIVMSG ana :note to self")
            await quiet(ana)
            history = history_of(await ask(ana, "LATEST ana * 10"))
            assert history == ["ana -> ana: note to self"]


async def test_targets_lists_nicks_and_channels_by_their_latest_message() -> None:
    async with running_app(irc_port=0) as running:
        await register_account(running, "ana", "sesame1")
        async with (
            sasl_user(running, "ana", "sesame1", *CAPS) as ana,
            irc_user(running, "bob", *CAPS) as bob,
        ):
            await ana.send("JOIN #dev")
            await quiet(ana)
            await ana.send("PRIVMSG bob :first")
            await hears(bob, "PRIVMSG bob :first")
            await ana.send("PRIVMSG #dev :second")
            await quiet(ana)
            targets = await ask(ana, f"TARGETS {EVER} 10")
            assert targets[0].endswith(" :draft/chathistory-targets")
            names = [line.split()[4] for line in targets if " CHATHISTORY TARGETS " in line]
            assert names == ["bob", "#dev"]
            # bob keeps nothing, so has no conversation to list.
            await bob.send("JOIN #dev")
            await quiet(bob)
            bob_targets = await ask(bob, f"TARGETS {EVER} 10")
            assert [line.split()[4] for line in bob_targets if " TARGETS " in line] == ["#dev"]
