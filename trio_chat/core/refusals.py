"""Why the chat service turned a request down: typed, with the facts, never worded.

Every refusal is a :class:`Refused`. A frontend catches it where it called
the service and words it in its own protocol: the text protocol as a ``! ``
line, IRC as a numeric, the web page as a JSON error. Nothing was changed by
a refused request: a refused message is neither delivered nor recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trio_chat.core.bans import BanEntry


class Refused(Exception):
    """The service turned a request down; nothing changed."""


@dataclass
class InvalidName(Refused):
    """A name or room name that breaks the naming rules (``problem`` says which).

    ``now``: the registered name this one became when the rules changed, if any.
    """

    problem: str
    room: bool = False
    now: str = ""


@dataclass
class NameTaken(Refused):
    """Someone online already uses that name."""

    name: str


@dataclass
class NameRegistered(Refused):
    """The name belongs to a registered account: log in (or pick another)."""

    name: str


@dataclass
class NotRegistered(Refused):
    """A login (or account command) for a name that has no account."""

    name: str


@dataclass
class RegisteredAlready(Refused):
    """``/register`` for a name that has an account already."""

    name: str


@dataclass
class WrongPassword(Refused):
    """The account's password did not match; at ``tries_left`` 0 the connection ends."""

    name: str
    tries_left: int = 0


@dataclass
class TooManyPasswords(Refused):
    """Passwords from this address (or guesses at this account) are over their
    budget of hashes: nothing was checked; try again in ``retry_after`` seconds."""

    retry_after: float


@dataclass
class AccountProblem(Refused):
    """The account could not be saved (a weak password, a full disk...)."""

    problem: str


class PasswordNeeded(Refused):
    """The server needs its password before anything else."""


class WrongServerPassword(Refused):
    """The server's password did not match: the connection is to be closed."""


@dataclass
class Banned(Refused):
    """The name or address is banned."""

    ban: BanEntry


@dataclass
class NameBanned(Refused):
    """A rename to a banned name (the member keeps their name)."""

    name: str


@dataclass
class TooLong(Refused):
    """A message or topic over its limit (``limit``, in ``unit``)."""

    limit: int
    unit: str


class Muted(Refused):
    """A muted member may read, not speak."""


@dataclass
class NotInRoom(Refused):
    """Saying (or doing) something in a room one is not in."""

    room: str


@dataclass
class NoSuchRoom(Refused):
    """No such room is open."""

    room: str


@dataclass
class NoSuchMember(Refused):
    """Nobody online has that name."""

    name: str


@dataclass
class Unreachable(Refused):
    """``name`` is on another server, which cannot be reached now (Redis is down or
    the queue to it is full): a private message would be lost, so it is refused."""

    name: str


class NotOperator(Refused):
    """An operator command from someone who is not one."""


class NoOperators(Refused):
    """``/oper`` on a server without an operator password."""


@dataclass
class WrongOperPassword(Refused):
    """A wrong operator password; ``tries_left`` more before the connection ends."""

    tries_left: int


@dataclass
class BadBan(Refused):
    """A ban (or unban) target that is neither a name nor an address."""

    problem: str


@dataclass
class BansYourself(Refused):
    """An operator's ban that would cover the operator too."""

    target: str


@dataclass
class NotBanned(Refused):
    """``/unban`` of something that is not banned."""

    target: str


class Gone(Refused):
    """The member was removed (kicked, banned, evicted): nothing it asks is done."""


class ServerClosing(Refused):
    """The server is shutting down: nobody joins any more."""


# --- at the door: why a new connection is turned away (core/admission.py) ------------


@dataclass
class ServerFull(Refused):
    """``max_clients`` connections are open already, all listeners together."""

    max_clients: int


@dataclass
class TooManyConnections(Refused):
    """The address holds ``limit`` connections already."""

    limit: int


@dataclass
class TooManyNewConnections(Refused):
    """The address opened ``per_minute`` new connections within the last minute."""

    per_minute: int


# --- a room's own rules (core/roomrules.py) --------------------------------------------------


@dataclass
class NotRoomOperator(Refused):
    """Only the room's operators (or the server's) may do that in ``room``."""

    room: str


@dataclass
class InviteOnly(Refused):
    """``room`` is for the invited only."""

    room: str


@dataclass
class BadRoomKey(Refused):
    """``room`` needs its key (and this was not it)."""

    room: str


@dataclass
class RoomFull(Refused):
    """``room`` has as many members as its limit."""

    room: str


@dataclass
class BannedFromRoom(Refused):
    """A ban of ``room`` covers this member."""

    room: str


@dataclass
class CannotSpeak(Refused):
    """``room`` is moderated: only its operators and the voiced speak."""

    room: str


@dataclass
class BadSetting(Refused):
    """A room setting's value that cannot be (a key with a space, an empty one)."""

    setting: str
    value: str


@dataclass
class AlreadyInRoom(Refused):
    """``name`` is in ``room`` already (an invitation)."""

    name: str
    room: str
