"""`trio-chat cert`: the files it writes, what they name, and that TLS accepts them."""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
import stat
import subprocess
from pathlib import Path

import pytest
import trio
from cryptography import x509

from trio_chat.app import App
from trio_chat.client.terminal import connect
from trio_chat.core.hub import Hub
from trio_chat.net import tls
from trio_chat.net.listeners import lan_addresses
from trio_chat.tools.certs import CertError, write_self_signed

from ..conftest import Peer, run_trio_chat, text_server


async def run_cert(*args: str) -> subprocess.CompletedProcess[bytes]:
    return await run_trio_chat("cert", *args)


def alt_names(cert_file: Path) -> set[str]:
    certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
    alt = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(name.value) for name in alt}


async def test_cert_writes_a_key_only_its_owner_reads_and_a_certificate_for_this_pc(
    tmp_path: Path,
) -> None:
    out = tmp_path / "tls"
    result = await run_cert(
        "--out", str(out), "--host", "chat.lan", "--host", "192.168.1.20", "--days", "30"
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    cert, key = out / "cert.pem", out / "key.pem"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert f"wrote {cert}" in result.stdout.decode()

    names = alt_names(cert)
    expected = {"localhost", "127.0.0.1", "::1", "chat.lan", "192.168.1.20"}
    expected |= {socket.gethostname().lower(), *lan_addresses()}
    assert expected <= names
    assert {ipaddress.ip_address("::1"), ipaddress.ip_address("192.168.1.20")} <= {
        ipaddress.ip_address(name) for name in names if _is_ip(name)
    }

    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    days = certificate.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(days=29) < days <= datetime.timedelta(days=30)
    # Loads where the server and the client load it.
    assert isinstance(tls.server_context(str(cert), str(key)), ssl.SSLContext)
    assert isinstance(tls.client_context(str(cert)), ssl.SSLContext)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


async def test_cert_keeps_existing_files_unless_forced(tmp_path: Path) -> None:
    assert (await run_cert("--out", str(tmp_path))).returncode == 0
    key = (tmp_path / "key.pem").read_bytes()
    again = await run_cert("--out", str(tmp_path))
    assert again.returncode == 1
    assert again.stderr.decode() == (
        f"trio-chat: {tmp_path / 'cert.pem'} exists: keep it, or replace it with --force\n"
    )
    assert (tmp_path / "key.pem").read_bytes() == key
    forced = await run_cert("--out", str(tmp_path), "--force")
    assert forced.returncode == 0
    assert (tmp_path / "key.pem").read_bytes() != key
    assert stat.S_IMODE(os.stat(tmp_path / "key.pem").st_mode) == 0o600


async def test_cert_refuses_a_name_that_is_not_a_host_name(tmp_path: Path) -> None:
    result = await run_cert("--out", str(tmp_path), "--host", "my server!")
    assert result.returncode == 1
    assert result.stderr.decode() == (
        "trio-chat: 'my server!' is neither an IP address nor a host name\n"
    )
    assert not (tmp_path / "key.pem").exists()


def test_names_are_normalised_and_not_repeated(tmp_path: Path) -> None:
    files = write_self_signed(tmp_path, ["Chat.LAN", "chat.lan", "0:0::1", "bücher.example"], 1)
    assert files.names.count("chat.lan") == 1
    assert files.names.count("::1") == 1
    assert "xn--bcher-kva.example" in files.names
    assert files.names[:3] == ["localhost", "127.0.0.1", "::1"]
    with pytest.raises(CertError):
        write_self_signed(tmp_path / "other", ["a..b"], 1)


async def test_a_strict_client_accepts_the_certificate_over_tls(tmp_path: Path) -> None:
    files = write_self_signed(tmp_path, [], 1)
    server = text_server(Hub(), ssl_context=tls.server_context(str(files.cert), str(files.key)))
    # Python 3.13's default context is this strict: the certificate must pass it.
    client = tls.client_context(str(files.cert))
    client.verify_flags |= ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN
    async with trio.open_nursery() as nursery:
        app = App(server.service, server.admission, [server])
        listeners: list[trio.SocketListener] = await nursery.start(app.run)
        port = listeners[0].socket.getsockname()[1]
        for host in ("127.0.0.1", "localhost"):
            peer = Peer(await connect(host, port, client))
            await peer.register("ana")
            await peer.send("/quit")
            assert await peer.expect_eof() == ["*** Bye!"]
            await peer.stream.aclose()
        nursery.cancel_scope.cancel()
