"""Passwords: scrypt hashes, their checks, and the password files.

Passwords
---------
A password is never stored, logged or repeated: only
``scrypt$N$r$p$salt$key`` (salt 16 random bytes, key 32 bytes, base64) is
kept. scrypt is in the standard library (no dependency to build) and is
memory-hard, so guessing on a GPU costs memory, not just time. The cost
N=2**15, r=8, p=1 takes 32 MiB and about 0.1 s per hash here: slow for a
guesser, cheap for a login. Hashing runs in a worker thread (it would stall
every chat for 0.1 s), at most :data:`~.hashing.HASHES_AT_ONCE` at a time, so a burst
of logins costs bounded memory and leaves a core for the chat; each address
and each account has a budget of hashes (:class:`HashBudget`), so nobody
waits behind someone else's storm of logins. The cost is
stored with each hash, so raising it later keeps old accounts working.
A password may be long, as a passphrase manager makes them (up to
:data:`MAX_PASSWORD_CHARS`, 4 KiB of UTF-8 at most): its length only adds two
SHA-256 passes over it to scrypt's fixed work, so a long password costs no more
to check than a short one.
Hashes are compared with :func:`hmac.compare_digest`; the server and
operator passwords are compared as SHA-256 digests the same way, so neither
their content nor their length leaks through timing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from trio_chat.core.phrases import Phrase
from trio_chat.i18n import N_

LOGGER = logging.getLogger(__name__)

# scrypt's cost: N (CPU and memory), r (block size), p (parallelism).
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
# Password lengths, in characters (the one rule of every door: /register, SASL...).
MIN_PASSWORD_CHARS = 6
MAX_PASSWORD_CHARS = 1024


class SecretFileError(Exception):
    """A password file cannot be used; ``str(exc)`` says why, for the user."""


@dataclass(frozen=True, slots=True)
class ScryptCost:
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P


# What new hashes cost unless a test asks for less.
DEFAULT_COST = ScryptCost()


def hash_password(password: str, cost: ScryptCost = ScryptCost()) -> str:
    """``scrypt$N$r$p$salt$key`` for ``password``, with a fresh random salt. Slow."""
    salt = os.urandom(SALT_BYTES)
    key = _scrypt(password, salt, cost.n, cost.r, cost.p)
    return "$".join(["scrypt", str(cost.n), str(cost.r), str(cost.p), _b64(salt), _b64(key)])


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the ``stored`` hash. Slow."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        expected = base64.b64decode(key, validate=True)
        computed = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except ValueError:  # binascii.Error is a ValueError
        LOGGER.error("a stored password hash is unreadable: that account cannot log in")
        return False
    return hmac.compare_digest(computed, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 * n * r * p,
        dklen=KEY_BYTES,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def same_secret(given: str, secret: str) -> bool:
    """Constant-time comparison that does not reveal the secret's length either."""
    return hmac.compare_digest(
        hashlib.sha256(given.encode("utf-8")).digest(),
        hashlib.sha256(secret.encode("utf-8")).digest(),
    )


def password_problem(password: str) -> str | None:
    """Why ``password`` is not acceptable for an account, or None."""
    if len(password) < MIN_PASSWORD_CHARS:
        return Phrase(N_("a password needs at least {n} characters"), n=MIN_PASSWORD_CHARS)
    if len(password) > MAX_PASSWORD_CHARS:
        return Phrase(N_("a password may have at most {n} characters"), n=MAX_PASSWORD_CHARS)
    return None


def read_secret(path: str | Path, what: str) -> str:
    """The first line of a password file, trimmed.

    Raises:
        SecretFileError: the file is missing, unreadable or its first line empty.
    """
    try:
        with open(path, encoding="utf-8") as file:
            first = file.readline()
    except OSError as exc:
        raise SecretFileError(
            f"cannot read the {what} file {path}: {exc.strerror or exc}"
        ) from None
    except UnicodeDecodeError:
        raise SecretFileError(f"the {what} file {path} is not UTF-8 text") from None
    secret = first.strip()
    if not secret:
        raise SecretFileError(f"the {what} file {path} is empty: its first line is the password")
    return secret
