"""Fixtures for the net tests: a throwaway certificate authority and a server certificate."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from trio_chat.net import tls


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """PEM files: the CA, a server certificate for 127.0.0.1 and localhost, its key."""
    folder = tmp_path_factory.mktemp("tls")
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    paths = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    leaf.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    leaf.private_key_pem.write_to_path(str(paths["key"]))
    return paths


@pytest.fixture
def trusting(files: dict[str, Path]) -> ssl.SSLContext:
    """A client context that trusts the test CA (as --tls-ca does)."""
    return tls.client_context(str(files["ca"]))
