"""The IRC frontend: the text door's listeners, admission and shutdown, with IRC sessions.

Everything about accepting a connection (admission, TLS, keepalive, the
registration timeout, the shutdown order, logging a failed connection) is
the :class:`~trio_chat.text.server.TextFrontend`'s, and shared: this
frontend only makes :class:`~trio_chat.irc.session.IrcSession` sessions
and words its last lines as IRC does (``ERROR :Closing Link: ...``).
"""

from __future__ import annotations

import ssl
import time

from trio_chat.core.admission import Admission
from trio_chat.core.events import Error, Notice
from trio_chat.core.service import ChatService
from trio_chat.irc import commands
from trio_chat.irc.codec import IrcMessage, encode
from trio_chat.irc.session import IrcSession, IrcSettings
from trio_chat.irc.wire import Wire
from trio_chat.net.connection import Connection
from trio_chat.text.server import FrontSession, TextFrontend
from trio_chat.text.session import NAME_TIMEOUT

DEFAULT_IRC_PORT = 6667
DEFAULT_IRC_TLS_PORT = 6697
DEFAULT_IRC_SERVER_NAME = "trio-chat"

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
