"""Password hashing with scrypt from the standard library: salted, slow, constant-time checks.

A hash reads ``scrypt$<n>$<r>$<p>$<salt>$<key>`` (salt and key in base64), so the cost can
rise later and old hashes still verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N, R, P, KEY_BYTES = 2**14, 8, 1, 32
MIN_LENGTH = 10


class WeakPassword(ValueError):
    """The password is too short to protect a console that sees customers' data."""


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES, maxmem=64 * 1024 * 1024
    )


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a staff password needs at least {MIN_LENGTH} characters")
    salt = secrets.token_bytes(16)
    key = _derive(password, salt, N, R, P)
    b64 = base64.b64encode
    return f"scrypt${N}${R}${P}${b64(salt).decode()}${b64(key).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        given = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(given, expected)


# Verified against when the user name is unknown, so a wrong name takes as long as a wrong password.
DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + base64.b64encode(bytes(KEY_BYTES)).decode()
