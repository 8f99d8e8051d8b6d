"""The web app, in process, with a real SQLite handoff store. Rasa is replaced by a recorder
here; tests/integration drives the real Rasa server."""

from __future__ import annotations

import pytest

from assistant.rasa_client import RasaClient, RasaError
from assistant.settings import Settings
from assistant.web.app import create_app

TOKEN = "test-api-token"


class RecordingRasa(RasaClient):
    def __init__(self, fail: bool = False):
        super().__init__("http://rasa.invalid", "t")
        self.calls: list[tuple[str, str, object]] = []
        self.fail = fail

    async def _request(self, method, path, **kwargs):
        if self.fail:
            raise RasaError("Rasa at http://rasa.invalid is unreachable")
        self.calls.append((method, path, kwargs.get("json")))
        return {}


@pytest.fixture
def rasa():
    return RecordingRasa()


@pytest.fixture
def app(handoff_store, rasa, request):
    settings = Settings(api_token=TOKEN, rasa_public_url="http://localhost:5005")
    return create_app(
        settings,
        handoff_store,
        rasa,
        name=f"web_{request.node.name}"[:60].replace("[", "_").replace("]", "_"),
    )


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_chat_page_is_served_with_socket_url_and_csp(app):
    _, resp = await app.asgi_client.get("/")
    assert resp.status == 200
    assert 'data-socket-url="http://localhost:5005"' in resp.text
    assert "/static/vendor/socket.io.min.js" in resp.text
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "ws://localhost:5005" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert resp.headers["x-content-type-options"] == "nosniff"


async def test_chat_page_is_the_widget_inline(app):
    """One chat client: the page embeds widget.js in its inline mode, with no script of its own."""
    _, resp = await app.asgi_client.get("/")
    assert '<script src="/static/widget.js"' in resp.text and 'data-mode="inline"' in resp.text
    assert 'data-max-chars="1000"' in resp.text
    assert "chat.js" not in resp.text
    assert "<script>" not in resp.text  # no inline script (the CSP would refuse it anyway)


async def test_static_assets(app):
    _, resp = await app.asgi_client.get("/static/widget.js")
    assert resp.status == 200 and "session_request" in resp.text
    _, resp = await app.asgi_client.get("/static/chat.js")
    assert resp.status == 404
    _, resp = await app.asgi_client.get("/static/vendor/socket.io.min.js")
    assert resp.status == 200


async def test_socket_url_is_escaped(handoff_store, rasa):
    settings = Settings(api_token=TOKEN, rasa_public_url='http://x"><script>alert(1)</script>')
    app = create_app(settings, handoff_store, rasa, name="web_escape")
    _, resp = await app.asgi_client.get("/")
    assert "<script>alert(1)</script>" not in resp.text
    assert "&lt;script&gt;" in resp.text


async def test_health_is_public(app):
    _, resp = await app.asgi_client.get("/api/health")
    assert resp.json == {"status": "ok"}


@pytest.mark.parametrize("headers", [{}, auth("wrong"), {"Authorization": TOKEN}])
async def test_api_needs_the_token(app, headers):
    _, resp = await app.asgi_client.get("/api/handoffs", headers=headers)
    assert resp.status == 401


async def test_api_is_off_without_a_configured_token(handoff_store, rasa):
    app = create_app(Settings(api_token=""), handoff_store, rasa, name="web_no_token")
    _, resp = await app.asgi_client.get("/api/handoffs", headers=auth(""))
    assert resp.status == 503


async def test_list_and_get_handoffs(app, handoff_store):
    record = handoff_store.create(
        "c1",
        reason="customer_request",
        stage="introduction",
        transcript=[{"role": "user", "text": "hi"}],
        slots={},
    )
    _, resp = await app.asgi_client.get("/api/handoffs", headers=auth())
    assert [h["id"] for h in resp.json["handoffs"]] == [record.id]
    assert "transcript" not in resp.json["handoffs"][0]
    _, resp = await app.asgi_client.get(f"/api/handoffs/{record.id}", headers=auth())
    assert resp.json["transcript"] == [{"role": "user", "text": "hi"}]
    _, resp = await app.asgi_client.get("/api/handoffs/999", headers=auth())
    assert resp.status == 404
    _, resp = await app.asgi_client.get("/api/handoffs?status=bogus", headers=auth())
    assert resp.status == 400


async def test_filters_and_exports_for_review(app, handoff_store):
    import csv
    import io

    handoff_store.create(
        "c1", reason="sales", stage="product_comparison", transcript=[], slots={}, priority=1
    )
    handoff_store.create(
        "c2", reason="tree_unresolved", stage="troubleshooting", transcript=[{"role": "user", "text": "x"}],
        slots={}, summary="=HYPERLINK(evil)",
    )  # fmt: skip
    _, resp = await app.asgi_client.get("/api/handoffs?reason=sales", headers=auth())
    assert [h["conversation_id"] for h in resp.json["handoffs"]] == ["c1"]
    _, resp = await app.asgi_client.get(
        "/api/handoffs?stage=troubleshooting&since=2020-01-01", headers=auth()
    )
    assert [h["conversation_id"] for h in resp.json["handoffs"]] == ["c2"]
    _, resp = await app.asgi_client.get("/api/handoffs?until=2020-01-01", headers=auth())
    assert resp.json["handoffs"] == []
    _, resp = await app.asgi_client.get("/api/handoffs?since=yesterday", headers=auth())
    assert resp.status == 400

    _, resp = await app.asgi_client.get("/api/handoffs/export.csv", headers=auth())
    assert resp.status == 200 and resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    from assistant.chat_session import log_ref

    # exports name conversations as the logs do, never by their id
    assert [r["conversation"] for r in rows] == [log_ref("c2"), log_ref("c1")]
    assert "conversation_id" not in rows[0] and "c2" not in resp.text.replace(log_ref("c2"), "")
    assert rows[0]["summary"] == "'=HYPERLINK(evil)"  # never a formula in a spreadsheet
    _, resp = await app.asgi_client.get("/api/handoffs/export.json?reason=tree_unresolved", headers=auth())
    assert resp.json["handoffs"][0]["transcript"] == [{"role": "user", "text": "x"}]
    assert "conversation_id" not in resp.json["handoffs"][0]
    _, resp = await app.asgi_client.get("/api/handoffs/export.csv")
    assert resp.status == 401


async def test_an_agent_message_goes_through_rasa_and_claims_the_handoff(app, handoff_store, rasa):
    record = handoff_store.create("conv-9", reason="r", stage="s", transcript=[], slots={})
    for bad in ({}, {"text": ""}, {"text": "x" * 2001}, {"text": "hi", "agent": ""}):
        _, resp = await app.asgi_client.post(f"/api/handoffs/{record.id}/messages", json=bad, headers=auth())
        assert resp.status == 400, bad
    _, resp = await app.asgi_client.post(
        f"/api/handoffs/{record.id}/messages",
        json={"text": "Hello, I'm Sam.", "agent": "Sam"},
        headers=auth(),
    )
    assert resp.status == 200 and resp.json["status"] == "claimed"
    assert rasa.calls[-2][0] == "POST" and "conv-9/tracker/events" in rasa.calls[-2][1]
    assert rasa.calls[-1][0] == "POST" and rasa.calls[-1][1].endswith("/conversations/conv-9/execute")
    _, resp = await app.asgi_client.post(f"/api/handoffs/{record.id}/messages", json={"text": "hi"})
    assert resp.status == 401


async def test_resume_hands_back_through_rasa(app, handoff_store, rasa):
    record = handoff_store.create("conv/1", reason="r", stage="s", transcript=[], slots={})
    _, resp = await app.asgi_client.post(f"/api/handoffs/{record.id}/resume", headers=auth())
    assert resp.status == 200 and resp.json["status"] == "resumed"
    assert rasa.calls == [
        ("GET", "/conversations/conv%2F1/tracker", None),  # the whole transcript, kept for review
        (
            "POST",
            "/conversations/conv%2F1/tracker/events",
            [{"event": "resume"}, {"event": "action", "name": "action_listen"}],
        ),
        ("POST", "/conversations/conv%2F1/trigger_intent", {"name": "EXTERNAL_handed_back", "entities": {}}),
    ]
    _, resp = await app.asgi_client.post(f"/api/handoffs/{record.id}/resume", headers=auth())
    assert resp.status == 409


async def test_resume_reports_rasa_failure_and_keeps_the_handoff_open(handoff_store):
    app = create_app(Settings(api_token=TOKEN), handoff_store, RecordingRasa(fail=True), name="web_fail")
    record = handoff_store.create("c", reason="r", stage="s", transcript=[], slots={})
    _, resp = await app.asgi_client.post(f"/api/handoffs/{record.id}/resume", headers=auth())
    assert resp.status == 502 and "unreachable" in resp.json["error"]
    assert handoff_store.get(record.id).status == "queued"
