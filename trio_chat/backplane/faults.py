"""When Redis fails: which errors mean it is unreachable, and coredis's log of
connection attempts that our own cancellation cut short (not a failure)."""

from __future__ import annotations

import logging

import coredis.exceptions
import trio

CONNECTION_ERRORS = (
    coredis.exceptions.ConnectionError,
    TimeoutError,
    OSError,
)


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or every exception in a group) says Redis is unreachable."""
    if isinstance(exc, BaseExceptionGroup):
        return all(is_connection_error(e) for e in exc.exceptions)
    return isinstance(exc, CONNECTION_ERRORS)


def first_error(exc: BaseException) -> BaseException:
    """The first leaf of an exception group (or ``exc`` itself)."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def _cancelled_within(exc: BaseException) -> bool:
    """Whether ``exc`` is, or holds, a trio.Cancelled (our own cancellation)."""
    if isinstance(exc, trio.Cancelled):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return any(_cancelled_within(inner) for inner in exc.exceptions)
    return False


class _QuietCancellations(logging.Filter):
    """coredis logs a connection attempt that our own cancellation cut short (the
    server stopping, or failing to start for a reason it words in one line) as an
    error with a traceback; that is not a Redis failure, so it is left out. Real
    failures (refused, reset, timed out) hold no Cancelled and still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return error is None or not _cancelled_within(error)


logging.getLogger("coredis").addFilter(_QuietCancellations())
