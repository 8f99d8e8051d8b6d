import pytest

from assistant.handoff.store import HandoffConflict, HandoffStore


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


# ---- the console's life cycle: claim, finish, tags, notes, tickets ----


def _new(store, conversation="c1", **kwargs):
    return store.create(
        conversation, reason="customer_request", stage="transaction", transcript=[], slots={}, **kwargs
    )


def test_a_claimed_handoff_belongs_to_one_agent(handoff_store):
    record = _new(handoff_store)
    claimed = handoff_store.claim(record.id, "sam", "Sam")
    assert (claimed.status, claimed.agent, claimed.agent_name) == ("claimed", "sam", "Sam")
    assert claimed.claimed_at is not None
    assert handoff_store.claim(record.id, "sam").agent == "sam"  # again: fine
    with pytest.raises(HandoffConflict, match="Sam"):
        handoff_store.claim(record.id, "kim")
    with pytest.raises(HandoffConflict):
        handoff_store.finish(record.id, status="closed", outcome="resolved", agent="kim")
    done = handoff_store.finish(record.id, status="closed", outcome="resolved", tags=["Billing", "billing "])
    assert (done.status, done.outcome, done.tag_names) == ("closed", "resolved", ["billing"])
    assert done.closed_at is not None
    with pytest.raises(HandoffConflict, match="already closed"):
        handoff_store.claim(record.id, "sam")


def test_outcomes_and_tags_are_validated(handoff_store):
    record = _new(handoff_store)
    with pytest.raises(ValueError, match="outcome"):
        handoff_store.finish(record.id, status="closed", outcome="great")
    with pytest.raises(ValueError, match="tag"):
        handoff_store.set_tags(record.id, ["x" * 40])
    with pytest.raises(ValueError, match="at most"):
        handoff_store.set_tags(record.id, [f"t{i}" for i in range(20)])


def test_review_filters_by_outcome_agent_and_tag(handoff_store):
    first, second, third = _new(handoff_store, "a"), _new(handoff_store, "b"), _new(handoff_store, "c")
    handoff_store.claim(first.id, "sam")
    handoff_store.finish(first.id, status="closed", outcome="resolved", tags=["cards"])
    handoff_store.claim(second.id, "kim")
    handoff_store.finish(second.id, status="resumed", outcome="handed_back")
    handoff_store.set_tags(third.id, ["cards", "complaint"])
    assert [r.id for r in handoff_store.list(outcome="resolved")] == [first.id]
    assert [r.id for r in handoff_store.list(agent="kim")] == [second.id]
    assert [r.id for r in handoff_store.list(tag="cards")] == [third.id, first.id]
    assert [r.id for r in handoff_store.list(tag="cards", status="queued")] == [third.id]


def test_notes_are_kept_in_order_and_redacted_when_asked(tmp_path):
    store = HandoffStore(f"sqlite:///{tmp_path / 'r.db'}", redact=True)
    record = _new(store)
    store.add_note(record.id, "Lee", "Good recovery")
    updated = store.add_note(record.id, "Lee", "Customer gave card 4111 1111 1111 1111 in chat")
    texts = [n["text"] for n in updated.to_dict()["notes"]]
    assert texts[0] == "Good recovery" and "4111" not in texts[1]
    with pytest.raises(ValueError):
        store.add_note(record.id, "Lee", "   ")


def test_the_queue_puts_priority_first_and_claimed_ones_last(handoff_store):
    low, high, taken = (
        _new(handoff_store, "a"),
        _new(handoff_store, "b", priority=2),
        _new(handoff_store, "c"),
    )
    handoff_store.claim(taken.id, "sam")
    assert [r.id for r in handoff_store.queue()] == [high.id, low.id, taken.id]


def test_long_waits_are_found_once(handoff_store):
    record = _new(handoff_store)
    assert handoff_store.waiting_too_long(10) == []
    assert [r.id for r in handoff_store.waiting_too_long(0)] == [record.id]
    handoff_store.mark_wait_notified(record.id)
    assert handoff_store.waiting_too_long(0) == []


def test_a_ticket_closes_the_open_handoff(handoff_store):
    record = _new(handoff_store)
    ticket = handoff_store.create_ticket(
        "c1", contact="ava@example.com", message="Please call me about my card", handoff_id=record.id
    )
    assert handoff_store.get(record.id).outcome == "ticket"
    assert [t.id for t in handoff_store.tickets()] == [ticket.id]
    handoff_store.close_ticket(ticket.id, "sam")
    assert handoff_store.tickets() == [] and handoff_store.tickets("done")[0].closed_by == "sam"
