"""Who may call what, checked route by route from the app's own route table, and hostile input on
the public routes.

Every route under ``/api/`` is taken from ``app.router.routes`` (a new route is covered without
touching this file) and must be described in ``assistant.web.openapi.OPERATIONS``; the permission
written there is checked against ``require`` on the handler and against what each role of
``assistant.staff.store.PERMISSIONS`` is really answered: no credentials or a wrong token -> 401,
a console session -> 200 or 403 exactly as the table says, a state-changing call with the session
cookie but without the session's CSRF token -> 403 and nothing changed.

The customers' chat routes and the console's sign-in get oversized, malformed, deeply nested and
mistyped bodies, control characters and markup: always a 4xx, never a 500 or a stack trace.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Any
from urllib.parse import quote

import pytest

from assistant.staff.store import PERMISSIONS, ROLES
from assistant.web.auth import COOKIE, required_permissions
from assistant.web.openapi import OPERATIONS, ApiRoute, api_routes, roles_allowed, stale, undescribed
from tests.web.conftest import API_TOKEN, USERS
from tests.web.test_console import Client, new_handoff

# What a caller allowed to use a route sends to be answered 200 (routes not named need nothing).
EXAMPLES: dict[str, dict[str, Any]] = {
    "kb_search": {"query": {"q": "my card never came"}},
    "agent_message": {"body": {"text": "Hello, I'm Sam"}},
    "close_handoff": {"body": {"outcome": "resolved", "tags": ["card"]}},
    "resume_handoff": {"body": {"tags": []}},
    "add_note": {"body": {"text": "Good save"}},
    "set_tags": {"body": {"tags": ["coaching"]}},
    "kb_playground": {"body": {"question": "my card never came", "answer_at": 0.5}},
    "kb_tests_add": {"body": {"question": "my card never came", "expect": "card_arrival"}},
    "insights_accept": {"body": {"questions": ["my card never came"]}},
    "insights_publish": {
        "body": {
            "id": "standing_orders",
            "title": "Standing orders",
            "folder": "cards",
            "body": "Set one up in the app.",
            "questions": ["pay rent monthly"],
        }
    },
}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def routes(app) -> list[tuple[ApiRoute, str]]:
    found = [(route, method) for route in api_routes(app) for method in route.methods]
    assert len(found) >= 20, "the route table should hold the whole staff API"
    return found


class Fresh:
    """Path values for calls: a new queued handoff (of a signed-in customer) and a new ticket for
    each call, so state-changing calls never meet each other's leftovers; or, with ``once``, the
    same ones for every call (for calls that must all be refused)."""

    def __init__(self, store, *, once: bool = False, insights: Any = None):
        self.store, self.once, self.count, self.values = store, once, 0, {}
        self.insights = insights  # the analytics store: a conversation, a suggestion, a draft

    def seed_insights(self, sender: str) -> tuple[int, int]:
        from assistant.insights.mining import DraftRow, SuggestionRow
        from tests.insights.test_outcomes import Stream

        stream = Stream().start(sender).user(sender, 1, "where is my card", "ask_question")
        self.insights.ingest(f"fresh-{sender}", stream.events)
        self.insights.label_pending()
        with self.insights._session.begin() as s:
            suggestion = SuggestionRow(
                kind="add_examples", article_id="card_arrival", examples=["my card never came"]
            )
            draft = DraftRow(
                handoff_id=10_000 + self.count, title="Standing orders", body="Set one up in the app."
            )
            s.add_all([suggestion, draft])
            s.flush()
            return suggestion.id, draft.id

    def path(self, route: ApiRoute) -> str:
        if not (self.once and self.values):
            self.count += 1
            handoff = new_handoff(self.store, f"conv-fresh-{self.count}", customer_id="cust-ben")
            ticket = self.store.create_ticket(f"conv-t-{self.count}", contact="+44 7700 900123", message="Hi")
            suggestion_id, draft_id = self.seed_insights(handoff.conversation_id) if self.insights else (0, 0)
            self.values = {
                "handoff_id": handoff.id,
                "ticket_id": ticket.id,
                "conversation_id": handoff.conversation_id,
                "suggestion_id": suggestion_id,
                "draft_id": draft_id,
            }
        missing = [name for name, _ in route.params if name not in self.values]
        assert not missing, f"{route.path}: no value for the path parameters {missing}: add one to Fresh"
        return route.path.format(**self.values)


async def call(web, method: str, path: str, key: str, headers: dict[str, str]) -> Any:
    example = EXAMPLES.get(key, {})
    kwargs: dict[str, Any] = {"headers": headers}
    if example.get("query"):
        kwargs["params"] = example["query"]
    if method in STATE_CHANGING:
        kwargs["json"] = example.get("body", {})
    return await web.request(method, path, **kwargs)


def session_headers(app, staff, role: str, *, csrf: str | None = "session") -> dict[str, str]:
    client = Client(app, staff, USERS[role])
    headers = {"Cookie": client.cookie}
    if csrf == "session":
        headers["X-CSRF-Token"] = client.csrf
    elif csrf is not None:
        headers["X-CSRF-Token"] = csrf
    return headers


def json_error_problem(resp, *statuses: int) -> str | None:
    """What is wrong with a refusal that should be ``{"error": "..."}`` with one of ``statuses``."""
    if resp.status not in statuses:
        return f"status {resp.status}, not {statuses}: {resp.text[:200]}"
    if not resp.headers.get("content-type", "").startswith("application/json"):
        return f"content type {resp.headers.get('content-type')}: {resp.text[:200]}"
    body = resp.json
    if not (isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]):
        return f"no error message: {resp.text[:200]}"
    return None


def assert_json_error(resp, *statuses: int) -> None:
    problem = json_error_problem(resp, *statuses)
    assert problem is None, problem


# ---------------------------------------------------------------- the table and the route table


def test_every_api_route_is_described_and_every_description_has_a_route(security_app):
    assert undescribed(security_app) == [], "describe these routes in assistant/web/openapi.py OPERATIONS"
    assert stale(security_app) == [], "these OPERATIONS entries have no route any more: remove them"
    keys = [route.key for route in api_routes(security_app)]
    assert len(keys) == len(set(keys)), "two /api/ routes share a name"


def test_the_table_names_the_permission_that_require_enforces(security_app):
    wrong = {}
    for route in api_routes(security_app):
        declared = OPERATIONS[route.key].permissions
        enforced = required_permissions(route.handler)
        if (None if declared is None else frozenset(declared)) != enforced:
            wrong[route.key] = {"table": declared, "require": enforced}
    assert wrong == {}


async def test_the_document_is_public_and_describes_every_route_and_how_to_sign_in(web, security_app):
    resp = await web.get("/api/openapi.json")
    assert resp.status == 200 and resp.headers["content-type"].startswith("application/json")
    doc = resp.json
    assert doc["openapi"].startswith("3.1")
    schemes = doc["components"]["securitySchemes"]
    assert schemes["apiToken"] == {**schemes["apiToken"], "type": "http", "scheme": "bearer"}
    assert schemes["consoleSession"]["in"] == "cookie" and schemes["consoleSession"]["name"] == COOKIE
    assert schemes["csrfToken"]["in"] == "header" and schemes["csrfToken"]["name"] == "X-CSRF-Token"
    for route, method in routes(security_app):
        operation = doc["paths"][route.path][method.lower()]
        described = OPERATIONS[route.key]
        assert operation["operationId"] == route.key and operation["summary"] == described.summary
        assert {p["name"] for p in operation["parameters"] if p["in"] == "path"} == {
            n for n, _ in route.params
        }
        assert str(described.status) in operation["responses"]
        if described.public:
            assert operation["security"] == []
            continue
        assert {"401", "403"} <= set(operation["responses"]), route.key
        assert operation["x-permissions"] == list(described.permissions or ())
        assert operation["x-roles"] == roles_allowed(described)
        assert {"apiToken": []} in operation["security"]
        cookie = next(s for s in operation["security"] if "consoleSession" in s)
        assert ("csrfToken" in cookie) == (method in STATE_CHANGING), route.key
    described_paths = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert described_paths == {(r.path, m.lower()) for r, m in routes(security_app)}


# ---------------------------------------------------------------- who may call what


BAD_CREDENTIALS: dict[str, dict[str, str]] = {
    "none": {},
    "wrong": {"Authorization": "Bearer wrong-token"},
    "longer": {"Authorization": f"Bearer {API_TOKEN}x"},
    "prefix": {"Authorization": f"Bearer {API_TOKEN[:-1]}"},
    "no-scheme": {"Authorization": API_TOKEN},  # not a bearer token
    "basic": {"Authorization": f"Basic {API_TOKEN}"},
    "empty": {"Authorization": "Bearer "},
    "bad-cookie": {"Cookie": f"{COOKIE}=not-a-session"},
    "bad-cookie-csrf": {"Cookie": f"{COOKIE}=not-a-session", "X-CSRF-Token": "anything"},
    "empty-cookie": {"Cookie": f"{COOKIE}="},
}


async def test_without_good_credentials_every_route_but_the_public_ones_is_401(
    web, security_app, handoff_store
):
    fresh, wrong = Fresh(handoff_store, once=True, insights=security_app.ctx.insights), []
    for name, headers in BAD_CREDENTIALS.items():
        for route, method in routes(security_app):
            resp = await call(web, method, fresh.path(route), route.key, headers)
            expected = 200 if OPERATIONS[route.key].public else 401
            problem = None if resp.status == expected else f"{resp.status}: {resp.text[:120]}"
            if problem is None and expected == 401:
                problem = json_error_problem(resp, 401)
            if problem:
                wrong.append((name, method, route.path, problem))
    assert wrong == []


async def test_a_bearer_token_while_none_is_configured_is_refused(web, security_app, handoff_store):
    security_app.ctx.settings = dataclasses.replace(security_app.ctx.settings, api_token="")
    fresh = Fresh(handoff_store, once=True, insights=security_app.ctx.insights)
    for route, method in routes(security_app):
        if OPERATIONS[route.key].public:
            continue
        resp = await call(web, method, fresh.path(route), route.key, {"Authorization": "Bearer "})
        assert_json_error(resp, 503)


async def test_the_api_token_may_call_every_route(web, security_app, handoff_store):
    fresh, wrong = Fresh(handoff_store, insights=security_app.ctx.insights), []
    for route, method in routes(security_app):
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        resp = await call(web, method, fresh.path(route), route.key, headers)
        if resp.status != OPERATIONS[route.key].status:
            wrong.append((method, route.path, resp.status, resp.text[:120]))
    assert wrong == []


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_is_allowed_exactly_what_the_table_and_its_permissions_say(
    web, security_app, security_staff, handoff_store, role
):
    fresh, wrong = Fresh(handoff_store, insights=security_app.ctx.insights), []
    headers = session_headers(security_app, security_staff, role)
    for route, method in routes(security_app):
        described = OPERATIONS[route.key]
        allowed = not described.permissions or bool(PERMISSIONS[role] & set(described.permissions))
        assert allowed == (described.public or role in roles_allowed(described))
        resp = await call(web, method, fresh.path(route), route.key, headers)
        if resp.status != (described.status if allowed else 403):
            wrong.append((method, route.path, resp.status, resp.text[:120]))
        elif not allowed:
            assert_json_error(resp, 403)
            assert role in resp.json["error"]
    assert wrong == []


async def test_state_changing_calls_with_the_cookie_need_the_sessions_csrf_token(
    web, security_app, security_staff, handoff_store
):
    # Each call is made by a role holding the route's permission (the lead where it does): only
    # the CSRF token can refuse them.
    def caller(key: str) -> str:
        allowed = roles_allowed(OPERATIONS[key])
        return "lead" if "lead" in allowed else allowed[0]

    other = {role: Client(security_app, security_staff, USERS[role]).csrf for role in ROLES}  # same users'
    fresh, changing, wrong = Fresh(handoff_store, once=True, insights=security_app.ctx.insights), set(), []
    for variant in ("none", "empty", "wrong", "other", "other-cut"):
        for route, method in routes(security_app):
            if method not in STATE_CHANGING:
                continue
            changing.add(route.key)
            role = caller(route.key)
            csrf = {"none": None, "empty": "", "wrong": "wrong-token", "other": other[role]}.get(
                variant, other[role][:-1]
            )
            headers = session_headers(security_app, security_staff, role, csrf=csrf)
            resp = await call(web, method, fresh.path(route), route.key, headers)
            problem = json_error_problem(resp, 403)
            if problem is None and "CSRF" not in resp.json["error"]:
                problem = resp.json["error"]
            if problem:
                wrong.append((csrf, route.path, problem))
    assert wrong == []
    assert len(changing) >= 7
    # nothing happened: every handoff is still queued, untouched, every ticket open
    handoffs = handoff_store.list()
    assert handoffs and all(h.status == "queued" and not h.notes and not h.tag_names for h in handoffs)
    assert all(t.status == "open" for t in handoff_store.tickets(None))
    assert not security_app.ctx.settings.kb_tests_path.exists()  # no knowledge-base test saved


async def test_signing_out_needs_the_csrf_token_too(web, security_app, security_staff):
    headers = session_headers(security_app, security_staff, "agent", csrf=None)
    resp = await web.post("/console/logout", headers=headers)
    assert resp.status == 403
    still = await web.get("/api/me", headers=headers)
    assert still.status == 200 and still.json["username"] == USERS["agent"]


async def test_the_session_is_read_in_a_worker_thread_not_on_the_event_loop(
    web, security_app, security_staff
):
    loop_thread, seen_in = threading.get_ident(), []
    session = security_staff.session

    def recording(token: str, *, seen: bool = True) -> Any:
        seen_in.append(threading.get_ident())
        return session(token, seen=seen)

    security_staff.session = recording  # type: ignore[method-assign]
    headers = session_headers(security_app, security_staff, "agent")
    me = await web.get("/api/me", headers=headers)
    page = await web.get("/console/login", headers=headers)
    assert me.status == 200 and me.json["role"] == "agent"
    assert page.status == 302  # signed in already: on to the console
    assert len(seen_in) == 2 and loop_thread not in seen_in  # the loop runs this test's thread


async def test_a_deactivated_users_session_is_401_at_once(web, security_app, security_staff):
    headers = session_headers(security_app, security_staff, "editor")
    ok = await web.get("/api/me", headers=headers)
    assert ok.status == 200
    security_staff.deactivate(USERS["editor"])
    gone = await web.get("/api/me", headers=headers)
    assert_json_error(gone, 401)


# ---------------------------------------------------------------- hostile input, public routes

NO_TRACE = ("Traceback", 'File "', "sanic/", "assistant/web/")

MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'
CONTROL = "".join(chr(c) for c in range(1, 32)) + "\x7f\u202e\ufeff"
SESSION = "0f8c2d1e-5b6a-4c3d-9e8f-7a6b5c4d3e2f"


def deep(levels: int, opener: str = "[", closer: str = "]") -> bytes:
    return (opener * levels + closer * levels).encode()


def deep_object(levels: int) -> bytes:
    return ('{"a":' * levels + "1" + "}" * levels).encode()


HOSTILE_IDS = [
    MARKUP,
    CONTROL,
    "a" * 5000,
    "\x00" * 16,
    "../../../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "' OR 1=1 --",
    "${jndi:ldap://x}",
    "ünïcødé-ßession-🙂🙂🙂",
    "%",
    " " * 20,
    "-" * 8 + "\n" + "-" * 8,
]


def refusal_problem(resp, *, json_body: bool = True) -> str | None:
    """What is wrong with the answer to hostile input: anything but a plain 4xx."""
    if not 400 <= resp.status < 500:
        return f"status {resp.status}: {resp.text[:300]}"
    leaked = [trace for trace in NO_TRACE if trace in resp.text]
    if leaked:
        return f"a stack trace or source path ({leaked}): {resp.text[:300]}"
    if "<script>" in resp.text or "onerror=alert" in resp.text:
        return f"markup echoed: {resp.text[:300]}"
    if json_body:
        return json_error_problem(resp, resp.status)
    return None


async def test_chat_reads_refuse_hostile_session_ids_cleanly(web):
    wrong = []
    for route in ("/chat/history/", "/chat/queue/"):
        for session_id in HOSTILE_IDS:
            problem = refusal_problem(await web.get(route + quote(session_id, safe="")))
            if problem:
                wrong.append((route, session_id[:40], problem))
        # a well-formed id without its credential, with hostile headers and query strings
        for headers in ({"X-Chat-Credential": MARKUP}, {"X-Chat-Credential": "c1." + "A" * 5000}, {}):
            resp = await web.get(
                route + SESSION, headers=headers, params={"x": CONTROL, "session_id": MARKUP}
            )
            if resp.status != 200:  # the per-conversation credential may not be required here (yet)
                problem = refusal_problem(resp)
                if problem:
                    wrong.append((route, str(headers)[:40], problem))
    assert wrong == []


FEEDBACK_BODIES: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "application/json"),
    "not-json": (b"{bad json", "application/json"),
    "not-json-no-type": (b"{bad json", ""),
    "truncated": (b'{"session_id": "' + SESSION.encode(), "application/json"),
    "invalid-utf8": (b'{"session_id": "\xff\xfe\xfd"}', "application/json"),
    "nested-10000-lists": (deep(10_000), "application/json"),
    "nested-10000-objects": (deep_object(10_000), "application/json"),
    "nested-10000-in-a-field": (
        b'{"session_id": "' + SESSION.encode() + b'", "article_id": ' + deep(10_000) + b', "helpful": true}',
        "application/json",
    ),
    "nested-500": (deep(500), "application/json"),
    "oversized-string": (json.dumps({"session_id": "a" * 2_000_000}).encode(), "application/json"),
    "oversized-garbage": (b"\x00" * 2_000_000, "application/octet-stream"),
    "many-keys": (json.dumps({f"k{n}": n for n in range(50_000)}).encode(), "application/json"),
    "top-level-list": (b"[1, 2, 3]", "application/json"),
    "top-level-string": (b'"hello"', "application/json"),
    "top-level-number": (b"1e999999", "application/json"),
    "null": (b"null", "application/json"),
    "nan": (b'{"session_id": NaN, "helpful": Infinity}', "application/json"),
    "session-id-number": (
        json.dumps({"session_id": 12345678, "article_id": "x", "helpful": True}).encode(),
        "",
    ),
    "session-id-list": (
        json.dumps({"session_id": [SESSION], "article_id": "x", "helpful": True}).encode(),
        "",
    ),
    "session-id-object": (
        json.dumps({"session_id": {"$ne": ""}, "article_id": "x", "helpful": True}).encode(),
        "",
    ),
    "session-id-markup": (
        json.dumps({"session_id": MARKUP, "article_id": "x", "helpful": True}).encode(),
        "",
    ),
    "session-id-control": (
        json.dumps({"session_id": CONTROL, "article_id": "x", "helpful": True}).encode(),
        "",
    ),
    "article-markup": (
        json.dumps({"session_id": SESSION, "article_id": MARKUP, "helpful": True}).encode(),
        "",
    ),
    "article-control": (
        json.dumps({"session_id": SESSION, "article_id": CONTROL, "helpful": True}).encode(),
        "",
    ),
    "article-list": (json.dumps({"session_id": SESSION, "article_id": ["a"], "helpful": True}).encode(), ""),
    "helpful-string": (
        json.dumps({"session_id": SESSION, "article_id": "card", "helpful": "yes"}).encode(),
        "",
    ),
    "helpful-number": (json.dumps({"session_id": SESSION, "article_id": "card", "helpful": 1}).encode(), ""),
    "helpful-missing": (json.dumps({"session_id": SESSION, "article_id": "card"}).encode(), ""),
    "form": (
        b"session_id=" + SESSION.encode() + b"&article_id=card&helpful=true",
        "application/x-www-form-urlencoded",
    ),
    "multipart-broken": (
        b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n',
        "multipart/form-data; boundary=x",
    ),
    "duplicate-keys": (b'{"session_id": "' + SESSION.encode() + b'", "session_id": 5}', "application/json"),
}


async def test_feedback_refuses_hostile_bodies_cleanly(web, security_app):
    wrong = {}
    for name, (body, content_type) in FEEDBACK_BODIES.items():
        headers = {"Content-Type": content_type} if content_type else {}
        problem = refusal_problem(await web.post("/chat/feedback", content=body, headers=headers))
        if problem:
            wrong[name] = problem
    assert wrong == {}
    assert security_app.ctx.insights.events_of(SESSION) == []  # nothing recorded


def test_bodies_over_the_size_limit_are_413_over_real_http(security_app):
    """Through Sanic's own HTTP server (what `assistant web` runs): REQUEST_MAX_SIZE holds."""
    big = b'{"session_id": "' + b"a" * 1_100_000 + b'"}'
    _, resp = security_app.test_client.post(
        "/chat/feedback", content=big, headers={"Content-Type": "application/json"}
    )
    assert resp.status == 413
    assert refusal_problem(resp) is None, resp.text


@pytest.fixture
async def login_form(web, security_app):
    page = await web.get("/console/login")
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return {"csrf": token, "cookie": f"assistant_login_csrf={token}"}


def login_cases(csrf: str) -> dict[str, tuple[bytes, str]]:
    def form(**fields: str) -> bytes:
        from urllib.parse import urlencode

        return urlencode({"csrf": csrf, "username": "sam", "password": "wrong", **fields}).encode()

    return {
        "markup-username": (form(username=MARKUP), "application/x-www-form-urlencoded"),
        "control-username": (form(username=CONTROL), "application/x-www-form-urlencoded"),
        "nul-password": (form(password="\x00" * 64), "application/x-www-form-urlencoded"),
        "long-username": (form(username="a" * 100_000), "application/x-www-form-urlencoded"),
        "long-password": (form(password="p" * 900_000), "application/x-www-form-urlencoded"),
        "sql-username": (form(username="sam' OR '1'='1"), "application/x-www-form-urlencoded"),
        "no-csrf": (b"username=sam&password=x", "application/x-www-form-urlencoded"),
        "markup-csrf": (form(csrf=MARKUP), "application/x-www-form-urlencoded"),
        "json": (json.dumps({"csrf": csrf, "username": "sam", "password": "x"}).encode(), "application/json"),
        "json-malformed": (b"{bad", "application/json"),
        "json-nested": (deep(10_000), "application/json"),
        "invalid-utf8": (
            b"csrf=" + csrf.encode() + b"&username=\xff\xfe&password=\xc3",
            "application/x-www-form-urlencoded",
        ),
        "percent-garbage": (b"csrf=%zz&username=%&password=%%%", "application/x-www-form-urlencoded"),
        "multipart-broken": (
            b'--x\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n',
            "multipart/form-data; boundary=x",
        ),
        "multipart-no-boundary": (b"whatever", "multipart/form-data"),
        "empty": (b"", "application/x-www-form-urlencoded"),
        "garbage": (b"\x00\x01\x02" * 1000, "application/octet-stream"),
    }


async def test_sign_in_refuses_hostile_forms_cleanly(web, login_form):
    wrong = {}
    for name, (body, content_type) in login_cases(login_form["csrf"]).items():
        headers = {"Content-Type": content_type, "Cookie": login_form["cookie"]}
        resp = await web.post("/console/login", content=body, headers=headers)
        # A browser form: its refusals are the sign-in page again with a plain reason, not JSON.
        problem = refusal_problem(resp, json_body=False)
        if problem is None and resp.status not in (400, 401, 403, 413):
            problem = f"status {resp.status}"
        if problem is None and COOKIE + "=" in resp.headers.get("set-cookie", ""):
            problem = "signed in"
        html = resp.headers.get("content-type", "").startswith("text/html")
        if (
            problem is None
            and html
            and not ("Wrong user name or password" in resp.text or "expired" in resp.text)
        ):
            problem = f"no plain reason: {resp.text[:200]}"
        if problem:
            wrong[name] = problem
    assert wrong == {}


async def test_markup_in_the_sign_in_form_is_never_echoed(web, security_app, login_form):
    body = login_cases(login_form["csrf"])["markup-username"][0]
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": login_form["cookie"]}
    resp = await web.post("/console/login", content=body, headers=headers)
    assert resp.status == 401 and "<script>" not in resp.text and "onerror" not in resp.text


# ---------------------------------------------------------------- hostile input, staff API


async def test_the_staff_api_refuses_malformed_bodies_with_json_errors(web, security_app, handoff_store):
    fresh, auth = (
        Fresh(handoff_store, once=True, insights=security_app.ctx.insights),
        {"Authorization": f"Bearer {API_TOKEN}"},
    )
    bodies = [b"{bad", deep(10_000), deep_object(10_000), b"\xff\xfe", b'{"text": ' + deep(10_000) + b"}"]
    for route, method in routes(security_app):
        if method not in STATE_CHANGING or not OPERATIONS[route.key].body:
            continue
        for body in bodies:
            resp = await web.post(
                fresh.path(route), content=body, headers={**auth, "Content-Type": "application/json"}
            )
            assert refusal_problem(resp) is None and resp.status == 400, (route.path, resp.status, resp.text)


async def test_unknown_api_paths_and_methods_are_json_errors(web, security_app):
    missing = await web.get("/api/" + quote(MARKUP, safe=""))
    assert refusal_problem(missing) is None and missing.status == 404
    method = await web.put("/api/queue", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert refusal_problem(method) is None and method.status == 405


async def test_ids_beyond_64_bits_are_404_not_500(web, security_app):
    auth, wrong = {"Authorization": f"Bearer {API_TOKEN}"}, []
    for route, method in routes(security_app):
        ints = [name for name, label in route.params if label == "int"]
        if not ints:
            continue
        for big in (2**63, 10**30, -(2**63) - 1):
            path = route.path.format(**{name: big if name in ints else "conv-x" for name, _ in route.params})
            resp = await call(web, method, path, route.key, auth)
            problem = json_error_problem(resp, 404)
            if problem:
                wrong.append((method, path, problem[:60]))
    assert wrong == []
