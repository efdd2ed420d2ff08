"""The chat service: the one place where a frontend asks for something to happen.

Theory of operation
-------------------
Every frontend (the text protocol today; IRC and the web page next) turns
its wire into calls on :class:`ChatService` and the results back into its
wire. The service applies the chat's rules, the same for every door: the
server password, names and registered accounts, bans, mutes, room
membership, flood pacing and history. It answers with results (events,
rooms, history entries) or raises a typed :class:`~.refusals.Refused` that
each frontend words in its own protocol. It knows no bytes and no wording.

One :class:`Client` is one connection's standing with the service: its
address, whether it gave the server password, which registered names it
proved it owns, its flood pacing and, once it has a name, its hub
:class:`~.hub.Member`. Operator and account commands live in
:mod:`.moderation`, on the same client; room requests (entering, topics, a
room's own rules) in its base :class:`~.roomservice.RoomRequests`.

Reading a room's history takes a trip to a worker thread; entering the room
happens in the same synchronous step as the read returns, so a newcomer sees
each message once: in the replay or live, never both, never neither.
"""

from __future__ import annotations

import logging

import trio

from trio_chat.core.accounts import Guard
from trio_chat.core.clients import Arrival, Client, Password
from trio_chat.core.counters import counts_refusals
from trio_chat.core.events import (
    Action,
    ClientTags,
    Message,
    Private,
    Reason,
    ServerEvent,
)
from trio_chat.core.history import DEFAULT_REPLAY, History
from trio_chat.core.hub import LOBBY, Hub
from trio_chat.core.limits import (
    DEFAULT_LIMITS,
    HASH_COST,
    Limits,
    LogThrottle,
    address_key,
    left_out,
    line_cost,
)
from trio_chat.core.members import Encoder, Link, Member, log_departure
from trio_chat.core.moderation import DISMISS_TIMEOUT, Moderation
from trio_chat.core.names import (
    MAX_HISTORY,
    MAX_TOPIC_CHARS,
    clean_text,
    name_key,
)
from trio_chat.core.outbox import Outbox
from trio_chat.core.refusals import (
    Banned,
    InvalidName,
    NameBanned,
    NameRegistered,
    NameTaken,
    NotRegistered,
    PasswordNeeded,
    WrongPassword,
    WrongServerPassword,
)
from trio_chat.core.roomservice import RoomRequests, charged, room_for_replay
from trio_chat.core.rules import said, valid_name, within_budget
from trio_chat.core.store import Entry

LOGGER = logging.getLogger(__name__)


# Wrong account passwords a connection may send before it is closed.
LOGIN_ATTEMPTS = 3


@counts_refusals
class ChatService(RoomRequests):
    """The chat's rules, for every frontend.

    Args:
        hub: members, rooms and fan-out.
        guard: passwords, accounts, bans and mutes.
        history: where room history is kept, if anywhere.
        limits: flood limits, and who is exempt from them.
        replay: messages of a room's history shown on entering it.
    """

    def __init__(
        self,
        hub: Hub,
        *,
        guard: Guard | None = None,
        history: History | None = None,
        limits: Limits = DEFAULT_LIMITS,
        replay: int = DEFAULT_REPLAY,
        lang: str = "en",
    ) -> None:
        self.hub = hub
        # The language of those who chose none (a tag the frontends word with).
        self.lang = lang
        self.guard = guard or Guard()
        self.history = history
        self.limits = limits
        self.replay = replay
        # Account and operator commands.
        self.moderation = Moderation(hub, self.guard)
        # Routine log lines per address (joins, renames; a frontend's handshakes).
        self.log_throttle = LogThrottle()

    # --- connections -----------------------------------------------------------

    def connect(self, peer: str, address: str | None = None) -> Client:
        """A new connection's standing: paced unless ``address`` is exempt (or None)."""
        limited = address is not None and not self.limits.is_exempt(address)
        flood = self.limits.flood_guard(trio.current_time()) if limited else None
        return Client(
            peer, flood, address if limited else None, admitted=not self.guard.needs_password
        )

    @property
    def needs_password(self) -> bool:
        return self.guard.needs_password

    def give_password(self, client: Client, secret: str) -> Password:
        """The server password, before a name.

        Raises:
            WrongServerPassword: it does not match (the frontend closes the connection).
        """
        if not self.guard.needs_password:
            return Password.NOT_NEEDED
        if client.admitted:
            return Password.ALREADY
        if not self.guard.server_password_ok(secret):
            LOGGER.warning(
                "wrong server password from %s",
                client.peer,
                extra={"fields": client.fields("refused", "wrong server password")},
            )
            raise WrongServerPassword
        client.admitted = True
        return Password.ACCEPTED

    async def pace(self, client: Client, size: int = 0) -> bool:
        """Delay a line (of ``size`` bytes) sent over the flood rate; True on the first delayed one.

        Nothing is dropped: while this waits, nothing more is read from the
        connection, so TCP slows the sender down too. While the history's
        writer is behind, every sender (exempt or not) waits for it. Long lines cost more
        (:func:`~.limits.line_cost`), and so did expensive commands before it
        (:meth:`charge`). Operators are exempt.

        Raises:
            Flooding: the connection has been over the rate for too long.
        """
        if self.history is not None and self.history.behind:
            # The disk is behind: every sender waits (nothing said goes unsaved).
            await self.history.caught_up()
        member = client.member
        if client.flood is None or (member is not None and member.operator):
            return False
        delay, warn = client.flood.check(trio.current_time(), line_cost(size))
        if delay > 0:
            self.hub.counters.paced += 1
            await trio.sleep(delay)
        return warn

    def _routine(self, client: Client, event: str) -> int | None:
        """Whether to log a routine ``event`` of ``client``: None if not, else how many were not.

        Throttled per address (:class:`~.limits.LogThrottle`); exempt ones never are.
        """
        if client.address is None:
            return 0
        key = f"{event} {address_key(client.address)}"
        return self.log_throttle.allow(key, trio.current_time())

    # --- names -----------------------------------------------------------------

    async def take_name(
        self,
        client: Client,
        raw: str,
        encode: Encoder,
        link: Link,
        *,
        password: str | None = None,
        room: str = LOBBY,
        outbox: Outbox | None = None,
    ) -> Arrival:
        """Join as ``raw`` (logging in with ``password`` if given), in ``room``.

        ``link`` closes the member's connection when the server ends it (a
        close asked before the frontend's chat phase applies when it starts).

        Raises:
            PasswordNeeded: the server password comes first.
            InvalidName, NameTaken, NameRegistered, NotRegistered: try another.
            Banned: the name or the address is banned (close the connection).
            WrongPassword: ``tries_left`` 0 means close the connection.
            ServerClosing: the server is shutting down.
        """
        name, login = await self._prepare(client, raw, password)
        try:
            entries = await self._recent(room)
            # From here to the join nothing awaits: the checks hold when it happens.
            member = self._sign_on(client, name, login, encode, link, outbox)
        except BaseException:
            self.hub.backplane.unclaim(name)  # the registry's claim goes back
            raise
        return Arrival(self.hub.enter(member, room), entries)

    async def sign_on(
        self,
        client: Client,
        raw: str,
        encode: Encoder,
        link: Link,
        *,
        password: str | None = None,
        outbox: Outbox | None = None,
    ) -> Member:
        """Join as ``raw``, as :meth:`take_name` does, but in no room (IRC users choose theirs).

        Raises what :meth:`take_name` raises.
        """
        name, login = await self._prepare(client, raw, password)
        try:
            await trio.lowlevel.checkpoint_if_cancelled()
            return self._sign_on(client, name, login, encode, link, outbox)
        except BaseException:
            self.hub.backplane.unclaim(name)  # the registry's claim goes back
            raise

    async def _prepare(self, client: Client, raw: str, password: str | None) -> tuple[str, bool]:
        """The name to join as, and whether it is a login; refusals as take_name's."""
        name = self._check_name(client, raw)
        # Logged in already (IRC's SASL): the name is theirs, as with a password.
        login = password is not None or name_key(name) in client.identified
        if password is not None:
            name = await self._login(client, name, password)
        elif self.guard.registered_name(name) is not None and not login:
            raise NameRegistered(name)
        if not login and self.hub.find(name) is not None:
            raise NameTaken(name)
        # Unique across servers too (a backplane's registry); given back if the join fails.
        if not await self.hub.backplane.claim(name, take=login):
            raise NameTaken(name)
        return name, login

    async def identify(self, client: Client, name: str, password: str) -> str:
        """Prove ``client`` owns the registered ``name`` (IRC's SASL), before or after it
        signs on; the registered form of the name. Raises NotRegistered, WrongPassword
        (``tries_left`` 0: close the connection)."""
        return await self._login(client, valid_name(name), password)

    def _sign_on(
        self,
        client: Client,
        name: str,
        login: bool,
        encode: Encoder,
        link: Link,
        outbox: Outbox | None,
    ) -> Member:
        # The address may have been banned while this connection chose its name.
        self.check_address(client)
        self._take_over(name, login)
        member = self.hub.join(name, encode, link, address=client.peer, outbox=outbox)
        member.muted = name_key(name) in self.guard.muted
        client.member = member
        if (skipped := self._routine(client, "joined")) is not None:
            LOGGER.info(
                "%s joined from %s%s",
                name,
                client.peer,
                left_out(skipped),
                extra={"fields": client.fields("registered")},
            )
        return member

    def check_nick(self, client: Client, raw: str) -> str:
        """Whether ``raw`` could be taken now (IRC checks a NICK before USER); returns it as shown.

        Raises:
            PasswordNeeded, InvalidName, Banned, NameRegistered, NameTaken.
        """
        name = self._check_name(client, raw)
        if not self.may_take(client, name):
            raise NameRegistered(name)
        holder = self.hub.find(name)
        if holder is not None and holder is not client.member:
            raise NameTaken(name)
        return name

    def _check_name(self, client: Client, raw: str) -> str:
        if not client.admitted:
            raise PasswordNeeded
        try:
            name = valid_name(raw)
        except InvalidName as refused:
            now = self.guard.renamed_to(raw.strip())
            if now is None:
                raise
            raise InvalidName(refused.problem, now=now) from None
        ban = self.guard.ban_of_name(name)
        if ban is not None:
            LOGGER.warning(
                "refused %s from %s: the name is banned",
                name,
                client.peer,
                extra={"fields": {**client.fields("refused", "banned name"), "name": name}},
            )
            raise Banned(ban)
        return name

    async def _login(self, client: Client, name: str, password: str) -> str:
        """The registered form of ``name``, if ``password`` is its.

        The name is freed only once nothing can stop the join (see take_name).
        """
        registered = self.guard.registered_name(name)
        if registered is None:
            raise NotRegistered(name)
        client.charge(HASH_COST)  # a loop of logins is a flood
        if not await self.guard.verify(name, password, client.address):
            client.login_failures += 1
            fields = client.fields("refused", "wrong password")
            LOGGER.warning(
                "wrong password for %s from %s",
                registered,
                client.peer,
                extra={"fields": {**fields, "name": registered}},
            )
            raise WrongPassword(registered, max(0, LOGIN_ATTEMPTS - client.login_failures))
        client.identified |= {name_key(registered)}
        return registered

    def _take_over(self, name: str, login: bool) -> None:
        """Free ``name`` for a login: whoever holds it (an old login, a lost
        connection not yet noticed) is told they logged in from elsewhere.

        Raises:
            NameTaken: someone holds it, and this is no login.
        """
        holder = self.hub.find(name)
        if holder is None:
            return
        if not login:
            raise NameTaken(name)
        self.hub.dismiss(holder, Reason.ELSEWHERE, trio.current_time() + DISMISS_TIMEOUT)

    def check_address(self, client: Client) -> None:
        """Raises :class:`Banned` if the connection's address is banned (and logs it)."""
        ban = self.guard.ban_of_peer(client.peer)
        if ban is not None:
            LOGGER.warning(
                "refused %s: the address is banned %s",
                client.peer,
                ban.term(),
                extra={"fields": client.fields("refused", "banned address")},
            )
            raise Banned(ban)

    def may_take(self, client: Client, name: str) -> bool:
        """Whether ``client`` may use ``name`` (free of an account, or its own)."""
        return self.guard.registered_name(name) is None or name_key(name) in client.identified

    def rename(self, client: Client, raw: str) -> str:
        """Give the client's member a new name; returns it as shown.

        Raises:
            Muted, InvalidName, NameRegistered, NameBanned, NameTaken.
        """
        member = self._speaker(client)
        old = member.name
        name = valid_name(raw)
        if name == old:
            return old  # nothing changes: nobody hears of it
        if not self.may_take(client, name):
            raise NameRegistered(name)
        if self.guard.ban_of_name(name) is not None:
            raise NameBanned(name)
        self.hub.rename(member, name)
        fields = {**client.fields("renamed"), "old_name": old}
        if (skipped := self._routine(client, "renamed")) is not None:
            LOGGER.info(
                "%s (%s) is now known as %s%s",
                old,
                client.peer,
                member.name,
                left_out(skipped),
                extra={"fields": fields},
            )
        return member.name

    # --- speech ----------------------------------------------------------------

    def say(
        self, client: Client, room: str, text: str, *, notice: bool = False, tags: ClientTags = ()
    ) -> Message:
        """Say ``text`` in ``room`` (as a notice; with client tags). Raises Muted, NotInRoom
        (nothing said or recorded)."""
        speaker = self._in_room(client, room)
        return self.hub.say(speaker, room, said(text), notice=notice, tags=tags)

    def act(self, client: Client, room: str, text: str, *, tags: ClientTags = ()) -> Action:
        """A ``/me`` action in ``room``. Raises Muted, NotInRoom."""
        return self.hub.act(self._in_room(client, room), room, said(text), tags=tags)

    def private(
        self, client: Client, target: str, text: str, *, notice: bool = False, tags: ClientTags = ()
    ) -> Private:
        """A private message to one member. Raises Muted, NoSuchMember."""
        speaker = self._speaker(client)
        return self.hub.private(speaker, target, said(text), notice=notice, tags=tags)

    def set_echo(self, client: Client, on: bool) -> None:
        """Whether the member hears their own messages back, as the others see them.

        A frontend that asks for it shows a line as sent only once the
        service took it (IRCv3 echo-message; the text client's ``/echo on``).
        """
        client.acting().echo = on

    def set_encoder(self, client: Client, encode: Encoder) -> None:
        """What the member's events are encoded with from now on (another language);
        what is queued already stays as it was."""
        client.acting().encode = encode

    # --- history ---------------------------------------------------------------

    async def read_history(
        self,
        room: str,
        count: int,
        *,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
        client: Client | None = None,
    ) -> list[Entry]:
        """Up to ``count`` messages of ``room``: the latest, or before, after or around an id.

        Asked by ``client``, it costs its flood budget according to the bytes
        replayed (a loop of ``/history 500`` is a flood, not an amplifier).
        """
        if self.history is None or count <= 0:
            await trio.lowlevel.checkpoint()
            return []
        await room_for_replay(client)
        count = min(count, MAX_HISTORY)
        if after is not None:
            entries = await self.history.after(room, count, after=after)
        elif around is not None:
            entries = await self.history.around(room, count, around=around)
        else:
            entries = await self.history.recent(room, count, before=before)
        await trio.lowlevel.checkpoint_if_cancelled()
        return charged(client, within_budget(entries))

    # --- leaving ---------------------------------------------------------------

    def leave(self, client: Client, reason: Reason, detail: str = "") -> None:
        """The connection is ending: its member leaves, once, and it is logged once.

        A member the server removed already (evicted, kicked) was logged then.
        """
        member, client.member = client.member, None
        if member is None or not self.hub.is_member(member):
            return
        if self.hub.closing:
            reason, detail = Reason.SHUTDOWN, ""
        detail = clean_text(detail).strip()[:MAX_TOPIC_CHARS]  # parting words, shown to all
        self.hub.leave(member, reason, detail)
        log_departure(member, reason, "left", detail, quiet=self.hub.closing)

    def tell(self, client: Client, event: ServerEvent) -> None:
        """A reply or notice for this connection's member only (no rule applies)."""
        self.hub.deliver(client.named(), event)

    def online(self) -> int:
        """How many members are online."""
        return len(self.hub)
