"""The staff JSON API under ``/api/``: the queue, handoffs, live transcripts, agent replies,
hand-back and close, review notes and tags, exports, tickets and knowledge-base search.

Callers are console users (session cookie + CSRF header) or tools holding the API token; each
route names the permission it needs (see ``assistant.web.auth``).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import logging
import re
from typing import Any

from sanic import Blueprint, Request, response

from assistant.chat_session import log_ref
from assistant.db import as_utc, utc_now
from assistant.handoff.service import Actor, ConversationUnreachable, HandoffService, QueueStanding
from assistant.handoff.store import (
    EXPORT_LIMIT,
    LIST_LIMIT,
    OPEN_STATUSES,
    OUTCOMES,
    STATUSES,
    TICKET_LIMIT,
    HandoffConflict,
    HandoffError,
    HandoffNotFound,
    HandoffRecord,
    HandoffStore,
    InvalidRequest,
)
from assistant.handoff.transcript import transcript_from_events
from assistant.rasa_client import RasaClient, RasaError
from assistant.web.auth import Principal, error, require

logger = logging.getLogger(__name__)

api = Blueprint("api", url_prefix="/api")

CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,255}$")
EXPORT_COLUMNS = (
    "id", "created_at", "conversation", "status", "reason", "stage", "priority", "customer_id",
    "agent", "outcome", "tags", "turns", "summary",
)  # fmt: skip


def _store(request: Request) -> HandoffStore:
    return request.app.ctx.handoffs


def _service(request: Request) -> HandoffService:
    """The handoff life cycle over this app's store, queue settings and Rasa (a few references:
    built per request so it always matches what the app holds)."""
    ctx = request.app.ctx
    return HandoffService(ctx.handoffs, ctx.handoff_settings, ctx.rasa)


def _rasa(request: Request) -> RasaClient:
    return request.app.ctx.rasa


def _who(request: Request) -> Principal:
    return request.ctx.principal


def _actor(who: Principal) -> Actor:
    """The signed-in agent; the API token acts as a trusted tool."""
    return Actor(who.username, who.name, trusted=who.is_service)


# Every refusal of a handoff operation, whichever layer raised it, becomes one HTTP status here.
HTTP_STATUS: tuple[tuple[type[HandoffError], int], ...] = (
    (HandoffNotFound, 404),
    (HandoffConflict, 409),
    (InvalidRequest, 400),
    (ConversationUnreachable, 502),
)


def http_status(exc: HandoffError) -> int:
    return next((status for kind, status in HTTP_STATUS if isinstance(exc, kind)), 500)


@api.exception(HandoffError)
async def handoff_refused(request: Request, exc: HandoffError) -> response.HTTPResponse:
    """The API's JSON error for a refused handoff operation (404, 409, 400 or 502)."""
    status = http_status(exc)
    if status == 500:
        logger.error("unmapped handoff error on %s: %r", request.path, exc)
        return error(500, "internal error")
    return error(status, str(exc))


def _body(request: Request) -> dict[str, Any]:
    body: Any = request.json if request.body else None
    return body if isinstance(body, dict) else {}


def _view(record: HandoffRecord, *, transcript: bool = False, position: int | None = None) -> dict[str, Any]:
    data = record.to_dict(transcript=transcript)
    data["position"] = position
    created = as_utc(record.created_at) if record.created_at else utc_now()
    data["waiting_seconds"] = (
        int((utc_now() - created).total_seconds()) if record.status == "queued" else None
    )
    return data


@api.get("/health")
async def health(request: Request) -> response.HTTPResponse:
    return response.json({"status": "ok"})


@api.get("/me")
@require()
async def me(request: Request) -> response.HTTPResponse:
    return response.json({**_who(request).to_dict(), "outcomes": list(OUTCOMES)})


# --------------------------------------------------------------------------- queue


@api.get("/queue")
@require("handle")
async def queue(request: Request) -> response.HTTPResponse:
    """Open handoffs, best first, with each waiting customer's position; open tickets; and how
    many agents are online. The console polls it, which keeps the agent online."""
    service, staff = _service(request), request.app.ctx.staff

    def read() -> dict[str, Any]:  # in a worker thread: the console polls this every few seconds
        return {
            "handoffs": [
                _view(r, position=standing.position if standing else None) for r, standing in service.queue()
            ],
            "agents_online": staff.agents_online() if staff is not None else 0,
            "tickets": [t.to_dict() for t in service.store.tickets("open")],
        }

    return response.json(await asyncio.to_thread(read), headers={"Cache-Control": "no-store"})


# --------------------------------------------------------------------------- handoffs


def _date(request: Request, name: str) -> dt.datetime | None:
    """``?since=`` or ``?until=`` as an ISO date or time; a date-only ``until`` includes that day."""
    value = request.args.get(name)
    try:
        parsed = dt.datetime.fromisoformat(value) if value else None
    except ValueError:
        raise InvalidRequest(f"{name} must be an ISO date, like 2026-11-24") from None
    if parsed is not None and name == "until" and len(value or "") == 10:
        parsed += dt.timedelta(days=1)
    return as_utc(parsed) if parsed else None


def _limit(request: Request, default: int, maximum: int) -> int:
    try:
        limit = int(request.args.get("limit", default))
    except ValueError:
        limit = 0
    if not 1 <= limit <= maximum:
        raise InvalidRequest(f"limit must be 1 to {maximum}")
    return limit


async def _filtered(request: Request, *, limit: int) -> list[HandoffRecord]:
    """The newest ``limit`` handoffs matching ?status=&conversation_id=&reason=&stage=&outcome=
    &agent=&tag=&since=&until=."""
    args = request.args
    status = args.get("status")
    if status and status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}")
    return await asyncio.to_thread(
        _store(request).list,
        status=status,
        conversation_id=args.get("conversation_id"),
        reason=args.get("reason"),
        stage=args.get("stage"),
        outcome=args.get("outcome"),
        agent=args.get("agent"),
        tag=args.get("tag"),
        since=_date(request, "since"),
        until=_date(request, "until"),
        limit=limit,
    )


MAX_LIST_LIMIT = 1000


@api.get("/handoffs")
@require("review", "handle")
async def list_handoffs(request: Request) -> response.HTTPResponse:
    """The newest ``?limit=`` (200; at most 1000) matching handoffs; exports have more."""
    limit = _limit(request, LIST_LIMIT, MAX_LIST_LIMIT)
    records = await _filtered(request, limit=limit)
    who = _who(request)
    return response.json({"handoffs": [_view(r) for r in records if _visible(who, r)], "limit": limit})


def csv_cell(value: Any) -> Any:
    """One CSV cell: lists joined; text that a spreadsheet would run as a formula (starting with
    = + - @, a tab or a carriage return) kept as text with a leading quote."""
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    return "'" + value if isinstance(value, str) and value and value[0] in "=+-@\t\r" else value


@api.get("/handoffs/export.csv", name="export_csv")
@api.get("/handoffs/export.json", name="export_json")
@require("export")
async def export_handoffs(request: Request) -> response.HTTPResponse:
    """The filtered handoffs for review, newest first: CSV (one row each) or JSON (with
    transcripts and notes). At most ``?limit=`` rows (EXPORT_LIMIT, 10,000, by default and at
    most); ``X-Export-Truncated`` says the limit was reached: narrow the dates for the rest."""
    fmt = request.path.rsplit(".", 1)[-1]
    limit = _limit(request, EXPORT_LIMIT, EXPORT_LIMIT)
    records = await _filtered(request, limit=limit)
    headers = {"Content-Disposition": f'attachment; filename="handoffs.{fmt}"', "Cache-Control": "no-store"}
    if len(records) >= limit:
        headers["X-Export-Truncated"] = str(limit)
    if fmt == "json":
        return response.json({"handoffs": [_exported(r.to_dict()) for r in records]}, headers=headers)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        writer.writerow({k: csv_cell(v) for k, v in _exported(record.to_dict(transcript=False)).items()})
    return response.text(out.getvalue(), content_type="text/csv; charset=utf-8", headers=headers)


def _exported(row: dict[str, Any]) -> dict[str, Any]:
    """An exported handoff names its conversation by the hash the logs use (``conv-…``), never
    by its id: exports travel (spreadsheets, e-mail) and stay joinable with the logs."""
    row = dict(row)
    row["conversation"] = log_ref(row.pop("conversation_id", ""))
    return row


def _visible(who: Principal, record: HandoffRecord) -> bool:
    """Leads and editors review history; an agent sees what is open and what was theirs."""
    return (
        who.is_service
        or "review" in who.permissions
        or record.status in OPEN_STATUSES
        or record.agent == who.username
    )


async def _record(request: Request, handoff_id: int) -> HandoffRecord:
    """The handoff, if the caller may see it: one they may not is as good as missing."""
    record = await asyncio.to_thread(_service(request).get, handoff_id)
    if not _visible(_who(request), record):
        raise HandoffNotFound(handoff_id)
    return record


@api.get("/handoffs/<handoff_id:int>")
@require("review", "handle")
async def get_handoff(request: Request, handoff_id: int) -> response.HTTPResponse:
    record = await _record(request, handoff_id)
    standing = await asyncio.to_thread(_service(request).standing, record)
    position = standing.position if isinstance(standing, QueueStanding) else None
    return response.json(_view(record, transcript=True, position=position))


@api.get("/handoffs/<handoff_id:int>/account")
@require("handle")
async def customer_account(request: Request, handoff_id: int) -> response.HTTPResponse:
    """The signed-in customer's account facts, read-only, for the person taking the handoff:
    while it is open, or to the agent who had it. Anonymous customers have none."""
    record = await _record(request, handoff_id)
    who = _who(request)
    if not (who.is_service or record.status in OPEN_STATUSES or record.agent == who.username):
        raise HandoffNotFound(handoff_id)
    facts = request.app.ctx.account
    if facts is None:
        return error(503, "the back office is not connected")
    if not record.customer_id:
        return response.json({"customer_id": None, "account": None}, headers={"Cache-Control": "no-store"})
    try:
        summary = await asyncio.to_thread(facts.summary, record.customer_id)
    except Exception:
        logger.exception("could not read the account of handoff %s", handoff_id)
        return error(503, "the back office could not be read")
    return response.json(
        {"customer_id": record.customer_id, "account": summary}, headers={"Cache-Control": "no-store"}
    )


async def _live(request: Request, conversation_id: str) -> dict[str, Any]:
    tracker = await _rasa(request).tracker(conversation_id)
    return {
        "turns": transcript_from_events(tracker.get("events") or []),
        "paused": bool(tracker.get("paused")),
        "live": True,
    }


@api.get("/handoffs/<handoff_id:int>/live")
@require("review", "handle")
async def live_transcript(request: Request, handoff_id: int) -> response.HTTPResponse:
    """The whole conversation as it is now in Rasa, with what the customer typed after the
    handoff and the agent's own messages; the stored transcript if Rasa cannot be reached."""
    record = await _record(request, handoff_id)
    try:
        data = await _live(request, record.conversation_id)
    except RasaError as exc:
        logger.warning("live transcript unavailable: %s", exc)
        data = {"turns": record.transcript, "paused": None, "live": False, "error": "Rasa is unreachable"}
    return response.json({**data, "status": record.status}, headers={"Cache-Control": "no-store"})


@api.get("/conversations/<conversation_id:str>/transcript")
@require("review", "handle")
async def conversation_transcript(request: Request, conversation_id: str) -> response.HTTPResponse:
    """A conversation's annotated transcript (intent, confidence, article, score per turn): any
    conversation for leads and editors, one with a handoff they may see for agents."""
    if not CONVERSATION_ID.match(conversation_id):
        return error(400, "bad conversation id")
    who = _who(request)
    listed = await asyncio.to_thread(_store(request).list, conversation_id=conversation_id)
    handoffs = [r for r in listed if _visible(who, r)]
    if "review" not in who.permissions and not who.is_service and not handoffs:
        return error(404, "no conversation of yours with that id")
    try:
        data = await _live(request, conversation_id)
    except RasaError as exc:
        return error(502, str(exc))
    return response.json(
        {**data, "conversation_id": conversation_id, "handoffs": [_view(r) for r in handoffs]},
        headers={"Cache-Control": "no-store"},
    )


async def _check_visible(request: Request, handoff_id: int) -> None:
    """A 404 for a handoff the caller may not see, before the service decides the rest."""
    await _record(request, handoff_id)


@api.post("/handoffs/<handoff_id:int>/claim")
@require("handle")
async def claim(request: Request, handoff_id: int) -> response.HTTPResponse:
    """Take the conversation. The bot is paused (again) so only the agent answers from now on."""
    await _check_visible(request, handoff_id)
    record = await _service(request).claim(handoff_id, _actor(_who(request)))
    return response.json(_view(record))


def _replying_agent(request: Request, body: dict[str, Any]) -> Actor:
    """A console user replies as themselves; an API-token caller names the agent."""
    who = _who(request)
    if not who.is_service:
        return _actor(who)
    agent = body.get("agent", "Agent")
    if not isinstance(agent, str) or not agent.strip() or len(agent) > 64:
        raise InvalidRequest("agent must be a name of 1 to 64 characters")
    return Actor(agent.strip(), agent.strip(), trusted=True)


@api.post("/handoffs/<handoff_id:int>/messages")
@require("handle")
async def agent_message(request: Request, handoff_id: int) -> response.HTTPResponse:
    """An agent's reply, ``{"text": "..."}``, delivered in the customer's chat as from a person.
    A console user replying to a queued handoff claims it; API-token callers name the agent
    with ``"agent"``."""
    await _check_visible(request, handoff_id)
    body = _body(request)
    actor = _replying_agent(request, body)
    record = await _service(request).reply(handoff_id, actor, body.get("text"))
    return response.json(_view(record))


@api.post("/handoffs/<handoff_id:int>/resume")
@require("handle")
async def resume_handoff(request: Request, handoff_id: int) -> response.HTTPResponse:
    """Hand back to the bot: it says so and carries on where it stopped (a form resumes)."""
    await _check_visible(request, handoff_id)
    tags = _body(request).get("tags")
    record = await _service(request).hand_back(handoff_id, _actor(_who(request)), tags=tags)
    return response.json(_view(record))


@api.post("/handoffs/<handoff_id:int>/close")
@require("handle")
async def close_handoff(request: Request, handoff_id: int) -> response.HTTPResponse:
    """Close with ``{"outcome": "resolved|follow_up|not_resolved|duplicate", "tags": [...]}``."""
    body = _body(request)
    await _check_visible(request, handoff_id)
    record = await _service(request).close(
        handoff_id, _actor(_who(request)), body.get("outcome"), tags=body.get("tags")
    )
    return response.json(_view(record))


@api.post("/handoffs/<handoff_id:int>/notes")
@require("annotate")
async def add_note(request: Request, handoff_id: int) -> response.HTTPResponse:
    text = _body(request).get("text")
    if not isinstance(text, str):
        raise InvalidRequest("text is required")
    record = await asyncio.to_thread(_store(request).add_note, handoff_id, _who(request).name, text)
    return response.json(_view(record))


@api.post("/handoffs/<handoff_id:int>/tags")
@require("annotate")
async def set_tags(request: Request, handoff_id: int) -> response.HTTPResponse:
    tags = _body(request).get("tags")
    if not isinstance(tags, list):
        raise InvalidRequest("tags must be a list of strings")
    record = await asyncio.to_thread(_store(request).set_tags, handoff_id, tags)
    return response.json(_view(record))


# --------------------------------------------------------------------------- tickets


@api.get("/tickets")
@require("handle")  # tickets hold customers' contact details: people who call back only, not editors
async def list_tickets(request: Request) -> response.HTTPResponse:
    """The oldest ``?limit=`` (TICKET_LIMIT, 200; at most that) tickets of ``?status=``."""
    status = request.args.get("status", "open")
    if status not in ("open", "done", "all"):
        raise InvalidRequest("status must be open, done or all")
    limit = _limit(request, TICKET_LIMIT, TICKET_LIMIT)
    tickets = await asyncio.to_thread(_store(request).tickets, None if status == "all" else status, limit)
    return response.json({"tickets": [t.to_dict() for t in tickets]})


@api.post("/tickets/<ticket_id:int>/close")
@require("handle")
async def close_ticket(request: Request, ticket_id: int) -> response.HTTPResponse:
    ticket = await asyncio.to_thread(_store(request).close_ticket, ticket_id, _who(request).username)
    return response.json(ticket.to_dict())


# --------------------------------------------------------------------------- knowledge base

MAX_QUERY = 300
EXCERPT_CHARS = 600


def _plain(body: str) -> str:
    """Markdown body -> plain text an agent can paste into a chat reply."""
    lines = [re.sub(r"^#+\s*", "", line).strip() for line in body.splitlines()]
    text = "\n".join(line for line in lines if line)
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS].rsplit(" ", 1)[0] + "…"


@api.get("/kb/search")
@require("kb")
async def kb_search(request: Request) -> response.HTTPResponse:
    query = (request.args.get("q") or "").strip()
    if not query or len(query) > MAX_QUERY:
        return error(400, f"q must be 1 to {MAX_QUERY} characters")
    live = request.app.ctx.kb
    if live is None:
        return error(503, "the knowledge base is not loaded in this process")
    kb = live.get()
    result = await request.app.loop.run_in_executor(None, kb.search, query, 5)
    articles = []
    for hit in result.articles:
        article = kb.index.articles.get(hit.id)
        articles.append(
            {
                "id": hit.id,
                "title": hit.title,
                "category": article.category if article else "",
                "score": round(hit.score, 4),
                "text": _plain(article.body) if article else hit.passage,
            }
        )
    return response.json({"query": query, "decision": result.decision, "articles": articles})
