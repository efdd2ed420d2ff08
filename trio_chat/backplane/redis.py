"""The Redis backplane: servers sharing one Redis share rooms, names and members.

Theory of operation
-------------------
:class:`RedisBackplane` is the hub's :class:`~trio_chat.core.backplane.Backplane`.
The hub tells it (without awaiting) what this server's members did, after
delivering it to its own members; it queues that (bounded: when full, or
while Redis is unreachable, an event is dropped and counted in
:attr:`RedisBackplane.dropped`; see :mod:`.outgoing`) and its tasks, under
:meth:`run`, do the rest:

* the **publisher** appends what is queued to the ``events`` stream in one
  pipeline per batch, in order, and keeps this server's snapshot
  (``members:ID``), names (``name:KEY``) and rooms' states (``rooms``) up to
  date for the members and rooms that changed;
* the **reader** reads the stream from where it left off (``XREAD BLOCK``)
  and applies other servers' events to the hub through the :class:`~.mirror.Mirror`;
* the **heartbeat** renews this server's key (``server:ID``, TTL three
  beats) and looks for servers whose key expired: their members leave
  ("server lost") and their names are free again (see :mod:`.registry`);
* the **catch-up** (:mod:`.catchup`), once, writes into this server's history
  what was said while it was down, and then notes how far the reader got.

When Redis is unreachable, the three end together, every member here hears
once that the other servers are unreachable (and it is logged), this server
goes on serving its own members, and a new connection is tried with backoff.
Once connected, it *resynchronises*: writes its presence and snapshot in
one transaction, claims its members' names again, reads the other live
servers' snapshots (only the differences are announced), reads the stream on
from where it stopped, and says ``hello`` so that the others read its
snapshot; the first time, it also applies the rooms' topics and settings
(``rooms``) to the rooms open elsewhere. A server seen without a key just
after a reconnect gets a grace period (it may be reconnecting too) before it
is declared lost.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable

import coredis
import coredis.exceptions
import trio
from coredis.retry import NoRetryPolicy

from trio_chat.backplane.catchup import CatchUp
from trio_chat.backplane.faults import CONNECTION_ERRORS, first_error, is_connection_error
from trio_chat.backplane.mirror import Mirror, home_of
from trio_chat.backplane.outgoing import COMMAND_TIMEOUT, Outgoing, snapshot
from trio_chat.backplane.registry import BackplaneError, Keys, Registry
from trio_chat.backplane.shared import SharedState
from trio_chat.backplane.wire import Dismiss, Envelope, Hello, encode_room
from trio_chat.core.accounts import Guard
from trio_chat.core.events import KickedOut, Notice, TopicChanged
from trio_chat.core.history import History
from trio_chat.core.hub import Hub
from trio_chat.core.members import Member
from trio_chat.core.moderation import DISMISS_TIMEOUT
from trio_chat.core.phrases import Phrase
from trio_chat.core.stamps import NODES
from trio_chat.i18n import N_

LOGGER = logging.getLogger(__name__)


# Seconds between heartbeats; a server is lost three beats after its last one.
HEARTBEAT = 2.0
# Events waiting to be sent to Redis; past this they are dropped (and counted).
QUEUE_SIZE = 10_000
# At shutdown, how long the publisher has to send what is queued and say goodbye.
CLOSE_TIMEOUT = 2.0
# Entries read from the stream at once, and the longest wait for them (seconds).
READ_COUNT = 1000
READ_BLOCK = 0.5
# Reconnecting: the first wait, doubled up to the longest.
FIRST_BACKOFF = 0.05
LONGEST_BACKOFF = 5.0

# Notices to every local member, worded in each one's language by their encoder.
UNREACHABLE = Phrase(
    N_("the other servers are unreachable: you are chatting with this server's users only, for now")
)
REACHABLE = Phrase(N_("the other servers are reachable again"))


class RedisBackplane(Outgoing):
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
        self._client: coredis.Redis[str] = coredis.Redis.from_url(
            url,
            decode_responses=True,
            retry_policy=NoRetryPolicy(),
            stream_timeout=COMMAND_TIMEOUT,
            connect_timeout=COMMAND_TIMEOUT,
        )
        super().__init__(Registry(self._client, self.keys), queue_size)
        self._synced = trio.Event()
        self._last: str | None = None  # the id of the last stream entry read
        self._since = 0.0  # when the current connection was made
        self._told_unreachable = False
        self._closing = False
        self._closed = trio.Event()
        self._scope = trio.CancelScope()
        self._shared: SharedState | None = None
        self._catchup: CatchUp | None = None

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
            raise BackplaneError(f"cannot use Redis at {self.url}: {first_error(exc)}") from None
        LOGGER.info("sharing rooms through Redis at %s (server %s)", self.url, self.server_id)

    def attach(
        self,
        hub: Hub,
        history: History | None,
        name_key: Callable[[str], str],
        guard: Guard,
    ) -> None:
        """The hub this backplane serves, the history other servers' messages go to
        (also those said while this server was down, see :mod:`.catchup`), and the
        guard whose bans, mutes and accounts are shared."""
        self._hub = hub
        self._key = name_key
        self._mirror = Mirror(hub, history, name_key)
        if history is not None:
            self._catchup = CatchUp(history, self.registry, self._closed, self._adopt_topic)
        self._shared = SharedState(guard, hub, name_key)

    @property
    def shared(self) -> SharedState:
        assert self._shared is not None, "attach() first"
        return self._shared

    def _adopt_topic(self, event: TopicChanged) -> None:
        self.hub.adopt_topic(event.room, event.topic, event.name, event.time)

    @property
    def catchup(self) -> CatchUp | None:
        """The catching up on what was said while this server was down (None: no history)."""
        return self._catchup

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
            except* CONNECTION_ERRORS as group:
                # except*: Redis failing while we are being cancelled (another door
                # could not listen, say) comes mixed with Cancelled, in a group.
                if self.connected or not self._told_unreachable:
                    backoff = FIRST_BACKOFF
                self._down(group)
            await trio.sleep(backoff)
            backoff = min(backoff * 2, self.longest_backoff)

    async def _session(self) -> None:
        async with self._client:
            await self._resync()
            self._up()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._reader)
                nursery.start_soon(self._heartbeat)
                if self._catchup is not None:
                    nursery.start_soon(self._catchup.run)
                    nursery.start_soon(self._catchup.keep, lambda: self._last, self.heartbeat)
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
                first_error(exc),
            )
            self._tell_everyone(UNREACHABLE)

    def _tell_everyone(self, text: str) -> None:
        self.hub.send_each(self._locals(), Notice(text))

    def _locals(self) -> list[Member]:
        found = (self.hub.find(name) for name in self.hub.names())
        return [m for m in found if m is not None and home_of(m) is None]

    # --- synchronising --------------------------------------------------------------

    async def _resync(self) -> None:
        """This server's presence, members and names again; then the others' members."""
        registry = self.registry
        first = self._last is None
        if first:
            latest = await registry.latest()
            if self._catchup is not None:  # what was said while this server was down
                await self._catchup.begin(latest)
        members = self._locals()
        self._dirty.clear()
        snapshots = {self._key(m.name): snapshot(m) for m in members}
        await registry.present(self._presence(), self.ttl, snapshots)
        for key in await registry.keep_only(set(snapshots)):
            LOGGER.warning("%s is online on another server too (since Redis was down)", key)
        for server in await registry.others():
            self.mirror.sync(server, await registry.snapshot(server))
        if first:  # the rooms open elsewhere: their topics and settings
            for state in await registry.room_states():
                self.mirror.restore(state)
            self._last = latest
        else:  # Redis may have restarted empty: this server's rooms' states, if none are
            await registry.add_rooms(self._room_states())
        await registry.send({}, [Hello()])
        self.shared.reset()
        await self.shared.sync(self._client, self.keys.shared)

    def _room_states(self) -> dict[str, str]:
        """The states of the rooms this server's members are in (room key -> state)."""
        rooms = {name for member in self._locals() for name in member.rooms}
        found = (self.hub.room(name) for name in sorted(rooms))
        return {
            self._key(r.name): encode_room(self.mirror.state_of(r)) for r in found if r is not None
        }

    def _presence(self) -> str:
        return json.dumps({"node": self.node})

    # --- the connection's tasks -----------------------------------------------------

    async def _publisher(self) -> None:
        while True:
            if not self._queue and not self._dirty and not self._rooms:
                if self._closing:
                    await self.registry.goodbye()
                    return
                await self._wake.wait()
                self._wake = trio.Event()
                continue
            await self.registry.send(*self._outgoing())

    async def _reader(self) -> None:
        block = min(self.heartbeat, READ_BLOCK)
        while not self._closing:
            assert self._last is not None
            for entry_id, envelope in await self.registry.read(self._last, READ_COUNT, block):
                self._last = entry_id
                if envelope is not None and envelope.server != self.server_id:
                    await self._receive(envelope)

    async def _receive(self, envelope: Envelope) -> None:
        match envelope.event:
            case Hello():
                self.mirror.sync(envelope.server, await self.registry.snapshot(envelope.server))
            case Dismiss(to=to, name=name, reason=reason, detail=detail, by=by):
                member = self.hub.find(name)
                if to == self.server_id and member is not None and home_of(member) is None:
                    deadline = trio.current_time() + DISMISS_TIMEOUT
                    self.hub.dismiss(member, reason, deadline, detail=detail, by=by)
            case KickedOut(name=name):
                self.mirror.apply(envelope)
                self._touch(name)  # one of ours, maybe: its snapshot's rooms changed
                self._wake.set()
            case _:
                self.mirror.apply(envelope)

    async def _heartbeat(self) -> None:
        while not self._closing:
            await self.registry.beat(self._presence(), self.ttl)
            await self._look_for_lost()
            await self.shared.sync(self._client, self.keys.shared)
            with trio.move_on_after(self.heartbeat):
                await self._closed.wait()

    async def _look_for_lost(self) -> None:
        if trio.current_time() - self._since < self.grace:
            return  # just reconnected: the others may be reconnecting too
        registry = self.registry
        for server in sorted(self.mirror.servers() | await registry.known()):
            if await registry.alive(server):
                continue
            count = self.mirror.lose(server)
            if count:
                LOGGER.warning("server %s lost: its %d member(s) left", server, count)
            await registry.forget(server)
