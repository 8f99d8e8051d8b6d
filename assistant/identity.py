"""Who the customer is: a signed token that the host page passes to the chat.

The bank's website signs ``{"sub": customer id, "aud": "kestrel-assistant", "iat": issued,
"exp": expiry, ...}`` with a secret it shares with the assistant (HMAC-SHA256); the chat sends the
token with every message, and every action that touches customer data verifies it. Slots are
never trusted for identity: a customer can type ``/intent{"slot": "value"}``, but cannot forge a
signature.

Identity is bound to the conversation: only the token sent with the current message counts (on
a shared computer the next person does not inherit the last one's identity), and the first
customer verified in a conversation owns it: a message carrying another customer's token cannot
act in it.
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
AUDIENCE = "kestrel-assistant"


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
    issued = int(now or time.time())
    payload = {"sub": customer_id, "aud": AUDIENCE, "iat": issued, "exp": issued + ttl, **claims}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(secret.encode(), f"{VERSION}.{body}".encode(), hashlib.sha256).digest()
    return f"{VERSION}.{body}.{_b64(mac)}"


def verify(secret: str, token: str, *, now: float | None = None, check_expiry: bool = True) -> Identity:
    """The identity in ``token``; :class:`IdentityError` when forged, malformed, meant for
    another audience or (unless ``check_expiry`` is off) expired."""
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
    if payload.get("aud") != AUDIENCE:
        raise IdentityError("token is meant for another audience")
    expires = int(payload.get("exp", 0))
    if check_expiry and expires < (now or time.time()):
        raise IdentityError("token expired")
    return Identity(
        customer_id=payload["sub"],
        name=str(payload.get("name", "")),
        segment=str(payload.get("segment", "standard")),
        novice=bool(payload.get("novice", False)),
        expires=expires,
    )


def _token(event: dict[str, Any]) -> str | None:
    metadata = event.get("metadata") or {}
    token = metadata.get(TOKEN_KEY) if isinstance(metadata, dict) else None
    return str(token) if token else None


def token_from_events(events: Iterable[dict[str, Any]]) -> str | None:
    """The token sent with the customer's latest message, if that message carried one."""
    users = [e for e in events if e.get("event") == "user"]
    return _token(users[-1]) if users else None


def owner_from_events(secret: str, events: Iterable[dict[str, Any]]) -> str | None:
    """The customer who owns the conversation: the first one whose signed token came with a
    message of it (an expired token still names its owner)."""
    for event in events:
        token = _token(event) if event.get("event") == "user" else None
        if token:
            try:
                return verify(secret, token, check_expiry=False).customer_id
            except IdentityError:
                continue
    return None


def conversation_identity(secret: str, events: Iterable[dict[str, Any]]) -> tuple[Identity | None, bool]:
    """(the customer the current message speaks for, whether its valid token names someone
    other than the conversation's owner). The customer is None when the current message has no
    token, a bad one, or someone else's (a shared computer, a new sign-in: start a new one)."""
    events = list(events)
    token = token_from_events(events)
    if not token:
        return None, False
    try:
        identity = verify(secret, token)
    except IdentityError:
        return None, False
    owner = owner_from_events(secret, events)
    if owner in (None, identity.customer_id):
        return identity, False
    return None, True


def identity_from_events(secret: str, events: Iterable[dict[str, Any]]) -> Identity | None:
    return conversation_identity(secret, events)[0]


def someone_else_owns(secret: str, events: Iterable[dict[str, Any]]) -> bool:
    return conversation_identity(secret, events)[1]
