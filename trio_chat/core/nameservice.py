"""The chat service's name requests: taking a name, logging in, renaming.

A base of :class:`~trio_chat.core.service.ChatService` (which every frontend
calls), kept apart for size, on top of :class:`~.roomservice.RoomRequests`
(a new member enters a room with its history). What it needs of the service
(the hub, the guard, the log throttle) the service sets up. Rules are as the
service's docstring says.
"""

from __future__ import annotations

import logging

import trio

from trio_chat.core.accounts import Guard
from trio_chat.core.clients import Arrival, Client
from trio_chat.core.counters import counts_refusals
from trio_chat.core.events import Reason
from trio_chat.core.hub import LOBBY
from trio_chat.core.limits import HASH_COST, LogThrottle, address_key, left_out
from trio_chat.core.members import Encoder, Link, Member
from trio_chat.core.moderation import DISMISS_TIMEOUT
from trio_chat.core.names import name_key
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
)
from trio_chat.core.roomservice import RoomRequests
from trio_chat.core.rules import valid_name

LOGGER = logging.getLogger(__name__)

# Wrong account passwords a connection may send before it is closed.
LOGIN_ATTEMPTS = 3


@counts_refusals
class NameRequests(RoomRequests):
    """Names: joining as one (with or without a login), proving one, changing it."""

    guard: Guard
    log_throttle: LogThrottle

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
        try:
            held = await self.hub.backplane.claim(name, take=login)
        except BaseException:  # cancelled while Redis answered, say
            self.hub.backplane.unclaim(name)
            raise
        if not held:
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

    async def rename(self, client: Client, raw: str) -> str:
        """Give the client's member a new name; returns it as shown.

        With other servers (a backplane), the new name is claimed in their
        shared registry first, as a first name is: only this session waits.

        Raises:
            Muted, InvalidName, NameRegistered, NameBanned, NameTaken.
        """
        member = self._speaker(client)
        old = member.name
        name = self._new_name(client, member, raw)
        if name == old:
            return old  # nothing changes: nobody hears of it
        try:
            if not await self.hub.backplane.claim(name):
                raise NameTaken(name)
            # Meanwhile the member may have gone, been muted, or the name taken here.
            member = self._speaker(client)
            old = member.name
            self._new_name(client, member, name)
            self.hub.rename(member, name)
        except BaseException:
            self.hub.backplane.unclaim(name)  # the registry's claim goes back
            raise
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

    def _new_name(self, client: Client, member: Member, raw: str) -> str:
        """``raw`` as a name ``member`` may rename to (its own name included).

        Raises:
            InvalidName, NameRegistered, NameBanned, NameTaken.
        """
        name = valid_name(raw)
        if name_key(name) != name_key(member.name):
            if not self.may_take(client, name):
                raise NameRegistered(name)
            if self.guard.ban_of_name(name) is not None:
                raise NameBanned(name)
            if self.hub.find(name) is not None:
                raise NameTaken(name)
        return name
