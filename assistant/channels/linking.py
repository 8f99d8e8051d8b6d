"""A messaging-app user linked to their bank account, so transactions work in their chat.

1. The bank's website signs a **link token** for its signed-in customer with the token format
   the widget uses (:func:`assistant.identity.sign`) plus the claim ``link: true`` and a short
   life (at most :data:`MAX_LINK_TTL`): a plain chat token is not enough.
2. The web app's ``GET /link?token=...`` (:mod:`assistant.web.link`) exchanges it for a **one-time
   code** (:data:`CODE_LENGTH` characters, valid :data:`CODE_TTL` seconds, used once; stored as a
   hash) and shows the deep links ``https://t.me/<bot>?start=<code>`` and
   ``https://wa.me/<number>?text=LINK%20<code>``.
3. The channel recognises ``/start <code>`` or ``link <code>`` (:func:`command`), takes the code
   (:meth:`LinkStore.take_code`, atomic: two Rasa processes cannot both take it), binds
   (channel, sender) to the customer and confirms. From then on each message of that sender
   carries a fresh short-lived ``customer_token`` (:func:`chat_token`), so the actions' own
   verification applies unchanged. ``unlink`` removes the binding.

The sender is stored as a hash, never in clear (a WhatsApp sender is a phone number). SQLAlchemy
Core only, so the same code runs with Rasa's SQLAlchemy 1.4 (Python 3.10) and the web app's 2.x.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from assistant.identity import IdentityError, sign, verify

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or typed
CODE_LENGTH = 10
CODE_TTL = 10 * 60
MAX_LINK_TTL = 15 * 60  # a link token living longer than this is refused
CHAT_TOKEN_TTL = 5 * 60  # each message's token: long enough for its turn, and no more
KEPT_CLAIMS = ("name", "segment")
SCHEMA_LOCK = 0x6B657374  # assistant.db.SCHEMA_LOCK: one turn-taking for every table creation

metadata = sa.MetaData()
codes = sa.Table(
    "channel_link_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(128), nullable=False),
    sa.Column("claims", sa.Text, nullable=False, default="{}"),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("used_at", sa.Float, nullable=True),
)
used_tokens = sa.Table(  # link tokens already exchanged for a code: each one works once
    "channel_link_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("used_at", sa.Float, nullable=False),
)
links = sa.Table(
    "channel_links",
    metadata,
    sa.Column("channel", sa.String(32), primary_key=True),
    sa.Column("sender_hash", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(128), nullable=False),
    sa.Column("claims", sa.Text, nullable=False, default="{}"),
    sa.Column("linked_at", sa.Float, nullable=False),
)


class LinkError(ValueError):
    pass


@dataclass(frozen=True)
class Link:
    customer_id: str
    claims: dict[str, Any]


def _payload(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return data if isinstance(data, dict) else {}


def verify_link_token(secret: str, token: str, *, now: float | None = None) -> Link:
    """The customer a link token names; :class:`LinkError` when it is forged, expired, lives too
    long, or is no link token (a chat token lacks ``link: true``)."""
    try:
        identity = verify(secret, token, now=now)
        payload = _payload(token)
    except (IdentityError, ValueError) as exc:
        raise LinkError(str(exc)) from exc
    if payload.get("link") is not True:
        raise LinkError("not a link token")
    if int(payload.get("exp", 0)) - int(payload.get("iat", 0)) > MAX_LINK_TTL:
        raise LinkError("a link token must be short-lived")
    claims = {k: payload[k] for k in KEPT_CLAIMS if isinstance(payload.get(k), str)}
    return Link(identity.customer_id, claims)


def sign_link_token(secret: str, customer_id: str, *, ttl: int = 10 * 60, **claims: Any) -> str:
    """What the bank's website signs for ``GET /link`` (the demo and the tests use it)."""
    return sign(secret, customer_id, ttl=min(ttl, MAX_LINK_TTL), link=True, **claims)


def chat_token(secret: str, link: Link, *, now: float | None = None) -> str:
    """A fresh short-lived ``customer_token`` for one message of a linked sender."""
    return sign(secret, link.customer_id, ttl=CHAT_TOKEN_TTL, now=now, **link.claims)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def sender_hash(channel: str, sender: str) -> str:
    return _hash(f"{channel}\x00{sender}")


CODE = re.compile(rf"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")


def command(text: str, words: dict[str, tuple[str, ...]]) -> tuple[str, str] | None:
    """``("link", code)``, ``("unlink", "")`` or None: what a message asks of the linking.
    ``words``: the commands of data/channels.yml; Telegram's ``/start <code>`` is a link too."""
    said = " ".join((text or "").split())
    if len(said) > 64:
        return None
    head, _, rest = said.partition(" ")
    head = head.casefold()
    if head == "/start" or head in words.get("link", ()):
        code = rest.strip().upper().replace("-", "")
        if CODE.fullmatch(code):
            return "link", code
        if head != "/start" and re.fullmatch(r"[A-Za-z0-9-]{4,16}", rest.strip()):
            return "link", ""  # "link 1234": meant as a code, but none could be
        return None  # "link my card to Apple Pay": a question, for the assistant
    if said.casefold() in words.get("unlink", ()):
        return "unlink", ""
    return None


def _url(url: str) -> str:
    """Rasa's SQLAlchemy 1.4 has no psycopg 3 dialect: the same database through psycopg2."""
    if sa.__version__.startswith("1.") and url.startswith("postgresql+psycopg://"):
        return "postgresql+psycopg2://" + url.removeprefix("postgresql+psycopg://")
    return url


class LinkStore:
    """Codes and bindings in the assistant's database (``ASSISTANT_DB_URL``)."""

    def __init__(self, url: str, *, clock: Any = time.time) -> None:
        self.engine = sa.create_engine(_url(url))
        self.clock = clock
        if self.engine.dialect.name == "postgresql":
            # both Rasa instances and the web app open it at start-up: they take turns, as
            # assistant.db.open_database does (its SQLAlchemy 2 code is not Rasa's 1.4)
            with self.engine.begin() as db:
                db.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
                metadata.create_all(db)
            return
        for attempt in range(3):
            try:
                metadata.create_all(self.engine)
                break
            except sa.exc.OperationalError:  # another process created them at the same moment
                if attempt == 2:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def dispose(self) -> None:
        self.engine.dispose()

    def issue_code(self, link: Link, *, ttl: int = CODE_TTL, token: str = "") -> str:
        """A new one-time code for ``link``'s customer. ``token``: the link token it was
        exchanged for, refused (:class:`LinkError`) when it was exchanged before: a page
        opened again from a shared computer's history mints nothing."""
        now = self.clock()
        code = new_code()
        with self.engine.begin() as db:
            db.execute(codes.delete().where(codes.c.expires_at < now - 24 * 3600))  # old ones go
            # a token lives at most MAX_LINK_TTL: what is older than that can never come back
            db.execute(used_tokens.delete().where(used_tokens.c.used_at < now - 2 * MAX_LINK_TTL))
            if token:
                try:
                    with db.begin_nested():
                        db.execute(used_tokens.insert().values(token_hash=_hash(token), used_at=now))
                except sa.exc.IntegrityError as exc:
                    raise LinkError("this link token was used already") from exc
            db.execute(
                codes.insert().values(
                    code_hash=_hash(code),
                    customer_id=link.customer_id,
                    claims=json.dumps(link.claims, sort_keys=True),
                    created_at=now,
                    expires_at=now + ttl,
                    used_at=None,
                )
            )
        return code

    def take_code(self, code: str) -> Link | None:
        """The customer of a valid, unused code, which is used up now; None otherwise."""
        now = self.clock()
        digest = _hash(code.upper())
        with self.engine.begin() as db:
            taken = db.execute(
                codes.update()
                .where(codes.c.code_hash == digest, codes.c.used_at.is_(None), codes.c.expires_at > now)
                .values(used_at=now)
            )
            if taken.rowcount != 1:
                return None
            row = db.execute(
                sa.select(codes.c.customer_id, codes.c.claims).where(codes.c.code_hash == digest)
            ).first()
        if row is None:
            return None
        return Link(str(row[0]), json.loads(row[1] or "{}"))

    def bind(self, channel: str, sender: str, link: Link) -> None:
        key = sender_hash(channel, sender)
        with self.engine.begin() as db:
            db.execute(links.delete().where(links.c.channel == channel, links.c.sender_hash == key))
            db.execute(
                links.insert().values(
                    channel=channel,
                    sender_hash=key,
                    customer_id=link.customer_id,
                    claims=json.dumps(link.claims, sort_keys=True),
                    linked_at=self.clock(),
                )
            )

    def unbind(self, channel: str, sender: str) -> bool:
        key = sender_hash(channel, sender)
        with self.engine.begin() as db:
            gone = db.execute(links.delete().where(links.c.channel == channel, links.c.sender_hash == key))
        return bool(gone.rowcount)

    def linked(self, channel: str, sender: str) -> Link | None:
        key = sender_hash(channel, sender)
        with self.engine.connect() as db:
            row = db.execute(
                sa.select(links.c.customer_id, links.c.claims).where(
                    links.c.channel == channel, links.c.sender_hash == key
                )
            ).first()
        return Link(str(row[0]), json.loads(row[1] or "{}")) if row is not None else None
