import pytest

from assistant.handoff.store import HandoffStore


def test_create_and_read_back_from_sqlite(handoff_store, tmp_path):
    record = handoff_store.create(
        "conv-1",
        reason="customer_request",
        stage="information_gathering",
        transcript=[{"role": "user", "text": "help"}],
        slots={"stage": "information_gathering"},
    )
    assert record.id and record.status == "queued"

    reopened = HandoffStore(f"sqlite:///{tmp_path / 'handoffs.db'}")  # a second process's view
    stored = reopened.get(record.id)
    assert stored.conversation_id == "conv-1"
    assert stored.transcript == [{"role": "user", "text": "help"}]
    assert stored.to_dict()["turns"] == 1
    reopened.dispose()


def test_open_for_and_status(handoff_store):
    first = handoff_store.create("c", reason="r", stage="s", transcript=[], slots={})
    assert handoff_store.open_for("c").id == first.id
    handoff_store.set_status(first.id, "resumed")
    assert handoff_store.open_for("c") is None
    assert [r.id for r in handoff_store.list(status="resumed")] == [first.id]
    with pytest.raises(ValueError):
        handoff_store.set_status(first.id, "lost")
    with pytest.raises(KeyError):
        handoff_store.set_status(999, "closed")


def test_queue_position_counts_the_handoffs_queued_before(handoff_store):
    first = handoff_store.create("a", reason="r", stage="s", transcript=[], slots={})
    second = handoff_store.create("b", reason="r", stage="s", transcript=[], slots={})
    assert handoff_store.queue_position(second.id) == 2
    handoff_store.set_status(first.id, "claimed")
    assert handoff_store.queue_position(second.id) == 1
    assert handoff_store.queue_position(first.id) is None


def test_priority_goes_first_in_the_queue(handoff_store):
    plain = handoff_store.create("a", reason="r", stage="s", transcript=[], slots={})
    tried = handoff_store.create("b", reason="r", stage="s", transcript=[], slots={}, priority=1)
    assert handoff_store.queue_position(tried.id) == 1
    assert handoff_store.queue_position(plain.id) == 2


def test_an_older_database_gets_the_new_columns(tmp_path):
    import sqlite3

    from assistant.handoff.store import HandoffStore

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # the table as the first release created it
        db.execute(
            "create table handoffs (id integer primary key, conversation_id varchar(255),"
            " created_at datetime, reason varchar(64), stage varchar(64), status varchar(16),"
            " transcript json, slots json, note text)"
        )
        db.execute("insert into handoffs values (1, 'old', null, 'r', 's', 'queued', '[]', '{}', '')")
    store = HandoffStore(f"sqlite:///{path}")
    old = store.get(1)
    assert old is not None and old.summary == "" and old.priority == 0
    new = store.create("new", reason="r", stage="s", transcript=[], slots={}, summary="S", priority=2)
    assert store.get(new.id).summary == "S" and store.queue_position(new.id) == 1
