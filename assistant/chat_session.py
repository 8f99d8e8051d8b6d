"""A secret per conversation: the credential that makes a chat session id yours.

A session id names a conversation; on its own it opens nothing. When a chat client asks for a
session, the socket.io channel (:mod:`rasa_addons.channels`) issues the session id together with
a credential signed with ``ASSISTANT_SESSION_SECRET`` (HMAC-SHA256). Joining the conversation again
(``session_request``) and reading it over HTTP (``/chat/history``, ``/chat/queue``,
``/chat/feedback``) need both. The Rasa channel and the web app share the secret; nothing is
stored, so several processes can verify without talking to each other.

The credential is bound to who was signed in when it was issued (a short hash of the customer id,
or ``anon``): when the host page signs a customer in or out, the client presents a credential
for someone else and is given a new session id (no session fixation, and the next person on a
shared computer does not see the last one's conversation).

Pure Python: used in Rasa's process and in the web app.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
import uuid
from dataclasses import dataclass

VERSION = "c1"
ANONYMOUS = "anon"
HEADER = "X-Chat-Credential"  # how HTTP clients present it
DEFAULT_MAX_AGE = 30 * 24 * 3600  # a returning visitor keeps their conversation for a month
MAX_CREDENTIAL_CHARS = 160
_SHAPE = re.compile(r"^c1\.[0-9]{1,12}\.(anon|[0-9a-f]{16})\.[A-Za-z0-9_-]{43}$")


class CredentialError(ValueError):
    """The credential is missing, malformed, forged, for another session or too old."""


@dataclass(frozen=True)
class Issued:
    session_id: str
    credential: str


def subject_tag(customer_id: str | None) -> str:
    """Who a credential belongs to, without naming them: ``anon`` or 16 hex digits."""
    if not customer_id:
        return ANONYMOUS
    return hashlib.sha256(f"kestrel-session-subject:{customer_id}".encode()).hexdigest()[:16]


def _mac(secret: str, session_id: str, issued: int, tag: str) -> str:
    digest = hmac.new(
        secret.encode(), f"{VERSION}|{session_id}|{issued}|{tag}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def issue(secret: str, session_id: str, customer_id: str | None = None, *, now: float | None = None) -> str:
    if not secret:
        raise CredentialError("no session secret configured (ASSISTANT_SESSION_SECRET)")
    issued = int(now if now is not None else time.time())
    tag = subject_tag(customer_id)
    return f"{VERSION}.{issued}.{tag}.{_mac(secret, session_id, issued, tag)}"


def new_session(secret: str, customer_id: str | None = None, *, now: float | None = None) -> Issued:
    session_id = uuid.uuid4().hex
    return Issued(session_id, issue(secret, session_id, customer_id, now=now))


def verify(
    secret: str,
    session_id: str,
    credential: object,
    *,
    max_age: int = DEFAULT_MAX_AGE,
    now: float | None = None,
) -> str:
    """The subject tag the credential was issued for; :class:`CredentialError` otherwise."""
    if not secret:
        raise CredentialError("no session secret configured")
    if not isinstance(credential, str) or not credential:
        raise CredentialError("no credential")
    if len(credential) > MAX_CREDENTIAL_CHARS or not _SHAPE.match(credential):
        raise CredentialError("malformed credential")
    _, issued_text, tag, mac = credential.split(".")
    issued = int(issued_text)
    if not hmac.compare_digest(mac, _mac(secret, session_id, issued, tag)):
        raise CredentialError("credential for another session, or forged")
    current = now if now is not None else time.time()
    if issued > current + 300:
        raise CredentialError("credential issued in the future")
    if max_age and current - issued > max_age:
        raise CredentialError("credential too old")
    return tag


def log_ref(session_id: object) -> str:
    """How logs name a conversation: a short hash, never the id itself (with the id and a log
    line nobody could open the conversation, but ids stay out of logs and exports all the same)."""
    return "conv-" + hashlib.sha256(str(session_id).encode()).hexdigest()[:12]
