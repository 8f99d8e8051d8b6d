"""The widget's server side: history rebuilt from tracker events, feedback validated and recorded."""

from __future__ import annotations

from typing import Any

import pytest

from assistant import chat_session
from assistant.insights.store import InsightsStore
from assistant.settings import Settings
from assistant.web.app import create_app
from assistant.web.history import chat_history

SESSION = "0f8c2d1e-5b6a-4c3d-9e8f-7a6b5c4d3e2f"
SECRET = "session-secret-for-tests"


def owner(session_id: str = SESSION) -> dict[str, str]:
    """The header the widget sends: the credential the channel issued with this session id."""
    return {chat_session.HEADER: chat_session.issue(SECRET, session_id)}


EVENTS: list[dict[str, Any]] = [
    {"event": "action", "name": "action_session_start"},
    {"event": "user", "text": "/greet", "timestamp": 1.0, "metadata": {}},
    {
        "event": "bot",
        "text": "Hi!",
        "timestamp": 1.1,
        "data": {"buttons": [{"title": "Browse", "payload": "/browse"}]},
    },
    {"event": "user", "text": "card stolen", "timestamp": 2.0},
    {
        "event": "bot",
        "text": "Freeze it now.",
        "timestamp": 2.1,
        "data": {"custom": {"data": {"kb": {"article_id": "lost_or_stolen_card", "decision": "answer"}}}},
    },
    {
        "event": "user",
        "text": '/show_article{"article_id": "x"}',
        "timestamp": 3.0,
        "metadata": {"shown": "X"},
    },
    {"event": "bot", "text": "From a person.", "timestamp": 4.0, "metadata": {"agent": "Sam"}},
    {"event": "slot", "name": "stage", "value": "information_gathering"},
]


def test_history_shows_what_the_customer_saw() -> None:
    messages = chat_history(EVENTS)
    assert [m["role"] for m in messages] == ["bot", "user", "bot", "user", "agent"]
    assert messages[0]["buttons"] == [{"title": "Browse", "payload": "/browse"}]
    assert messages[2]["custom"]["kb"]["article_id"] == "lost_or_stolen_card"
    assert messages[3]["text"] == "X"  # a clicked button shows its title, /greet is not shown
    assert messages[4]["agent"] == "Sam"


class FakeRasa:
    def __init__(self) -> None:
        self.asked: list[str] = []
        self.appended: list[tuple[str, list[dict[str, Any]]]] = []
        self.down = False

    async def append_events(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        if self.down:
            from assistant.rasa_client import RasaError

            raise RasaError("Rasa is down")
        self.appended.append((conversation_id, events))

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        self.asked.append(conversation_id)
        if self.down:
            from assistant.rasa_client import RasaError

            raise RasaError("Rasa is down")
        return {"events": EVENTS, "paused": False}


@pytest.fixture
def app(tmp_path, handoff_store):
    analytics = InsightsStore(f"sqlite:///{tmp_path / 'a.db'}")
    rasa = FakeRasa()
    application = create_app(
        Settings(api_token="t", session_secret=SECRET),
        handoff_store,
        rasa,
        insights=analytics,
        name="widget_test",
    )
    application.ctx.fake_rasa = rasa
    return application


def test_history_endpoint_validates_the_session_id(app) -> None:
    _, resp = app.test_client.get("/chat/history/..%2Fetc")
    assert resp.status == 400 or resp.status == 404
    _, resp = app.test_client.get("/chat/history/short", headers=owner("short"))
    assert resp.status == 400
    _, resp = app.test_client.get(f"/chat/history/{SESSION}", headers=owner())
    assert resp.status == 200 and resp.headers["cache-control"] == "no-store"
    assert len(resp.json["messages"]) == 5 and app.ctx.fake_rasa.asked == [SESSION]


def test_feedback_is_validated_then_recorded_and_returned_with_the_history(app) -> None:
    for bad in (
        {"session_id": SESSION, "article_id": "<script>", "helpful": True},
        {"session_id": "x", "article_id": "a", "helpful": True},
        {"session_id": SESSION, "article_id": "a", "helpful": "yes"},
        [],
    ):
        _, resp = app.test_client.post("/chat/feedback", json=bad, headers=owner())
        assert resp.status == 400, bad
    # into the conversation itself, where Rasa's event broker takes it to analytics
    body = {"session_id": SESSION, "article_id": "lost_or_stolen_card", "helpful": True}
    _, resp = app.test_client.post("/chat/feedback", json=body, headers=owner())
    assert resp.status == 204
    ((conversation, (event,)),) = app.ctx.fake_rasa.appended
    assert conversation == SESSION
    data = {"insight": "feedback", "article_id": "lost_or_stolen_card", "helpful": True}
    assert event == {"event": "agent", "text": None, "data": data}
    # only an article the conversation was shown can be rated
    other = {**body, "article_id": "card_arrival"}
    _, resp = app.test_client.post("/chat/feedback", json=other, headers=owner())
    assert resp.status == 400 and "not shown" in resp.json["error"]
    assert len(app.ctx.fake_rasa.appended) == 1
    # Rasa down: straight into the analytics store, and shown with the history
    app.ctx.fake_rasa.down = True
    body["helpful"] = False
    _, resp = app.test_client.post("/chat/feedback", json=body, headers=owner())
    assert resp.status == 204
    app.ctx.fake_rasa.down = False
    _, resp = app.test_client.get(f"/chat/history/{SESSION}", headers=owner())
    assert resp.json["feedback"] == {"lost_or_stolen_card": False}


def test_demo_page_embeds_the_widget_with_one_script_tag(app) -> None:
    _, resp = app.test_client.get("/demo?customer=<script>")
    assert resp.status == 200
    # the widget is one tag; the other is the bank's own (demo.js keeps the token fresh)
    assert resp.text.count("<script") == 2 and 'src="/static/widget.js"' in resp.text
    assert "script-src 'self'" in resp.headers["content-security-policy"]


def test_a_persons_message_in_the_history_is_marked_as_from_an_agent() -> None:
    events = [
        {
            "event": "bot",
            "timestamp": 5.0,
            "data": {"custom": {"data": {"agent": {"name": "Sam"}, "text": "Hello, I'm Sam."}}},
        }
    ]
    [message] = chat_history(events)
    assert (message["role"], message["agent"], message["text"]) == ("agent", "Sam", "Hello, I'm Sam.")


def test_a_waiting_customer_can_see_their_place_and_then_who_has_them(app, handoff_store) -> None:
    session = "queue-test-session-1"
    _, resp = app.test_client.get(f"/chat/queue/{session}", headers=owner(session))
    assert resp.json == {}  # not waiting
    handoff_store.create("someone-else-1", reason="r", stage="s", transcript=[], slots={}, priority=1)
    mine = handoff_store.create(session, reason="r", stage="s", transcript=[], slots={})
    _, resp = app.test_client.get(f"/chat/queue/{session}", headers=owner(session))
    assert resp.json == {"position": 2, "wait_minutes": 8}
    handoff_store.claim(mine.id, "sam", "Sam")
    _, resp = app.test_client.get(f"/chat/queue/{session}", headers=owner(session))
    assert resp.json == {"agent": "Sam"}
    _, resp = app.test_client.get("/chat/queue/bad%20id")
    assert resp.status == 400


@pytest.mark.parametrize(
    "headers",
    [
        {},  # the session id alone
        {chat_session.HEADER: ""},
        {chat_session.HEADER: "c1.1.anon.forged"},
        {chat_session.HEADER: chat_session.issue(SECRET, "another-session-0001")},  # someone else's
        {chat_session.HEADER: chat_session.issue("another-secret", SESSION)},
        {chat_session.HEADER: chat_session.issue(SECRET, SESSION, now=1_000_000)},  # long expired
    ],
)
def test_a_conversation_is_read_only_with_its_own_credential(app, handoff_store, headers) -> None:
    handoff_store.create(SESSION, reason="r", stage="s", transcript=[], slots={})
    for method, path, body in (
        ("get", f"/chat/history/{SESSION}", None),
        ("get", f"/chat/queue/{SESSION}", None),
        ("post", "/chat/feedback", {"session_id": SESSION, "article_id": "a", "helpful": True}),
    ):
        call = getattr(app.test_client, method)
        _, resp = call(path, headers=headers, **({"json": body} if body else {}))
        assert resp.status == 403, (path, headers)
        assert "credential" in resp.json["error"]
    assert app.ctx.fake_rasa.asked == []  # Rasa was never asked for the tracker


def test_credentials_are_bound_to_their_session_and_customer() -> None:
    issued = chat_session.new_session(SECRET, "cust-ava", now=1000)
    assert chat_session.verify(SECRET, issued.session_id, issued.credential, now=2000) == (
        chat_session.subject_tag("cust-ava")
    )
    assert chat_session.subject_tag(None) == chat_session.ANONYMOUS != chat_session.subject_tag("cust-ben")
    for session_id, credential in (
        (issued.session_id + "x", issued.credential),
        (issued.session_id, issued.credential.replace(chat_session.subject_tag("cust-ava"), "anon")),
        (issued.session_id, issued.credential + "A"),
        (issued.session_id, None),
        (issued.session_id, "c1." + "9" * 12 + ".anon." + "A" * 43),
    ):
        with pytest.raises(chat_session.CredentialError):
            chat_session.verify(SECRET, session_id, credential, now=2000)
    with pytest.raises(chat_session.CredentialError):  # a month and a day later
        chat_session.verify(SECRET, issued.session_id, issued.credential, now=1000 + 31 * 86400)
    with pytest.raises(chat_session.CredentialError):
        chat_session.issue("", "s")


def test_the_demo_host_page_refreshes_short_lived_tokens(tmp_path, handoff_store) -> None:
    from assistant.identity import verify

    settings = Settings(api_token="t", session_secret=SECRET, identity_secret="id-secret", demo_sign_in=True)
    application = create_app(settings, handoff_store, FakeRasa(), name="demo_token_test")
    _, resp = application.test_client.get("/demo/token?customer=cust-ava")
    assert resp.status == 200 and resp.headers["cache-control"] == "no-store"
    identity = verify("id-secret", resp.json["token"])
    assert identity.customer_id == "cust-ava" and resp.json["expires_in"] == 15 * 60
    _, resp = application.test_client.get("/demo/token?customer=cust-nobody")
    assert resp.status == 404
    _, page = application.test_client.get("/demo?customer=cust-ava")
    assert 'src="/static/demo.js" data-customer="cust-ava"' in page.text
    _, page = application.test_client.get('/demo?customer="><script>')
    assert 'data-customer=""' in page.text
