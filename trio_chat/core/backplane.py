"""The hub's seam to other servers: what it tells a backplane, and the one used alone.

The hub calls :meth:`Backplane.publish` after every change it made for one of
its own members (joined, parted, quit, renamed, said, set a topic, wrote
privately), once its own members have been told: local delivery never waits
on another server. The call never awaits and never raises; a backplane
queues what it is told (bounded) and sends it from its own task. The service
awaits :meth:`Backplane.claim` before a name is taken, so that a name is
unique across every server. Without ``--redis`` the hub has the
:class:`NullBackplane`, which does nothing.

A backplane also owns tasks (:meth:`Backplane.run`, started by the app
before any frontend, and ended after every connection is over by
:meth:`Backplane.close`, which sends what is queued first).
"""

from __future__ import annotations

from typing import Protocol

import trio

from trio_chat.core.events import ServerEvent
from trio_chat.core.members import Member


class Backplane(Protocol):
    """Whatever links this server's hub to others'."""

    # The residue this server's ids are kept to (see core.stamps), if shared with others.
    node: int | None
    # Events for other servers dropped so far (queue full, other servers unreachable).
    dropped: int

    def publish(self, member: Member, event: ServerEvent) -> None:
        """``member`` did ``event`` here (its local audience has it already). Never blocks."""
        ...

    def arrived(self, member: Member) -> None:
        """``member`` came online here (in no room yet). Never blocks."""
        ...

    def reaches(self, member: Member) -> bool:
        """Whether what is sent to ``member`` now gets there (a member of another
        server may be out of reach for a while); True for this server's own."""
        ...

    async def claim(self, name: str, *, take: bool = False) -> bool:
        """Hold ``name`` for this server; False if another live server holds it.

        ``take``: a login takes the name over, wherever it is held.
        """
        ...

    def unclaim(self, name: str) -> None:
        """Give back a name claimed for a join that did not happen."""
        ...

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Its background work, until :meth:`close` (then it flushes and returns)."""
        ...

    def close(self) -> None:
        """Every connection is over: send what is queued, say goodbye, return from run."""
        ...


class NullBackplane:
    """One server alone: nothing to tell, every name free to claim."""

    node: int | None = None
    dropped = 0

    def publish(self, member: Member, event: ServerEvent) -> None:
        pass

    def arrived(self, member: Member) -> None:
        pass

    def reaches(self, member: Member) -> bool:
        return True

    async def claim(self, name: str, *, take: bool = False) -> bool:
        await trio.lowlevel.checkpoint()
        return True

    def unclaim(self, name: str) -> None:
        pass

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()

    def close(self) -> None:
        pass
