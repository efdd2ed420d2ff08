"""How the text protocol words the chat service's refusals and departures.

Sans-IO like the codec: the service raises typed refusals and sends events
that carry reasons as data; this is where they become the ``! `` lines and
``***`` notices a text user reads, in the reader's language (``_``, a
:class:`~trio_chat.i18n.Words`; English when not given). Another frontend
(IRC, the web page) words the same data its own way, or with these.
"""

from __future__ import annotations

from trio_chat.core.events import Dismissed, ModAction, Moderated, Quit, Reason
from trio_chat.core.names import MAX_NAME_CHARS, NAME_CHARACTERS
from trio_chat.core.phrases import Phrase
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
from trio_chat.i18n import DEFAULT, N_, Words, choose, languages, words_for

ENGLISH = words_for(DEFAULT)
NEEDS_PASSWORD = N_("this server needs a password: send /pass PASSWORD first")
# Why someone left, for those the text says in a few words.
REASONS = {
    Reason.QUIT: N_("quit"),
    Reason.CLOSED: N_("connection closed"),
    Reason.LOST: N_("connection lost"),
    Reason.TOO_SLOW: N_("too slow"),
    Reason.FLOODING: N_("flooding"),
    Reason.TIMEOUT: N_("ping timeout"),
    Reason.ELSEWHERE: N_("logged in from elsewhere"),
    Reason.OPER_FAILURES: N_("too many wrong operator passwords"),
    Reason.SHUTDOWN: N_("server shutting down"),
    Reason.SERVER_LOST: N_("server lost"),
}


def phrase(_: Words, text: str) -> str:
    """``text`` in ``_``'s language if it is a :class:`Phrase` (its fields too), else as is."""
    if not isinstance(text, Phrase):
        return text
    fields = {
        key: phrase(_, value) if isinstance(value, Phrase) else value
        for key, value in text.fields.items()
    }
    return _(text.message, **fields)


def name_rules(_: Words = ENGLISH) -> str:
    """What the greeting tells `nc` users a name may be (core/names.py's rule)."""
    return _(
        "Send your name (1-{most} {characters}, not starting with a digit or -)",
        most=MAX_NAME_CHARS,
        characters=phrase(_, NAME_CHARACTERS),
    )


def languages_line(_: Words) -> str:
    """The answer to ``/lang``: every language there is, each in its own words."""
    known = ", ".join(f"{lang} {name}" for lang, name in languages().items())
    return _("Languages: {languages} (/lang CODE switches)", languages=known)


def language_words(_: Words, tag: str) -> tuple[Words | None, str]:
    """``/lang TAG``: the new words and what to say in them, or ``None`` and the error."""
    lang = choose(tag)
    if lang is None:
        return None, _("unknown language {lang}: /lang lists them", lang=tag)
    _ = words_for(lang)
    return _, _("Now speaking {language}", language=languages()[_.lang])


def ban_term(_: Words, stamp: str) -> str:
    """``until 2026-11-25 14:00`` or ``permanently`` (``stamp``: BanEntry.stamp())."""
    return _("until {when}", when=stamp) if stamp else _("permanently")


def departure(_: Words, reason: Reason, detail: str = "", by: str = "") -> str:
    """Why someone left, in a few words (``kicked by op: spam``)."""
    match reason:
        case Reason.QUIT if detail:
            return detail
        case Reason.KICKED if detail:
            return _("kicked by {by}: {reason}", by=by, reason=detail)
        case Reason.KICKED:
            return _("kicked by {by}", by=by)
        case Reason.BANNED:
            return _("banned by {by}", by=by)
        case _ if reason in REASONS:
            return _(REASONS[reason])
    return str(reason.value)


def refusal(refused: Refused, _: Words = ENGLISH) -> str:
    """The ``! `` line (without the ``! ``) for a refusal, after the name step."""
    match refused:
        case InvalidName(problem):
            return phrase(_, problem)
        case NameTaken(name):
            return _("the name {name} is taken", name=name)
        case NameRegistered(name):
            return _("the name {name} is registered to someone else", name=name)
        case NameBanned(name):
            return _("the name {name} is banned", name=name)
        case Muted():
            return _("you are muted")
        case TooLong(limit, "bytes"):
            return _("too long (max {n} bytes)", n=limit)
        case TooLong(limit):
            return _("too long (max {n} characters)", n=limit)
        case Gone():
            return _("you are no longer in the chat")
        case NoSuchMember(name):
            return _("nobody called {name} is online (see /who)", name=name)
        case Unreachable(name):
            return _(
                "{name} is on another server, which cannot be reached now: try again later",
                name=name,
            )
        case NotInRoom(room):
            return _("you are not in {room}", room=room)
        case NoSuchRoom(room):
            return _("there is no room {room}", room=room)
        case _:
            return (
                account_refusal(refused, _)
                or room_refusal(refused, _)
                or (name_step_refusal(refused, _))
            )


def account_refusal(refused: Refused, _: Words = ENGLISH) -> str | None:
    """A refusal of an account or operator command, or None."""
    match refused:
        case NotOperator():
            return _("operators only")
        case NoOperators():
            return _("this server has no operators")
        case WrongOperPassword(tries_left) if tries_left > 0:
            return _.ngettext(
                "wrong operator password ({n} try left)",
                "wrong operator password ({n} tries left)",
                tries_left,
            )
        case WrongOperPassword():
            return _("wrong operator password")
        case RegisteredAlready(name):
            return _("{name} is registered already: /password NEW changes its password", name=name)
        case NotRegistered(name):
            return _("{name} is not registered (/register PASSWORD claims it)", name=name)
        case AccountProblem(problem) | BadBan(problem):
            return phrase(_, problem)
        case BansYourself(target):
            return _("a ban on {target} would ban you too: not done", target=target)
        case NotBanned(target):
            return _("{target} is not banned (see /bans)", target=target)
    return None


def room_refusal(refused: Refused, _: Words = ENGLISH) -> str | None:
    """A refusal by a room's own rules (core/roomrules.py), or None."""
    match refused:
        case NotRoomOperator(room):
            return _("only the operators of {room} may do that", room=room)
        case InviteOnly(room):
            return _("{room} is for the invited only", room=room)
        case BadRoomKey(room):
            return _("{room} needs its key (an IRC user who runs it set one)", room=room)
        case RoomFull(room):
            return _("{room} is full", room=room)
        case BannedFromRoom(room):
            return _("you are banned from {room}", room=room)
        case CannotSpeak(room):
            return _("{room} is moderated: only its operators and the voiced speak", room=room)
        case AlreadyInRoom(name, room):
            return _("{name} is in {room} already", name=name, room=room)
        case BadSetting(setting, value):
            return _(
                "{value} cannot be the {setting} of a room", value=repr(value), setting=setting
            )
    return None


def name_step_refusal(refused: Refused, _: Words = ENGLISH) -> str:
    """The ``! `` line for a refusal while a connection chooses its name."""
    match refused:
        case PasswordNeeded():
            return _(NEEDS_PASSWORD)
        case WrongServerPassword():
            return _("wrong password")
        case InvalidName(problem, now=str(now)) if now:
            return _(
                "{problem}; your registered name is now {now}: send /login {now} PASSWORD",
                problem=phrase(_, problem),
                now=now,
            )
        case InvalidName(problem):
            return _("{problem}; try another name", problem=phrase(_, problem))
        case NameTaken(name):
            return _("the name {name} is taken; try another name", name=name)
        case NameRegistered(name):
            return _(
                "the name {name} is registered: send /login {name} PASSWORD, or another name",
                name=name,
            )
        case NotRegistered(name):
            return _("{name} is not registered: send the name alone (or /login another)", name=name)
        case WrongPassword(name, tries_left):
            return wrong_password(_, name, tries_left)
        case TooManyPasswords(retry_after):
            return _(
                "too many passwords from your address; try again in {seconds} s",
                seconds=max(1, round(retry_after)),
            )
        case ServerClosing():
            return _("the server is shutting down")
        case _:
            return connect_refusal(refused, _)


def wrong_password(_: Words, name: str, tries_left: int) -> str:
    if tries_left <= 0:
        return _("wrong password for {name}", name=name)
    return _.ngettext(
        "wrong password for {name} ({n} try left): send /login {name} PASSWORD",
        "wrong password for {name} ({n} tries left): send /login {name} PASSWORD",
        tries_left,
        name=name,
    )


def connect_refusal(refused: Refused, _: Words = ENGLISH) -> str:
    """The ``! `` line for a connection refused as it opens (see core/admission.py)."""
    match refused:
        case ServerFull():
            return _("server full")
        case Banned(ban):
            return _("you are banned ({term})", term=ban_term(_, ban.stamp()))
        case TooManyConnections(limit):
            return _("too many connections from your address (at most {n})", n=limit)
        case TooManyNewConnections(per_minute):
            return _(
                "too many new connections from your address (at most {n} a minute); "
                "try again later",
                n=per_minute,
            )
        case _:
            return type(refused).__name__


def quit_line(event: Quit, _: Words = ENGLISH) -> str:
    """``*** ana left (why)``: someone left the server."""
    if event.reason is Reason.QUIT and not event.detail:
        return "*** " + _("{name} left", name=event.name)
    why = departure(_, event.reason, event.detail, event.by)
    return "*** " + _("{name} left ({why})", name=event.name, why=why)


def dismissed_line(event: Dismissed, _: Words = ENGLISH) -> str:
    """The last line a member the server removed reads: why."""
    match event.reason:
        case Reason.KICKED if event.detail:
            return "! " + _("you were kicked by {by}: {reason}", by=event.by, reason=event.detail)
        case Reason.KICKED:
            return "! " + _("you were kicked by {by}", by=event.by)
        case Reason.BANNED:
            return "! " + _("you are banned ({term})", term=ban_term(_, event.detail))
        case Reason.ELSEWHERE:
            return "! " + _("you logged in from elsewhere: this connection is closed")
        case Reason.OPER_FAILURES:
            return "! " + _("too many wrong operator passwords: disconnected")
        case Reason.TOO_SLOW:
            return "! " + _("you were disconnected: you are not reading fast enough")
        case _:
            why = departure(_, event.reason, event.detail, event.by)
            return "! " + _("disconnected: {why}", why=why)


def moderated_line(event: Moderated, _: Words = ENGLISH) -> str:
    """``*** op banned ana until ...``: an operator's action, announced."""
    by, target = event.by, event.target
    match event.action:
        case ModAction.BANNED:
            term = ban_term(_, event.detail)
            return "*** " + _("{by} banned {target} {term}", by=by, target=target, term=term)
        case ModAction.UNBANNED:
            return "*** " + _("{by} lifted the ban on {target}", by=by, target=target)
        case ModAction.MUTED:
            return "*** " + _("{by} muted {target}", by=by, target=target)
        case _:
            return "*** " + _("{by} unmuted {target}", by=by, target=target)
