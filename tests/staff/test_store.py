"""Staff accounts: hashed passwords, lock-out, sessions, roles and presence, on real SQLite."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from assistant.staff import StaffStore, hash_password, verify_password
from assistant.staff.passwords import WeakPassword
from assistant.staff.store import MAX_FAILURES, SessionRow, StaffUser

PASSWORD = "correct horse battery"


@pytest.fixture
def staff(tmp_path):
    store = StaffStore(f"sqlite:///{tmp_path / 'staff.db'}")
    yield store
    store.dispose()


def test_passwords_are_salted_scrypt_hashes_and_verify():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("scrypt$") and PASSWORD not in first
    assert first != second  # salted
    assert verify_password(PASSWORD, first) and not verify_password(PASSWORD + "!", first)
    assert not verify_password(PASSWORD, "md5$whatever")
    with pytest.raises(WeakPassword):
        hash_password("short")


def test_sign_in_with_the_right_password_only(staff):
    staff.add_user("Sam", PASSWORD, role="agent", name="Sam Patel")
    assert staff.authenticate("sam", "wrong password!") is None
    assert staff.authenticate("nobody", PASSWORD) is None
    user = staff.authenticate(" SAM ", PASSWORD)
    assert user is not None and user.name == "Sam Patel" and user.permissions == {"handle", "kb"}


def test_bad_names_and_roles_are_refused(staff):
    with pytest.raises(ValueError, match="role"):
        staff.add_user("sam", PASSWORD, role="admin")
    with pytest.raises(ValueError, match="user name"):
        staff.add_user("sam smith", PASSWORD, role="agent")


def test_repeated_wrong_passwords_lock_the_account_for_a_while(staff):
    staff.add_user("sam", PASSWORD, role="agent")
    for _ in range(MAX_FAILURES):
        assert staff.authenticate("sam", "not the password") is None
    assert staff.authenticate("sam", PASSWORD) is None  # locked, even with the right one
    with staff._session.begin() as session:
        session.execute(
            update(StaffUser).values(locked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert staff.authenticate("sam", PASSWORD) is not None


def test_sessions_are_stored_hashed_and_end(staff):
    user = staff.add_user("lee", PASSWORD, role="lead")
    started = staff.start_session(user)
    with staff._session() as session:
        [row] = session.query(SessionRow).all()
    assert row.token_hash != started.token and len(row.token_hash) == 64
    live = staff.session(started.token)
    assert live is not None and live.user.username == "lee" and live.csrf == started.csrf
    assert staff.session("forged") is None
    staff.end_session(started.token)
    assert staff.session(started.token) is None


def test_idle_sessions_expire_and_disabled_users_are_signed_out(staff):
    user = staff.add_user("lee", PASSWORD, role="lead")
    idle, other = staff.start_session(user), staff.start_session(user)
    with staff._session.begin() as session:
        session.execute(
            update(SessionRow)
            .where(SessionRow.csrf == idle.csrf)
            .values(last_used=dt.datetime.now(dt.UTC) - dt.timedelta(hours=3))
        )
    assert staff.session(idle.token) is None
    assert staff.session(other.token) is not None
    assert staff.deactivate("lee")
    assert staff.session(other.token) is None
    assert staff.authenticate("lee", PASSWORD) is None


def test_agents_are_online_while_their_console_calls_in(staff):
    agent = staff.add_user("sam", PASSWORD, role="agent")
    editor = staff.add_user("eddie", PASSWORD, role="editor")
    assert staff.agents_online() == 0
    staff.start_session(editor)
    assert staff.agents_online() == 0  # editors do not take conversations
    session = staff.start_session(agent)
    assert staff.agents_online() == 1
    with staff._session.begin() as db:
        db.execute(update(StaffUser).values(last_seen=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)))
    assert staff.agents_online() == 0
    staff.session(session.token)  # the console polls
    assert staff.agents_online() == 1
    staff.mark_away(agent.id)
    assert staff.agents_online() == 0
