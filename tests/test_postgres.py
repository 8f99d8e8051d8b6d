"""The stores on PostgreSQL, through a URL (the production profile): handoffs with their queue,
analytics and the back office. Uses the machine's PostgreSQL (ASSISTANT_TEST_PG_URL to choose)."""

from __future__ import annotations

import os
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, text

PG_URL = os.environ.get("ASSISTANT_TEST_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")


@pytest.fixture
def pg_url():
    """A fresh schema per test, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"create schema {schema}"))
    except Exception as exc:  # a clear failure, not a skip: PostgreSQL is part of this machine
        pytest.fail(f"PostgreSQL at {PG_URL} is not reachable ({exc}); start it or set ASSISTANT_TEST_PG_URL")
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"drop schema {schema} cascade"))
    admin.dispose()


def test_handoffs_queue_and_summary_on_postgres(pg_url):
    from assistant.handoff.store import HandoffStore

    store = HandoffStore(pg_url)
    first = store.create(
        "a", reason="r", stage="s", transcript=[{"role": "user", "text": "hi"}], slots={"x": 1}
    )
    urgent = store.create("b", reason="sales", stage="s", transcript=[], slots={}, summary="S", priority=2)
    assert store.queue_position(urgent.id) == 1 and store.queue_position(first.id) == 2
    assert store.get(first.id).transcript == [{"role": "user", "text": "hi"}]
    assert store.open_for("b").summary == "S"
    store.set_status(urgent.id, "claimed")
    assert store.queue_position(first.id) == 1
    store.engine.dispose()


def test_analytics_and_back_office_on_postgres(pg_url):
    from assistant.backoffice import BackOffice, Refusal
    from assistant.insights.events import ARTICLE_SHOWN
    from assistant.insights.store import InsightsStore, Range

    analytics = InsightsStore(pg_url)
    for conversation in "abc":
        analytics.add_direct(conversation, ARTICLE_SHOWN, conversation, article_id="card_arrival")
    analytics.add_direct("a", ARTICLE_SHOWN, "a", article_id="card_arrival")  # the same event again
    assert analytics.label_pending() == 3
    assert analytics.top_articles(min_events=3) == ["card_arrival"]
    summary = analytics.summary(Range.last_days(1))
    assert (summary["conversations"], summary["resolved_assumed"], summary["containment_rate"]) == (3, 3, 1.0)

    office = BackOffice(pg_url)
    assert office.seed_demo() is True
    done = office.transfer("cust-ava", "cust-ava-payee1", Decimal("10"))
    assert done.balance_after == Decimal("2440.00")
    with pytest.raises(Refusal):
        office.freeze_card("cust-ben", "cust-ava-card1")
    analytics.engine.dispose()
    office.engine.dispose()


def test_console_accounts_claims_reviews_and_tickets_on_postgres(pg_url):
    from assistant.handoff.store import HandoffConflict, HandoffStore
    from assistant.staff.store import StaffStore

    staff = StaffStore(pg_url)
    sam = staff.add_user("sam", "correct horse battery", role="agent", name="Sam")
    assert staff.authenticate("sam", "nope, not this") is None
    session = staff.start_session(staff.authenticate("sam", "correct horse battery") or sam)
    assert staff.session(session.token).user.username == "sam" and staff.agents_online() == 1

    store = HandoffStore(pg_url)
    record = store.create("a", reason="r", stage="s", transcript=[], slots={})
    store.claim(record.id, "sam", "Sam")
    with pytest.raises(HandoffConflict):
        store.claim(record.id, "kim")
    store.finish(record.id, status="closed", outcome="resolved", tags=["cards", "Cards"])
    store.add_note(record.id, "Lee", "fine")
    [found] = store.list(tag="cards", outcome="resolved", agent="sam")
    assert found.tag_names == ["cards"] and found.notes[0].text == "fine"
    ticket = store.create_ticket("b", contact="ava@example.com", message="call me")
    assert [t.id for t in store.tickets()] == [ticket.id]
    store.engine.dispose()
    staff.dispose()


def test_account_facts_and_proactive_offers_on_postgres(pg_url):
    import datetime as dt

    from assistant.backoffice import BackOffice
    from assistant.insights.events import PROACTIVE_OFFERED
    from assistant.insights.store import InsightsStore

    office = BackOffice(pg_url)
    office.seed_demo()
    assert [p.merchant for p in office.payments("cust-ben")] == ["Spotify", "Co-op", "Uber"]
    assert office.transfers("cust-ben")[0].status == "failed"
    assert office.plan_usage("cust-chloe").exchange_left == Decimal("550.00")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    failures = office.failures("cust-ben", since)
    assert failures[0].kind == "topup"
    analytics = InsightsStore(pg_url)
    analytics.add_direct("c1", PROACTIVE_OFFERED, "offer-1", subject=failures[0].id)
    assert analytics.seen(PROACTIVE_OFFERED, [f.id for f in failures]) == {failures[0].id}


def at_once(count: int, work, prepare=lambda: None) -> list[BaseException]:
    """``work(prepared)`` in ``count`` threads released together (as processes starting at the
    same moment); the errors they raised."""
    import threading

    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run() -> None:
        prepared = prepare()
        barrier.wait()
        try:
            work(prepared)
        except BaseException as exc:  # reported by the caller, with every other thread's
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_processes_opening_one_new_database_at_once_create_its_tables_once(pg_url):
    """The web app and both action servers start together on the production profile: on
    PostgreSQL two CREATE TABLEs of one table at once used to fail in the catalogue."""
    from assistant.db import open_database
    from assistant.handoff.store import Base as HandoffBase

    assert at_once(6, lambda _: open_database(pg_url, HandoffBase.metadata)[0].dispose()) == []
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from handoffs")).scalar() == 0
    engine.dispose()


def test_action_servers_seeding_one_new_back_office_at_once_seed_it_once(pg_url):
    from assistant.backoffice.demo import DEMO_CUSTOMERS
    from assistant.backoffice.store import BackOffice

    BackOffice(pg_url)  # the tables, as the first process to open it makes them
    assert at_once(4, lambda office: office.seed_demo(), prepare=lambda: BackOffice(pg_url)) == []
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from customers")).scalar() == len(DEMO_CUSTOMERS)
    engine.dispose()


def test_messaging_links_on_postgres_from_both_virtualenvs(pg_url):
    """The link store runs in the web app (SQLAlchemy 2, psycopg 3) and in Rasa's process
    (SQLAlchemy 1.4, psycopg2): a code issued by one is taken by the other, once; the tables
    are created under the same turn-taking as every other store's."""
    import subprocess

    from assistant import db
    from assistant.channels import linking

    assert linking.SCHEMA_LOCK == db.SCHEMA_LOCK
    assert at_once(4, lambda _: linking.LinkStore(pg_url).dispose()) == []
    store = linking.LinkStore(pg_url)
    code = store.issue_code(linking.Link("cust-ava", {"name": "Ava"}))
    script = (
        "import sys; from assistant.channels.linking import LinkStore;"
        "s = LinkStore(sys.argv[1]); first = s.take_code(sys.argv[2]);"
        "again = s.take_code(sys.argv[2]); s.bind('telegram', '42', first);"
        "print(first.customer_id, again, s.linked('telegram', '42').customer_id)"
    )
    from tests.conftest import ROOT

    done = subprocess.run(
        [str(ROOT / ".venv-rasa" / "bin" / "python"), "-c", script, pg_url, code],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["cust-ava", "None", "cust-ava"]
    assert store.linked("telegram", "42") == linking.Link("cust-ava", {"name": "Ava"})
    store.dispose()
