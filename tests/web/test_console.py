"""The agent console and the staff API with console sessions: sign-in, CSRF, roles, the handoff
life cycle through Rasa (recorded), live transcripts, notes, tags, tickets and article search.
Real SQLite stores; tests/integration drives the real Rasa server and a real browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.rasa_client import RasaClient
from assistant.settings import Settings
from assistant.staff.store import StaffStore
from assistant.web.app import create_app, tell_long_waits
from assistant.web.auth import COOKIE

PASSWORD = "correct horse battery"
AGENT_TURN = {"custom": {"data": {"agent": {"name": "Sam"}, "text": "Hello, I'm Sam"}}}


def user_event(text: str, intent: str, confidence: float) -> dict[str, object]:
    return {
        "event": "user",
        "text": text,
        "parse_data": {"intent": {"name": intent, "confidence": confidence}},
    }


class TrackerRasa(RasaClient):
    """Records every call; answers tracker requests with a fixed conversation."""

    def __init__(self):
        super().__init__("http://rasa.invalid", "t")
        self.calls: list[tuple[str, str, object]] = []

    async def _request(self, method, path, **kwargs):
        self.calls.append((method, path, kwargs.get("json")))
        if path.endswith("/tracker"):
            return {
                "paused": True,
                "events": [
                    user_event("send £50 to Mum", "make_transfer", 0.93),
                    {"event": "bot", "text": "Who to?", "data": {}},
                    user_event("talk to a person", "request_human", 0.99),
                    {"event": "bot", "text": "", "data": AGENT_TURN},
                ],
            }
        return {}


@pytest.fixture
def staff(tmp_path):
    store = StaffStore(f"sqlite:///{tmp_path / 'handoffs.db'}")
    for username, role in (("sam", "agent"), ("kim", "agent"), ("lee", "lead"), ("eddie", "editor")):
        store.add_user(username, PASSWORD, role=role, name=username.title())
    return store


@pytest.fixture
def rasa():
    return TrackerRasa()


@pytest.fixture
def app(handoff_store, staff, rasa, request):
    return create_app(
        Settings(api_token="api-token"),
        handoff_store,
        rasa,
        staff=staff,
        name=re.sub(r"[^A-Za-z0-9_]", "_", f"console_{request.node.name}")[:60],
    )


class Client:
    """One signed-in staff member: their session cookie and CSRF token."""

    def __init__(self, app, staff, username):
        session = staff.start_session(staff.user(username))
        self.app, self.cookie, self.csrf = app, f"{COOKIE}={session.token}", session.csrf

    async def get(self, path):
        _, resp = await self.app.asgi_client.get(path, headers={"Cookie": self.cookie})
        return resp

    async def post(self, path, body=None, *, csrf=True):
        headers = {"Cookie": self.cookie}
        if csrf:
            headers["X-CSRF-Token"] = self.csrf
        _, resp = await self.app.asgi_client.post(path, json=body or {}, headers=headers)
        return resp


def new_handoff(store, conversation="conv-1", **kwargs):
    return store.create(
        conversation,
        reason="customer_request_in_transfer_form",
        stage="transaction",
        transcript=[
            {"role": "user", "text": "talk to a person", "intent": "request_human", "confidence": 0.99}
        ],
        slots={"transfer_amount": 50, "active_form": "transfer_form", "requested_slot": "transfer_confirm"},
        **kwargs,
    )


# ---------------------------------------------------------------- sign-in


async def test_sign_in_needs_the_forms_csrf_cookie_and_the_right_password(app, staff):
    _, page = await app.asgi_client.get("/console/login")
    assert page.status == 200 and "frame-ancestors 'none'" in page.headers["content-security-policy"]
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    cookie = f"assistant_login_csrf={token}"
    form = {"csrf": token, "username": "sam", "password": PASSWORD}

    # a cross-site form cannot know the value in the sign-in page's cookie
    _, forged = await app.asgi_client.post(
        "/console/login", data={**form, "csrf": "guessed"}, headers={"Cookie": cookie}
    )
    assert forged.status == 403 and COOKIE not in forged.headers.get("set-cookie", "")

    _, wrong = await app.asgi_client.post(
        "/console/login", data={**form, "password": "not it at all"}, headers={"Cookie": cookie}
    )
    assert wrong.status == 401 and "Wrong user name or password" in wrong.text

    _, ok = await app.asgi_client.post("/console/login", data=form, headers={"Cookie": cookie})
    assert ok.status == 302 and ok.headers["location"] == "/console"
    set_cookie = ok.headers["set-cookie"]
    assert f"{COOKIE}=" in set_cookie and "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie


async def test_pages_redirect_to_sign_in_and_the_api_answers_401(app):
    for path in ("/console", "/console/handoffs/1", "/console/review"):
        _, resp = await app.asgi_client.get(path)
        assert resp.status == 302 and resp.headers["location"] == "/console/login"
    _, resp = await app.asgi_client.get("/api/queue")
    assert resp.status == 401


async def test_the_console_shell_carries_the_user_escaped(app, staff):
    staff.add_user("mal", PASSWORD, role="agent", name='<img src=x onerror="alert(1)">')
    resp = await Client(app, staff, "mal").get("/console")
    assert resp.status == 200 and 'data-page="queue"' in resp.text
    assert "<img src=x" not in resp.text and "&lt;img src=x" in resp.text
    assert "script-src 'self'" in resp.headers["content-security-policy"]


async def test_sign_out_ends_the_session(app, staff):
    sam = Client(app, staff, "sam")
    _, resp = await app.asgi_client.post(
        "/console/logout", data={"csrf": sam.csrf}, headers={"Cookie": sam.cookie}
    )
    assert resp.status == 302
    assert (await sam.get("/api/me")).status == 401
    assert staff.agents_online() == 0


# ---------------------------------------------------------------- CSRF and roles


async def test_state_changing_calls_need_the_csrf_token(app, staff, handoff_store):
    record = new_handoff(handoff_store)
    sam = Client(app, staff, "sam")
    resp = await sam.post(f"/api/handoffs/{record.id}/claim", csrf=False)
    assert resp.status == 403 and "CSRF" in resp.json["error"]
    assert handoff_store.get(record.id).status == "queued"


@pytest.mark.parametrize(
    ("username", "method", "path", "allowed"),
    [
        ("sam", "get", "/api/queue", True),
        ("eddie", "get", "/api/queue", False),
        ("sam", "get", "/api/handoffs/export.csv", False),
        ("lee", "get", "/api/handoffs/export.csv", True),
        ("eddie", "get", "/console/review", True),
        ("sam", "get", "/console/review", False),
        ("eddie", "post", "/api/handoffs/{id}/claim", False),
        ("sam", "post", "/api/handoffs/{id}/notes", False),
        ("lee", "post", "/api/handoffs/{id}/notes", True),
        ("eddie", "post", "/api/handoffs/{id}/tags", False),
        ("sam", "get", "/api/tickets", True),
        ("eddie", "get", "/api/tickets", False),  # contact details: not for editors
    ],
)
async def test_roles_are_enforced(app, staff, handoff_store, username, method, path, allowed):
    record = new_handoff(handoff_store)
    who = Client(app, staff, username)
    path = path.format(id=record.id)
    resp = await (who.get(path) if method == "get" else who.post(path, {"text": "ok", "tags": ["x"]}))
    assert (resp.status < 400) is allowed, (resp.status, resp.text[:200])
    if not allowed:
        assert resp.status == 403


async def test_me_lists_the_permissions_and_outcomes(app, staff):
    resp = await Client(app, staff, "lee").get("/api/me")
    assert resp.json["role"] == "lead" and "annotate" in resp.json["permissions"]
    assert "resolved" in resp.json["outcomes"]


# ---------------------------------------------------------------- the handoff life cycle


async def test_queue_claim_reply_and_hand_back(app, staff, handoff_store, rasa):
    record = new_handoff(handoff_store)
    urgent = new_handoff(handoff_store, "conv-2", priority=2)
    sam, kim = Client(app, staff, "sam"), Client(app, staff, "kim")

    queue = (await sam.get("/api/queue")).json
    assert [h["id"] for h in queue["handoffs"]] == [urgent.id, record.id]
    assert [h["position"] for h in queue["handoffs"]] == [1, 2]
    assert queue["agents_online"] == 2 and queue["handoffs"][1]["waiting_seconds"] >= 0

    claimed = await sam.post(f"/api/handoffs/{record.id}/claim")
    assert claimed.status == 200 and claimed.json["agent_name"] == "Sam"
    assert ("POST", "/conversations/conv-1/tracker/events", [{"event": "pause"}]) in rasa.calls
    assert (await kim.post(f"/api/handoffs/{record.id}/claim")).status == 409
    assert (await kim.post(f"/api/handoffs/{record.id}/messages", {"text": "Hi"})).status == 409

    sent = await sam.post(f"/api/handoffs/{record.id}/messages", {"text": "  Hello, I'm Sam  "})
    assert sent.status == 200
    joined = [body for _, path, body in rasa.calls if path.endswith("/execute")]
    assert joined[0] == {"name": "action_agent_joined"}  # the customer is told Sam has joined
    slots = next(
        body
        for _, path, body in rasa.calls
        if path.endswith("/tracker/events") and body[0].get("name") == "agent_message"
    )
    assert slots[0]["value"] == "Hello, I'm Sam" and slots[1]["value"] == "Sam"  # the session's name

    back = await sam.post(f"/api/handoffs/{record.id}/resume")
    assert back.status == 200 and back.json["status"] == "resumed" and back.json["outcome"] == "handed_back"
    assert rasa.calls[-1][1] == "/conversations/conv-1/trigger_intent"
    assert rasa.calls[-1][2]["name"] == "EXTERNAL_handed_back"
    assert (await sam.post(f"/api/handoffs/{record.id}/messages", {"text": "late"})).status == 409


async def test_close_with_an_outcome_and_tags(app, staff, handoff_store, rasa):
    record = new_handoff(handoff_store)
    sam = Client(app, staff, "sam")
    await sam.post(f"/api/handoffs/{record.id}/claim")
    bad = await sam.post(f"/api/handoffs/{record.id}/close", {"outcome": "happy"})
    assert bad.status == 400
    closed = await sam.post(
        f"/api/handoffs/{record.id}/close", {"outcome": "resolved", "tags": ["Transfers"]}
    )
    assert closed.json["status"] == "closed" and closed.json["tags"] == ["transfers"]
    # the whole conversation is kept for review, the agent's part included
    kept = handoff_store.get(record.id).transcript
    assert [t["role"] for t in kept] == ["user", "bot", "user", "agent"]
    assert rasa.calls[-1][2]["name"] == "EXTERNAL_handed_back"  # never left paused


async def test_the_live_transcript_shows_agent_turns_and_annotations(app, staff, handoff_store):
    record = new_handoff(handoff_store)
    live = (await Client(app, staff, "sam").get(f"/api/handoffs/{record.id}/live")).json
    assert live["live"] and live["paused"]
    roles = [t["role"] for t in live["turns"]]
    assert roles == ["user", "bot", "user", "agent"]
    assert live["turns"][0]["intent"] == "make_transfer" and live["turns"][0]["confidence"] == 0.93
    assert live["turns"][3] == {"role": "agent", "text": "Hello, I'm Sam", "timestamp": None, "agent": "Sam"}

    conversation = (await Client(app, staff, "lee").get("/api/conversations/conv-1/transcript")).json
    assert [h["id"] for h in conversation["handoffs"]] == [record.id]


async def test_a_lead_reviews_with_notes_tags_and_filters(app, staff, handoff_store):
    record = new_handoff(handoff_store)
    other = new_handoff(handoff_store, "conv-2")
    lee = Client(app, staff, "lee")
    await lee.post(f"/api/handoffs/{record.id}/tags", {"tags": ["coaching"]})
    noted = await lee.post(f"/api/handoffs/{record.id}/notes", {"text": "Could have offered the form sooner"})
    assert noted.json["notes"][0]["author"] == "Lee"
    listed = (await lee.get("/api/handoffs?tag=coaching")).json["handoffs"]
    assert [h["id"] for h in listed] == [record.id] and other.id != record.id
    csv_text = (await lee.get("/api/handoffs/export.csv?tag=coaching")).text
    assert "coaching" in csv_text.splitlines()[1]


async def test_tickets_are_listed_and_done(app, staff, handoff_store):
    ticket = handoff_store.create_ticket("conv-9", contact="+44 7700 900123", message="Call me please")
    sam = Client(app, staff, "sam")
    assert [t["id"] for t in (await sam.get("/api/queue")).json["tickets"]] == [ticket.id]
    done = await sam.post(f"/api/tickets/{ticket.id}/close")
    assert done.json["status"] == "done" and done.json["closed_by"] == "sam"
    assert (await sam.get("/api/queue")).json["tickets"] == []


async def test_article_search_is_off_without_an_index_and_works_with_one(
    app, staff, handoff_store, demo_kb, rasa, request
):
    sam = Client(app, staff, "sam")
    assert (await sam.get("/api/kb/search?q=card")).status == 503
    assert (await sam.get("/api/kb/search?q=")).status == 400

    class Live:
        def get(self):
            return demo_kb

    with_kb = create_app(Settings(), handoff_store, rasa, staff=staff, kb=Live(), name="console_kb_search")
    resp = await Client(with_kb, staff, "sam").get("/api/kb/search?q=my%20card%20never%20came")
    first = resp.json["articles"][0]
    assert first["id"] == "card_arrival" and first["category"] == "Cards"
    assert len(first["text"]) > 80 and "#" not in first["text"]  # plain text, ready to paste


async def test_customers_waiting_too_long_are_told_once(handoff_store, rasa):
    record = new_handoff(handoff_store)
    assert await tell_long_waits(handoff_store, rasa, minutes=0) == 1
    assert rasa.calls[-1][2]["name"] == "EXTERNAL_long_wait"
    assert await tell_long_waits(handoff_store, rasa, minutes=0) == 0
    assert handoff_store.get(record.id).wait_notified_at is not None


async def test_review_lists_are_limited_and_a_date_until_includes_the_day(app, staff, handoff_store):
    import datetime as dt

    for n in range(3):
        new_handoff(handoff_store, f"conv-{n}")
    lee = Client(app, staff, "lee")
    assert len((await lee.get("/api/handoffs?limit=2")).json["handoffs"]) == 2
    assert (await lee.get("/api/handoffs?limit=0")).status == 400
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert len((await lee.get(f"/api/handoffs?since={today}&until={today}")).json["handoffs"]) == 3


async def test_agents_see_open_handoffs_and_their_own_leads_see_all(app, staff, handoff_store):
    waiting = new_handoff(handoff_store, "conv-open")
    kims = new_handoff(handoff_store, "conv-kim")
    handoff_store.claim(kims.id, "kim", "Kim")
    handoff_store.finish(kims.id, status="closed", outcome="resolved")
    sams = new_handoff(handoff_store, "conv-sam")
    handoff_store.claim(sams.id, "sam", "Sam")
    handoff_store.finish(sams.id, status="closed", outcome="resolved")

    sam, lee = Client(app, staff, "sam"), Client(app, staff, "lee")
    seen = {h["id"] for h in (await sam.get("/api/handoffs")).json["handoffs"]}
    assert waiting.id in seen and sams.id in seen and kims.id not in seen
    assert (await sam.get(f"/api/handoffs/{kims.id}")).status == 404
    assert (await sam.get(f"/api/handoffs/{kims.id}/live")).status == 404
    assert (await sam.get("/api/conversations/conv-kim/transcript")).status == 404
    assert (await lee.get(f"/api/handoffs/{kims.id}")).status == 200
    assert {h["id"] for h in (await lee.get("/api/handoffs")).json["handoffs"]} >= {
        waiting.id,
        kims.id,
        sams.id,
    }


async def test_agents_see_the_customers_account_read_only_and_editors_do_not(
    handoff_store, staff, rasa, tmp_path, request
):
    from assistant.account.facts import AccountFacts
    from assistant.account.words import load_account_words
    from assistant.backoffice import BackOffice

    office = BackOffice(f"sqlite:///{tmp_path / 'backoffice.db'}")
    office.seed_demo()
    words = load_account_words(Path(__file__).resolve().parents[2] / "data" / "account.yml")
    app = create_app(
        Settings(api_token="api-token"),
        handoff_store,
        rasa,
        staff=staff,
        account=AccountFacts(office, words),
        name=re.sub(r"[^A-Za-z0-9_]", "_", f"console_{request.node.name}")[:60],
    )
    bens = new_handoff(handoff_store, "conv-ben", customer_id="cust-ben")
    guest = new_handoff(handoff_store, "conv-guest")
    sam, eddie = Client(app, staff, "sam"), Client(app, staff, "eddie")
    seen = (await sam.get(f"/api/handoffs/{bens.id}/account")).json
    assert seen["customer_id"] == "cust-ben" and seen["account"]["balance"] == "£18.40"
    assert seen["account"]["topups"][0]["reason"] == "issuer_declined"
    assert (await sam.get(f"/api/handoffs/{guest.id}/account")).json == {"customer_id": None, "account": None}
    assert (await eddie.get(f"/api/handoffs/{bens.id}/account")).status == 403
    handoff_store.claim(bens.id, "kim", "Kim")
    handoff_store.finish(bens.id, status="closed", outcome="resolved")
    assert (await sam.get(f"/api/handoffs/{bens.id}/account")).status == 404  # not theirs, and closed


async def test_sign_in_attempts_and_chat_calls_are_limited_per_address(app):
    from assistant.web.app import RouteLimits

    app.ctx.route_limits = RouteLimits(chat_per_minute=3, sign_in_per_minute=2)
    statuses = []
    for _ in range(3):
        _, resp = await app.asgi_client.post("/console/login", data={"username": "x", "password": "y"})
        statuses.append(resp.status)
    assert statuses[:2] != [429, 429] and statuses[2] == 429
    assert "wait a minute" in resp.json["error"]
    chat = []
    for _ in range(4):
        _, resp = await app.asgi_client.get("/chat/queue/some-session")
        chat.append(resp.status)
    assert 429 not in chat[:3] and chat[3] == 429


async def test_refusals_are_json_errors_with_one_status_each(app, staff, handoff_store):
    from assistant.handoff.service import ConversationUnreachable
    from assistant.handoff.store import HandoffNotOpen, InvalidRequest, NotYours, TicketNotFound
    from assistant.web.api import http_status

    refusals = (TicketNotFound(1), NotYours("x"), HandoffNotOpen("x"), InvalidRequest("x"))
    assert [http_status(e) for e in refusals] == [404, 409, 409, 400]
    assert http_status(ConversationUnreachable("x")) == 502
    sam, lee = Client(app, staff, "sam"), Client(app, staff, "lee")
    missing = await sam.post("/api/handoffs/999/claim")
    assert (missing.status, missing.json) == (404, {"error": "no handoff 999"})
    assert (await lee.post("/api/handoffs/999/notes", {"text": "hi"})).status == 404
    assert (await sam.post("/api/tickets/999/close")).json == {"error": "no ticket 999"}
    record = new_handoff(handoff_store)
    assert (await lee.post(f"/api/handoffs/{record.id}/notes", {"text": " "})).status == 400
    assert (await sam.get(f"/api/handoffs/{record.id}")).json["position"] == 1
    await sam.post(f"/api/handoffs/{record.id}/claim")
    assert (await sam.get(f"/api/handoffs/{record.id}")).json["position"] is None


async def test_exports_and_ticket_lists_are_bounded(app, staff, handoff_store):
    for n in range(3):
        new_handoff(handoff_store, f"conv-{n}")
        handoff_store.create_ticket(f"conv-t{n}", contact="+44 7700 900123", message="Call me please")
    lee, sam = Client(app, staff, "lee"), Client(app, staff, "sam")
    cut = await lee.get("/api/handoffs/export.csv?limit=2")
    assert len(cut.text.splitlines()) == 3 and cut.headers["x-export-truncated"] == "2"  # header + 2
    whole = await lee.get("/api/handoffs/export.json")
    assert len(whole.json["handoffs"]) == 3 and "x-export-truncated" not in whole.headers
    assert (await lee.get("/api/handoffs/export.csv?limit=10001")).status == 400
    assert len((await sam.get("/api/tickets?limit=2")).json["tickets"]) == 2
    assert (await sam.get("/api/tickets?limit=201")).status == 400
