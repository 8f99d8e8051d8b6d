"""Requests for a person kept on disk in an outage, and recorded once the store takes them."""

from __future__ import annotations

import json

from assistant import handoff_spool
from assistant.handoff.recover import REASON, record_spooled

EVENTS = [
    {
        "event": "user",
        "timestamp": 1.0,
        "text": "my card was stolen",
        "parse_data": {"intent": {"name": "lost"}},
    },
    {
        "event": "user",
        "timestamp": 2.0,
        "text": "i want a person",
        "parse_data": {"intent": {"name": "request_human"}},
    },
]


def test_requests_kept_in_an_outage_become_handoffs_once(tmp_path, handoff_store):
    spool = tmp_path / "var" / "handoff-spool.jsonl"
    handoff_spool.append(
        spool, {"conversation_id": "conv-one-0001", "text": "i want a person", "events": EVENTS}
    )
    handoff_spool.append(
        spool, {"conversation_id": "conv-one-0001", "text": "hello??", "events": []}
    )  # again
    handoff_spool.append(spool, {"conversation_id": "conv-two-0002", "text": "a person please"})
    assert oct(spool.stat().st_mode & 0o777) == "0o600"
    with spool.open("a") as f:
        f.write('{"conversation_id": "cut-sho')  # a line cut short by a crash: skipped
    stored = handoff_spool.drain(spool, lambda r: record_spooled(handoff_store, r), settle=0)
    assert stored == 3 and not spool.exists()
    [one] = handoff_store.list(conversation_id="conv-one-0001")
    assert one.reason == REASON and one.status == "queued" and one.priority == 1
    assert [t["text"] for t in one.transcript] == ["my card was stolen", "i want a person"]
    [two] = handoff_store.list(conversation_id="conv-two-0002")
    assert [t["text"] for t in two.transcript] == ["a person please"]


def test_a_store_that_is_still_down_keeps_the_requests_for_the_next_round(tmp_path, handoff_store):
    spool = tmp_path / "handoff-spool.jsonl"
    handoff_spool.append(spool, {"conversation_id": "conv-three-03", "text": "person"})

    def down(record):
        raise OSError("database is locked")

    assert handoff_spool.drain(spool, down, settle=0) == 0
    assert json.loads(spool.read_text())["conversation_id"] == "conv-three-03"  # still there
    assert handoff_spool.drain(spool, lambda r: record_spooled(handoff_store, r), settle=0) == 1
    assert handoff_store.open_for("conv-three-03") is not None
    assert handoff_spool.drain(spool, down, settle=0) == 0  # nothing left: nothing to do


def test_a_request_with_a_long_history_is_kept_whole_and_readable(tmp_path, handoff_store):
    spool = tmp_path / "handoff-spool.jsonl"
    many = [{"event": "user", "timestamp": float(i), "text": f"message {i} " + "x" * 400} for i in range(200)]
    handoff_spool.append(
        spool, {"conversation_id": "conv-long-001", "text": "a person please", "events": many}
    )
    line = spool.read_bytes()
    assert len(line) <= handoff_spool.MAX_LINE_BYTES and line.endswith(b"\n")
    kept = json.loads(line)["events"]
    assert kept and kept[-1]["text"].startswith("message 199")  # the newest are the ones kept
    assert handoff_spool.drain(spool, lambda r: record_spooled(handoff_store, r), settle=0) == 1
    assert handoff_store.open_for("conv-long-001") is not None
