"""Faults over the real stack, with real processes:

- the action server killed mid-conversation: the customer still gets an answer, a request for a
  person is recorded, and the supervisor starts the action server again;
- Rasa killed mid-form: the supervisor starts it again and the form carries on where it was;
- the assistant's database locked during a request for a person: the customer is told it was
  kept, and the handoff is recorded once the lock goes, once;
- a client that goes away mid-turn: over socket.io the answer is in the conversation when it
  comes back; over REST the turn still runs to its end.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.integration.conftest import texts
from tests.integration.test_follow_the_customer import transfers
from tests.integration.test_public_entry import JOIN, SAY, _page
from tests.integration.test_stages import new_sender, signed_in

pytestmark = pytest.mark.integration


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def test_a_dead_action_server_never_means_silence(stack, browser, http):
    public = f"http://localhost:{stack.public_port}"
    ctx, page = _page(browser, stack)
    joined = page.evaluate(JOIN, {"url": public, "ask": {}})
    session = joined["granted"]["session_id"]
    assert page.evaluate(SAY, {"index": joined["index"], "text": "hello", "session_id": None, "wait": 30000})

    actions = next(s for s in stack.services if s.name == "actions")
    assert actions.process is not None
    old_pid = actions.process.pid
    os.killpg(old_pid, signal.SIGKILL)
    actions.process.wait()
    try:
        said = page.evaluate(
            SAY,
            {
                "index": joined["index"],
                "text": "i want to talk to a human",
                "session_id": None,
                "wait": 30000,
            },
        )
        assert said, "silence while the action server was down"
        assert any("noted that you'd like" in t and "reference conv-" in t for t in said), said
        auth = {"Authorization": f"Bearer {stack.api_token}"}
        deadline, found = time.monotonic() + 60, []
        while time.monotonic() < deadline and not found:
            status, body = http.call("GET", f"{public}/api/handoffs?conversation_id={session}", headers=auth)
            assert status == 200
            found = body["handoffs"]
            time.sleep(1)
        assert found and found[0]["reason"] == "asked for a person while the assistant was unavailable"
        assert found[0]["status"] == "queued"
    finally:
        # the supervisor starts it again on its own
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not _healthy(actions.health_url):
            time.sleep(1)
    assert actions.process.pid != old_pid and _healthy(actions.health_url)
    ctx.close()


def _wait_healthy(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _healthy(url):
            return True
        time.sleep(1)
    return False


def test_rasa_killed_mid_form_comes_back_and_the_form_carries_on(say, stack, tracker):
    sender, meta = new_sender(), signed_in(stack)
    before = transfers(stack, "cust-ava")
    assert "Who would you like to send money to?" in texts(say(sender, "make a transfer", meta))

    rasa = next(s for s in stack.services if s.name == "rasa")
    assert rasa.process is not None
    old_pid = rasa.process.pid
    os.killpg(old_pid, signal.SIGKILL)
    rasa.process.wait()
    assert _wait_healthy(rasa.health_url, 300), "the supervisor did not bring Rasa back"
    assert rasa.process.pid != old_pid

    messages = say(sender, "Sam", meta)  # the answer to the question asked before the crash
    assert tracker(sender)["active_loop"].get("name") == "transfer_form"
    assert tracker(sender)["slots"]["transfer_payee"] == "cust-ava-payee1"
    assert "Who would you like to send money to?" not in texts(messages)
    say(sender, "£7", meta)
    say(sender, "yes", meta)
    assert transfers(stack, "cust-ava")[len(before) :] == [("cust-ava-payee1", 700)]


def _handoffs(stack, http, conversation: str) -> list[dict]:
    status, body = http.call(
        "GET",
        f"http://localhost:{stack.public_port}/api/handoffs?conversation_id={conversation}",
        headers={"Authorization": f"Bearer {stack.api_token}"},
    )
    assert status == 200, body
    return body["handoffs"]


def test_a_locked_database_keeps_the_request_for_a_person_and_records_it_once(say, stack, http):
    sender = new_sender()
    say(sender, "hello")
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        db = sqlite3.connect(stack.var_dir / "assistant.db", timeout=30, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")  # nobody else reads or writes until it ends
        locked.set()
        release.wait(60)
        db.execute("ROLLBACK")
        db.close()

    holder = threading.Thread(target=hold_the_lock, daemon=True)
    holder.start()
    assert locked.wait(30)
    try:
        messages = say(sender, "i want to talk to a human")
    finally:
        release.set()
        holder.join(30)
    assert "I've kept your request" in texts(messages), texts(messages)
    deadline, found = time.monotonic() + 60, []
    while time.monotonic() < deadline and not found:
        found = _handoffs(stack, http, sender)
        time.sleep(1)
    assert [h["status"] for h in found] == ["queued"]
    time.sleep(6)  # a second round of the drain records nothing more
    assert len(_handoffs(stack, http, sender)) == 1


GONE = """async ({url, text}) => {
  const s = window.io(url, {transports: ["websocket"], forceNew: true});
  await new Promise((ok) => s.on("connect", ok));
  const granted = await new Promise((ok) => {
    s.on("session_credential", ok);
    s.emit("session_request", {});
  });
  s.emit("user_uttered", {message: text, metadata: {}});
  s.disconnect();  // gone before the answer: closed the tab, lost the signal
  return granted;
}"""


def test_a_customer_who_goes_away_mid_turn_finds_the_answer_on_coming_back(stack, browser, http):
    from assistant.chat_session import HEADER

    public = f"http://localhost:{stack.public_port}"
    ctx, page = _page(browser, stack)
    granted = page.evaluate(GONE, {"url": public, "text": "how do I activate my new card?"})
    deadline, answer = time.monotonic() + 60, []
    while time.monotonic() < deadline and not answer:
        time.sleep(1)
        status, body = http.call(
            "GET",
            f"{public}/chat/history/{granted['session_id']}",
            headers={HEADER: granted["credential"]},
        )
        assert status == 200, body
        roles = [m["role"] for m in body["messages"]]
        answer = [m for m in body["messages"] if m["role"] != "user"]
    assert roles[0] == "user" and answer, body
    # ... and rejoining the conversation over socket.io is granted, answer included
    rejoined = page.evaluate(JOIN, {"url": public, "ask": granted})
    assert rejoined["granted"]["session_id"] == granted["session_id"]
    ctx.close()


def test_a_rest_client_that_stops_waiting_still_gets_its_turn_recorded_and_answered(stack, tracker):
    sender = new_sender()
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.rasa_port}/webhooks/rest/webhook",
        data=json.dumps({"sender": sender, "message": "how do I activate my new card?"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        urllib.request.urlopen(request, timeout=0.05)  # gives up long before the answer
    deadline, events = time.monotonic() + 60, []
    while time.monotonic() < deadline:
        time.sleep(1)
        events = tracker(sender)["events"]
        if any(e["event"] == "bot" for e in events):
            break
    typed = [e["text"] for e in events if e["event"] == "user"]
    assert typed == ["how do I activate my new card?"]  # recorded, not cancelled with the request
    assert any(e["event"] == "bot" for e in events)  # and answered
