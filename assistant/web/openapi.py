"""The staff JSON API's OpenAPI 3.1 document, served at ``GET /api/openapi.json``.

Paths, methods and path parameters come from the Sanic route table (``app.router.routes``, every
route under ``/api/``); what the router cannot know comes from ``OPERATIONS`` below, keyed by the
route's name: a summary, the permission the route requires, query parameters, the JSON body and
the responses. tests/web/test_security.py fails when a route under ``/api/`` has no entry here or
an entry names a route that no longer exists, checks each entry's permission against
:func:`assistant.web.auth.require` on the handler and against what each role is really allowed,
and tests/web/test_openapi_fuzz.py fuzzes the API from this document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sanic import Blueprint, Request, Sanic, response

from assistant.handoff.store import MAX_NOTE_CHARS, MAX_TAG_CHARS, MAX_TAGS, OUTCOMES, STATUSES
from assistant.kb.regression import MAX_QUESTION_CHARS
from assistant.staff.store import PERMISSIONS, ROLES
from assistant.web.auth import COOKIE

PREFIX = "/api/"

# ----------------------------------------------------------------------------- schemas

_TEXT = {"type": "string"}
_WHEN = {"type": ["string", "null"], "description": "ISO 8601 time, UTC"}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "what was wrong, for a person"}},
    },
    "Note": {
        "type": "object",
        "required": ["author", "text", "created_at"],
        "properties": {"author": _TEXT, "text": _TEXT, "created_at": _WHEN},
    },
    "Turn": {"type": "object", "description": "one turn of a transcript: role, text, intent, ..."},
    "HandoffRecord": {
        "type": "object",
        "description": "a handoff as stored (the exports)",
        "required": ["id", "conversation_id", "status", "tags", "notes"],
        "properties": {
            "id": {"type": "integer"},
            "conversation_id": _TEXT,
            "created_at": _WHEN,
            "reason": _TEXT,
            "stage": _TEXT,
            "status": {"type": "string", "enum": list(STATUSES)},
            "slots": {"type": "object"},
            "summary": _TEXT,
            "priority": {"type": "integer"},
            "customer_id": _TEXT,
            "turns": {"type": "integer", "minimum": 0},
            "agent": _TEXT,
            "agent_name": _TEXT,
            "claimed_at": _WHEN,
            "closed_at": _WHEN,
            "outcome": _TEXT,
            "tags": {"type": "array", "items": _TEXT},
            "notes": {"type": "array", "items": {"$ref": "#/components/schemas/Note"}},
            "transcript": {"type": "array", "items": {"$ref": "#/components/schemas/Turn"}},
        },
    },
    "Handoff": {
        "description": "a handoff as the console shows it: the record, its place in the queue and the wait",
        "allOf": [
            {"$ref": "#/components/schemas/HandoffRecord"},
            {
                "type": "object",
                "required": ["position", "waiting_seconds"],
                "properties": {
                    "position": {
                        "type": ["integer", "null"],
                        "description": "place in the queue while queued",
                    },
                    "waiting_seconds": {"type": ["integer", "null"]},
                },
            },
        ],
    },
    "Ticket": {
        "type": "object",
        "required": ["id", "conversation_id", "status"],
        "properties": {
            "id": {"type": "integer"},
            "created_at": _WHEN,
            "conversation_id": _TEXT,
            "handoff_id": {"type": ["integer", "null"]},
            "customer_id": _TEXT,
            "contact": _TEXT,
            "message": _TEXT,
            "status": {"type": "string", "enum": ["open", "done"]},
            "closed_by": _TEXT,
        },
    },
    "Transcript": {
        "type": "object",
        "required": ["turns", "paused", "live"],
        "properties": {
            "turns": {"type": "array", "items": {"$ref": "#/components/schemas/Turn"}},
            "paused": {"type": ["boolean", "null"], "description": "null when Rasa could not be asked"},
            "live": {"type": "boolean", "description": "false: the stored transcript, Rasa unreachable"},
            "error": _TEXT,
        },
    },
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": properties}


def _list_of(key: str, name: str, **more: Any) -> dict[str, Any]:
    return _object((key, *more), **{key: {"type": "array", "items": _ref(name)}}, **more)


TAGS = {
    "type": "array",
    "maxItems": MAX_TAGS,
    "items": {"type": "string", "maxLength": MAX_TAG_CHARS},
    "description": "replaces the handoff's tags",
}

# ----------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class Query:
    name: str
    schema: dict[str, Any]
    description: str = ""
    required: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = {"name": self.name, "in": "query", "required": self.required, "schema": self.schema}
        return {**data, "description": self.description} if self.description else data


@dataclass(frozen=True)
class Operation:
    """What the router cannot say about one route. ``permissions``: None for a public route,
    empty for any signed-in caller, else the caller needs any one of them (as ``require``)."""

    summary: str
    permissions: tuple[str, ...] | None
    ok: dict[str, Any]  # the 200 response's JSON schema
    errors: tuple[int, ...] = ()  # besides the refusals of sign-in and permissions
    query: tuple[Query, ...] = ()
    body: dict[str, Any] | None = None  # the JSON body's schema
    body_required: bool = False
    content_type: str = "application/json"  # of the 200 response
    status: int = 200  # the success status (201: the route created something)

    @property
    def public(self) -> bool:
        return self.permissions is None


PUBLIC: tuple[str, ...] | None = None
SIGNED_IN: tuple[str, ...] = ()

FILTERS = (
    Query("status", {"type": "string", "enum": list(STATUSES)}),
    Query("conversation_id", _TEXT),
    Query("reason", _TEXT),
    Query("stage", _TEXT),
    Query("outcome", _TEXT),
    Query("agent", _TEXT, "the agent's user name"),
    Query("tag", _TEXT),
    Query("since", _TEXT, "ISO date or time, like 2026-11-24"),
    Query("until", _TEXT, "ISO date or time; a date includes that whole day"),
)
THRESHOLD = {"type": "number", "minimum": 0, "maximum": 1}
_SCORE = {"type": "number"}
_DECISION = {"type": "string", "enum": ["answer", "clarify", "decline"]}
SCHEMAS["KBTest"] = _object(
    ("question", "expect", "line", "allow"),
    question=_TEXT,
    expect={"type": "string", "description": "an article id, or decline"},
    line={"type": "integer", "minimum": 1},
    allow={"type": ["string", "null"], "enum": ["clarify", None]},
)
SCHEMAS["KBTests"] = _object(
    ("path", "tests", "problems", "last_run"),
    path=_TEXT,
    tests={
        "type": "array",
        "items": {
            "allOf": [
                _ref("KBTest"),
                _object(("result",), result={"type": ["object", "null"], "description": "the last run's"}),
            ]
        },
    },
    problems={"type": "array", "items": _TEXT, "description": "file:line problems of the tests file"},
    last_run={"type": ["object", "null"]},
)
SCHEMAS["Playground"] = _object(
    ("question", "read_as", "decision", "confidence", "coverage", "articles", "thresholds", "what_if"),
    question=_TEXT,
    read_as={"type": "string", "description": "the question after synonyms and spelling"},
    decision=_DECISION,
    confidence={**_SCORE, "description": "P(the best article is right)"},
    coverage={**_SCORE, "description": "P(the right article is among the offered)"},
    articles={
        "type": "array",
        "items": _object(
            ("id", "title", "score", "dense", "lexical", "head", "passage", "passage_kind"),
            id=_TEXT,
            title=_TEXT,
            score=_SCORE,
            dense=_SCORE,
            lexical=_SCORE,
            head=_SCORE,
            passage=_TEXT,
            passage_kind=_TEXT,
        ),
    },
    offered={"type": "array", "items": _TEXT},
    thresholds=_object(
        ("answer_at", "clarify_at", "clarify_options"),
        answer_at=THRESHOLD,
        clarify_at=THRESHOLD,
        clarify_options={"type": "integer"},
    ),
    build_id=_TEXT,
    what_if=_object(
        (
            "decision_at_given_thresholds",
            "answers_if_answer_at_at_most",
            "clarifies_if_clarify_at_at_most",
            "tests",
        ),
        answer_at=THRESHOLD,
        clarify_at=THRESHOLD,
        decision_at_given_thresholds=_DECISION,
        answers_if_answer_at_at_most={"type": ["number", "null"]},
        clarifies_if_clarify_at_at_most={"type": ["number", "null"]},
        tests=_object(
            ("passed", "failed", "flips"),
            total={"type": "integer"},
            passed={"type": "integer"},
            failed={"type": "integer"},
            passed_at_current={"type": "integer"},
            problems={"type": "array", "items": _TEXT},
            flips={
                "type": "array",
                "items": _object(
                    ("question", "line", "was", "now"),
                    question=_TEXT,
                    line={"type": "integer"},
                    expect=_TEXT,
                    was={"type": "string", "enum": ["passed", "failed"]},
                    now={"type": "string", "enum": ["passed", "failed"]},
                    decision_was=_DECISION,
                    decision_now=_DECISION,
                ),
            },
        ),
    ),
)


def _exported(record: dict[str, Any]) -> dict[str, Any]:
    """A handoff in an export: its conversation named by the logs' hash, never by its id."""
    properties = {k: v for k, v in record["properties"].items() if k != "conversation_id"}
    properties["conversation"] = {"type": "string", "description": "conv- and a hash, as in the logs"}
    required = ["conversation" if r == "conversation_id" else r for r in record["required"]]
    return {**record, "description": "a handoff in an export", "required": required, "properties": properties}


SCHEMAS["ExportedHandoff"] = _exported(SCHEMAS["HandoffRecord"])
EXPORT = _object(("handoffs",), handoffs={"type": "array", "items": _ref("ExportedHandoff")})
HANDOFF = _ref("Handoff")

# the insights (assistant/web/insights.py): every table route also answers ?format=csv
_DAY = {"type": "string", "format": "date", "description": "YYYY-MM-DD, UTC"}
RANGE = (
    Query("since", _DAY, "first day counted (default: 29 days before until)"),
    Query("until", _DAY, "last day counted (default: today)"),
    Query("traffic", {"type": "string", "enum": ["live", "test", "all"]}, "default live: tests left out"),
    Query("channel", {"type": "string", "pattern": "^[a-z0-9_-]{1,32}$"}),
)
_ROWS = _object(("rows",), rows={"type": "array", "items": {"type": "object"}})
_COUNT = {"type": "integer", "minimum": 0}
SUMMARY = _object(
    ("conversations", "asked", "resolved_confirmed", "resolved_assumed", "escalated", "ticket", "abandoned",
     "no_request", "durable", "containment_rate"),
    since=_TEXT, until=_TEXT, traffic=_TEXT, conversations=_COUNT, asked=_COUNT, resolved_confirmed=_COUNT,
    resolved_assumed=_COUNT, escalated=_COUNT, ticket=_COUNT, abandoned=_COUNT, no_request=_COUNT,
    durable=_COUNT, containment_rate={"type": "number"}, confirmed_rate={"type": "number"},
)  # fmt: skip
DRILL = tuple(
    Query(name, {"type": "string", "maxLength": 300})
    for name in ("outcome", "reason", "stage", "article", "tree", "node", "form", "field", "code", "question",
                 "left", "feedback", "durable", "handoff_stage")
)  # fmt: skip
CLUSTERS = _object(("clusters",), clusters={"type": "array", "items": {"type": "object"}})
_DECIDED = _object(("status",), status=_TEXT)
_QUESTIONS = {"type": "array", "items": {"type": "string", "maxLength": 300}, "maxItems": 40}


def _table(summary: str, ok: dict[str, Any] | None = None, query: tuple[Query, ...] = ()) -> Operation:
    return Operation(summary + " (?format=csv: the same as CSV)", ("insights",), ok or _ROWS, (400, 503),
                     (*RANGE, *query))  # fmt: skip


INSIGHTS: dict[str, Operation] = {
    "insights_summary": _table("Conversations by outcome and the containment rate", SUMMARY),
    "insights_timeseries": _table("Outcomes and containment per day"),
    "insights_handoffs": _table(
        "Handoffs by reason and by stage",
        _object(("by_reason", "by_stage"), by_reason={"type": "array"}, by_stage={"type": "array"}),
        (Query("table", {"type": "string", "enum": ["by_reason", "by_stage"]}),),
    ),
    "insights_funnel": _table("Conversations that reached each lifecycle stage"),
    "insights_dropoff": _table(
        "Reached and left at each troubleshooting tree node and each form field",
        _object(("trees", "forms"), trees={"type": "array"}, forms={"type": "array"}),
        (Query("table", {"type": "string", "enum": ["trees", "forms"]}),),
    ),
    "insights_refusals": _table("Back-office refusals by operation and code"),
    "insights_failed_questions": _table("Top failed questions: declined, clarified then left, rated down"),
    "insights_feedback": _table("Thumbs up and down per article, with their trend by day"),
    "insights_articles": _table("Most shown articles (the figures that order the top tasks)"),
    "insights_channels": _table("Outcomes per channel"),
    "insights_conversations": _table(
        "The conversations behind a figure (drill-through)",
        _object(("rows", "total"), rows={"type": "array"}, total=_COUNT),
        (*DRILL, Query("limit", {"type": "integer", "minimum": 1, "maximum": 500})),
    ),
    "insights_conversation": Operation(
        "One conversation: its outcome and what happened, in order", ("insights",), {"type": "object"},
        (400, 404, 503),
    ),
    "insights_suggestions": Operation(
        "Failed questions clustered, each with its suggestion", ("insights",), CLUSTERS, (400, 503),
        (Query("status", {"type": "string", "enum": ["open", "accepted", "rejected", "stale", "all"]}),),
    ),
    "insights_accept": Operation(
        "Accept a suggestion: its questions become the article's examples (live within seconds)",
        ("curate",), _object(("status", "article_id", "written"), status=_TEXT, article_id=_TEXT,
                             written={"type": "array"}, file=_TEXT),
        (400, 404, 409, 503),
        body=_object((), article_id={"type": "string", "maxLength": 128}, questions=_QUESTIONS),
    ),
    "insights_reject": Operation("Reject a suggestion", ("curate",), _DECIDED, (404, 409, 503)),
    "insights_drafts": Operation(
        "Article drafts from handoffs agents closed as resolved", ("insights",), _ROWS, (503,),
        (Query("status", {"type": "string", "enum": ["open", "accepted", "rejected", "all"]}),),
    ),
    "insights_publish": Operation(
        "Publish a draft as a new article", ("curate",),
        _object(("article_id", "file"), article_id=_TEXT, file=_TEXT),
        (400, 404, 409, 503),
        body=_object(("id", "title", "body", "folder"), id={"type": "string", "maxLength": 80},
                     title={"type": "string", "maxLength": 200}, body={"type": "string", "maxLength": 10000},
                     folder={"type": "string", "maxLength": 60}, questions=_QUESTIONS),
        body_required=True,
        status=201,
    ),
    "insights_reject_draft": Operation("Reject a draft", ("curate",), _DECIDED, (404, 409, 503)),
    "insights_changes": Operation(
        "Who changed which article from the console, and when", ("insights",), _ROWS, (503,)
    ),
    "insights_folders": Operation("The article folders a draft can go into", ("insights",),
                                  _object(("folders",), folders={"type": "array"}), (503,)),
}  # fmt: skip


OPERATIONS: dict[str, Operation] = {
    "health": Operation("Is the web app up", PUBLIC, _object(("status",), status={"const": "ok"})),
    "openapi_document": Operation("This document", PUBLIC, {"type": "object"}),
    "me": Operation(
        "Who is calling, and the outcomes a handoff can be closed with",
        SIGNED_IN,
        _object(
            ("username", "name", "role", "permissions", "outcomes"),
            username=_TEXT,
            name=_TEXT,
            role={"type": "string", "enum": [*ROLES, "service"]},
            permissions={"type": "array", "items": _TEXT},
            outcomes={"type": "array", "items": {"type": "string", "enum": list(OUTCOMES)}},
        ),
    ),
    "queue": Operation(
        "Open handoffs, best first, open tickets and agents online (keeps the caller online)",
        ("handle",),
        _object(
            ("handoffs", "agents_online", "tickets"),
            handoffs={"type": "array", "items": HANDOFF},
            agents_online={"type": "integer", "minimum": 0},
            tickets={"type": "array", "items": _ref("Ticket")},
        ),
    ),
    "list_handoffs": Operation(
        "The newest matching handoffs",
        ("review", "handle"),
        _list_of("handoffs", "Handoff", limit={"type": "integer"}),
        errors=(400,),
        query=(*FILTERS, Query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200})),
    ),
    "export_csv": Operation(
        "The matching handoffs as CSV, one row each",
        ("export",),
        {"type": "string"},
        errors=(400,),
        query=FILTERS,
        content_type="text/csv",
    ),
    "export_json": Operation(
        "The matching handoffs as JSON, with transcripts and notes",
        ("export",),
        EXPORT,
        errors=(400,),
        query=FILTERS,
    ),
    "get_handoff": Operation("One handoff with its transcript", ("review", "handle"), HANDOFF, errors=(404,)),
    "customer_account": Operation(
        "The handoff's customer's account facts, read-only (open handoffs, or the agent's own)",
        ("handle",),
        _object(
            ("customer_id", "account"),
            customer_id={"type": ["string", "null"]},
            account={"type": ["object", "null"]},
        ),
        errors=(404, 503),
    ),
    "live_transcript": Operation(
        "The conversation as it is now in Rasa (the stored transcript if Rasa is unreachable)",
        ("review", "handle"),
        {
            "allOf": [
                _ref("Transcript"),
                _object(("status",), status={"type": "string", "enum": list(STATUSES)}),
            ]
        },
        errors=(404,),
    ),
    "conversation_transcript": Operation(
        "A conversation's annotated transcript and its handoffs",
        ("review", "handle"),
        {
            "allOf": [
                _ref("Transcript"),
                _object(
                    ("conversation_id", "handoffs"),
                    conversation_id=_TEXT,
                    handoffs={"type": "array", "items": HANDOFF},
                ),
            ]
        },
        errors=(400, 404, 502),
    ),
    "claim": Operation("Take the conversation: the bot is paused", ("handle",), HANDOFF, errors=(404, 409)),
    "agent_message": Operation(
        "Send the customer a reply as a person (claims a queued handoff)",
        ("handle",),
        HANDOFF,
        errors=(400, 404, 409, 502),
        body=_object(
            ("text",),
            text={"type": "string", "minLength": 1, "maxLength": 2000},
            agent={"type": "string", "minLength": 1, "maxLength": 64, "description": "API token only"},
        ),
        body_required=True,
    ),
    "resume_handoff": Operation(
        "Hand the conversation back to the bot",
        ("handle",),
        HANDOFF,
        errors=(400, 404, 409, 502),
        body=_object(tags=TAGS),
    ),
    "close_handoff": Operation(
        "Close the handoff with an outcome (the bot is resumed too)",
        ("handle",),
        HANDOFF,
        errors=(400, 404, 409, 502),
        body=_object(("outcome",), outcome={"type": "string", "enum": list(OUTCOMES)}, tags=TAGS),
        body_required=True,
    ),
    "add_note": Operation(
        "Add a review note",
        ("annotate",),
        HANDOFF,
        errors=(400, 404),
        body=_object(("text",), text={"type": "string", "minLength": 1, "maxLength": MAX_NOTE_CHARS}),
        body_required=True,
    ),
    "set_tags": Operation(
        "Replace the handoff's tags",
        ("annotate",),
        HANDOFF,
        errors=(400, 404),
        body=_object(("tags",), tags=TAGS),
        body_required=True,
    ),
    "list_tickets": Operation(
        "Messages customers left when no one could take the conversation",
        ("handle",),
        _list_of("tickets", "Ticket"),
        errors=(400,),
        query=(Query("status", {"type": "string", "enum": ["open", "done", "all"], "default": "open"}),),
    ),
    "close_ticket": Operation("Mark a ticket done", ("handle",), _ref("Ticket"), errors=(404,)),
    "kb_search": Operation(
        "Search the knowledge base for an article to paste into a reply",
        ("kb",),
        _object(
            ("query", "decision", "articles"),
            query=_TEXT,
            decision=_TEXT,
            articles={
                "type": "array",
                "items": _object(
                    ("id", "title", "text"),
                    id=_TEXT,
                    title=_TEXT,
                    category=_TEXT,
                    score={"type": "number"},
                    text=_TEXT,
                ),
            },
        ),
        errors=(400, 503),
        query=(Query("q", {"type": "string", "minLength": 1, "maxLength": 300}, required=True),),
    ),
    # the editors' workbench (assistant/web/workbench.py)
    "kb_playground": Operation(
        "Ask the knowledge base as an editor: the ranking with scores and passages, the calibrated "
        "confidence, the decision, and what other thresholds would decide and which tests would flip",
        ("kb",),
        _ref("Playground"),
        errors=(400, 503),
        body=_object(
            ("question",),
            question={"type": "string", "minLength": 1, "maxLength": MAX_QUESTION_CHARS},
            answer_at=THRESHOLD,
            clarify_at=THRESHOLD,
        ),
        body_required=True,
    ),
    "kb_tests": Operation(
        "The knowledge-base regression tests (data/kb_tests.yml), each with its last result",
        ("kb",),
        _ref("KBTests"),
        errors=(503,),
    ),
    "kb_tests_run": Operation(
        "Run the knowledge-base regression tests at the current thresholds",
        ("kb",),
        _ref("KBTests"),
        errors=(503,),
    ),
    "kb_tests_add": Operation(
        "Save a question as a knowledge-base regression test (appended to data/kb_tests.yml)",
        ("curate",),
        {"allOf": [_ref("KBTest"), _object(("path",), path=_TEXT)]},
        errors=(400, 409, 503),
        body=_object(
            ("question", "expect"),
            question={"type": "string", "minLength": 1, "maxLength": MAX_QUESTION_CHARS},
            expect={"type": "string", "minLength": 1, "description": "an article id, or decline"},
            allow={"type": ["string", "null"], "enum": ["clarify", None]},
        ),
        body_required=True,
        status=201,
    ),
    **INSIGHTS,
}

# ----------------------------------------------------------------------------- the route table

_PARAM = re.compile(r"<([^:<>]+)(?::([^<>]+))?>")
# Ids are SQL integers: 64 bits. (A larger one is a 500 today, not a 404: see the test
# test_ids_beyond_64_bits_are_404_not_500 in tests/web/test_security.py.)
ID = {"type": "integer", "format": "int64", "minimum": 1, "maximum": 2**63 - 1}
_PARAM_SCHEMAS = {"int": ID, "float": {"type": "number"}}
_ERRORS = {
    400: "malformed request",
    401: "not signed in, or a wrong API token",
    403: "the caller's role cannot do this, or the CSRF token is missing or wrong",
    404: "no such thing, or not one the caller may see",
    409: "the handoff is no longer in a state that allows this",
    502: "Rasa could not be reached",
    503: "a service this needs is not configured or not reachable",
}


@dataclass(frozen=True)
class ApiRoute:
    key: str  # the handler's route name, without the app's and the blueprint's
    path: str  # OpenAPI form: /api/handoffs/{handoff_id}
    methods: tuple[str, ...]
    params: tuple[tuple[str, str], ...]  # (name, Sanic type label)
    handler: Any = field(compare=False)


def route_key(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def api_routes(app: Sanic) -> list[ApiRoute]:
    """Every route under ``/api/`` in the app's route table, in path order."""
    found = []
    for route in app.router.routes:
        path = "/" + route.path.lstrip("/")
        if not path.startswith(PREFIX):
            continue
        params = tuple((m.group(1), m.group(2) or "str") for m in _PARAM.finditer(path))
        methods = tuple(sorted(m for m in route.methods if m not in ("HEAD", "OPTIONS")))
        found.append(
            ApiRoute(route_key(route.name), _PARAM.sub(r"{\1}", path), methods, params, route.handler)
        )
    return sorted(found, key=lambda r: (r.path, r.methods))


def undescribed(app: Sanic) -> list[str]:
    """Routes under ``/api/`` that ``OPERATIONS`` does not describe."""
    return sorted({r.key for r in api_routes(app)} - OPERATIONS.keys())


def stale(app: Sanic) -> list[str]:
    """Entries of ``OPERATIONS`` for which the app has no route."""
    return sorted(OPERATIONS.keys() - {r.key for r in api_routes(app)})


def roles_allowed(operation: Operation) -> list[str]:
    if operation.permissions is None or not operation.permissions:
        return list(ROLES)
    return [role for role in ROLES if PERMISSIONS[role] & set(operation.permissions)]


def _response(description: str, schema: dict[str, Any], content_type: str = "application/json") -> Any:
    return {"description": description, "content": {content_type: {"schema": schema}}}


def _operation(route: ApiRoute, method: str) -> dict[str, Any]:
    op = OPERATIONS.get(route.key)
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _PARAM_SCHEMAS.get(label, {"type": "string", "minLength": 1}),
        }
        for name, label in route.params
    ]
    if op is None:
        return {
            "operationId": route.key,
            "summary": "not described in assistant/web/openapi.py",
            "parameters": parameters,
            "responses": {"default": {"description": "undescribed"}},
        }
    parameters += [q.to_dict() for q in op.query]
    errors = set(op.errors)
    if not op.public:
        errors |= {401, 403, 503}
    if route.params and any(label == "int" for _, label in route.params):
        errors.add(404)
    if op.body is not None:
        errors.add(400)  # a body that is not JSON
    data: dict[str, Any] = {
        "operationId": route.key,
        "summary": op.summary,
        "parameters": parameters,
        "responses": {
            str(op.status): _response("OK" if op.status == 200 else "Created", op.ok, op.content_type),
            **{str(s): _response(_ERRORS[s], _ref("Error")) for s in sorted(errors)},
        },
    }
    if op.body is not None:
        data["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": op.body}},
        }
    if op.public:
        data["security"] = []
    else:
        cookie: dict[str, list[str]] = {"consoleSession": []}
        if method not in ("GET", "HEAD"):
            cookie["csrfToken"] = []  # with the cookie, a state-changing call echoes the CSRF token
        data["security"] = [{"apiToken": []}, cookie]
        data["x-permissions"] = list(op.permissions or ())
        data["x-roles"] = roles_allowed(op)
        needs = " or ".join(op.permissions or ()) or "any signed-in caller"
        data["description"] = f"Needs: {needs} (roles: {', '.join(roles_allowed(op))}; the API token may)."
    return data


def document(app: Sanic) -> dict[str, Any]:
    """The OpenAPI document for the app's routes under ``/api/``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in api_routes(app):
        for method in route.methods:
            paths.setdefault(route.path, {})[method.lower()] = _operation(route, method)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kestrel assistant staff API",
            "version": "1",
            "description": (
                "The agent console's JSON API. Callers send the API token as a bearer token, or "
                "use a console session cookie; with the cookie, every state-changing call also "
                "sends the session's CSRF token in X-CSRF-Token."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "apiToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the API token, ASSISTANT_API_TOKEN: every permission",
                },
                "consoleSession": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": COOKIE,
                    "description": "a console sign-in; what it allows depends on the user's role",
                },
                "csrfToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-CSRF-Token",
                    "description": "the session's CSRF token, on state-changing calls with the cookie",
                },
            },
        },
    }


openapi = Blueprint("openapi", url_prefix="/api")


@openapi.get("/openapi.json", name="openapi_document")
async def openapi_document(request: Request) -> response.HTTPResponse:
    """The document, public like /api/health: it describes the API's shape and who may call
    what, which the console's own JavaScript shows anyway, and no data."""
    app = request.app
    cached = getattr(app.ctx, "openapi_document", None)
    if cached is None:
        cached = app.ctx.openapi_document = document(app)
    return response.json(cached, headers={"Cache-Control": "no-cache"})
