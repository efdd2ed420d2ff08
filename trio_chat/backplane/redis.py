"""The Redis backplane: servers sharing one Redis share rooms, names and members.

Theory of operation
-------------------
:class:`RedisBackplane` is the hub's :class:`~trio_chat.core.backplane.Backplane`.
The hub tells it (without awaiting) what this server's members did, after
delivering it to its own members; it queues that (bounded: when full, or
while Redis is unreachable, an event is dropped and counted in
:attr:`RedisBackplane.dropped`) and its tasks, under :meth:`run`, do the rest:

* the **publisher** appends what is queued to the ``events`` stream in one
  pipeline per batch, in order, and keeps this server's snapshot
  (``members:ID``) and names (``name:KEY``) up to date for the members that
  changed;
* the **reader** reads the stream from where it left off (``XREAD BLOCK``)
  and applies other servers' events to the hub through the :class:`~.mirror.Mirror`;
* the **heartbeat** renews this server's key (``server:ID``, TTL three
  beats) and looks for servers whose key expired: their members leave
  ("server lost") and their names are free again (see :mod:`.registry`).

When Redis is unreachable, the three end together, every member here hears
once that the other servers are unreachable (and it is logged), this server
goes on serving its own members, and a new connection is tried with backoff.
Once connected, it *resynchronises*: writes its presence and snapshot in
one transaction, claims its members' names again, reads the other live
servers' snapshots (only the differences are announced), reads the stream on
from where it stopped, and says ``hello`` so that the others read its
snapshot. A server seen without a key just after a reconnect gets a grace
period (it may be reconnecting too) before it is declared lost.
"""

from __future__ import annotations

import collections
import json
import logging
import uuid
from collections.abc import Callable

import coredis
import coredis.exceptions
import trio
from coredis.retry import NoRetryPolicy
from coredis.tokens import PureToken

from trio_chat.backplane.mirror import Mirror, home_of
from trio_chat.backplane.registry import CLAIM, RELEASE, STREAM_CAP, BackplaneError, Keys
from trio_chat.backplane.wire import (
    Dismiss,
    Envelope,
    Hello,
    Online,
    Relayed,
    WireError,
    decode,
    decode_member,
    encode,
    encode_member,
)
from trio_chat.core.events import (
    Action,
    Joined,
    Message,
    Notice,
    Parted,
    Private,
    Quit,
    Renamed,
    ServerEvent,
    TopicChanged,
)
from trio_chat.core.hub import Hub
from trio_chat.core.members import Member, Recorder
from trio_chat.core.moderation import DISMISS_TIMEOUT
from trio_chat.core.stamps import NODES

LOGGER = logging.getLogger(__name__)

# Seconds between heartbeats; a server is lost three beats after its last one.
HEARTBEAT = 2.0
# Events waiting to be sent to Redis; past this they are dropped (and counted).
QUEUE_SIZE = 10_000
# A command that takes longer than this means Redis is unreachable.
COMMAND_TIMEOUT = 10.0
# At shutdown, how long the publisher has to send what is queued and say goodbye.
CLOSE_TIMEOUT = 2.0
# Entries read from the stream at once, and the longest wait for them (seconds).
READ_COUNT = 1000
READ_BLOCK = 0.5
# Reconnecting: the first wait, doubled up to the longest.
FIRST_BACKOFF = 0.05
LONGEST_BACKOFF = 5.0

UNREACHABLE = (
    "the other servers are unreachable: you are chatting with this server's users only, for now"
)
REACHABLE = "the other servers are reachable again"

CONNECTION_ERRORS = (
    coredis.exceptions.ConnectionError,
    TimeoutError,
    OSError,
)


# What the hub tells of that other servers hear.
RELAYED = (Message, Action, Private, Joined, Parted, Quit, Renamed, TopicChanged)


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or every exception in a group) says Redis is unreachable."""
    if isinstance(exc, BaseExceptionGroup):
        return all(is_connection_error(e) for e in exc.exceptions)
    return isinstance(exc, CONNECTION_ERRORS)


class RedisBackplane:
    """This server's link to the others through one Redis.

    Args:
        url: ``redis://HOST:PORT/DB``.
        heartbeat: seconds between heartbeats (tests use short ones).
        queue_size: events waiting for Redis at most.
    """

    def __init__(
        self, url: str, *, heartbeat: float = HEARTBEAT, queue_size: int = QUEUE_SIZE
    ) -> None:
        self.url = url
        self.heartbeat = heartbeat
        self.ttl = 3 * heartbeat
        self.longest_backoff = min(LONGEST_BACKOFF, 5 * heartbeat)
        # After a reconnect, a server without a key is not lost before this.
        self.grace = self.ttl + self.longest_backoff
        self.server_id = uuid.uuid4().hex[:12]
        self.keys = Keys(self.server_id)
        self.node: int | None = None
        # Events for other servers that were dropped (queue full, Redis unreachable).
        self.dropped = 0
        self.connected = False
        self._client: coredis.Redis[str] = coredis.Redis.from_url(
            url,
            decode_responses=True,
            retry_policy=NoRetryPolicy(),
            stream_timeout=COMMAND_TIMEOUT,
            connect_timeout=COMMAND_TIMEOUT,
        )
        self._queue: collections.deque[Relayed] = collections.deque()
        self.queue_size = queue_size
        self._dirty: dict[str, str] = {}  # name key -> name, of members whose snapshot changed
        self._wake = trio.Event()
        self._synced = trio.Event()
        self._last: str | None = None  # the id of the last stream entry read
        self._since = 0.0  # when the current connection was made
        self._told_unreachable = False
        self._closing = False
        self._closed = trio.Event()
        self._scope = trio.CancelScope()
        self._hub: Hub | None = None
        self._mirror: Mirror | None = None
        self._key: Callable[[str], str] = str.casefold

    # --- assembly ------------------------------------------------------------------

    async def open(self) -> None:
        """Reach Redis once, for this server's node (before the hub is built).

        Raises:
            BackplaneError: Redis cannot be reached; the message says where.
        """
        # coredis logs each connection it drops at INFO, with an empty traceback.
        logging.getLogger("coredis").setLevel(logging.WARNING)
        try:
            async with self._client:
                self.node = (await self._client.incr(self.keys.node)) % NODES
        except Exception as exc:
            if not is_connection_error(exc) and not isinstance(exc, coredis.exceptions.RedisError):
                raise
            raise BackplaneError(f"cannot use Redis at {self.url}: {exc}") from None
        LOGGER.info("sharing rooms through Redis at %s (server %s)", self.url, self.server_id)

    def attach(self, hub: Hub, recorder: Recorder | None, name_key: Callable[[str], str]) -> None:
        """The hub this backplane serves, and the history other servers' messages go to."""
        self._hub = hub
        self._key = name_key
        self._mirror = Mirror(hub, recorder, name_key)

    @property
    def hub(self) -> Hub:
        assert self._hub is not None, "attach() first"
        return self._hub

    @property
    def mirror(self) -> Mirror:
        assert self._mirror is not None, "attach() first"
        return self._mirror

    # --- the hub's side: never blocks ------------------------------------------------

    def publish(self, member: Member, event: ServerEvent) -> None:
        if self.mirror.applying:
            return
        home = home_of(member)
        if home is not None:
            if isinstance(event, Quit):  # removed here (kicked, logged in here): tell its server
                self._send(Dismiss(home, member.name, event.reason, event.detail, event.by))
            return
        if isinstance(event, Private):
            target = self.hub.find(event.target)
            if target is None or home_of(target) is None:
                return
        elif isinstance(event, Renamed):
            self._touch(event.old)
            self._touch(event.new)
        else:
            self._touch(member.name)
        if isinstance(event, RELAYED):
            self._send(event)

    def arrived(self, member: Member) -> None:
        if not self.mirror.applying and home_of(member) is None:
            self._touch(member.name)
            self._send(Online(member.name))

    async def claim(self, name: str, *, take: bool = False) -> bool:
        if not self.connected:
            await trio.lowlevel.checkpoint()
            return True  # claimed again on reconnecting
        with trio.move_on_after(COMMAND_TIMEOUT):
            try:
                held = await self._claim(name, take=take)
            except Exception as exc:
                if not is_connection_error(exc):
                    raise
                return True  # the connection's tasks notice it too
            return bool(held)
        return True

    def unclaim(self, name: str) -> None:
        self._touch(name)
        self._wake.set()

    def _touch(self, name: str) -> None:
        self._dirty[self._key(name)] = name

    def _send(self, event: Relayed) -> None:
        if not self.connected or len(self._queue) >= self.queue_size:
            self._drop(1)
            return
        self._queue.append(event)
        self._wake.set()

    def _drop(self, count: int) -> None:
        before = self.dropped
        self.dropped += count
        if before == 0 or before // 1000 != self.dropped // 1000:
            LOGGER.warning("%d event(s) for other servers dropped so far", self.dropped)

    # --- running -------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Stay connected (reconnecting with backoff) until :meth:`close` is done.

        Reports started once the first synchronisation is done (or failed).
        """
        with self._scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._stay_connected)
                with trio.move_on_after(COMMAND_TIMEOUT):
                    await self._synced.wait()
                task_status.started()

    def close(self) -> None:
        """Send what is queued and say goodbye (within CLOSE_TIMEOUT), then stop.

        The tasks end between commands (a command cancelled half-way leaves
        the client's connection to be collected); the deadline is a backstop.
        """
        self._closing = True
        self._closed.set()
        self._wake.set()
        self.mirror.recorder = None  # the history closes now
        if self.connected:
            self._scope.deadline = min(self._scope.deadline, trio.current_time() + CLOSE_TIMEOUT)
        else:
            self._scope.cancel()

    async def _stay_connected(self) -> None:
        backoff = FIRST_BACKOFF
        while not self._closing:
            try:
                await self._session()
            except Exception as exc:
                if not is_connection_error(exc):
                    raise
                if self.connected or not self._told_unreachable:
                    backoff = FIRST_BACKOFF
                self._down(exc)
            await trio.sleep(backoff)
            backoff = min(backoff * 2, self.longest_backoff)

    async def _session(self) -> None:
        async with self._client:
            await self._resync()
            self._up()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._reader)
                nursery.start_soon(self._heartbeat)
                await self._publisher()  # until closed: then the others end too

    def _up(self) -> None:
        self.connected = True
        self._since = trio.current_time()
        self._synced.set()
        if self._told_unreachable:
            self._told_unreachable = False
            LOGGER.warning("Redis at %s is reachable again: rooms are shared again", self.url)
            self._tell_everyone(REACHABLE)

    def _down(self, exc: BaseException) -> None:
        self.connected = False
        self._synced.set()
        if self._queue:
            self._drop(len(self._queue))
            self._queue.clear()
        if not self._told_unreachable:
            self._told_unreachable = True
            LOGGER.warning(
                "Redis at %s is unreachable (%s): serving this server's users only; retrying",
                self.url,
                _first_error(exc),
            )
            self._tell_everyone(UNREACHABLE)

    def _tell_everyone(self, text: str) -> None:
        self.hub.send_each(self._locals(), Notice(text))

    def _locals(self) -> list[Member]:
        found = (self.hub.find(name) for name in self.hub.names())
        return [m for m in found if m is not None and home_of(m) is None]

    # --- synchronising --------------------------------------------------------------

    async def _resync(self) -> None:
        client, keys = self._client, self.keys
        if self._last is None:
            latest = await client.xrevrange(keys.events, count=1)
            self._last = str(latest[0].identifier) if latest else "0-0"
        members = self._locals()
        self._dirty.clear()
        ours = await client.smembers(keys.names())
        async with client.pipeline(transaction=True) as pipe:
            pipe.set(keys.alive(), self._presence(), px=int(self.ttl * 1000))
            pipe.sadd(keys.servers, [self.server_id])
            pipe.delete([keys.members()])
            if members:
                pipe.hset(keys.members(), {self._key(m.name): _snapshot(m) for m in members})
        mine = {keys.name(self._key(m.name)) for m in members}
        for stale in ours - mine:
            await client.eval(RELEASE, [stale, keys.names()], [self.server_id])
        for member in members:
            if not await self._claim(member.name):
                LOGGER.warning("%s is online on another server too (since Redis was down)", member)
        for server in await client.smembers(keys.servers):
            if server != self.server_id and await client.exists([keys.alive(server)]):
                await self._read_snapshot(server)
        await client.xadd(keys.events, encode(self.server_id, Hello()))

    async def _claim(self, name: str, *, take: bool = False) -> bool:
        keys = self.keys
        held = await self._client.eval(
            CLAIM,
            [keys.name(self._key(name)), keys.names()],
            [self.server_id, "1" if take else "0", keys.server_prefix],
        )
        return bool(held)

    async def _read_snapshot(self, server: str) -> None:
        raw = await self._client.hgetall(self.keys.members(server))
        snapshot: dict[str, list[str]] = {}
        for value in raw.values():
            try:
                name, rooms = decode_member(value)
            except WireError:
                continue
            snapshot[name] = rooms
        self.mirror.sync(server, snapshot)

    def _presence(self) -> str:
        return json.dumps({"node": self.node})

    # --- the connection's tasks -----------------------------------------------------

    async def _publisher(self) -> None:
        while True:
            if not self._queue and not self._dirty:
                if self._closing:
                    await self._goodbye()
                    return
                await self._wake.wait()
                self._wake = trio.Event()
                continue
            await self._flush()

    async def _flush(self) -> None:
        batch = list(self._queue)
        self._queue.clear()
        dirty, self._dirty = self._dirty, {}
        keys = self.keys
        # Names and snapshot first: a name is free before its holder's quit is heard.
        async with self._client.pipeline(transaction=False) as pipe:
            for key, name in dirty.items():
                member = self.hub.find(name)
                if member is not None and home_of(member) is None:
                    pipe.hset(keys.members(), {key: _snapshot(member)})
                    names = [keys.name(key), keys.names()]
                    pipe.eval(CLAIM, names, [self.server_id, "0", keys.server_prefix])
                else:
                    pipe.hdel(keys.members(), [key])
                    pipe.eval(RELEASE, [keys.name(key), keys.names()], [self.server_id])
            for event in batch:
                pipe.xadd(
                    keys.events,
                    encode(self.server_id, event),
                    trim_strategy=PureToken.MAXLEN,
                    threshold=STREAM_CAP,
                    trim_operator=PureToken.APPROXIMATELY,
                )

    async def _goodbye(self) -> None:
        """This server stops: its key, snapshot and names go (the others hear it at once)."""
        keys, client = self.keys, self._client
        for name in await client.smembers(keys.names()):
            await client.eval(RELEASE, [name, keys.names()], [self.server_id])
        async with client.pipeline(transaction=True) as pipe:
            pipe.delete([keys.alive(), keys.members(), keys.names()])
            pipe.srem(keys.servers, [self.server_id])

    async def _reader(self) -> None:
        block = int(min(self.heartbeat, READ_BLOCK) * 1000)
        while not self._closing:
            assert self._last is not None
            found = await self._client.xread(
                {self.keys.events: self._last}, count=READ_COUNT, block=block
            )
            for entry in (found or {}).get(self.keys.events, ()):
                self._last = str(entry.identifier)
                try:
                    envelope = decode(entry.field_values)
                except WireError as exc:
                    LOGGER.debug("skipping stream entry %s: %s", entry.identifier, exc)
                    continue
                if envelope.server != self.server_id:
                    await self._receive(envelope)

    async def _receive(self, envelope: Envelope) -> None:
        match envelope.event:
            case Hello():
                await self._read_snapshot(envelope.server)
            case Dismiss(to=to, name=name, reason=reason, detail=detail, by=by):
                member = self.hub.find(name)
                if to == self.server_id and member is not None and home_of(member) is None:
                    deadline = trio.current_time() + DISMISS_TIMEOUT
                    self.hub.dismiss(member, reason, deadline, detail=detail, by=by)
            case _:
                self.mirror.apply(envelope)

    async def _heartbeat(self) -> None:
        while not self._closing:
            await self._client.set(self.keys.alive(), self._presence(), px=int(self.ttl * 1000))
            await self._look_for_lost()
            with trio.move_on_after(self.heartbeat):
                await self._closed.wait()

    async def _look_for_lost(self) -> None:
        keys, client = self.keys, self._client
        known = (self.mirror.servers() | await client.smembers(keys.servers)) - {self.server_id}
        if trio.current_time() - self._since < self.grace:
            return  # just reconnected: the others may be reconnecting too
        for server in sorted(known):
            if await client.exists([keys.alive(server)]):
                continue
            count = self.mirror.lose(server)
            if count:
                LOGGER.warning("server %s lost: its %d member(s) left", server, count)
            async with client.pipeline(transaction=True) as pipe:
                pipe.srem(keys.servers, [server])
                pipe.delete([keys.members(server), keys.names(server)])


def _snapshot(member: Member) -> str:
    return encode_member(member.name, member.rooms)


def _first_error(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
