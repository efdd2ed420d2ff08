"""Where the servers sharing a Redis keep what they share: keys, scripts, operations.

Every key starts with :data:`PREFIX`, so that one Redis database can serve a
chat and other things.

``events`` (a stream, capped at about :data:`STREAM_CAP` entries)
    everything servers relay (see :mod:`.wire`), in one order for all.
``server:ID`` (a string that expires after the heartbeat's TTL)
    a live server; its heartbeat renews it. No key, no server.
``servers`` (a set)
    the ids of servers that were seen; the dead are taken out by whoever notices.
``members:ID`` (a hash: name key -> name and rooms)
    server ID's members: what a server (re)connecting reads.
``name:KEY`` (a string: a server id)
    the name registry. Taken with :data:`CLAIM` (atomic: only if free, held by
    this server already, or held by a server whose key has expired), given back
    with :data:`RELEASE` (only by its holder). ``names:ID`` (a set) lists the
    name keys server ID holds, so that it can give back those it no longer needs.
``rooms`` (a hash: room key -> topic and settings)
    what a server starting later applies to the rooms it finds open (see
    :class:`~.wire.RoomState`); written by the server whose member opened the
    room or changed its topic or settings, last.
``shared`` (a hash) and ``shared:version`` (a counter)
    bans, mutes and registered accounts (see :mod:`.shared`).
``node`` (a counter)
    hands each starting server its residue for ids (see core.stamps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import coredis
from coredis.response.types import StreamEntry
from coredis.tokens import PureToken

from trio_chat.backplane.wire import (
    Envelope,
    Relayed,
    RoomState,
    WireError,
    decode,
    decode_member,
    decode_room,
    encode,
)

PREFIX = "trio_chat:"
# The events stream keeps about this many entries (what a server that was cut off
# for a moment reads on reconnecting).
STREAM_CAP = 100_000

# KEYS: name:KEY, names:ID. ARGV: this server's id, "1" to take over, the server key prefix.
CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] and ARGV[2] == '0'
    and redis.call('EXISTS', ARGV[3] .. holder) == 1 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], KEYS[1])
return 1
"""

# KEYS: name:KEY, names:ID. ARGV: this server's id.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
redis.call('SREM', KEYS[2], KEYS[1])
return 1
"""


class BackplaneError(Exception):
    """Redis cannot be used at start; ``str(exc)`` says why, for the user."""


@dataclass(frozen=True, slots=True)
class Keys:
    """The keys of one server (``server``: its id)."""

    server: str
    prefix: str = PREFIX

    @property
    def events(self) -> str:
        return self.prefix + "events"

    @property
    def servers(self) -> str:
        return self.prefix + "servers"

    @property
    def rooms(self) -> str:
        return self.prefix + "rooms"

    @property
    def shared(self) -> str:
        return self.prefix + "shared"

    @property
    def node(self) -> str:
        return self.prefix + "node"

    @property
    def server_prefix(self) -> str:
        return self.prefix + "server:"

    def alive(self, server: str | None = None) -> str:
        return f"{self.prefix}server:{server or self.server}"

    def members(self, server: str | None = None) -> str:
        return f"{self.prefix}members:{server or self.server}"

    def names(self, server: str | None = None) -> str:
        return f"{self.prefix}names:{server or self.server}"

    def name(self, key: str) -> str:
        return f"{self.prefix}name:{key}"


class Registry:
    """The operations on those keys, for one server (its client and keys)."""

    def __init__(self, client: coredis.Redis[str], keys: Keys) -> None:
        self.client = client
        self.keys = keys

    @property
    def me(self) -> str:
        return self.keys.server

    async def latest(self) -> str:
        """The id of the stream's last entry ("0-0" if empty): where to read on from."""
        latest = await self.client.xrevrange(self.keys.events, count=1)
        return str(latest[0].identifier) if latest else "0-0"

    async def present(self, presence: str, ttl: float, members: dict[str, str]) -> None:
        """This server is alive, with these members (name key -> snapshot): in one step."""
        keys = self.keys
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(keys.alive(), presence, px=int(ttl * 1000))
            pipe.sadd(keys.servers, [self.me])
            pipe.delete([keys.members()])
            if members:
                pipe.hset(keys.members(), members)

    async def beat(self, presence: str, ttl: float) -> None:
        await self.client.set(self.keys.alive(), presence, px=int(ttl * 1000))

    async def claim(self, key: str, *, take: bool = False) -> bool:
        """Hold the name of ``key``: False if a live server holds it (and not ``take``)."""
        keys = self.keys
        held = await self.client.eval(
            CLAIM,
            [keys.name(key), keys.names()],
            [self.me, "1" if take else "0", keys.server_prefix],
        )
        return bool(held)

    async def keep_only(self, wanted: set[str]) -> list[str]:
        """Hold exactly the names of ``wanted`` (keys); those another server holds now."""
        keys = self.keys
        for stale in await self.client.smembers(keys.names()) - {keys.name(k) for k in wanted}:
            await self.client.eval(RELEASE, [stale, keys.names()], [self.me])
        return [key for key in sorted(wanted) if not await self.claim(key)]

    async def others(self) -> list[str]:
        """The other servers that are alive now."""
        keys = self.keys
        found = await self.client.smembers(keys.servers) - {self.me}
        return [s for s in sorted(found) if await self.client.exists([keys.alive(s)])]

    async def known(self) -> set[str]:
        return await self.client.smembers(self.keys.servers) - {self.me}

    async def alive(self, server: str) -> bool:
        return bool(await self.client.exists([self.keys.alive(server)]))

    async def forget(self, server: str) -> None:
        """A lost server: its snapshot and list of names go (its names are free already)."""
        keys = self.keys
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.srem(keys.servers, [server])
            pipe.delete([keys.members(server), keys.names(server)])

    async def add_rooms(self, states: dict[str, str]) -> None:
        """These rooms' states (room key -> state), for those Redis has none of."""
        if not states:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for key, state in states.items():
                pipe.hsetnx(self.keys.rooms, key, state)

    async def room_states(self) -> list[RoomState]:
        """Every room's topic and settings as last written."""
        states = []
        for value in (await self.client.hgetall(self.keys.rooms)).values():
            try:
                states.append(decode_room(value))
            except WireError:
                continue
        return states

    async def snapshot(self, server: str) -> dict[str, list[str]]:
        """``server``'s members: name -> rooms."""
        raw = await self.client.hgetall(self.keys.members(server))
        snapshot: dict[str, list[str]] = {}
        for value in raw.values():
            try:
                name, rooms = decode_member(value)
            except WireError:
                continue
            snapshot[name] = rooms
        return snapshot

    async def send(
        self,
        members: dict[str, str | None],
        events: Sequence[Relayed],
        rooms: dict[str, str | None] | None = None,
    ) -> None:
        """Refresh these members (name key -> snapshot, None: gone) and ``rooms`` (room
        key -> state, None: closed), then append ``events``.

        One pipeline. Names first: a name is free before its holder's quit is heard.
        """
        keys = self.keys
        async with self.client.pipeline(transaction=False) as pipe:
            for key, snapshot in members.items():
                names = [keys.name(key), keys.names()]
                if snapshot is not None:
                    pipe.hset(keys.members(), {key: snapshot})
                    pipe.eval(CLAIM, names, [self.me, "0", keys.server_prefix])
                else:
                    pipe.hdel(keys.members(), [key])
                    pipe.eval(RELEASE, names, [self.me])
            for key, state in (rooms or {}).items():
                if state is not None:
                    pipe.hset(keys.rooms, {key: state})
                else:
                    pipe.hdel(keys.rooms, [key])
            for event in events:
                pipe.xadd(
                    keys.events,
                    encode(self.me, event),
                    trim_strategy=PureToken.MAXLEN,
                    threshold=STREAM_CAP,
                    trim_operator=PureToken.APPROXIMATELY,
                )

    async def read(self, after: str, count: int, block: float) -> list[tuple[str, Envelope | None]]:
        """Stream entries after id ``after`` (waiting up to ``block`` seconds): (id, envelope).

        An entry that is not ours has None (skipped, but read past).
        """
        found = await self.client.xread(
            {self.keys.events: after}, count=count, block=int(block * 1000)
        )
        return [_entry(entry) for entry in (found or {}).get(self.keys.events, ())]

    async def entries(self, after: str, upto: str, count: int) -> list[tuple[str, Envelope | None]]:
        """Up to ``count`` stream entries after id ``after``, up to ``upto`` (included)."""
        found = await self.client.xrange(self.keys.events, f"({after}", upto, count=count)
        return [_entry(entry) for entry in found]

    async def trimmed(self, after: str) -> str | None:
        """If entry ``after`` was trimmed off the stream (and maybe some after it): the
        stream's first id now (None: the stream still holds it, or is empty)."""
        first = await self.client.xrange(self.keys.events, count=1)
        if not first or stream_id(str(first[0].identifier)) <= stream_id(after):
            return None
        return str(first[0].identifier)

    async def goodbye(self) -> None:
        """This server stops: its key, snapshot and names go (the others hear it at once)."""
        keys = self.keys
        for name in await self.client.smembers(keys.names()):
            await self.client.eval(RELEASE, [name, keys.names()], [self.me])
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete([keys.alive(), keys.members(), keys.names()])
            pipe.srem(keys.servers, [self.me])


def stream_id(entry_id: str) -> tuple[int, int]:
    """A stream entry id (``MS-SEQ``) as numbers, to compare."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _entry(entry: StreamEntry) -> tuple[str, Envelope | None]:
    """(id, envelope) of a stream entry; None for one that is not ours (skipped, read past)."""
    try:
        envelope: Envelope | None = decode(entry.field_values)
    except WireError:
        envelope = None
    return str(entry.identifier), envelope
