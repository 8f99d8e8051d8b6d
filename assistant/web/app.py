"""The web app: the chat page for customers and a token-protected JSON API for staff tools.

``create_app`` takes everything it needs as arguments (settings, handoff store, Rasa client),
so tests build it with a real SQLite store and the launcher with the configured ones.
"""

from __future__ import annotations

import csv
import datetime as dt
import hmac
import html
import io
from collections.abc import Awaitable, Callable
from functools import wraps
from pathlib import Path
from typing import Any

from sanic import Blueprint, Request, Sanic, response
from sanic.exceptions import NotFound

from assistant.handoff.store import STATUSES, HandoffStore
from assistant.rasa_client import RasaClient, RasaError
from assistant.settings import Settings
from assistant.web.widget import demo_identity, widget

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATE_DIR = Path(__file__).parent / "templates"

Handler = Callable[..., Awaitable[Any]]

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
}


def _error(status: int, message: str) -> response.HTTPResponse:
    return response.json({"error": message}, status=status)


def require_token(handler: Handler) -> Handler:
    """Staff API calls need ``Authorization: Bearer <ASSISTANT_API_TOKEN>``."""

    @wraps(handler)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
        expected = request.app.ctx.settings.api_token
        if not expected:
            return _error(503, "the staff API is disabled: set ASSISTANT_API_TOKEN")
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected.encode()):
            return _error(401, "missing or wrong API token")
        return await handler(request, *args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------- chat page

chat = Blueprint("chat")


@chat.get("/")
async def chat_page(request: Request) -> response.HTTPResponse:
    settings: Settings = request.app.ctx.settings
    token, name = demo_identity(settings, request.args.get("customer"))
    page = (
        request.app.ctx.chat_template.replace(
            "{{SOCKET_URL}}", html.escape(settings.rasa_public_url, quote=True)
        )
        .replace("{{MAX_CHARS}}", str(int(settings.max_message_chars)))
        .replace("{{CUSTOMER_TOKEN}}", html.escape(token, quote=True))
        .replace("{{CUSTOMER_NAME}}", html.escape(name, quote=True))
    )
    socket = settings.rasa_public_url.rstrip("/")
    ws = socket.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {socket} {ws}; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
    )
    return response.html(page, headers={"Content-Security-Policy": csp})


# --------------------------------------------------------------------------- API

api = Blueprint("api", url_prefix="/api")


@api.get("/health")
async def health(request: Request) -> response.HTTPResponse:
    return response.json({"status": "ok"})


EXPORT_COLUMNS = (
    "id", "created_at", "conversation_id", "status", "reason", "stage",
    "priority", "customer_id", "turns", "summary",
)  # fmt: skip


def _filtered(request: Request) -> list[Any] | response.HTTPResponse:
    """Handoffs matching ?status=&conversation_id=&reason=&stage=&since=&until= (ISO dates)."""
    args = request.args
    status = args.get("status")
    if status and status not in STATUSES:
        return _error(400, f"status must be one of {', '.join(STATUSES)}")
    dates: dict[str, dt.datetime | None] = {}
    for name in ("since", "until"):
        value = args.get(name)
        try:
            parsed = dt.datetime.fromisoformat(value) if value else None
        except ValueError:
            return _error(400, f"{name} must be an ISO date, like 2026-11-24")
        dates[name] = parsed.replace(tzinfo=parsed.tzinfo or dt.UTC) if parsed else None
    store: HandoffStore = request.app.ctx.handoffs
    return store.list(
        status=status,
        conversation_id=args.get("conversation_id"),
        reason=args.get("reason"),
        stage=args.get("stage"),
        since=dates["since"],
        until=dates["until"],
    )


@api.get("/handoffs")
@require_token
async def list_handoffs(request: Request) -> response.HTTPResponse:
    records = _filtered(request)
    if isinstance(records, response.HTTPResponse):
        return records
    return response.json({"handoffs": [r.to_dict(transcript=False) for r in records]})


@api.get("/handoffs/export.csv", name="export_csv")
@api.get("/handoffs/export.json", name="export_json")
@require_token
async def export_handoffs(request: Request) -> response.HTTPResponse:
    """The filtered handoffs for review: CSV (one row each) or JSON (with transcripts)."""
    fmt = request.path.rsplit(".", 1)[-1]
    records = _filtered(request)
    if isinstance(records, response.HTTPResponse):
        return records
    headers = {"Content-Disposition": f'attachment; filename="handoffs.{fmt}"'}
    if fmt == "json":
        return response.json({"handoffs": [r.to_dict() for r in records]}, headers=headers)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        row = record.to_dict(transcript=False)
        # a cell starting with = + - @ would be a formula in a spreadsheet: keep it text
        writer.writerow(
            {k: ("'" + v if isinstance(v, str) and v[:1] in "=+-@" else v) for k, v in row.items()}
        )
    return response.text(out.getvalue(), content_type="text/csv; charset=utf-8", headers=headers)


@api.get("/handoffs/<handoff_id:int>")
@require_token
async def get_handoff(request: Request, handoff_id: int) -> response.HTTPResponse:
    record = request.app.ctx.handoffs.get(handoff_id)
    if record is None:
        return _error(404, f"no handoff {handoff_id}")
    return response.json(record.to_dict())


MAX_AGENT_MESSAGE = 2000


def _waiting_handoff(request: Request, handoff_id: int) -> Any:
    """The handoff if the customer is still waiting (queued or claimed), else a 404 or 409."""
    record = request.app.ctx.handoffs.get(handoff_id)
    if record is None:
        return _error(404, f"no handoff {handoff_id}")
    if record.status in ("resumed", "closed"):
        return _error(409, f"handoff {handoff_id} is already {record.status}")
    return record


@api.post("/handoffs/<handoff_id:int>/messages")
@require_token
async def agent_message(request: Request, handoff_id: int) -> response.HTTPResponse:
    """An agent's reply: ``{"text": "...", "agent": "Sam"}``, shown to the customer as from a person."""
    store: HandoffStore = request.app.ctx.handoffs
    record = _waiting_handoff(request, handoff_id)
    if isinstance(record, response.HTTPResponse):
        return record
    body: Any = request.json if request.body else None
    text = body.get("text") if isinstance(body, dict) else None
    agent = body.get("agent", "Agent") if isinstance(body, dict) else "Agent"
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_AGENT_MESSAGE:
        return _error(400, f"text must be 1 to {MAX_AGENT_MESSAGE} characters")
    if not isinstance(agent, str) or not agent.strip() or len(agent) > 64:
        return _error(400, "agent must be a name of 1 to 64 characters")
    client: RasaClient = request.app.ctx.rasa
    try:
        await client.send_agent_message(record.conversation_id, text.strip(), agent.strip())
    except RasaError as exc:
        return _error(502, str(exc))
    if record.status == "queued":
        record = store.set_status(handoff_id, "claimed")
    return response.json(record.to_dict(transcript=False))


@api.post("/handoffs/<handoff_id:int>/resume")
@require_token
async def resume_handoff(request: Request, handoff_id: int) -> response.HTTPResponse:
    store: HandoffStore = request.app.ctx.handoffs
    record = _waiting_handoff(request, handoff_id)
    if isinstance(record, response.HTTPResponse):
        return record
    client: RasaClient = request.app.ctx.rasa
    try:
        await client.resume(record.conversation_id)
    except RasaError as exc:
        return _error(502, str(exc))
    record = store.set_status(handoff_id, "resumed")
    return response.json(record.to_dict(transcript=False))


# --------------------------------------------------------------------------- factory


def create_app(
    settings: Settings,
    handoffs: HandoffStore,
    rasa: RasaClient,
    *,
    analytics: Any = None,
    name: str = "assistant_web",
) -> Sanic:
    app = Sanic(name, configure_logging=False)
    app.config.REQUEST_MAX_SIZE = 1_000_000
    app.ctx.settings = settings
    app.ctx.handoffs = handoffs
    app.ctx.rasa = rasa
    app.ctx.analytics = analytics
    app.ctx.chat_template = (TEMPLATE_DIR / "chat.html").read_text(encoding="utf-8")
    app.ctx.demo_template = (TEMPLATE_DIR / "demo.html").read_text(encoding="utf-8")
    app.blueprint(chat)
    app.blueprint(api)
    app.blueprint(widget)
    app.static("/static", str(STATIC_DIR), name="static")

    @app.on_response
    async def security_headers(request: Request, resp: response.HTTPResponse) -> None:
        for key, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(key, value)

    @app.exception(NotFound)
    async def not_found(request: Request, exc: Exception) -> response.HTTPResponse:
        if request.path.startswith("/api/"):
            return _error(404, "not found")
        return response.text("Not found", status=404)

    return app
