"""The IRC frontend: the text door's listeners, admission and shutdown, with IRC sessions.

Everything about accepting a connection (admission, TLS, keepalive, the
registration timeout, the shutdown order, logging a failed connection) is
the :class:`~trio_chat.text.server.TextFrontend`'s, and shared: this
frontend only makes :class:`~trio_chat.irc.session.IrcSession` sessions
and words its last lines as IRC does (``ERROR :Closing Link: ...``).
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Sequence

import trio

from trio_chat.core.admission import Admission
from trio_chat.core.events import Error, Notice
from trio_chat.core.service import ChatService
from trio_chat.irc import commands
from trio_chat.irc.codec import IrcMessage, encode
from trio_chat.irc.session import IrcSession, IrcSettings
from trio_chat.irc.wire import Wire
from trio_chat.net.connection import Connection
from trio_chat.net.listeners import lan_addresses
from trio_chat.text.server import FrontSession, TextFrontend
from trio_chat.text.session import NAME_TIMEOUT

LOGGER = logging.getLogger(__name__)

DEFAULT_IRC_PORT = 6667
DEFAULT_IRC_TLS_PORT = 6697
DEFAULT_IRC_SERVER_NAME = "trio-chat"
DEFAULT_IRC_SERVER_INFO = "trio_chat: IRC and plain text in the same rooms"

assert commands.MODULES  # every command module is loaded


class IrcFrontend(TextFrontend):
    """Serves IRC on its listeners.

    Args:
        service, admission, host, port, name_timeout, ssl_context: as
            :class:`~trio_chat.text.server.TextFrontend`'s (the timeout is
            the registration's).
        settings: the server's IRC name, network, ping timers.
        wire: the encoders and who is who, shared with the TLS port's frontend.
    """

    kind = "irc"

    def __init__(
        self,
        service: ChatService,
        admission: Admission | None = None,
        *,
        host: str | None = None,
        port: int = 0,
        name_timeout: float = NAME_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
        settings: IrcSettings | None = None,
        wire: Wire | None = None,
    ) -> None:
        super().__init__(
            service,
            admission,
            host=host,
            port=port,
            name_timeout=name_timeout,
            ssl_context=ssl_context,
        )
        self.settings = settings or IrcSettings()
        if not self.settings.created:
            self.settings.created = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        self.wire = wire or Wire(self.settings.server)
        self.settings.unregistered = self._unregistered
        presence = service.hub.presence  # WHOWAS of text and web users too (once per wire)
        if self.wire.people.presence not in presence:
            presence.append(self.wire.people.presence)

    def port_option(self) -> str:
        return "--irc-port" if self.ssl_context is None else "--irc-tls-port"

    def _unregistered(self) -> int:
        return max(0, self.admission.connections - self.service.online())

    def session(self, connection: Connection, address: str | None) -> FrontSession:
        host = address or "localhost"
        if host.startswith(":"):
            host = "0" + host  # "::1" would read as a trailing parameter
        return IrcSession(
            connection, self.service, self.wire, self.settings, address=address, host=host
        )

    def timeout_line(self) -> Error:
        return Error("Closing Link: Registration timed out")

    def line(self, event: Notice | Error) -> bytes:
        if isinstance(event, Notice):
            return encode(IrcMessage("NOTICE", ("*", event.text), self.settings.server))
        text = (
            event.text if event.text.startswith("Closing Link") else f"Closing Link: {event.text}"
        )
        return encode(IrcMessage("ERROR", (text,)))


def irc_doors(
    service: ChatService,
    admission: Admission,
    *,
    host: str | None,
    ports: tuple[int | None, int | None],
    ssl_context: ssl.SSLContext | None,
    server_name: str = DEFAULT_IRC_SERVER_NAME,
    server_info: str = DEFAULT_IRC_SERVER_INFO,
    name_timeout: float = NAME_TIMEOUT,
    sasl_plaintext: bool = False,
) -> list[IrcFrontend]:
    """The IRC door on its plain port and, with a certificate, on its TLS port.

    ``ports``: (plain, TLS), None for a door that stays closed. Both share one
    :class:`~trio_chat.irc.wire.Wire`: one encoder per capability set, one idea of who is who.
    """
    settings = IrcSettings(
        server=server_name, network=server_name, info=server_info, sasl_plaintext=sasl_plaintext
    )
    wire = Wire(settings.server)
    plain, tls = ports
    wanted: list[tuple[int, ssl.SSLContext | None]] = [] if plain is None else [(plain, None)]
    if tls is not None and ssl_context is not None:
        wanted.append((tls, ssl_context))
    return [
        IrcFrontend(
            service,
            admission,
            host=host,
            port=port,
            name_timeout=name_timeout,
            ssl_context=context,
            settings=settings,
            wire=wire,
        )
        for port, context in wanted
    ]


async def announce_irc(doors: Sequence[IrcFrontend], host: str | None) -> None:
    """Log where IRC clients connect: ``irssi: /connect 192.168.1.23 6667``."""
    from trio_chat.cli_words import operator_words

    _ = operator_words()  # the operator's language
    if host in (None, "", "0.0.0.0", "::"):
        addresses = await trio.to_thread.run_sync(lan_addresses) or ["127.0.0.1"]
    else:
        addresses = [host]
    for door in doors:
        tls = door.ssl_context is not None
        for listener in door.listeners:
            where, port = listener.socket.getsockname()[:2]
            address = f"{where}:{port}"
            LOGGER.info(
                "%s",
                _("IRC over TLS: listening on {address}", address=address)
                if tls
                else _("IRC: listening on {address}", address=address),
                extra={"fields": {"event": "listening", "address": address}},
            )
        if door.listeners:
            port = door.listeners[0].socket.getsockname()[1]
            for address in addresses:
                LOGGER.info("irssi: /connect %s%s %s", "-tls " if tls else "", address, port)
