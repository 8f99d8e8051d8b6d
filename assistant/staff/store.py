"""Staff users and their console sessions, in the same SQL database as the handoffs.

Sessions are server-side: the browser holds a random token whose SHA-256 is the row's key, so a
leaked database does not leak live sessions. Each session has its own CSRF token. An agent is
*online* while a console page of theirs has called the API in the last ``ONLINE_SECONDS``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, delete, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from assistant.db import as_utc, open_database, utc_now
from assistant.staff.passwords import DUMMY_HASH, hash_password, verify_password

ROLES = ("agent", "lead", "editor")
# What each role may do. handle: claim, reply, hand back, close; kb: search articles;
# review: read handoff transcripts; annotate: notes and tags; export: CSV/JSON downloads;
# insights: the self-service dashboard and its conversations; curate: accept or reject the
# suggested example questions and drafts, save knowledge-base tests (content editors).
PERMISSIONS: dict[str, frozenset[str]] = {
    "agent": frozenset({"handle", "kb"}),
    "lead": frozenset({"handle", "kb", "review", "annotate", "export", "insights"}),
    "editor": frozenset({"kb", "review", "insights", "curate"}),
}
HANDLING_ROLES = tuple(role for role, perms in PERMISSIONS.items() if "handle" in perms)

SESSION_HOURS = 12
IDLE_MINUTES = 120
ONLINE_SECONDS = 120
MAX_FAILURES, LOCK_MINUTES = 5, 5
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


class Base(DeclarativeBase):
    pass


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    last_seen: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    @property
    def permissions(self) -> frozenset[str]:
        return PERMISSIONS.get(self.role, frozenset())

    def to_dict(self) -> dict[str, object]:
        return {
            "username": self.username,
            "name": self.name,
            "role": self.role,
            "permissions": sorted(self.permissions),
        }


class SessionRow(Base):
    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    last_used: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


@dataclass(frozen=True)
class StaffSession:
    user: StaffUser
    csrf: str
    token: str = ""  # only right after sign-in: the value for the cookie


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return as_utc(value) if value is not None else None


class StaffStore:
    def __init__(self, url: str):
        self.engine, self._session = open_database(url, Base.metadata)

    # ------------------------------------------------------------------ users

    def add_user(self, username: str, password: str, *, role: str, name: str = "") -> StaffUser:
        """Create a user, or reset the password, role and name of an existing one."""
        username = username.strip().lower()
        if not username or not set(username) <= USERNAME_CHARS or len(username) > 64:
            raise ValueError("a user name is 1-64 of a-z, 0-9, '.', '_' and '-'")
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        hashed = hash_password(password)
        with self._session.begin() as session:
            user = session.scalar(select(StaffUser).where(StaffUser.username == username))
            if user is None:
                user = StaffUser(username=username, name="", role=role, password_hash=hashed)
                session.add(user)
            user.name = (name or username).strip()[:128]
            user.role, user.password_hash, user.active = role, hashed, True
            user.failures, user.locked_until = 0, None
        return user

    def deactivate(self, username: str) -> bool:
        with self._session.begin() as session:
            user = session.scalar(select(StaffUser).where(StaffUser.username == username))
            if user is None:
                return False
            user.active = False
            session.execute(delete(SessionRow).where(SessionRow.user_id == user.id))
        return True

    def users(self) -> list[StaffUser]:
        with self._session() as session:
            return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))

    def user(self, username: str) -> StaffUser | None:
        with self._session() as session:
            return session.scalar(select(StaffUser).where(StaffUser.username == username))

    # ------------------------------------------------------------------ sign-in

    def authenticate(self, username: str, password: str) -> StaffUser | None:
        """The user if the password is right and the account is active and not locked.

        After ``MAX_FAILURES`` wrong passwords in a row the account is locked for
        ``LOCK_MINUTES``; an unknown name costs as much time as a known one."""
        now = utc_now()
        with self._session.begin() as session:
            user = session.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))
            if user is None or not user.active:
                verify_password(password, DUMMY_HASH)
                return None
            locked = _aware(user.locked_until)
            if locked is not None and locked > now:
                verify_password(password, DUMMY_HASH)
                return None
            if not verify_password(password, user.password_hash):
                user.failures = (user.failures or 0) + 1
                if user.failures >= MAX_FAILURES:
                    user.locked_until, user.failures = now + dt.timedelta(minutes=LOCK_MINUTES), 0
                return None
            user.failures, user.locked_until = 0, None
            return user

    def start_session(self, user: StaffUser) -> StaffSession:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        with self._session.begin() as session:
            session.add(SessionRow(token_hash=_digest(token), user_id=user.id, csrf=csrf))
            row = session.get(StaffUser, user.id)
            if row is not None:
                row.last_seen = utc_now()
        return StaffSession(user=user, csrf=csrf, token=token)

    def session(self, token: str, *, seen: bool = True) -> StaffSession | None:
        """The live session for a cookie value, or None (unknown, expired, idle or deactivated).

        ``seen`` records the user as online (the console's polling calls keep agents online)."""
        if not token:
            return None
        now = utc_now()
        with self._session.begin() as session:
            row = session.get(SessionRow, _digest(token))
            if row is None:
                return None
            created, used = _aware(row.created_at), _aware(row.last_used)
            user = session.get(StaffUser, row.user_id)
            expired = (
                created is None
                or used is None
                or now - created > dt.timedelta(hours=SESSION_HOURS)
                or now - used > dt.timedelta(minutes=IDLE_MINUTES)
            )
            if expired or user is None or not user.active:
                session.delete(row)
                return None
            if used is not None and now - used > dt.timedelta(
                seconds=15
            ):  # fewer writes: a minute's precision is plenty
                row.last_used = now
            last_seen = _aware(user.last_seen)
            if seen and (last_seen is None or now - last_seen > dt.timedelta(seconds=15)):
                user.last_seen = now
            return StaffSession(user=user, csrf=row.csrf)

    def end_session(self, token: str) -> None:
        with self._session.begin() as session:
            session.execute(delete(SessionRow).where(SessionRow.token_hash == _digest(token)))

    def mark_away(self, user_id: int) -> None:
        with self._session.begin() as session:
            user = session.get(StaffUser, user_id)
            if user is not None:
                user.last_seen = None

    # ------------------------------------------------------------------ presence

    def agents_online(self, within_seconds: int = ONLINE_SECONDS) -> int:
        """How many people who can take a conversation have a console open right now."""
        since = utc_now() - dt.timedelta(seconds=within_seconds)
        with self._session() as session:
            count = session.scalar(
                select(func.count())
                .select_from(StaffUser)
                .where(
                    StaffUser.active.is_(True),
                    StaffUser.role.in_(HANDLING_ROLES),
                    StaffUser.last_seen >= since,
                )
            )
        return int(count or 0)

    def dispose(self) -> None:
        self.engine.dispose()
