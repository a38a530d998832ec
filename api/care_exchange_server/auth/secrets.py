"""Client secrets: generated with enough entropy, stored only as salted scrypt hashes.

scrypt (in the standard library) is memory-hard, so a leaked `clients` table does not give the
secrets away cheaply; the salt makes equal secrets hash differently. The encoded form carries its
own parameters so they can be raised later without invalidating stored hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

SCHEME = "scrypt"


@dataclass
class Cost:
    """scrypt's cost for new hashes; a stored hash is checked with the cost written in it.

    The test suite lowers it (tests/conftest.py): a hash there costs a sixteenth, and nothing
    else about hashing or checking changes.
    """

    n: int = 2**14


COST = Cost()
_R = 8
_P = 1
_SALT_BYTES = 16
_KEY_BYTES = 32
_SECRET_BYTES = 32


def generate_secret() -> str:
    """A new client secret: 32 random bytes, URL-safe text, shown to the operator once."""
    return secrets.token_urlsafe(_SECRET_BYTES)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(secret: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=64 * 1024 * 1024
    )


def hash_secret(secret: str) -> str:
    """`scrypt$n$r$p$salt$hash`, with a fresh random salt each time (n: `COST`)."""
    salt = os.urandom(_SALT_BYTES)
    derived = _derive(secret, salt, COST.n, _R, _P, _KEY_BYTES)
    return f"{SCHEME}${COST.n}${_R}${_P}${_b64(salt)}${_b64(derived)}"


def verify_secret(secret: str, encoded: str) -> bool:
    """True when `secret` matches the stored hash; the comparison takes constant time."""
    try:
        scheme, n, r, p, salt, expected = encoded.split("$")
        if scheme != SCHEME:
            return False
        wanted = _unb64(expected)
        derived = _derive(secret, _unb64(salt), int(n), int(r), int(p), len(wanted))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(derived, wanted)
