"""The embeddable chat widget's server side: a demo host page, the conversation history (for
reloads and reconnects) and "Was this helpful?" feedback on articles."""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from typing import Any

from sanic import Blueprint, Request, response

from assistant.insights.events import FEEDBACK, enrichment
from assistant.rasa_client import RasaClient, RasaError
from assistant.settings import Settings
from assistant.web.auth import error
from assistant.web.chat_auth import owns_conversation
from assistant.web.history import chat_history

logger = logging.getLogger(__name__)

widget = Blueprint("widget")
ARTICLE_ID = re.compile(r"^[a-z0-9_-]{1,128}$")
DEMO_TOKEN_TTL = 15 * 60  # short-lived: the host page refreshes it (demo.js every 10 minutes)


def demo_identity(settings: Settings, customer: str | None) -> tuple[str, str]:
    """(token, name) for ``?customer=`` on the demo page: stands in for the bank's website, which
    signs a token for its signed-in customer. Only with ASSISTANT_DEMO_SIGN_IN and demo customers."""
    from assistant.backoffice.demo import DEMO_CUSTOMERS
    from assistant.identity import sign

    if not (settings.demo_sign_in and settings.identity_secret and customer):
        return "", ""
    known = next((c for c in DEMO_CUSTOMERS if c["id"] == customer), None)
    if known is None:
        return "", ""
    token = sign(
        settings.identity_secret, known["id"], ttl=DEMO_TOKEN_TTL, name=known["name"], segment=known["plan"]
    )
    return token, str(known["name"])


@widget.get("/demo")
async def demo_host_page(request: Request) -> response.HTTPResponse:
    """A stand-in for a bank's web page that embeds the widget with one script tag."""
    settings: Settings = request.app.ctx.settings
    token, name = demo_identity(settings, request.args.get("customer"))
    socket = settings.rasa_public_url.rstrip("/")
    page = (
        request.app.ctx.demo_template.replace("{{SOCKET_URL}}", html.escape(socket, quote=True))
        .replace("{{CUSTOMER_TOKEN}}", html.escape(token, quote=True))
        .replace("{{CUSTOMER_NAME}}", html.escape(name or "Guest", quote=True))
        .replace(
            "{{CUSTOMER_ID}}", html.escape(request.args.get("customer", "") if token else "", quote=True)
        )
    )
    ws = socket.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {socket} {ws}; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
    )
    return response.html(page, headers={"Content-Security-Policy": csp})


@widget.get("/demo/token")
async def demo_token(request: Request) -> response.HTTPResponse:
    """A fresh customer token for the demo host page, as a bank's own site would issue for its
    signed-in customer (same-origin, demo sign-in only): the widget is handed it before the
    last one expires."""
    token, _ = demo_identity(request.app.ctx.settings, request.args.get("customer"))
    if not token:
        return error(404, "no demo customer here")
    return response.json(
        {"token": token, "expires_in": DEMO_TOKEN_TTL}, headers={"Cache-Control": "no-store"}
    )


@widget.get("/chat/history/<session_id:str>")
@owns_conversation()
async def history(request: Request, session_id: str) -> response.HTTPResponse:
    """The messages of one conversation, for the client holding its credential."""
    client: RasaClient = request.app.ctx.rasa
    try:
        tracker = await client.tracker(session_id)
    except RasaError:
        logger.exception("history unavailable for a widget session")
        return error(502, "history unavailable")
    feedback: dict[str, bool] = {}
    store = request.app.ctx.insights
    if store is not None:
        feedback = await asyncio.to_thread(store.feedback_given, session_id)
    return response.json(
        {
            "messages": chat_history(tracker.get("events") or []),
            "paused": bool(tracker.get("paused")),
            "feedback": feedback,
        },
        headers={"Cache-Control": "no-store"},
    )


@widget.get("/chat/queue/<session_id:str>")
@owns_conversation()
async def queue_status(request: Request, session_id: str) -> response.HTTPResponse:
    """Where a waiting customer stands, for the widget to keep the status line current:
    ``{"position", "wait_minutes"}`` while queued, ``{"agent"}`` once a person has it, else ``{}``.
    Like the history, only for the conversation's credential; nothing personal is returned."""
    from dataclasses import asdict

    from assistant.handoff.service import HandoffService

    service = HandoffService(request.app.ctx.handoffs, request.app.ctx.handoff_settings)
    standing = await asyncio.to_thread(service.standing_for, session_id)  # the same as the bot says
    body = asdict(standing) if standing is not None else {}
    return response.json(body, headers={"Cache-Control": "no-store"})


def shown_articles(events: list[dict[str, Any]]) -> set[str]:
    """The articles a conversation was shown (answers and the choices offered), from its events."""
    found: set[str] = set()
    for event in events:
        custom = ((event.get("data") or {}).get("custom") or {}) if event.get("event") == "bot" else {}
        kb = (custom.get("data") or {}).get("kb") if isinstance(custom, dict) else None
        if isinstance(kb, dict):
            found.update(str(a) for a in [kb.get("article_id")] if a)
            found.update(str(o.get("article_id")) for o in kb.get("options") or [] if isinstance(o, dict))
    return found


@widget.post("/chat/feedback")
@owns_conversation(in_body=True)
async def feedback(request: Request) -> response.HTTPResponse:
    body: Any = request.json if request.body else None
    if not isinstance(body, dict):
        return error(400, "expected a JSON object")
    session_id, article_id, helpful = body["session_id"], body.get("article_id"), body.get("helpful")
    if not isinstance(article_id, str) or not ARTICLE_ID.match(article_id):
        return error(400, "bad article id")
    if not isinstance(helpful, bool):
        return error(400, "helpful must be true or false")
    store = request.app.ctx.insights
    if store is None:
        return error(503, "feedback is not recorded here")
    # Into the conversation itself, so it reaches analytics in Rasa's stream with the rest; when
    # Rasa cannot take it, straight into the analytics store (kept once per minute and article).
    event = enrichment(FEEDBACK, article_id=article_id, helpful=helpful)
    rasa: RasaClient = request.app.ctx.rasa
    try:
        tracker = await rasa.tracker(session_id)
        if article_id not in shown_articles(tracker.get("events") or []):
            return error(400, "that article was not shown in this conversation")
        await rasa.append_events(session_id, [event])
    except RasaError:
        minute = int(time.time() // 60)
        key = f"feedback:{session_id}:{article_id}:{helpful}:{minute}"
        await asyncio.to_thread(
            store.add_direct, session_id, FEEDBACK, key, article_id=article_id, helpful=helpful
        )
    return response.empty(status=204)
