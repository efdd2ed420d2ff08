"""IRCv3 sasl (3.1 and 3.2): ``AUTHENTICATE PLAIN`` against our registered accounts.

The exchange itself is :mod:`.sasl_plain` (sans-IO); here its outcomes
become numerics and the credentials go to the chat service
(:meth:`~trio_chat.core.service.ChatService.identify`), which owns the
accounts, their passwords and the count of wrong tries. Logged in, the
client may then take its account's name as its nick without a password
(the service knows it proved it owns it), before or after registering.

As sasl-3.2 asks, a client may authenticate again at any time, before or
after registering, logged in or not: a success logs it in to the new account
(``900``, ``903``, ``ACCOUNT`` to account-notify clients), a failure leaves it
logged in as it was. A connection keeps the right to every name it proved.

A password must not cross the network in clear text: on a connection that
is neither TLS nor from a loopback address, SASL fails (904) unless the
server was started with ``--irc-sasl-plaintext``.
"""

from __future__ import annotations

import ipaddress
import weakref
from typing import TYPE_CHECKING

import trio

from trio_chat.core.refusals import InvalidName, NotRegistered, WrongPassword
from trio_chat.irc import caps, registration
from trio_chat.irc.codec import IrcMessage
from trio_chat.irc.dispatch import command
from trio_chat.irc.extensions import ACCOUNT_NOTIFY, audience, tell_with
from trio_chat.irc.sasl_plain import MECHANISMS, Continue, Credentials, Failed, PlainExchange
from trio_chat.net.tlsstream import TLSStream

if TYPE_CHECKING:
    from trio_chat.irc.session import IrcSession

SASL = caps.register("sasl", ",".join(MECHANISMS)).name
RPL_LOGGEDIN, RPL_SASLSUCCESS = "900", "903"
ERR_SASLFAIL, ERR_SASLTOOLONG, ERR_SASLABORTED = "904", "905", "906"
RPL_SASLMECHS = "908"

_exchanges: weakref.WeakKeyDictionary[IrcSession, PlainExchange] = weakref.WeakKeyDictionary()
# The account each session logged in to (also on its Person, once it has one).
_accounts: weakref.WeakKeyDictionary[IrcSession, str] = weakref.WeakKeyDictionary()


def in_clear_from_afar(session: IrcSession) -> bool:
    """Whether a password would cross the network unencrypted (not TLS, not loopback)."""
    if isinstance(session.connection.stream, (TLSStream, trio.SSLStream)):
        return False
    try:
        return not ipaddress.ip_address(session.host).is_loopback
    except ValueError:
        return False  # not over IP (a test's memory stream)


def account_of(session: IrcSession) -> str:
    return _accounts.get(session, "")


@command("USER", params=4, early=True)
async def user(session: IrcSession, message: IrcMessage) -> None:
    """USER as registration has it; a client that logged in first keeps its account."""
    await registration.user(session, message)
    if session.person is not None and session in _accounts:
        session.person.account = _accounts[session]


def fail(session: IrcSession, reason: str) -> None:
    _exchanges.pop(session, None)
    match reason:
        case "unknown-mechanism":
            session.reply(RPL_SASLMECHS, ",".join(MECHANISMS), "are available SASL mechanisms")
            session.reply(ERR_SASLFAIL, "SASL authentication failed")
        case "too-long":
            session.reply(ERR_SASLTOOLONG, "SASL message too long")
        case "aborted":
            session.reply(ERR_SASLABORTED, "SASL authentication aborted")
        case _:
            session.reply(ERR_SASLFAIL, "SASL authentication failed")


@command("AUTHENTICATE", params=1, early=True)
async def authenticate(session: IrcSession, message: IrcMessage) -> None:
    if SASL not in session.caps:
        session.reply(ERR_SASLFAIL, "Request the sasl capability first")
        return
    exchange = _exchanges.setdefault(session, PlainExchange())
    step = exchange.feed(message.params[0])
    match step:
        case Continue(prompt):
            if prompt:
                session.send(IrcMessage("AUTHENTICATE", ("+",)))
        case Failed(reason):
            fail(session, reason)
        case Credentials():
            _exchanges.pop(session, None)
            await log_in(session, step)


async def log_in(session: IrcSession, credentials: Credentials) -> None:
    if in_clear_from_afar(session) and not session.settings.sasl_plaintext:
        session.notice("SASL needs TLS here (or a connection from this machine)")
        fail(session, "refused")
        return
    try:
        account = await session.service.identify(
            session.client, credentials.account, credentials.password
        )
    except WrongPassword as exc:
        fail(session, "wrong")
        if exc.tries_left == 0:
            session.error("Closing Link: Too many wrong passwords")
        return
    except (NotRegistered, InvalidName):
        fail(session, "unknown")
        return
    _accounts[session] = account
    person = session.person if not session.registered else session.wire.people.of(session.nick)
    if person is not None:
        person.account = account
    mask = session.mask() if session.registered else f"{session.nick}!*@*"
    session.reply(RPL_LOGGEDIN, mask, account, f"You are now logged in as {account}")
    session.reply(RPL_SASLSUCCESS, "SASL authentication successful")
    if session.registered:
        line = IrcMessage("ACCOUNT", (account,), session.mask())
        tell_with(session, ACCOUNT_NOTIFY, audience(session), line)
