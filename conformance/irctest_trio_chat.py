"""irctest controller for trio_chat: ``--controller irctest_trio_chat``.

irctest (the IRC servers' conformance suite, a pinned copy in ``../shared/irctest``)
starts one server per test through a controller. This one runs ``trio-chat serve``
with the IRC door on the port irctest picked, the text door on a free port, an
in-memory database (a file when the test wants history), the server password the
test asks for and irctest's operator password (``operpassword``; our operators have
no names, so ``OPER operuser operpassword`` is ``/oper operpassword``).

Accounts (``registerUser``, for the SASL tests) are registered through the text
door, as a user would: ``NAME`` then ``/register PASSWORD``. A password our
accounts refuse (the core's one rule: 6 to 1024 characters; irctest's
re-authentication tests use ``bar``) is a feature not offered: the test is
skipped, as irctest's Atheme controller does for its own limit.

``make irctest`` runs it (see the Makefile and README, IRC, Conformance).
"""

from __future__ import annotations

import os
import socket
import sys
import time
from typing import Any, ClassVar

from irctest.basecontrollers import BaseServerController, DirectoryBasedController
from irctest.runner import NotImplementedByController
from irctest.specifications import Capabilities, OptionalBehaviors

from trio_chat.core.passwords import password_problem

# The command that runs trio_chat: this interpreter's (the venv that runs irctest
# has trio_chat installed), unless TRIO_CHAT_COMMAND says otherwise.
COMMAND = os.environ.get("TRIO_CHAT_COMMAND", f"{sys.executable} -m trio_chat").split()
OPER_PASSWORD = "operpassword"


class TrioChatController(BaseServerController, DirectoryBasedController):
    software_name = "trio_chat"
    supported_sasl_mechanisms: ClassVar[set[str]] = {"PLAIN"}
    supports_sts = False
    _port_wait_interval = 0.05

    # What the server implements (the tests of the others are skipped).
    capabilities = frozenset(
        {
            Capabilities.ACCOUNT_NOTIFY,
            Capabilities.ACCOUNT_TAG,
            Capabilities.AWAY_NOTIFY,
            Capabilities.BATCH,
            Capabilities.ECHO_MESSAGE,
            Capabilities.EXTENDED_JOIN,
            Capabilities.EXTENDED_MONITOR,
            Capabilities.LABELED_RESPONSE,
            Capabilities.MESSAGE_TAGS,
            Capabilities.MULTI_PREFIX,
            Capabilities.SERVER_TIME,
            Capabilities.SETNAME,
        }
    )
    optional_behaviors = frozenset(
        {
            OptionalBehaviors.BAN_EXCEPTION_MODE,
            OptionalBehaviors.CAP_REQ_MINUS,
            OptionalBehaviors.ELIST_M,
            OptionalBehaviors.ELIST_N,
            OptionalBehaviors.ELIST_U,
            OptionalBehaviors.INVITE_EXCEPTION_MODE,
            OptionalBehaviors.INVITE_LIST,
            OptionalBehaviors.MULTI_JOIN,
            OptionalBehaviors.MULTI_KICK,
            OptionalBehaviors.MULTI_NAMES_COMMAND,
            OptionalBehaviors.SASL_AFTER_REGISTRATION,
            OptionalBehaviors.SASL_REAUTHENTICATION,
        }
    )
    # ISUPPORT tokens the server must show (isupport.py testValues).
    isupport: ClassVar[dict[str, str | None]] = {
        "CASEMAPPING": "rfc8265",
        "CHANTYPES": "#",
        "UTF8ONLY": None,
    }

    text_port: int

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: str | None,
        ssl: bool,
        run_services: bool,
        faketime: str | None,
        websocket_hostname: str | None,
        websocket_port: int | None,
    ) -> None:
        if websocket_hostname is not None or websocket_port is not None:
            raise NotImplementedByController("Websocket")
        assert self.proc is None
        self.create_config()
        assert self.directory is not None
        self.hostname, self.port = hostname, port
        _, self.text_port = self.get_hostname_and_port()
        self.proc = self.execute(self._command(hostname, port, password, ssl))

    def _command(self, hostname: str, port: int, password: str | None, ssl: bool) -> list[str]:
        assert self.directory is not None
        oper = self.directory / "oper.txt"
        oper.write_text(OPER_PASSWORD + "\n")
        db = self.directory / "chat.sqlite3" if self.test_config.chathistory else ":memory:"
        args = [
            *COMMAND,
            "serve",
            "--host",
            hostname,
            "--port",
            str(self.text_port),
            "--db",
            str(db),
            "--oper-password-file",
            str(oper),
            "--irc-server-name",
            "My.Little.Server",
            "--irc-server-info",
            "test server",
            "--log-level",
            "debug" if self.debug_mode else "warning",
            # Only the doors under test: the web page's default port may be taken.
            "--no-web",
        ]
        if password is not None:
            door = self.directory / "door.txt"
            door.write_text(password + "\n")
            args += ["--password-file", str(door)]
        if ssl:
            self.gen_ssl()
            _, plain_port = self.get_hostname_and_port()
            args += ["--irc-port", str(plain_port), "--irc-tls-port", str(port)]
            args += ["--tls-cert", str(self.pem_path), "--tls-key", str(self.key_path)]
        else:
            args += ["--irc-port", str(port)]
        return args

    def wait_for_services(self) -> None:
        """Accounts are the server's own: no services to wait for."""

    def registerUser(self, case: Any, username: str, password: str | None = None) -> None:
        """Registers USERNAME with PASSWORD through the text door, as a text user would."""
        assert password
        problem = password_problem(password)
        if problem is not None:
            raise NotImplementedByController(f"Passwords our accounts refuse: {problem}")
        self.wait_for_port()
        with socket.create_connection((self.hostname, self.text_port), timeout=10) as sock:
            lines = _Lines(sock)
            if case.password is not None:
                lines.send(f"/pass {case.password}")
            lines.send(username)
            lines.send(f"/register {password}")
            lines.wait_for("is registered to you now")
            lines.send("/quit")


class _Lines:
    """A text-door connection, line by line (for registerUser)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.seen = b""

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\n")

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + 10
        while text.encode() not in self.seen:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} from the text door: {self.seen!r}")
            data = self.sock.recv(4096)
            if not data:
                raise AssertionError(f"text door closed: {self.seen!r}")
            self.seen += data


def get_irctest_controller_class() -> type[TrioChatController]:
    return TrioChatController
