"""The server's own commands: the welcome burst, ISUPPORT, LUSERS, MOTD, PING, QUIT, VERSION...

The ISUPPORT tokens say what holds here: names and channels follow the
core's one rule (:mod:`trio_chat.core.names`), channels are ``#`` rooms,
server operators show as ``@`` in every channel, and the channel modes are
the rooms' settings (:mod:`.modes`, :mod:`.chanops`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from trio_chat.core.names import CASEMAPPING, CHANNELLEN, CHANTYPES, MAX_TOPIC_CHARS, NICKLEN
from trio_chat.irc import numerics as n
from trio_chat.irc.codec import IrcMessage
from trio_chat.irc.dispatch import COMMANDS, command
from trio_chat.irc.formatting import strip_formatting
from trio_chat.irc.messaging import MAX_TARGETS
from trio_chat.irc.modes import CHANMODES, PREFIX
from trio_chat.irc.operators import KICK_TARGETS

if TYPE_CHECKING:
    from trio_chat.irc.session import IrcSession

# The user modes (004): B is IRCv3 bot mode (:mod:`.bot`, ISUPPORT BOT=B).
USER_MODES = "Biow"
CHANNEL_MODES = "Ibeiklmnostv"
TOKENS_PER_LINE = 13
# ISUPPORT tokens other modules add (token -> value, "" for none), e.g. IRCv3's MONITOR.
ISUPPORT_EXTRA: dict[str, str] = {}


def isupport(session: IrcSession) -> list[str]:
    """The 005 tokens, sorted by name (ours and ISUPPORT_EXTRA's)."""
    extra = [f"{key}={value}" if value else key for key, value in ISUPPORT_EXTRA.items()]
    return sorted([*_own(session), *extra], key=lambda token: token.split("=")[0])


def _own(session: IrcSession) -> list[str]:
    settings = session.settings
    return [
        f"AWAYLEN={MAX_TOPIC_CHARS}",
        f"CASEMAPPING={CASEMAPPING}",
        f"CHANLIMIT={CHANTYPES}:",
        f"CHANMODES={CHANMODES}",
        f"CHANNELLEN={CHANNELLEN}",
        f"CHANTYPES={CHANTYPES}",
        "ELIST=MNU",
        f"KICKLEN={MAX_TOPIC_CHARS}",
        f"MAXTARGETS={MAX_TARGETS}",
        "MODES=4",
        f"NETWORK={settings.network}",
        f"NICKLEN={NICKLEN}",
        f"PREFIX={PREFIX}",
        "SAFELIST",
        "STATUSMSG=@",
        f"TARGMAX=JOIN:,KICK:{KICK_TARGETS},NAMES:,NOTICE:{MAX_TARGETS},PART:,"
        f"PRIVMSG:{MAX_TARGETS},WHOIS:1",
        f"TOPICLEN={MAX_TOPIC_CHARS}",
        "USERLEN=16",
        "UTF8ONLY",
    ]


def welcome(session: IrcSession) -> None:
    """001-004, 005, LUSERS and the MOTD: what a client hears on registering."""
    settings = session.settings
    session.reply(n.RPL_WELCOME, f"Welcome to the {settings.network} IRC network {session.mask()}")
    session.reply(
        n.RPL_YOURHOST, f"Your host is {settings.server}, running version {settings.version}"
    )
    session.reply(n.RPL_CREATED, f"This server was created {settings.created}")
    session.reply(n.RPL_MYINFO, settings.server, settings.version, USER_MODES, CHANNEL_MODES)
    send_isupport(session)
    lusers(session)
    motd(session)


def send_isupport(session: IrcSession) -> None:
    tokens = isupport(session)
    for start in range(0, len(tokens), TOKENS_PER_LINE):
        chunk = tokens[start : start + TOKENS_PER_LINE]
        session.reply(n.RPL_ISUPPORT, *chunk, "are supported by this server")


def lusers(session: IrcSession) -> None:
    service = session.service
    users = service.online()
    operators = sum(1 for name in service.members() if service.member(name).operator)
    rooms = len(service.rooms())
    hidden = session.wire.people.invisible()
    shown = f"There are {users - hidden} users and {hidden} invisible on 1 servers"
    session.reply(n.RPL_LUSERCLIENT, shown)
    session.reply(n.RPL_LUSEROP, str(operators), "operator(s) online")
    session.reply(n.RPL_LUSERUNKNOWN, str(session.settings.unregistered()), "unknown connection(s)")
    session.reply(n.RPL_LUSERCHANNELS, str(rooms), "channels formed")
    session.reply(n.RPL_LUSERME, f"I have {users} clients and 0 servers")
    session.reply(n.RPL_LOCALUSERS, f"Current local users: {users}")
    session.reply(n.RPL_GLOBALUSERS, f"Current global users: {users}")


def motd(session: IrcSession) -> None:
    lines = session.settings.motd
    if not lines:
        session.reply(n.ERR_NOMOTD, "MOTD File is missing")
        return
    session.reply("375", f"- {session.settings.server} Message of the day - ")
    for line in lines:
        session.reply("372", f"- {line}")
    session.reply("376", "End of /MOTD command.")


@command("LUSERS")
async def lusers_command(session: IrcSession, message: IrcMessage) -> None:
    lusers(session)


@command("MOTD")
async def motd_command(session: IrcSession, message: IrcMessage) -> None:
    if message.params and not _here(session, message.params[0]):
        session.reply(n.ERR_NOSUCHSERVER, message.params[0], "No such server")
        return
    motd(session)


def _here(session: IrcSession, server: str) -> bool:
    """Whether ``server`` (a name or mask) means this server."""
    from fnmatch import fnmatchcase

    name = session.settings.server
    return fnmatchcase(name.lower(), server.lower()) or server.lower() == session.nick.lower()


@command("PING", early=True)
async def ping(session: IrcSession, message: IrcMessage) -> None:
    if not message.params or not message.params[0]:
        session.reply(n.ERR_NOORIGIN, "No origin specified")
        return
    server = session.settings.server
    session.send(IrcMessage("PONG", (server, message.params[0]), server))


@command("PONG", early=True)
async def pong(session: IrcSession, message: IrcMessage) -> None:
    pass  # any message shows the client is alive (see the session's reader)


@command("QUIT", early=True)
async def quit(session: IrcSession, message: IrcMessage) -> None:
    reason = strip_formatting(message.params[0]) if message.params else ""
    session.send(IrcMessage("ERROR", (f"Closing Link: {session.host} (Quit: {reason})",)))
    session.quitting = reason


@command("LINKS")
async def links(session: IrcSession, message: IrcMessage) -> None:
    """One server, linked to nothing."""
    server = session.settings.server
    session.reply(n.RPL_LINKS, server, server, f"0 {session.settings.info}")
    session.reply(n.RPL_ENDOFLINKS, "*", "End of /LINKS list")


@command("VERSION")
async def version(session: IrcSession, message: IrcMessage) -> None:
    if message.params and not _here(session, message.params[0]):
        session.reply(n.ERR_NOSUCHSERVER, message.params[0], "No such server")
        return
    settings = session.settings
    session.reply(n.RPL_VERSION, settings.version, settings.server, "trio_chat IRC door")
    send_isupport(session)


@command("TIME")
async def time_command(session: IrcSession, message: IrcMessage) -> None:
    if message.params and not _here(session, message.params[0]):
        session.reply(n.ERR_NOSUCHSERVER, message.params[0], "No such server")
        return
    now = time.time()
    text = time.strftime("%A %B %d %Y -- %H:%M:%S %z", time.localtime(now))
    session.reply(n.RPL_TIME, session.settings.server, str(int(now)), "0", text)


@command("INFO")
async def info(session: IrcSession, message: IrcMessage) -> None:
    if message.params and not _here(session, message.params[0]):
        session.reply(n.ERR_NOSUCHSERVER, message.params[0], "No such server")
        return
    for line in (
        f"{session.settings.version}: a chat server for the LAN",
        "IRC, plain text (nc) and its own client, in the same rooms",
    ):
        session.reply(n.RPL_INFO, line)
    session.reply(n.RPL_ENDOFINFO, "End of INFO list")


@command("ADMIN")
async def admin(session: IrcSession, message: IrcMessage) -> None:
    if message.params and not _here(session, message.params[0]):
        session.reply(n.ERR_NOSUCHSERVER, message.params[0], "No such server")
        return
    server = session.settings.server
    session.reply(n.RPL_ADMINME, server, "Administrative info")
    session.reply(n.RPL_ADMINLOC1, "Whoever runs this server on your LAN")
    session.reply(n.RPL_ADMINLOC2, "trio_chat")
    session.reply(n.RPL_ADMINEMAIL, "nobody@localhost")


@command("HELPOP")
@command("HELP")
async def help_command(session: IrcSession, message: IrcMessage) -> None:
    subject = message.params[0].upper() if message.params else ""
    if subject and subject not in COMMANDS:
        session.reply(n.ERR_HELPNOTFOUND, subject, "No help available on this topic")
        return
    topic = subject or "*"
    text = f"{subject}: see RFC 2812 and modern.ircdocs.horse" if subject else _commands()
    session.reply(n.RPL_HELPSTART, topic, f"** Help: {subject or 'trio_chat'} **")
    session.reply(n.RPL_HELPTXT, topic, text)
    session.reply(n.RPL_ENDOFHELP, topic, "End of /HELP")


def _commands() -> str:
    return "Commands: " + " ".join(sorted(COMMANDS))
