"""Private conversations in the history: kept for each party's account, read by it alone.

Policy
------
A private message is kept once for each of its two parties that is logged in
to an account, the registered name it is using (for a message to oneself,
once). That copy is the account's: only a connection logged in to it reads it
(IRC's ``CHATHISTORY`` of a nick, and ``TARGETS``), and giving the account up
(``/unregister``) deletes every copy it kept. A party without an account keeps
nothing, and nothing is ever read under a name alone: a name that is free
today may be someone else's tomorrow, an account is its owner's while it
exists. So when ana (registered) writes with bob (not registered), ana keeps the
conversation and bob does not; whoever registers "bob" later reads nothing of it.

The copies live in the history's file (table ``privates``,
:mod:`trio_chat.core.privatestore`), under the same retention as room
messages; ``--db :memory:`` keeps them for the run only, and a service made
with ``keep_privates=False`` keeps and serves none. Notices are kept as such;
client tags are not kept (as in rooms).

:class:`PrivateRequests` is the chat service's side (a base of
:class:`~trio_chat.core.service.ChatService`); the history's is
:class:`~trio_chat.core.privatehistory.Conversations`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from trio_chat.core.clients import Client
from trio_chat.core.events import Private
from trio_chat.core.names import MAX_HISTORY, name_key
from trio_chat.core.privatestore import PrivateEntry
from trio_chat.core.roomservice import charged, room_for_replay
from trio_chat.core.rules import within_budget

if TYPE_CHECKING:
    from trio_chat.core.accounts import Guard
    from trio_chat.core.history import History


class PrivateRequests:
    """The chat service's private history: whose copies, and who reads them."""

    guard: Guard
    history: History | None
    keep_privates: bool

    def account(self, client: Client) -> str | None:
        """The account ``client`` is logged in to and using now (its name's key), if any."""
        member = client.member
        if member is None:
            return None
        key = name_key(member.name)
        if key in client.identified and self.guard.registered_name(member.name) is not None:
            return key
        return None

    def _keep_private(self, client: Client, event: Private) -> None:
        """Keep ``event`` for the sender's account and the recipient's, if they have one."""
        if self.history is None or not self.keep_privates:
            return
        owners: dict[str, tuple[str, str]] = {}
        sender = self.account(client)
        if sender is not None:
            owners[sender] = (name_key(event.target), event.target)
        # A registered name is only ever held by its owner, logged in (see may_take).
        if self.guard.registered_name(event.target) is not None:
            owners.setdefault(name_key(event.target), (name_key(event.sender), event.sender))
        copies = [PrivateEntry(owner, *peer, event) for owner, peer in owners.items()]
        if copies:
            self.history.record_private(copies)

    async def read_private_history(
        self,
        client: Client,
        peer: str,
        count: int,
        *,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
    ) -> list[PrivateEntry]:
        """Up to ``count`` messages of the conversation of ``client``'s account with
        ``peer``, as :meth:`~.service.ChatService.read_history` reads a room's (and at
        the same cost); none for a client logged in to no account."""
        owner = self.account(client)
        if self.history is None or not self.keep_privates or owner is None or count <= 0:
            await trio.lowlevel.checkpoint()
            return []
        await room_for_replay(client)
        entries = await self.history.conversation(
            owner,
            name_key(peer),
            min(count, MAX_HISTORY),
            before=before,
            after=after,
            around=around,
        )
        await trio.lowlevel.checkpoint_if_cancelled()
        return charged(client, within_budget(entries))

    async def private_targets(
        self, client: Client, *, above: int, below: int, limit: int
    ) -> list[tuple[int, float, str]]:
        """Whom ``client``'s account wrote with (see History.correspondents)."""
        owner = self.account(client)
        if self.history is None or not self.keep_privates or owner is None or limit <= 0:
            await trio.lowlevel.checkpoint()
            return []
        return await self.history.correspondents(owner, above=above, below=below, limit=limit)
