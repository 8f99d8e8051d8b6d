"""Cross-origin access for the widget's routes only: sites in the embedding allowlist
(``ASSISTANT_EMBED_ORIGINS``) may call the chat routes from the browser; no other origin, and no
other route (the console and the staff API are same-origin only)."""

from __future__ import annotations

from sanic import Request, response

from assistant.chat_session import HEADER
from assistant.settings import Settings

WIDGET_PREFIXES = ("/chat/",)
ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = f"Content-Type, {HEADER}"


def allowed_origin(settings: Settings, request: Request) -> str | None:
    """The request's Origin when it may call this route cross-origin, else None."""
    origin = request.headers.get("origin", "").rstrip("/")
    if not origin or not request.path.startswith(WIDGET_PREFIXES):
        return None
    return origin if origin in settings.embed_origins else None


def preflight(settings: Settings, request: Request) -> response.HTTPResponse | None:
    """The answer to a CORS preflight on a widget route: 204 with the grant, or 403."""
    if request.method != "OPTIONS" or not request.path.startswith(WIDGET_PREFIXES):
        return None
    origin = allowed_origin(settings, request)
    if origin is None:
        return response.json({"error": "this site may not embed the assistant"}, status=403)
    return response.empty(
        status=204,
        headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        },
    )


def grant(settings: Settings, request: Request, resp: response.HTTPResponse) -> None:
    origin = allowed_origin(settings, request)
    if origin is not None:
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Vary"] = "Origin"
