"""Who is calling: a staff member's console session (cookie + CSRF token) or the API token.

Every console page and every staff API call goes through :func:`require`, which checks the
caller holds one of the listed permissions (see ``assistant.staff.store.PERMISSIONS``).
Session cookies are HttpOnly and SameSite=Strict; on top of that every state-changing call
made with a cookie must echo the session's CSRF token in ``X-CSRF-Token`` (or a form field).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from http import HTTPStatus
from typing import Any

from sanic import Request, response
from sanic.exceptions import SanicException

from assistant.staff.store import PERMISSIONS, StaffStore

COOKIE = "assistant_staff"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
JSON_PREFIXES = ("/api/", "/chat/")  # answered in JSON, errors too
REQUIRED = "required_permissions"  # set by require() on the handlers it wraps
ALL_PERMISSIONS = frozenset().union(*PERMISSIONS.values())

Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Principal:
    username: str
    name: str
    role: str
    permissions: frozenset[str]
    csrf: str = ""
    user_id: int | None = None

    @property
    def is_service(self) -> bool:
        return self.user_id is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "name": self.name,
            "role": self.role,
            "permissions": sorted(self.permissions),
        }


SERVICE = Principal("api", "API", "service", ALL_PERMISSIONS)


def error(status: int, message: str) -> response.HTTPResponse:
    return response.json({"error": message}, status=status)


def _bearer(request: Request) -> str | None:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" else None


async def principal(request: Request, *, seen: bool = True) -> Principal | None:
    """The caller, if authenticated: the API token first, then the session cookie.

    The session is read (and its last use written) in a worker thread, off the event loop."""
    given = _bearer(request)
    if given is not None:
        expected = request.app.ctx.settings.api_token
        if expected and hmac.compare_digest(given.encode(), expected.encode()):
            return SERVICE
        return None
    staff: StaffStore | None = request.app.ctx.staff
    token = request.cookies.get(COOKIE, "")
    if staff is None or not token:
        return None
    live = await asyncio.to_thread(staff.session, token, seen=seen)
    if live is None:
        return None
    user = live.user
    return Principal(user.username, user.name, user.role, user.permissions, live.csrf, user.id)


def csrf_ok(request: Request, who: Principal) -> bool:
    if who.is_service or request.method in SAFE_METHODS:
        return True
    given = request.headers.get("x-csrf-token") or (request.form.get("csrf") if request.form else None) or ""
    return bool(given) and hmac.compare_digest(given.encode(), who.csrf.encode())


def require(*permissions: str, page: bool = False) -> Callable[[Handler], Handler]:
    """Allow callers holding any of ``permissions`` (none listed: any signed-in caller).

    API calls get JSON 401/403; console pages (``page=True``) redirect to the sign-in page."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
            who = await principal(request)
            if who is None:
                if page:
                    return response.redirect("/console/login")
                if _bearer(request) is not None and not request.app.ctx.settings.api_token:
                    return error(503, "the staff API token is not set: set ASSISTANT_API_TOKEN")
                return error(401, "sign in to the console, or send Authorization: Bearer <API token>")
            if permissions and not who.permissions & set(permissions):
                if page:
                    return response.html(
                        "<!doctype html><title>Not allowed</title>"
                        '<p>Your role cannot open this page. <a href="/console">Back</a></p>',
                        status=403,
                    )
                return error(403, f"your role ({who.role}) cannot do this")
            if not csrf_ok(request, who):
                return error(403, "missing or wrong CSRF token: reload the page")
            request.ctx.principal = who
            return await handler(request, *args, **kwargs)

        wrapper.__dict__[REQUIRED] = frozenset(permissions)
        return wrapper

    return decorate


def required_permissions(handler: Any) -> frozenset[str] | None:
    """What :func:`require` asks of a handler's callers: any of these permissions (empty: any
    signed-in caller), or None for a handler open to anyone."""
    found = getattr(handler, "__dict__", {}).get(REQUIRED)
    return frozenset(found) if found is not None else None


async def json_errors(request: Request, exc: SanicException) -> response.HTTPResponse:
    """Sanic's own refusals (a body that is not JSON, a wrong method, a payload too large) on
    the JSON routes, ``/api/`` and ``/chat/``, answered like every other refusal there:
    ``{"error": "..."}`` with the status, never a page or a traceback. Other paths keep Sanic's
    default rendering."""
    if not request.path.startswith(JSON_PREFIXES):
        return request.app.error_handler.default(request, exc)
    status = int(getattr(exc, "status_code", 500) or 500)
    message = str(exc) if status < 500 and str(exc) else HTTPStatus(status).phrase
    resp = error(status, message)
    for key, value in (getattr(exc, "headers", None) or {}).items():
        resp.headers[key] = value
    return resp
