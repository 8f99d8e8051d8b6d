"""Who the customer is: a signed token that the host page passes to the chat.

The bank's website signs ``{"sub": customer id, "exp": expiry, ...}`` with a secret it shares with
the assistant (HMAC-SHA256); the chat sends the token with every message, and every action that
touches customer data verifies it. Slots are never trusted for identity: a customer can type
``/intent{"slot": "value"}``, but cannot forge a signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

VERSION = "v1"
TOKEN_KEY = "customer_token"


class IdentityError(ValueError):
    pass


@dataclass(frozen=True)
class Identity:
    customer_id: str
    name: str = ""
    segment: str = "standard"
    novice: bool = False
    expires: int = 0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: str, customer_id: str, *, ttl: int = 3600, now: float | None = None, **claims: Any) -> str:
    if not secret:
        raise IdentityError("no signing secret configured (ASSISTANT_IDENTITY_SECRET)")
    payload = {"sub": customer_id, "exp": int((now or time.time()) + ttl), **claims}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(secret.encode(), f"{VERSION}.{body}".encode(), hashlib.sha256).digest()
    return f"{VERSION}.{body}.{_b64(mac)}"


def verify(secret: str, token: str, *, now: float | None = None) -> Identity:
    """The identity in ``token``; :class:`IdentityError` when forged, malformed or expired."""
    if not secret:
        raise IdentityError("no signing secret configured")
    if not isinstance(token, str) or len(token) > 4096 or token.count(".") != 2:
        raise IdentityError("malformed token")
    version, body, mac = token.split(".")
    if version != VERSION:
        raise IdentityError("unknown token version")
    expected = hmac.new(secret.encode(), f"{version}.{body}".encode(), hashlib.sha256).digest()
    try:
        given = _unb64(mac)
        payload = json.loads(_unb64(body))
    except (ValueError, json.JSONDecodeError) as exc:
        raise IdentityError("malformed token") from exc
    if not hmac.compare_digest(expected, given):
        raise IdentityError("bad signature")
    if not isinstance(payload, dict) or not isinstance(payload.get("sub"), str):
        raise IdentityError("token names no customer")
    expires = int(payload.get("exp", 0))
    if expires < (now or time.time()):
        raise IdentityError("token expired")
    return Identity(
        customer_id=payload["sub"],
        name=str(payload.get("name", "")),
        segment=str(payload.get("segment", "standard")),
        novice=bool(payload.get("novice", False)),
        expires=expires,
    )


def token_from_events(events: Iterable[dict[str, Any]]) -> str | None:
    """The newest customer token sent with a user message (newest first)."""
    for event in reversed(list(events)):
        if event.get("event") != "user":
            continue
        metadata = event.get("metadata") or {}
        token = metadata.get(TOKEN_KEY) if isinstance(metadata, dict) else None
        if token:
            return str(token)
    return None


def identity_from_events(secret: str, events: Iterable[dict[str, Any]]) -> Identity | None:
    token = token_from_events(events)
    if not token:
        return None
    try:
        return verify(secret, token)
    except IdentityError:
        return None
