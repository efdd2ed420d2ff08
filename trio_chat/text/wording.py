"""How the text protocol words the chat service's refusals and departures.

Sans-IO like the codec: the service raises typed refusals and sends events
that carry reasons as data; this is where they become the ``! `` lines and
``***`` notices a text user reads. Another frontend (IRC, the web page)
words the same data its own way.
"""

from __future__ import annotations

from trio_chat.core.events import Dismissed, ModAction, Moderated, Quit, Reason, departure
from trio_chat.core.names import MAX_NAME_CHARS, NAME_CHARACTERS
from trio_chat.core.refusals import (
    AccountProblem,
    AlreadyInRoom,
    BadBan,
    BadRoomKey,
    BadSetting,
    Banned,
    BannedFromRoom,
    BansYourself,
    CannotSpeak,
    Gone,
    InvalidName,
    InviteOnly,
    Muted,
    NameBanned,
    NameRegistered,
    NameTaken,
    NoOperators,
    NoSuchMember,
    NoSuchRoom,
    NotBanned,
    NotInRoom,
    NotOperator,
    NotRegistered,
    NotRoomOperator,
    PasswordNeeded,
    Refused,
    RegisteredAlready,
    RoomFull,
    ServerClosing,
    ServerFull,
    TooLong,
    TooManyConnections,
    TooManyNewConnections,
    TooManyPasswords,
    Unreachable,
    WrongOperPassword,
    WrongPassword,
    WrongServerPassword,
)

# What the greeting tells `nc` users a name may be (core/names.py's rule).
NAME_RULES = (
    f"Send your name (1-{MAX_NAME_CHARS} {NAME_CHARACTERS}, not starting with a digit or -)"
)
NEEDS_PASSWORD = "this server needs a password: send /pass PASSWORD first"


def refusal(refused: Refused) -> str:
    """The ``! `` line (without the ``! ``) for a refusal, after the name step."""
    match refused:
        case InvalidName(problem):
            return problem
        case NameTaken(name):
            return f"the name {name} is taken"
        case NameRegistered(name):
            return f"the name {name} is registered to someone else"
        case NameBanned(name):
            return f"the name {name} is banned"
        case Muted():
            return "you are muted"
        case TooLong(limit, unit):
            return f"too long (max {limit} {unit})"
        case Gone():
            return "you are no longer in the chat"
        case NoSuchMember(name):
            return f"nobody called {name} is online (see /who)"
        case Unreachable(name):
            return f"{name} is on another server, which cannot be reached now: try again later"
        case NotInRoom(room):
            return f"you are not in {room}"
        case NoSuchRoom(room):
            return f"there is no room {room}"
        case NotOperator():
            return "operators only"
        case NoOperators():
            return "this server has no operators"
        case WrongOperPassword(tries_left):
            return f"wrong operator password{_tries(tries_left)}"
        case RegisteredAlready(name):
            return f"{name} is registered already: /password NEW changes its password"
        case NotRegistered(name):
            return f"{name} is not registered (/register PASSWORD claims it)"
        case AccountProblem(problem) | BadBan(problem):
            return problem
        case BansYourself(target):
            return f"a ban on {target} would ban you too: not done"
        case NotBanned(target):
            return f"{target} is not banned (see /bans)"
        case _:
            return room_refusal(refused) or name_step_refusal(refused)


def room_refusal(refused: Refused) -> str | None:
    """A refusal by a room's own rules (core/roomrules.py), or None."""
    match refused:
        case NotRoomOperator(room):
            return f"only the operators of {room} may do that"
        case InviteOnly(room):
            return f"{room} is for the invited only"
        case BadRoomKey(room):
            return f"{room} needs its key (an IRC user who runs it set one)"
        case RoomFull(room):
            return f"{room} is full"
        case BannedFromRoom(room):
            return f"you are banned from {room}"
        case CannotSpeak(room):
            return f"{room} is moderated: only its operators and the voiced speak"
        case AlreadyInRoom(name, room):
            return f"{name} is in {room} already"
        case BadSetting(setting, value):
            return f"{value!r} cannot be the {setting} of a room"
    return None


def name_step_refusal(refused: Refused) -> str:
    """The ``! `` line for a refusal while a connection chooses its name."""
    match refused:
        case PasswordNeeded():
            return NEEDS_PASSWORD
        case WrongServerPassword():
            return "wrong password"
        case InvalidName(problem, now=str(now)) if now:
            return f"{problem}; your registered name is now {now}: send /login {now} PASSWORD"
        case InvalidName(problem):
            return f"{problem}; try another name"
        case NameTaken(name):
            return f"the name {name} is taken; try another name"
        case NameRegistered(name):
            return f"the name {name} is registered: send /login {name} PASSWORD, or another name"
        case NotRegistered(name):
            return f"{name} is not registered: send the name alone (or /login another)"
        case WrongPassword(name, 0):
            return f"wrong password for {name}"
        case WrongPassword(name, tries_left):
            return f"wrong password for {name}{_tries(tries_left)}: send /login {name} PASSWORD"
        case Banned(ban):
            return f"you are banned ({ban.term()})"
        case TooManyPasswords(retry_after):
            wait = max(1, round(retry_after))
            return f"too many passwords from your address; try again in {wait} s"
        case ServerClosing():
            return "the server is shutting down"
        case _:
            return connect_refusal(refused)


def connect_refusal(refused: Refused) -> str:
    """The ``! `` line for a connection refused as it opens (see core/admission.py)."""
    match refused:
        case ServerFull():
            return "server full"
        case Banned(ban):
            return f"you are banned ({ban.term()})"
        case TooManyConnections(limit):
            return f"too many connections from your address (at most {limit})"
        case TooManyNewConnections(per_minute):
            return (
                f"too many new connections from your address "
                f"(at most {per_minute} a minute); try again later"
            )
        case _:
            return type(refused).__name__


def _tries(left: int) -> str:
    if left <= 0:
        return ""
    return " (1 try left)" if left == 1 else f" ({left} tries left)"


def quit_line(event: Quit) -> str:
    """``*** ana left (why)``: someone left the server."""
    if event.reason is Reason.QUIT and not event.detail:
        return f"*** {event.name} left"
    return f"*** {event.name} left ({departure(event.reason, event.detail, event.by)})"


def dismissed_line(event: Dismissed) -> str:
    """The last line a member the server removed reads: why."""
    match event.reason:
        case Reason.KICKED:
            return f"! you were {departure(event.reason, event.detail, event.by)}"
        case Reason.BANNED:
            return f"! you are banned ({event.detail})"
        case Reason.ELSEWHERE:
            return "! you logged in from elsewhere: this connection is closed"
        case Reason.OPER_FAILURES:
            return "! too many wrong operator passwords: disconnected"
        case Reason.TOO_SLOW:
            return "! you were disconnected: you are not reading fast enough"
        case _:
            return f"! disconnected: {departure(event.reason, event.detail, event.by)}"


def moderated_line(event: Moderated) -> str:
    """``*** op banned ana for 1h``: an operator's action, announced."""
    match event.action:
        case ModAction.BANNED:
            return f"*** {event.by} banned {event.target} {event.detail}"
        case ModAction.UNBANNED:
            return f"*** {event.by} lifted the ban on {event.target}"
        case _:
            return f"*** {event.by} {event.action.value} {event.target}"
