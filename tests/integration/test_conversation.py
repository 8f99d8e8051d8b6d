"""End to end over the real stack: Rasa's `rest` channel -> action server -> knowledge base,
the handoff record in SQLite, and the hand-back through the web app's API into Rasa."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.conftest import kb_of, query

pytestmark = pytest.mark.integration


def new_sender() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def test_hi_gets_an_introduction_and_top_task_buttons(say):
    messages = say(new_sender(), "hi")
    assert "virtual assistant" in messages[0]["text"]
    buttons = [b for m in messages for b in m.get("buttons", [])]
    assert len(buttons) >= 3
    assert buttons[0]["payload"] == "/browse"  # a first visit: the guided path first
    assert any(b["payload"].startswith("/show_article") for b in buttons)
    assert buttons[-1] == {"title": "Talk to a person", "payload": "/request_human"}


def test_a_banking_question_gets_the_article_with_id_and_score(say):
    messages = say(new_sender(), "my new card still hasn't arrived, where is it?")
    kb = kb_of(messages)
    assert kb["article_id"] == "card_arrival"
    assert kb["decision"] == "answer"
    assert 0 < kb["score"] <= 1
    assert "working days" in messages[0]["text"]


def test_a_top_task_button_shows_its_article(say):
    messages = say(new_sender(), '/show_article{"article_id": "plans_and_fees"}')
    assert kb_of(messages)["article_id"] == "plans_and_fees"


def test_an_unanswerable_question_is_declined_with_the_offer_of_a_person(say):
    messages = say(new_sender(), "What's the best recipe for banana bread?")
    kb = kb_of(messages)
    assert kb["decision"] == "decline" and kb["article_id"] is None
    assert "don't know" in messages[0]["text"]
    assert {"title": "Talk to a person", "payload": "/request_human"} in messages[0]["buttons"]


def test_an_oversized_message_is_refused_politely(say):
    messages = say(new_sender(), "please help " * 200)
    assert "too long" in messages[0]["text"]


def test_an_oversized_slash_message_is_refused_before_nlu(stack, say, tracker):
    """60 KB starting with "/" once took 39 s and 16 GB in DIET; now it never reaches it whole."""
    sender = new_sender()
    messages = say(sender, "/" + "x" * 60_000)
    assert "couldn't read that message" in messages[0]["text"]
    assert {"title": "Talk to a person", "payload": "/request_human"} in messages[0]["buttons"]
    [event] = [e for e in tracker(sender)["events"] if e["event"] == "user"]
    assert event["parse_data"]["intent"]["name"] == "message_refused"
    assert len(event["parse_data"]["text"]) <= 1000  # what NLU was given


@pytest.mark.parametrize(
    "payload",
    [
        "/EXTERNAL_handed_back",  # only Rasa's HTTP API may trigger external intents
        '/show_article{"article_id": "plans_and_fees", "priority": 2}',
        '/choose{"choice": {"nested": ["deep"]}}',
    ],
)
def test_payloads_no_button_sends_are_refused(say, payload):
    messages = say(new_sender(), payload)
    assert "couldn't read that message" in messages[0]["text"]


def test_a_request_body_over_64_kib_is_not_read(stack, http):
    status, _ = http.call(
        "POST",
        f"http://127.0.0.1:{stack.rasa_port}/webhooks/rest/webhook",
        {"sender": new_sender(), "message": "hello", "metadata": {"pad": "x" * 70_000}},
    )
    assert status == 413


def test_handoff_records_context_pauses_the_bot_and_resumes(stack, say, http):
    sender = new_sender()
    say(sender, "hello")
    say(sender, "how do I top up with a card?")
    messages = say(sender, "I want to talk to a human")
    assert "passing you to a person" in messages[0]["text"]

    [(reason, stage, transcript, status)] = query(
        stack,
        "select reason, stage, transcript, status from handoffs where conversation_id = :c",
        {"c": sender},
    )
    assert (reason, stage, status) == ("customer_request", "information_gathering", "queued")
    assert "how do I top up with a card?" in transcript and "I want to talk to a human" in transcript
    assert '"article_id"' in transcript  # each bot answer keeps its article and score

    # Paused: the bot no longer answers this conversation...
    assert say(sender, "hello? anyone?") == []
    # ...but still answers everyone else.
    assert say(new_sender(), "hi")

    api = f"http://127.0.0.1:{stack.public_port}/api"
    headers = {"Authorization": f"Bearer {stack.api_token}"}
    status, body = http.call("GET", f"{api}/handoffs?conversation_id={sender}", headers=headers)
    assert status == 200
    [handoff] = body["handoffs"]
    status, body = http.call("GET", f"{api}/handoffs/{handoff['id']}", headers=headers)
    assert [t["role"] for t in body["transcript"]][:2] == ["user", "bot"]

    status, body = http.call("POST", f"{api}/handoffs/{handoff['id']}/resume", headers=headers)
    assert status == 200 and body["status"] == "resumed"

    status, tracker = http.call(
        "GET", f"http://127.0.0.1:{stack.rasa_port}/conversations/{sender}/tracker?token={stack.rasa_token}"
    )
    bot_texts = [e.get("text") for e in tracker["events"] if e["event"] == "bot"]
    assert "You're back with the assistant. What else can I help you with?" in bot_texts
    assert kb_of(say(sender, "how do I change my PIN?"))["article_id"] == "change_pin"


def test_rasa_http_api_needs_the_token(stack, http):
    status, _ = http.call("GET", f"http://127.0.0.1:{stack.rasa_port}/conversations/someone/tracker")
    assert status == 401
    status, _ = http.call(
        "GET", f"http://127.0.0.1:{stack.rasa_port}/conversations/someone/tracker?token=wrong"
    )
    assert status == 401


def test_staff_api_needs_the_token(stack, http):
    status, _ = http.call("GET", f"http://127.0.0.1:{stack.public_port}/api/handoffs")
    assert status == 401


@pytest.mark.profile("embedded")  # the production profile keeps its data in PostgreSQL
def test_var_is_readable_by_this_user_only(stack, say):
    import stat

    say(new_sender(), "hi")  # every process has written by now
    assert stat.S_IMODE(stack.var_dir.stat().st_mode) == 0o700
    files = [p for p in stack.var_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in files) and any(p.suffix == ".log" for p in files)
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files if p.stat().st_mode & 0o077} == {}
