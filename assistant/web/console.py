"""The agent console's pages: sign-in, the queue, a conversation, and the review pages.

Pages are one HTML shell each (templates/console*.html); ``static/console.js`` fills them from
the JSON API, writing every piece of customer or agent text as text, never as HTML.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import secrets
from typing import Any

from sanic import Blueprint, Request, response

from assistant.staff.store import StaffStore
from assistant.web.auth import COOKIE, Principal, principal, require

console = Blueprint("console", url_prefix="/console")

LOGIN_COOKIE = "assistant_login_csrf"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store"}


def _secure(request: Request) -> bool:
    return request.scheme == "https"


def _login_page(request: Request, error: str = "", status: int = 200) -> response.HTTPResponse:
    token = secrets.token_urlsafe(24)
    page = request.app.ctx.console_login_template.replace("{{CSRF}}", token).replace(
        "{{ERROR}}", html.escape(error)
    )
    resp = response.html(page, status=status, headers=HEADERS)
    resp.add_cookie(
        LOGIN_COOKIE, token, path="/console/login", httponly=True, samesite="Strict",
        secure=_secure(request), max_age=3600,
    )  # fmt: skip
    return resp


@console.get("/login")
async def login_form(request: Request) -> response.HTTPResponse:
    if await principal(request, seen=False) is not None:
        return response.redirect("/console")
    return _login_page(request)


@console.post("/login")
async def login(request: Request) -> response.HTTPResponse:
    form: Any = request.form or {}
    sent, expected = form.get("csrf") or "", request.cookies.get(LOGIN_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        return _login_page(request, "The sign-in form expired. Please try again.", 403)
    staff: StaffStore | None = request.app.ctx.staff
    username, password = (form.get("username") or "")[:64], (form.get("password") or "")[:256]
    # scrypt (16 MiB, ~40 ms a try) in a worker thread: a flood of wrong passwords must not stall
    # every other page and API call on the event loop.
    user = await asyncio.to_thread(staff.authenticate, username, password) if staff is not None else None
    if user is None:
        return _login_page(
            request, "Wrong user name or password (or the account is locked for a few minutes).", 401
        )
    session = await asyncio.to_thread(staff.start_session, user)  # type: ignore[union-attr]
    resp = response.redirect(_landing(user.permissions))
    resp.add_cookie(
        COOKIE, session.token, path="/", httponly=True, samesite="Strict", secure=_secure(request),
        max_age=12 * 3600,
    )  # fmt: skip
    resp.delete_cookie(LOGIN_COOKIE, path="/console/login")
    return resp


@console.post("/logout")
@require(page=True)
async def logout(request: Request) -> response.HTTPResponse:
    staff: StaffStore = request.app.ctx.staff
    who: Principal = request.ctx.principal
    await asyncio.to_thread(staff.end_session, request.cookies.get(COOKIE) or "")
    if who.user_id is not None:
        await asyncio.to_thread(staff.mark_away, who.user_id)
    resp = response.redirect("/console/login")
    resp.delete_cookie(COOKIE, path="/")
    return resp


def _landing(permissions: frozenset[str]) -> str:
    """Where a member of staff starts: agents and leads the queue, editors the suggestions inbox."""
    if "handle" in permissions:
        return "/console"
    return "/console/insights/suggestions" if "curate" in permissions else "/console/review"


def _shell(request: Request, page: str, handoff_id: int | None = None) -> response.HTTPResponse:
    who: Principal = request.ctx.principal
    values = {
        "{{PAGE}}": page,
        "{{CSRF}}": who.csrf,
        "{{USER}}": who.username,
        "{{NAME}}": who.name,
        "{{ROLE}}": who.role,
        "{{HANDOFF_ID}}": str(handoff_id or ""),
    }
    text = request.app.ctx.console_template
    for key, value in values.items():
        text = text.replace(key, html.escape(value, quote=True))
    return response.html(text, headers=HEADERS)


@console.get("/")
@require("handle", "review", page=True)
async def queue_page(request: Request) -> response.HTTPResponse:
    if "handle" not in request.ctx.principal.permissions:
        return response.redirect(_landing(request.ctx.principal.permissions))
    return _shell(request, "queue")


@console.get("/handoffs/<handoff_id:int>")
@require("handle", page=True)
async def handoff_page(request: Request, handoff_id: int) -> response.HTTPResponse:
    return _shell(request, "handoff", handoff_id)


@console.get("/review")
@require("review", page=True)
async def review_page(request: Request) -> response.HTTPResponse:
    return _shell(request, "review")


@console.get("/review/<handoff_id:int>")
@require("review", page=True)
async def review_item_page(request: Request, handoff_id: int) -> response.HTTPResponse:
    return _shell(request, "review_item", handoff_id)


# ---------------------------------------------------------------- insights (static/insights.js)
# The dashboard, its drill-through list and one conversation's timeline, and the editors'
# suggestions inbox; the data comes from /api/insights (assistant/web/insights.py).


@console.get("/insights")
@require("insights", page=True)
async def insights_page(request: Request) -> response.HTTPResponse:
    return _shell(request, "insights")


@console.get("/insights/conversations")
@require("insights", page=True)
async def insights_conversations_page(request: Request) -> response.HTTPResponse:
    return _shell(request, "insights_conversations")


@console.get("/insights/conversations/<conversation_id:str>")
@require("insights", page=True)
async def insights_conversation_page(request: Request, conversation_id: str) -> response.HTTPResponse:
    return _shell(request, "insights_conversation")  # insights.js reads the id from the path


@console.get("/insights/suggestions")
@require("insights", page=True)
async def insights_suggestions_page(request: Request) -> response.HTTPResponse:
    return _shell(request, "insights_suggestions")


@console.get("/workbench")
@require("kb", page=True)
async def workbench_page(request: Request) -> response.HTTPResponse:
    """The editors' workbench (static/workbench.js): the playground and the regression tests."""
    return _shell(request, "workbench")
