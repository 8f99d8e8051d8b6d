"""The insights JSON API under ``/api/insights``: outcomes, funnels, drop-off, failed questions,
feedback, channels, the conversations behind every figure, and the editors' suggestions.

Reading needs the ``insights`` permission (leads and editors); accepting, rejecting and
publishing need ``curate`` (editors). Every table route also answers ``?format=csv``. Query
parameters: ``since``/``until`` (YYYY-MM-DD, inclusive; default the last 30 days),
``traffic`` (live, test or all; default live) and ``channel``.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re
import urllib.parse
from typing import Any

from sanic import Blueprint, Request, response
from sanic.exceptions import BadRequest, NotFound, SanicException

from assistant.insights import mining
from assistant.insights.store import CSV_COLUMNS, InsightsStore, Range
from assistant.web.api import csv_cell
from assistant.web.auth import require

insights = Blueprint("insights", url_prefix="/api/insights")

CHANNEL = re.compile(r"^[a-z0-9_-]{1,32}$")
TEXT_FILTER_CHARS = 300
FILTERS = (
    "outcome",
    "reason",
    "stage",
    "article",
    "tree",
    "node",
    "form",
    "field",
    "code",
    "question",
    "left",
    "feedback",
    "durable",
    "handoff_stage",
)


class Conflict(SanicException):
    status_code = 409


def _store(request: Request) -> InsightsStore:
    store = request.app.ctx.insights
    if store is None:
        raise SanicException("analytics are off here", status_code=503)
    return store


def _miner(request: Request) -> mining.Miner:
    miner = getattr(request.app.ctx, "miner", None)
    if miner is None:
        raise SanicException("suggestions need the knowledge base, which is off here", status_code=503)
    return miner


def _date(request: Request, name: str) -> dt.date | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name} must be a date, YYYY-MM-DD") from None
    if not 2000 <= day.year <= 2999:
        raise BadRequest(f"{name} must be a date between 2000 and 2999")
    return day


def _range(request: Request) -> Range:
    since, until = _date(request, "since"), _date(request, "until")
    today = dt.datetime.now(dt.UTC).date()
    until = until or today
    since = since or until - dt.timedelta(days=29)
    channel = request.args.get("channel") or ""
    if channel and not CHANNEL.match(channel):
        raise BadRequest("channel is a channel name")
    try:
        return Range(since, until, traffic=request.args.get("traffic") or "live", channel=channel)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def _titles(request: Request) -> dict[str, str]:
    kb = request.app.ctx.kb
    try:
        return {a.id: a.title for a in kb.get().index.articles.values()} if kb is not None else {}
    except Exception:
        return {}


def _table(
    request: Request, name: str, rows: list[dict[str, Any]], body: dict[str, Any]
) -> response.HTTPResponse:
    """JSON, or with ``?format=csv`` the rows as a CSV download."""
    if request.args.get("format") == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS[name], extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: csv_cell(v) for k, v in row.items()})
        return response.text(
            out.getvalue(),
            content_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{name}.csv"',
                "Cache-Control": "no-store",
            },
        )
    return response.json(body, headers={"Cache-Control": "no-store"})


def _pick(request: Request, tables: dict[str, list[dict[str, Any]]]) -> tuple[str, list[dict[str, Any]]]:
    name = request.args.get("table") or next(iter(tables))
    if name not in tables:
        raise BadRequest(f"table is one of {', '.join(tables)}")
    return name, tables[name]


@insights.get("/summary", name="insights_summary")
@require("insights")
async def summary(request: Request) -> response.HTTPResponse:
    body = await asyncio.to_thread(_store(request).summary, _range(request))
    return _table(request, "summary", [body], body)


# The dashboard's figures: path -> (the store's method, its CSV table or tables, needs titles)
FIGURES: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "/timeseries": ("timeseries", ("timeseries",), False),
    "/handoffs": ("handoffs_by", ("by_reason", "by_stage"), False),
    "/funnel": ("funnel", ("funnel",), False),
    "/dropoff": ("dropoff", ("trees", "forms"), False),
    "/refusals": ("refusals", ("refusals",), False),
    "/failed-questions": ("failed_questions", ("failed_questions",), False),
    "/feedback": ("feedback", ("feedback",), True),
    "/articles": ("articles", ("articles",), True),
    "/channels": ("channels", ("channels",), False),
}


def _figure(method: str, tables: tuple[str, ...], titled: bool) -> Any:
    """One figure's route: the store's rows as JSON (``{"rows": ...}``, or the tables by name),
    or one table as CSV."""

    async def figure(request: Request) -> response.HTTPResponse:
        extra = (_titles(request),) if titled else ()
        found = await asyncio.to_thread(getattr(_store(request), method), _range(request), *extra)
        if len(tables) == 1:
            return _table(request, tables[0], found, {"rows": found})
        name, rows = _pick(request, found)
        return _table(request, name, rows, found)

    return require("insights")(figure)


for _path, (_method, _tables, _titled) in FIGURES.items():
    insights.add_route(
        _figure(_method, _tables, _titled),
        _path,
        methods=["GET"],
        name="insights_" + _path[1:].replace("-", "_"),
    )


@insights.get("/conversations", name="insights_conversations")
@require("insights")
async def conversations(request: Request) -> response.HTTPResponse:
    """The conversations behind a figure: the dashboard's filters (see FILTERS)."""
    filters = {}
    for key in FILTERS:
        value = request.args.get(key)
        if value:
            if len(value) > TEXT_FILTER_CHARS:
                raise BadRequest(f"{key} is at most {TEXT_FILTER_CHARS} characters")
            filters[key] = value
    try:
        limit = int(request.args.get("limit") or 100)
    except ValueError:
        raise BadRequest("limit must be a whole number") from None
    body = await asyncio.to_thread(_store(request).conversations, _range(request), filters, limit)
    return _table(request, "conversations", body["rows"], body)


@insights.get("/conversations/<conversation_id:str>", name="insights_conversation")
@require("insights")
async def conversation(request: Request, conversation_id: str) -> response.HTTPResponse:
    key = urllib.parse.unquote(conversation_id)  # "sender#1" arrives as sender%231
    if len(key) > 300:
        raise BadRequest("not a conversation id")
    body = await asyncio.to_thread(_store(request).conversation, key)
    if body is None:
        raise NotFound("no such conversation")
    return response.json(body, headers={"Cache-Control": "no-store"})


# ---------------------------------------------------------------------- suggestions


def _json_body(request: Request) -> dict[str, Any]:
    body: Any = request.json if request.body else {}
    if not isinstance(body, dict):
        raise BadRequest("expected a JSON object")
    return body


def _questions(body: dict[str, Any]) -> list[str] | None:
    value = body.get("questions")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(q, str) for q in value) or len(value) > 40:
        raise BadRequest("questions is a list of at most 40 strings")
    return value


MAX_ID = 2**63 - 1  # SQL integers


async def _decide(request: Request, call: Any, *args: Any, **kwargs: Any) -> response.HTTPResponse:
    """One place that turns the miner's refusals into statuses (``args[0]``: the id acted on)."""
    from assistant.kb.articles import ArticleError

    if not 1 <= int(args[0]) <= MAX_ID:
        raise NotFound("no such suggestion or draft")

    try:
        return response.json(await asyncio.to_thread(call, *args, **kwargs))
    except mining.NotFound as exc:
        raise NotFound(str(exc)) from None
    except mining.Conflicting as exc:
        return response.json({"error": str(exc), "conflicts": exc.conflicts}, status=409)
    except mining.NotOpen as exc:
        raise Conflict(str(exc)) from None
    except ArticleError as exc:
        return response.json({"error": str(exc), "problems": [str(p) for p in exc.problems]}, status=400)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


@insights.get("/suggestions", name="insights_suggestions")
@require("insights")
async def suggestions(request: Request) -> response.HTTPResponse:
    status = request.args.get("status") or mining.OPEN
    if status not in (mining.OPEN, mining.ACCEPTED, mining.REJECTED, mining.STALE, "all"):
        raise BadRequest("status is open, accepted, rejected, stale or all")
    clusters = await asyncio.to_thread(_miner(request).suggestions, status)
    return response.json({"clusters": clusters}, headers={"Cache-Control": "no-store"})


@insights.post("/suggestions/<suggestion_id:int>/accept", name="insights_accept")
@require("curate")
async def accept(request: Request, suggestion_id: int) -> response.HTTPResponse:
    body = _json_body(request)
    article = body.get("article_id")
    if article is not None and (not isinstance(article, str) or len(article) > 128):
        raise BadRequest("article_id is an article id")
    who = request.ctx.principal.username
    return await _decide(
        request, _miner(request).accept, suggestion_id, who, article_id=article, questions=_questions(body)
    )


@insights.post("/suggestions/<suggestion_id:int>/reject", name="insights_reject")
@require("curate")
async def reject(request: Request, suggestion_id: int) -> response.HTTPResponse:
    return await _decide(request, _miner(request).reject, suggestion_id, request.ctx.principal.username)


@insights.get("/drafts", name="insights_drafts")
@require("insights")
async def drafts(request: Request) -> response.HTTPResponse:
    rows = await asyncio.to_thread(_miner(request).drafts, request.args.get("status") or mining.OPEN)
    return response.json({"rows": rows}, headers={"Cache-Control": "no-store"})


@insights.post("/drafts/<draft_id:int>/publish", name="insights_publish")
@require("curate")
async def publish(request: Request, draft_id: int) -> response.HTTPResponse:
    body = _json_body(request)
    fields = {}
    for name, limit in (("id", 80), ("title", 200), ("body", 10_000), ("folder", 60)):
        value = body.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise BadRequest(f"{name} is required (at most {limit} characters)")
        fields[name] = value.strip()
    result = await _decide(
        request,
        _miner(request).publish_draft,
        draft_id,
        request.ctx.principal.username,
        article_id=fields["id"],
        title=fields["title"],
        body=fields["body"],
        questions=_questions(body) or [],
        folder=fields["folder"],
    )
    if result.status == 200:
        result.status = 201
    return result


@insights.post("/drafts/<draft_id:int>/reject", name="insights_reject_draft")
@require("curate")
async def reject_draft(request: Request, draft_id: int) -> response.HTTPResponse:
    return await _decide(request, _miner(request).reject_draft, draft_id, request.ctx.principal.username)


@insights.get("/changes", name="insights_changes")
@require("insights")
async def changes(request: Request) -> response.HTTPResponse:
    rows = await asyncio.to_thread(_miner(request).changes)
    return response.json({"rows": rows}, headers={"Cache-Control": "no-store"})


@insights.get("/folders", name="insights_folders")
@require("insights")
async def folders(request: Request) -> response.HTTPResponse:
    """The article folders a draft can be published into, with their category."""
    from assistant.kb.articles import ArticleError
    from assistant.kb.edit import folders as kb_folders

    try:
        found = await asyncio.to_thread(kb_folders, _miner(request).source)
    except ArticleError as exc:
        raise SanicException(f"the articles have problems: {exc}", status_code=503) from None
    return response.json({"folders": [{"folder": k, "category": v} for k, v in sorted(found.items())]})
