"""The terminal client's command line: connect, then chat on a terminal or from a pipe.

:func:`run_terminal_client` connects (with TLS, :func:`connect` completes the
handshake and checks the server's certificate first, so a refused certificate
is one clear error, never a chat that dies on its first line), then runs a
:class:`~trio_chat.client.chat.ChatClient` with a prompt_toolkit keyboard on a
terminal, or with plain lines from a pipe.
"""

from __future__ import annotations

import os
import ssl
import sys
from dataclasses import dataclass, field
from typing import Any

import trio

from trio_chat import DEFAULT_PORT, hints
from trio_chat.client.chat import ChatClient
from trio_chat.client.display import Display, wants_colour
from trio_chat.client.keyboard import (
    Keyboard,
    PrintScreen,
    PromptKeyboard,
    Screen,
    StreamKeyboard,
    open_stdin,
    secret_free_history,
)
from trio_chat.client.link import ConnectFailed, Connector
from trio_chat.client.rules import EXIT_FAILED
from trio_chat.i18n import DEFAULT, words_for
from trio_chat.net.tls import TLSError, describe_client_failure

# How long the server may take to complete the TLS handshake.
HANDSHAKE_TIMEOUT = 10.0


def _serve_hint(port: int) -> str:
    return hints.command("serve", *([] if port == DEFAULT_PORT else [("--port", port)]))


async def run_terminal_client(
    host: str,
    port: int,
    name: str | None,
    *,
    no_color: bool = False,
    server_password: str | None = None,
    password: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    reconnect: bool = True,
    lang: str = DEFAULT,
) -> int:
    """Connect and chat from this terminal (or pipe); returns the exit code.

    On a terminal, the client reconnects after losing the connection (unless
    ``reconnect`` is false); a script does not: it ends, and its exit code
    says why (see trio_chat.client.rules). ``lang``: the language to speak.
    """
    _ = words_for(lang)
    address = f"{host}:{port}"
    try:
        conn = await connect(host, port, ssl_context)
    except OSError as exc:
        why = _(
            "cannot connect to {address}: {why}\nIs the server running? Start one with "
            "`{command}`, or check {host} and {port}.",
            address=address,
            why=_why(exc),
            command=_serve_hint(port),
            host=hints.spelled("client", "--host"),
            port=hints.spelled("client", "--port"),
        )
        print(f"trio-chat: {why}", file=sys.stderr)
        return EXIT_FAILED
    except TLSError as exc:
        why = _("no secure connection to {address}: {why}", address=address, why=exc)
        print(f"trio-chat: {why}", file=sys.stderr)
        return EXIT_FAILED

    async def dial() -> trio.abc.Stream:
        try:
            return await connect(host, port, ssl_context)
        except OSError as exc:
            raise ConnectFailed(_why(exc)) from None
        except TLSError as exc:
            raise ConnectFailed(str(exc)) from None

    settings = ClientSettings(name, server_password, password, dial, lang)
    if sys.stdin.isatty() and sys.stdout.isatty():
        return await _interactive(
            conn, settings, colour=wants_colour(no_color), reconnect=reconnect
        )
    async with open_stdin() as stdin:
        return await _run_with_signals(settings.client(conn, StreamKeyboard(stdin), PrintScreen()))


@dataclass(frozen=True)
class ClientSettings:
    """Who to be and how to connect again: the same for a terminal and a script."""

    name: str | None
    server_password: str | None = field(repr=False)
    password: str | None = field(repr=False)
    dial: Connector
    lang: str = DEFAULT

    def client(
        self, conn: trio.abc.Stream, keyboard: Keyboard, screen: Screen, **options: Any
    ) -> ChatClient:
        return ChatClient(
            conn,
            keyboard,
            screen,
            self.name,
            server_password=self.server_password,
            password=self.password,
            connect=self.dial,
            lang=self.lang,
            **options,
        )


async def connect(host: str, port: int, ssl_context: ssl.SSLContext | None) -> trio.abc.Stream:
    """A connection to the server; with TLS, handshaken and its certificate checked.

    The certificate must be valid for ``host`` as typed: a name it lists, or
    an IP address it lists (``--host 192.168.1.20``).

    Raises:
        OSError: no TCP connection.
        TLSError: the handshake failed or the certificate was refused; says why.
    """
    tcp = await trio.open_tcp_stream(host, port)
    if ssl_context is None:
        return tcp
    conn = trio.SSLStream(tcp, ssl_context, server_hostname=host)
    try:
        with trio.fail_after(HANDSHAKE_TIMEOUT):
            await conn.do_handshake()
    except trio.TooSlowError:
        await trio.aclose_forcefully(conn)
        raise TLSError(f"no TLS handshake within {HANDSHAKE_TIMEOUT:.0f} s") from None
    except trio.BrokenResourceError as exc:
        await trio.aclose_forcefully(conn)
        cause = exc.__cause__
        if isinstance(cause, ssl.SSLError):
            raise TLSError(describe_client_failure(cause, host)) from None
        raise TLSError("the server closed the connection during the TLS handshake") from None
    return conn


def _why(exc: OSError) -> str:
    """The most telling reason in a connection error (trio groups one per address)."""
    cause = exc.__cause__
    if isinstance(cause, BaseExceptionGroup):
        for error in cause.exceptions:
            if isinstance(error, OSError) and error.errno:
                return os.strerror(error.errno).lower()
    return (exc.strerror or str(exc)).lower()


async def _interactive(
    conn: trio.abc.Stream, settings: ClientSettings, *, colour: bool, reconnect: bool
) -> int:
    from prompt_toolkit.patch_stdout import patch_stdout

    # Up/Down recall earlier lines, but never one that carries a password.
    keyboard = PromptKeyboard(secret_free_history())
    display = Display(colour=colour, timestamps=True)
    client = settings.client(
        conn, keyboard, PrintScreen(), display=display, echo=True, reconnect=reconnect
    )
    with patch_stdout(raw=True):
        try:
            return await _run_with_signals(client)
        finally:
            with trio.CancelScope(shield=True):
                await keyboard.wait_closed()


async def _run_with_signals(client: ChatClient) -> int:
    import signal

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                async for _ in signals:
                    client.interrupt()

            nursery.start_soon(watch)
            code = await client.run()
            nursery.cancel_scope.cancel()
    return code
