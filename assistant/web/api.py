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

from assistant.db import as_utc, utc_now
from assistant.handoff.store import (
    OPEN_STATUSES,
    OUTCOMES,
    STATUSES,
    HandoffConflict,
    HandoffRecord,
    HandoffStore,
)
from assistant.handoff.transcript import transcript_from_events
from assistant.rasa_client import RasaClient, RasaError
from assistant.web.auth import Principal, error, require

logger = logging.getLogger(__name__)

api = Blueprint("api", url_prefix="/api")

MAX_AGENT_MESSAGE = 2000
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,255}$")
EXPORT_COLUMNS = (
    "id", "created_at", "conversation_id", "status", "reason", "stage", "priority", "customer_id",
    "agent", "outcome", "tags", "turns", "summary",
)  # fmt: skip


def _store(request: Request) -> HandoffStore:
    return request.app.ctx.handoffs


def _rasa(request: Request) -> RasaClient:
    return request.app.ctx.rasa


def _who(request: Request) -> Principal:
    return request.ctx.principal


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
    store, staff = _store(request), request.app.ctx.staff

    def read() -> dict[str, Any]:  # in a worker thread: the console polls this every few seconds
        records = store.queue()  # the queued ones first, in queue order
        return {
            "handoffs": [
                _view(r, position=n if r.status == "queued" else None) for n, r in enumerate(records, 1)
            ],
            "agents_online": staff.agents_online() if staff is not None else 0,
            "tickets": [t.to_dict() for t in store.tickets("open")],
        }

    return response.json(await asyncio.to_thread(read), headers={"Cache-Control": "no-store"})


# --------------------------------------------------------------------------- handoffs


async def _filtered(
    request: Request, *, limit: int | None = None
) -> list[HandoffRecord] | response.HTTPResponse:
    """Handoffs matching ?status=&conversation_id=&reason=&stage=&outcome=&agent=&tag=
    &since=&until= (ISO dates or times; a date-only ``until`` includes that whole day)."""
    args = request.args
    status = args.get("status")
    if status and status not in STATUSES:
        return error(400, f"status must be one of {', '.join(STATUSES)}")
    dates: dict[str, dt.datetime | None] = {}
    for name in ("since", "until"):
        value = args.get(name)
        try:
            parsed = dt.datetime.fromisoformat(value) if value else None
        except ValueError:
            return error(400, f"{name} must be an ISO date, like 2026-11-24")
        if parsed is not None and name == "until" and len(value or "") == 10:
            parsed += dt.timedelta(days=1)
        dates[name] = as_utc(parsed) if parsed else None
    return await asyncio.to_thread(
        _store(request).list,
        status=status,
        conversation_id=args.get("conversation_id"),
        reason=args.get("reason"),
        stage=args.get("stage"),
        outcome=args.get("outcome"),
        agent=args.get("agent"),
        tag=args.get("tag"),
        since=dates["since"],
        until=dates["until"],
        limit=limit,
    )


LIST_LIMIT, MAX_LIST_LIMIT = 200, 1000


@api.get("/handoffs")
@require("review", "handle")
async def list_handoffs(request: Request) -> response.HTTPResponse:
    """The newest ``?limit=`` (200; at most 1000) matching handoffs; exports have them all."""
    try:
        limit = int(request.args.get("limit", LIST_LIMIT))
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIST_LIMIT:
        return error(400, f"limit must be 1 to {MAX_LIST_LIMIT}")
    records = await _filtered(request, limit=limit)
    if isinstance(records, response.HTTPResponse):
        return records
    who = _who(request)
    return response.json({"handoffs": [_view(r) for r in records if _visible(who, r)], "limit": limit})


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    # a cell starting with = + - @ would be a formula in a spreadsheet: keep it text
    return "'" + value if isinstance(value, str) and value[:1] in "=+-@" else value


@api.get("/handoffs/export.csv", name="export_csv")
@api.get("/handoffs/export.json", name="export_json")
@require("export")
async def export_handoffs(request: Request) -> response.HTTPResponse:
    """The filtered handoffs for review: CSV (one row each) or JSON (with transcripts and notes)."""
    fmt = request.path.rsplit(".", 1)[-1]
    records = await _filtered(request)
    if isinstance(records, response.HTTPResponse):
        return records
    headers = {"Content-Disposition": f'attachment; filename="handoffs.{fmt}"', "Cache-Control": "no-store"}
    if fmt == "json":
        return response.json({"handoffs": [r.to_dict() for r in records]}, headers=headers)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        writer.writerow({k: _csv_cell(v) for k, v in record.to_dict(transcript=False).items()})
    return response.text(out.getvalue(), content_type="text/csv; charset=utf-8", headers=headers)


def _visible(who: Principal, record: HandoffRecord) -> bool:
    """Leads and editors review history; an agent sees what is open and what was theirs."""
    return (
        who.is_service
        or "review" in who.permissions
        or record.status in OPEN_STATUSES
        or record.agent == who.username
    )


async def _record(request: Request, handoff_id: int) -> HandoffRecord | response.HTTPResponse:
    record = await asyncio.to_thread(_store(request).get, handoff_id)
    if record is None or not _visible(_who(request), record):
        return error(404, f"no handoff {handoff_id}")
    return record


@api.get("/handoffs/<handoff_id:int>")
@require("review", "handle")
async def get_handoff(request: Request, handoff_id: int) -> response.HTTPResponse:
    record = await _record(request, handoff_id)
    if isinstance(record, response.HTTPResponse):
        return record
    return response.json(
        _view(
            record,
            transcript=True,
            position=await asyncio.to_thread(_store(request).queue_position, handoff_id),
        )
    )


@api.get("/handoffs/<handoff_id:int>/account")
@require("handle")
async def customer_account(request: Request, handoff_id: int) -> response.HTTPResponse:
    """The signed-in customer's account facts, read-only, for the person taking the handoff:
    while it is open, or to the agent who had it. Anonymous customers have none."""
    record = await _record(request, handoff_id)
    if isinstance(record, response.HTTPResponse):
        return record
    who = _who(request)
    if not (who.is_service or record.status in OPEN_STATUSES or record.agent == who.username):
        return error(404, f"no handoff {handoff_id}")
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
    if isinstance(record, response.HTTPResponse):
        return record
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


async def _open(request: Request, handoff_id: int) -> HandoffRecord | response.HTTPResponse:
    """The handoff if the customer is still waiting or with an agent, else a 404 or 409."""
    record = await _record(request, handoff_id)
    if not isinstance(record, response.HTTPResponse) and record.status not in OPEN_STATUSES:
        return error(409, f"handoff {handoff_id} is already {record.status}")
    return record


@api.post("/handoffs/<handoff_id:int>/claim")
@require("handle")
async def claim(request: Request, handoff_id: int) -> response.HTTPResponse:
    """Take the conversation. The bot is paused (again) so only the agent answers from now on."""
    record = await _open(request, handoff_id)
    if isinstance(record, response.HTTPResponse):
        return record
    who, first = _who(request), record.status == "queued"
    try:
        record = await asyncio.to_thread(_store(request).claim, handoff_id, who.username, who.name)
    except HandoffConflict as exc:
        return error(409, str(exc))
    try:
        await _rasa(request).pause(record.conversation_id)
        if first:
            await _rasa(request).agent_joined(record.conversation_id, who.name)
    except RasaError as exc:
        logger.warning("could not pause %s or say who joined: %s", record.conversation_id, exc)
    return response.json(_view(record))


@api.post("/handoffs/<handoff_id:int>/messages")
@require("handle")
async def agent_message(request: Request, handoff_id: int) -> response.HTTPResponse:
    """An agent's reply, ``{"text": "..."}``, delivered in the customer's chat as from a person.
    A console user replying to a queued handoff claims it; API-token callers name the agent
    with ``"agent"``."""
    record = await _open(request, handoff_id)
    if isinstance(record, response.HTTPResponse):
        return record
    body, who = _body(request), _who(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_AGENT_MESSAGE:
        return error(400, f"text must be 1 to {MAX_AGENT_MESSAGE} characters")
    agent, username = who.name, who.username
    if who.is_service:
        agent = body.get("agent", "Agent")
        if not isinstance(agent, str) or not agent.strip() or len(agent) > 64:
            return error(400, "agent must be a name of 1 to 64 characters")
        username = agent.strip()
    try:
        record = await asyncio.to_thread(_store(request).claim, handoff_id, username, agent.strip())
    except HandoffConflict as exc:
        return error(409, str(exc))
    try:
        await _rasa(request).send_agent_message(record.conversation_id, text.strip(), agent.strip())
    except RasaError as exc:
        return error(502, str(exc))
    return response.json(_view(record))


async def _finish(request: Request, handoff_id: int, status: str, outcome: str, tags: Any) -> Any:
    record = await _open(request, handoff_id)
    if isinstance(record, response.HTTPResponse):
        return record
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        return error(400, "tags must be a list of strings")
    who = _who(request)
    if not who.is_service and record.status == "claimed" and record.agent not in ("", who.username):
        return error(409, f"handoff {handoff_id} is with {record.agent_name or record.agent}")
    rasa = _rasa(request)
    try:
        # Keep the whole conversation, the agent's part too, for review.
        events = (await rasa.tracker(record.conversation_id)).get("events") or []
        transcript: list[dict[str, Any]] | None = transcript_from_events(events)
    except RasaError as exc:
        logger.warning("keeping the transcript from handoff time for %s: %s", handoff_id, exc)
        transcript = None
    try:
        # The customer is never left with a paused bot: closing hands back too.
        await rasa.resume(record.conversation_id)
    except RasaError as exc:
        return error(502, str(exc))
    try:
        record = await asyncio.to_thread(
            _store(request).finish,
            handoff_id,
            status=status,
            outcome=outcome,
            tags=tags,
            agent="" if who.is_service else who.username,
            transcript=transcript or None,
        )
    except HandoffConflict as exc:
        return error(409, str(exc))
    except ValueError as exc:
        return error(400, str(exc))
    return response.json(_view(record))


@api.post("/handoffs/<handoff_id:int>/resume")
@require("handle")
async def resume_handoff(request: Request, handoff_id: int) -> response.HTTPResponse:
    """Hand back to the bot: it says so and carries on where it stopped (a form resumes)."""
    body = _body(request)
    return await _finish(request, handoff_id, "resumed", "handed_back", body.get("tags"))


@api.post("/handoffs/<handoff_id:int>/close")
@require("handle")
async def close_handoff(request: Request, handoff_id: int) -> response.HTTPResponse:
    """Close with ``{"outcome": "resolved|follow_up|not_resolved|duplicate", "tags": [...]}``."""
    body = _body(request)
    outcome = body.get("outcome")
    if outcome not in OUTCOMES:
        return error(400, f"outcome must be one of {', '.join(OUTCOMES)}")
    return await _finish(request, handoff_id, "closed", outcome, body.get("tags"))


@api.post("/handoffs/<handoff_id:int>/notes")
@require("annotate")
async def add_note(request: Request, handoff_id: int) -> response.HTTPResponse:
    text = _body(request).get("text")
    if not isinstance(text, str):
        return error(400, "text is required")
    try:
        record = await asyncio.to_thread(_store(request).add_note, handoff_id, _who(request).name, text)
    except KeyError:
        return error(404, f"no handoff {handoff_id}")
    except ValueError as exc:
        return error(400, str(exc))
    return response.json(_view(record))


@api.post("/handoffs/<handoff_id:int>/tags")
@require("annotate")
async def set_tags(request: Request, handoff_id: int) -> response.HTTPResponse:
    tags = _body(request).get("tags")
    if not isinstance(tags, list):
        return error(400, "tags must be a list of strings")
    try:
        record = await asyncio.to_thread(_store(request).set_tags, handoff_id, tags)
    except KeyError:
        return error(404, f"no handoff {handoff_id}")
    except ValueError as exc:
        return error(400, str(exc))
    return response.json(_view(record))


# --------------------------------------------------------------------------- tickets


@api.get("/tickets")
@require("handle")  # tickets hold customers' contact details: people who call back only, not editors
async def list_tickets(request: Request) -> response.HTTPResponse:
    status = request.args.get("status", "open")
    if status not in ("open", "done", "all"):
        return error(400, "status must be open, done or all")
    tickets = await asyncio.to_thread(_store(request).tickets, None if status == "all" else status)
    return response.json({"tickets": [t.to_dict() for t in tickets]})


@api.post("/tickets/<ticket_id:int>/close")
@require("handle")
async def close_ticket(request: Request, ticket_id: int) -> response.HTTPResponse:
    try:
        ticket = await asyncio.to_thread(_store(request).close_ticket, ticket_id, _who(request).username)
    except KeyError:
        return error(404, f"no ticket {ticket_id}")
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
