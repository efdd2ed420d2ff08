"""Where the servers sharing a Redis keep what they share: keys and scripts.

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
``node`` (a counter)
    hands each starting server its residue for ids (see core.stamps).
"""

from __future__ import annotations

from dataclasses import dataclass

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
