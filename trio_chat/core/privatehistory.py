"""The history's side of private conversations: queued, written and read with the rooms'.

A base of :class:`~trio_chat.core.history.History`, kept apart for size:
copies of private messages (:mod:`trio_chat.core.conversations` says whose)
go through the same bounded queue and the same writer task as room messages,
and are read once everything recorded before the read is committed. The SQL
is :mod:`trio_chat.core.privatestore`'s.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import trio

from trio_chat.core.privatestore import Forget, PrivateEntry

if TYPE_CHECKING:
    from trio_chat.core.store import HistoryStore, Item

T = TypeVar("T")


class Conversations:
    """The history's private conversations (what History provides, it declares)."""

    store: HistoryStore
    _last_seq: int
    _read_limiter: trio.CapacityLimiter

    if TYPE_CHECKING:

        def _queue(self, item: Item) -> bool: ...
        async def _committed_upto(self, seq: int) -> None: ...

    def record_private(self, copies: Sequence[PrivateEntry]) -> None:
        """Queue these copies of a private message to be written (never waits)."""
        for copy in copies:
            if self._queue(copy):
                self._last_seq = max(self._last_seq, copy.seq)

    def forget_private(self, owner: str) -> None:
        """Queue the deletion of every copy the account ``owner`` keeps (after those queued);
        reads from then on wait until it is done."""
        if self._queue(Forget(owner, self._last_seq + 1)):
            self._last_seq += 1

    async def conversation(
        self,
        owner: str,
        peer_key: str,
        limit: int,
        *,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
    ) -> list[PrivateEntry]:
        """Up to ``limit`` messages of ``owner``'s conversation with ``peer_key``, oldest
        first: the latest, or before, after or around an id (committed ones)."""
        upto = self._last_seq
        await self._committed_upto(upto)
        recent = functools.partial(self.store.private_recent, owner, peer_key, upto=upto)
        following = functools.partial(self.store.private_following, owner, peer_key, upto=upto)
        if around is not None:
            older = await self._read(functools.partial(recent, limit // 2, before=around))
            newer = functools.partial(following, limit - len(older), after=around - 1)
            return older + await self._read(newer)
        if after is not None:
            return await self._read(functools.partial(following, limit, after=after))
        start = sys.maxsize if before is None else before
        return await self._read(functools.partial(recent, limit, before=start))

    async def correspondents(
        self, owner: str, *, above: int, below: int, limit: int
    ) -> list[tuple[int, float, str]]:
        """Whom ``owner`` wrote with, latest message's id between ``above`` and ``below``
        (exclusive): (that id, its time, their name as last shown), oldest first."""
        upto = self._last_seq
        await self._committed_upto(upto)
        query = functools.partial(
            self.store.correspondents, owner, above=above, below=below, upto=upto, limit=limit
        )
        return await self._read(query)

    async def _read(self, query: Callable[[], T]) -> T:
        return await trio.to_thread.run_sync(query, limiter=self._read_limiter)
