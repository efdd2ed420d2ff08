"""TLS for the line protocol: the server's and the client's ``ssl`` contexts.

Theory of operation
-------------------
TLS wraps the same line protocol on the same port: the server wraps each
accepted TCP stream in a :class:`~trio_chat.net.tlsstream.TLSStream` (after a
first-byte check that it is TLS at all: :func:`turn_away`), and the client its
TCP stream in a ``trio.SSLStream``. Nothing above the stream changes.

What it gives: nobody on the network between a client and the server can read
or change what they say, and a client that verifies the certificate knows it
talks to the server that holds the key (not to a look-alike on the LAN). What it
does not give: any proof of who a *user* is. Anyone who can reach the port can
still connect and pick a free name.

Certificates come from files: a public one (``--tls-cert``) for a server with a
name in DNS, or a self-signed one from ``trio-chat cert`` (see
:mod:`trio_chat.tools.certs`) that each client trusts by its file (``--tls-ca``).
The client always checks that the certificate names the host it connects to:
``--host 192.168.1.20`` needs that IP address in the certificate.

Everything here is synchronous and small (reading two files, building a
context); errors are :class:`TLSError` with a message for the user, and
:func:`describe_server_failure` / :func:`describe_client_failure` turn
OpenSSL's error codes into a sentence.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import trio

from trio_chat import hints
from trio_chat.net.listeners import LINGER_TIMEOUT, linger

# What `trio-chat cert` writes (certs.py; kept here so that the command line
# need not import the cryptography package to show its defaults).
CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
# How long a certificate is valid unless --days says otherwise (about two years:
# long enough not to annoy a LAN, short enough that a lost key stops working).
DEFAULT_DAYS = 825
# OpenSSL's verification codes that have a better explanation than its own.
_NOT_VALID_FOR_HOST = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_UNTRUSTED = {18, 19, 20, 21}  # self-signed (in chain), unknown issuer, cannot verify leaf
_EXPIRED = {10}  # X509_V_ERR_CERT_HAS_EXPIRED
# What OpenSSL says when the other side does not speak TLS at all.
_NOT_TLS = {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL", "RECORD_LAYER_FAILURE"}
# Alerts a client sends when it refuses the server's certificate.
_REFUSED = {
    "TLSV1_ALERT_UNKNOWN_CA",
    "SSLV3_ALERT_BAD_CERTIFICATE",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED",
}
_PEM_CERT = b"-----BEGIN CERTIFICATE-----"
_PEM_KEY = b"PRIVATE KEY-----"


class TLSError(Exception):
    """TLS cannot be set up or failed; ``str(exc)`` says why, for the user."""


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """The server's context, with the certificate chain in ``cert`` and its ``key``.

    Raises:
        TLSError: a file is missing or unreadable, is not a certificate or a
            key, the key does not belong to the certificate, or needs a passphrase.
    """
    _check_pem(cert, _PEM_CERT, "certificate")
    _check_pem(key, _PEM_KEY, "private key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # No renegotiation (TLS 1.2; 1.3 has none): after the handshake a write
    # never waits for a read, which the direct writes rely on (tlsstream.py).
    context.options |= ssl.OP_NO_RENEGOTIATION
    try:
        context.load_cert_chain(cert, key, password=_no_passphrase)
    except _PassphraseNeeded:
        raise TLSError(
            f"the key {key} is protected by a passphrase: use a key without one"
        ) from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise TLSError(f"the key {key} does not belong to the certificate {cert}") from None
        raise TLSError(
            f"cannot use the certificate {cert} with the key {key}: {_reason(exc)}"
        ) from None
    return context


def client_context(ca: str | None = None) -> ssl.SSLContext:
    """The client's context: trust ``ca`` (a PEM file) only, or the system's store.

    Host names are always checked (``check_hostname``).

    Raises:
        TLSError: ``ca`` is missing, unreadable or holds no certificate.
    """
    if ca is None:
        return ssl.create_default_context()
    _check_pem(ca, _PEM_CERT, "certificate")
    try:
        return ssl.create_default_context(cafile=ca)
    except ssl.SSLError as exc:
        raise TLSError(f"cannot use the certificate {ca}: {_reason(exc)}") from None


def describe_server_failure(error: ssl.SSLError) -> str:
    """Why a client's handshake failed, for the server's log."""
    if error.reason in _NOT_TLS:
        return f"not a TLS client ({_reason(error)})"
    if error.reason in _REFUSED:
        return f"the client refused the certificate ({_reason(error)})"
    if isinstance(error, ssl.SSLEOFError):
        return "the client closed the connection (did it refuse the certificate?)"
    return _reason(error)


def describe_client_failure(error: ssl.SSLError, host: str) -> str:
    """Why the handshake with the server at ``host`` failed, with what to do about it."""
    if isinstance(error, ssl.SSLCertVerificationError):
        code, why = error.verify_code, error.verify_message
        if code in _NOT_VALID_FOR_HOST:
            return (
                f"the server's certificate is not valid for {host} ({why}). "
                f"Connect with a {hints.spelled('client', '--host')} the certificate names, "
                f"or make a certificate for it on the server: "
                f"{hints.command('cert', ('--force', None), ('--host', host))}"
            )
        if code in _UNTRUSTED:
            return (
                f"the server's certificate is not trusted ({why}). If the server uses "
                f"a self-signed certificate (trio-chat cert), copy its current cert.pem "
                f"to this PC and pass it with {hints.option('client', '--tls-ca', 'cert.pem')}"
            )
        if code in _EXPIRED:
            renew = hints.command("cert", ("--force", None))
            return f"the server's certificate has expired: make a new one ({renew})"
        return f"the server's certificate was refused: {why}"
    if error.reason in _NOT_TLS:
        cert = hints.spelled("serve", "--tls-cert")
        tls, ca = (hints.spelled("client", flag) for flag in ("--tls", "--tls-ca"))
        return (
            f"the server does not speak TLS (started without {cert}?): "
            f"connect without {tls} and {ca}, or start it with TLS"
        )
    if isinstance(error, ssl.SSLEOFError):
        return "the server closed the connection during the TLS handshake"
    return _reason(error)


class _PassphraseNeeded(Exception):
    pass


def _no_passphrase() -> str:
    # Without a callback OpenSSL would prompt on the terminal: a server must not.
    raise _PassphraseNeeded


def _check_pem(path: str, marker: bytes, what: str) -> None:
    """Read ``path`` and check it holds a PEM ``what``; errors say which file and why."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise TLSError(f"cannot read {path}: no such file") from None
    except PermissionError:
        raise TLSError(f"cannot read {path}: permission denied") from None
    except IsADirectoryError:
        raise TLSError(f"cannot read {path}: it is a directory") from None
    except OSError as exc:
        raise TLSError(f"cannot read {path}: {exc.strerror or exc}") from None
    if marker not in data:
        raise TLSError(f"{path} is not a PEM {what} (no {marker.decode().strip('-')} block)")


def _reason(error: ssl.SSLError) -> str:
    """OpenSSL's reason in words: ``WRONG_VERSION_NUMBER`` -> ``wrong version number``."""
    if error.reason:
        return str(error.reason).lower().replace("_", " ")
    return str(error.strerror or error)


class NotTLS(trio.BrokenResourceError):
    """A client on the TLS port spoke plain text."""


# What a client that speaks plain text to the TLS port reads, in plain text.
NOT_TLS_REPLY = (
    b"! this server speaks TLS: connect with --tls-ca cert.pem (make client TLS_CA=cert.pem)"
    b" or --tls\n"
)
# Every TLS connection starts with a handshake record, whose type is 22.
TLS_HANDSHAKE_RECORD = 0x16


async def turn_away(transport: trio.SocketStream, reply: bytes) -> None:
    """Tell a client that spoke plain text to the TLS port so, in plain text.

    Without it, a client that forgot TLS (``nc``, or ``trio-chat client``
    without ``--tls-ca``) would hear nothing: the server waits for a TLS
    handshake, the client for a greeting, until the name timeout. Its first
    bytes tell: a TLS client's are a handshake record
    (:data:`TLS_HANDSHAKE_RECORD`). The caller then ends the connection
    (:class:`NotTLS`).
    """
    with trio.move_on_after(LINGER_TIMEOUT):
        try:
            await transport.send_all(reply)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            return
        await linger(transport)  # so the reply is read, not reset
