"""``CHATHISTORY`` requests (IRCv3 draft/chathistory), sans-IO: parsed and planned.

A request names a subcommand, a target, one or two message references and a
limit; this module turns it into :class:`Query` (or :class:`QueryError`, worded
by the caller as ``FAIL CHATHISTORY CODE SUBCOMMAND ...``) and says which reads
of the room's history answer it (:func:`plan`), and how to cut their results
(:func:`select`). The history is read by the caller through the chat service.

References are ``*`` (LATEST only), ``msgid=ID`` (our event ids, as the
``msgid`` tag carries them) or ``timestamp=ISO8601`` (the ``time`` tag's form).
A timestamp compares at the millisecond the ``time`` tag shows, through the
event's time; a msgid through the id. Results are always oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from trio_chat.core.stamps import first_id_at

SUBCOMMANDS = ("LATEST", "BEFORE", "AFTER", "AROUND", "BETWEEN", "TARGETS")
# ISUPPORT CHATHISTORY=N: at most this many messages a request.
MAX_LIMIT = 100
MSGREFTYPES = "msgid,timestamp"


@dataclass(frozen=True, slots=True)
class Ref:
    """A message reference: an id (``msgid=``) or a time in Unix seconds (``timestamp=``)."""

    msgid: int | None = None
    time: float | None = None

    def after_id(self) -> int:
        """The id X such that "after this reference" is "id > X"."""
        if self.msgid is not None:
            return self.msgid
        assert self.time is not None
        return first_id_at((_ms(self.time) + 1) / 1000) - 1

    def before_id(self) -> int:
        """The id X such that "before this reference" is "id < X"."""
        if self.msgid is not None:
            return self.msgid
        assert self.time is not None
        return first_id_at(_ms(self.time) / 1000)

    def at_id(self) -> int:
        if self.msgid is not None:
            return self.msgid
        assert self.time is not None
        return first_id_at(self.time)


@dataclass(frozen=True, slots=True)
class Query:
    subcommand: str
    target: str
    first: Ref | None
    second: Ref | None
    limit: int


@dataclass
class QueryError(Exception):
    """``FAIL CHATHISTORY <code> <context...> :<description>``."""

    code: str
    context: tuple[str, ...]
    description: str


def parse_time(text: str) -> float:
    """ISO 8601 (``2026-12-01T12:00:00.000Z``) to Unix seconds; ValueError if it is not."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def format_time(seconds: float) -> str:
    """Unix seconds as the ``time`` tag writes them: UTC, milliseconds, ``Z``."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_ref(text: str, subcommand: str, *, star: bool = False) -> Ref | None:
    if star and text == "*":
        return None
    kind, _, value = text.partition("=")
    try:
        if kind == "msgid" and value.isdigit():
            return Ref(msgid=int(value))
        if kind == "timestamp":
            return Ref(time=parse_time(value))
    except ValueError:
        pass
    raise QueryError("INVALID_PARAMS", (subcommand, text), "Invalid message reference")


def parse_query(params: list[str]) -> Query:
    """``CHATHISTORY`` params (after the command) as a :class:`Query`."""
    if not params:
        raise QueryError("NEED_MORE_PARAMS", ("CHATHISTORY",), "Missing parameters")
    subcommand = params[0].upper()
    if subcommand not in SUBCOMMANDS:
        raise QueryError("INVALID_PARAMS", (params[0],), "Unknown subcommand")
    wanted = 5 if subcommand == "BETWEEN" else 4
    if len(params) < wanted:
        raise QueryError("NEED_MORE_PARAMS", (subcommand,), "Missing parameters")
    try:
        limit = int(params[wanted - 1])
    except ValueError:
        raise QueryError(
            "INVALID_PARAMS", (subcommand, params[wanted - 1]), "Invalid limit"
        ) from None
    limit = max(0, min(limit, MAX_LIMIT))
    if subcommand == "TARGETS":
        first = parse_ref(params[1], subcommand)
        second = parse_ref(params[2], subcommand)
        return Query(subcommand, "", first, second, limit)
    first = parse_ref(params[2], subcommand, star=subcommand == "LATEST")
    second = parse_ref(params[3], subcommand) if subcommand == "BETWEEN" else None
    return Query(subcommand, params[1], first, second, limit)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


@dataclass(frozen=True, slots=True)
class Read:
    """One read of the history (ChatService.read_history's arguments), then a cut:
    keep the ids ``above < id < below``."""

    count: int
    before: int | None = None
    after: int | None = None
    around: int | None = None
    above: int | None = None
    below: int | None = None

    def keeps(self, event_id: int) -> bool:
        return (self.above is None or event_id > self.above) and (
            self.below is None or event_id < self.below
        )


def plan(query: Query) -> Read:
    """The history read that answers ``query`` (not TARGETS)."""
    first, limit = query.first, query.limit
    match query.subcommand:
        case "LATEST":
            return Read(limit, above=None if first is None else first.after_id())
        case "BEFORE":
            assert first is not None
            return Read(limit, before=first.before_id())
        case "AFTER":
            assert first is not None
            return Read(limit, after=first.after_id())
        case "AROUND":
            assert first is not None
            return Read(limit, around=first.at_id())
    second = query.second
    assert first is not None
    assert second is not None
    if first.at_id() <= second.at_id():
        return Read(limit, after=first.after_id(), below=second.before_id())
    return Read(limit, before=first.before_id(), above=second.after_id())
