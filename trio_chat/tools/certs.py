"""Self-signed certificates for a LAN: ``trio-chat cert``.

Theory of operation
-------------------
A LAN rarely has a name in DNS, so no public authority will sign a
certificate for it. Instead the server PC makes its own key and a certificate
signed with that same key, and every client trusts that one certificate by
its file (``trio-chat client --tls-ca cert.pem``): copying ``cert.pem`` to the
other PCs is the whole "certificate authority". Only ``key.pem`` is secret;
it never leaves the server PC and is written with mode 0600.

The certificate names every way a client may reach this PC (its subject
alternative names): ``localhost``, ``127.0.0.1``, ``::1``, the host name (and
``NAME.local`` for mDNS), the LAN addresses of :func:`~trio_chat.net.listeners.lan_addresses`,
and any name or address given with ``--host``. The client checks the name it
connected to against this list, so a DHCP lease that changes the server's
address means a new certificate (or ``--host`` with a stable name).

Why the ``cryptography`` package: the standard library's ``ssl`` can load
certificates but not make them. The ``openssl`` command is missing on
Windows and some minimal systems, and its options differ between versions
(``-addext`` needs 1.1.1). ``cryptography`` ships wheels for every platform
Python runs on, is what ``trustme`` (our test certificates) is built on, and
its builder states every field of the certificate in code. It is imported
only by this module, so the server and the client do not load it.

The key is ECDSA P-256: as safe as RSA-3072 for our purpose, generated in a
millisecond, accepted by every TLS library in use. The certificate is an
end-entity certificate (``CA:FALSE``) for server authentication, with key
identifiers, so that it also passes the stricter checks of Python 3.13's
default context (``VERIFY_X509_STRICT``).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from trio_chat import hints
from trio_chat.net.listeners import lan_addresses
from trio_chat.net.tls import CERT_FILE, DEFAULT_DAYS, KEY_FILE

# The certificate is valid from a day before it is made: another PC's clock
# that runs a little late must not find it "not yet valid".
BACKDATE = datetime.timedelta(days=1)
# One DNS label: letters, digits and hyphens, not at either end (RFC 1123).
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


class CertError(Exception):
    """The certificate cannot be made or written; ``str(exc)`` says why, for the user."""


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path
    # The names and addresses the certificate is valid for, in order.
    names: list[str]
    not_after: datetime.datetime


def local_names() -> list[str]:
    """The names and addresses by which this PC may be reached on a LAN."""
    names = ["localhost", "127.0.0.1", "::1"]
    host = socket.gethostname()
    if _is_host_name(host):
        names.append(host)
        if "." not in host:
            names.append(f"{host}.local")  # how mDNS (Avahi, Bonjour) names it
    return names + lan_addresses()


def subject_names(names: Iterable[str]) -> list[x509.GeneralName]:
    """IP addresses and DNS names for the certificate, without duplicates.

    Raises:
        CertError: a name is neither an IP address nor a valid host name.
    """
    found: list[x509.GeneralName] = []
    for name in names:
        general = _general_name(name)
        if general not in found:
            found.append(general)
    return found


def make_self_signed(names: Sequence[str], days: int) -> tuple[bytes, bytes, x509.Certificate]:
    """A new key and a self-signed certificate for ``names``; PEM bytes of both.

    Raises:
        CertError: a name is not usable in a certificate.
    """
    alt_names = subject_names(names)
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f"trio-chat {_first_dns(alt_names)}"[:64])]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem, certificate


def write_self_signed(
    out: Path, extra_names: Sequence[str] = (), days: int = DEFAULT_DAYS, *, force: bool = False
) -> CertFiles:
    """Make a key and certificate for this PC (plus ``extra_names``) in ``out``.

    ``key.pem`` gets mode 0600 (only its owner may read it); ``cert.pem`` is
    public. Existing files are kept unless ``force``: replacing a key breaks
    every client that trusts the old certificate.

    Raises:
        CertError: a name is unusable, the files exist, or they cannot be written.
    """
    subject_names(extra_names)  # a bad name is the first thing to hear about
    cert_path, key_path = out / CERT_FILE, out / KEY_FILE
    if not force:
        for path in (cert_path, key_path):
            if path.exists():
                replace = hints.option("cert", "--force")
                raise CertError(f"{path} exists: keep it, or replace it with {replace}")
    cert_pem, key_pem, certificate = make_self_signed(local_names() + list(extra_names), days)
    try:
        out.mkdir(parents=True, exist_ok=True)
        _write(key_path, key_pem, 0o600)
        _write(cert_path, cert_pem, 0o644)
    except OSError as exc:
        raise CertError(f"cannot write to {out}: {exc.strerror or exc}") from None
    return CertFiles(cert_path, key_path, _names(certificate), certificate.not_valid_after_utc)


def _write(path: Path, data: bytes, mode: int) -> None:
    # The mode is set at creation, so the key is never readable by others,
    # and again after, in case the file existed (--force) or the umask is odd.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        pass
    if not _is_host_name(name):
        raise CertError(f"{name!r} is neither an IP address nor a host name")
    return x509.DNSName(name.encode("idna").decode("ascii").lower().rstrip("."))


def _is_host_name(name: str) -> bool:
    try:
        ascii_name = name.encode("idna").decode("ascii").lower().rstrip(".")
    except UnicodeError:
        return False
    labels = ascii_name.split(".")
    return len(ascii_name) <= 253 and all(_LABEL.fullmatch(label) for label in labels)


def _first_dns(names: Sequence[x509.GeneralName]) -> str:
    """The most telling name for the common name: the first non-localhost DNS name."""
    for name in names:
        if isinstance(name, x509.DNSName) and name.value != "localhost":
            return name.value
    return "localhost"


def _names(certificate: x509.Certificate) -> list[str]:
    alt = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(name.value) for name in alt]
