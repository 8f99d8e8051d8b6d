"""The web app: the chat page and widget for customers, the agent console and the staff API.

``create_app`` takes everything it needs as arguments (settings, stores, Rasa client, the
knowledge base), so tests build it with real SQLite stores and the launcher with the configured
ones. A background task tells customers who have waited too long in the queue.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import logging
import time
from pathlib import Path
from typing import Any

from sanic import Blueprint, Request, Sanic, response
from sanic.exceptions import NotFound, SanicException

from assistant.content import HandoffSettings
from assistant.handoff.service import HandoffService
from assistant.handoff.store import HandoffStore
from assistant.rasa_client import RasaClient
from assistant.settings import Settings
from assistant.staff.store import StaffStore
from assistant.web import cors
from assistant.web.api import api
from assistant.web.auth import error, json_errors
from assistant.web.console import console
from assistant.web.insights import insights as insights_api
from assistant.web.link import link
from assistant.web.openapi import openapi
from assistant.web.widget import demo_identity, widget
from assistant.web.workbench import workbench

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATE_DIR = Path(__file__).parent / "templates"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
}


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


# --------------------------------------------------------------------------- factory


def client_address(request: Request) -> str:
    """The customer's address: the trusted proxy's X-Forwarded-For, else the peer."""
    return str(request.remote_addr or request.ip or "")


class RouteLimits:
    """Requests per minute per client address: the chat routes customers' pages call
    (history, queue, feedback), and the console's sign-in (password guessing)."""

    def __init__(self, chat_per_minute: int = 120, sign_in_per_minute: int = 10):
        from assistant.limits import Window

        self.chat = Window(chat_per_minute, 60.0, 50_000, time.monotonic)
        self.sign_in = Window(sign_in_per_minute, 60.0, 50_000, time.monotonic)

    def refused(self, path: str, method: str, address: str) -> str | None:
        if (path.startswith("/chat/") or path == "/link") and not self.chat.allow(address):
            return "chat"
        if path == "/console/login" and method == "POST" and not self.sign_in.allow(address):
            return "sign-in"
        return None


async def tell_long_waits(handoffs: HandoffStore, rasa: RasaClient, minutes: int) -> int:
    """Tell each customer queued for more than ``minutes`` (once) and offer to leave a message:
    the handoff service does it, as it does everything else in a handoff's life."""
    return await HandoffService(handoffs, HandoffSettings(), rasa).tell_long_waits(minutes=minutes)


async def _watch_waits(app: Sanic, every: float) -> None:
    service = HandoffService(app.ctx.handoffs, app.ctx.handoff_settings, app.ctx.rasa)
    while True:
        await asyncio.sleep(every)
        try:
            await service.tell_long_waits()
        except Exception:  # keep watching whatever one round hit
            logger.exception("long-wait check failed")


def create_app(
    settings: Settings,
    handoffs: HandoffStore,
    rasa: RasaClient,
    *,
    staff: StaffStore | None = None,
    kb: Any = None,
    insights: Any = None,
    miner: Any = None,
    account: Any = None,
    handoff: HandoffSettings | None = None,
    watch_waits: bool = False,
    name: str = "assistant_web",
) -> Sanic:
    """``kb`` is a LiveKnowledgeBase for the console's article search; ``handoff`` holds the
    queue settings (estimated wait, long-wait notice); ``account`` (AccountFacts) gives agents the
    customer's account facts, read-only; ``watch_waits`` starts the task that tells
    customers queued longer than ``handoff.long_wait_minutes``."""
    app = Sanic(name, configure_logging=False)
    app.config.REQUEST_MAX_SIZE = 1_000_000
    app.ctx.settings = settings
    app.ctx.handoffs = handoffs
    app.ctx.rasa = rasa
    app.ctx.staff = staff
    app.ctx.kb = kb
    app.ctx.insights = insights  # InsightsStore: the dashboard's figures, feedback
    app.ctx.miner = miner  # insights.mining.Miner: suggestions from failed questions
    app.ctx.account = account
    app.ctx.handoff_settings = handoff = handoff or HandoffSettings()
    app.ctx.chat_template = (TEMPLATE_DIR / "chat.html").read_text(encoding="utf-8")
    app.ctx.demo_template = (TEMPLATE_DIR / "demo.html").read_text(encoding="utf-8")
    app.ctx.console_template = (TEMPLATE_DIR / "console.html").read_text(encoding="utf-8")
    app.ctx.console_login_template = (TEMPLATE_DIR / "console_login.html").read_text(encoding="utf-8")
    app.blueprint(chat)
    app.blueprint(api)
    app.blueprint(console)
    app.blueprint(insights_api)
    app.blueprint(widget)
    app.blueprint(link)  # GET /link: a messaging app linked to the account (assistant/web/link.py)
    app.blueprint(workbench)  # /api/kb/playground and /api/kb/tests: the editors' workbench
    app.blueprint(openapi)  # GET /api/openapi.json, from the route table
    if watch_waits and handoff.long_wait_minutes > 0:

        @app.after_server_start
        async def start_wait_watch(app: Sanic) -> None:
            app.add_task(_watch_waits(app, every=30.0), name="long_waits")

    app.static("/static", str(STATIC_DIR), name="static")
    app.ctx.route_limits = RouteLimits()
    # Behind the gateway the peer is the gateway: the customer's address is in X-Forwarded-For,
    # which the gateway sets itself (never passed on from the client).
    app.config.PROXIES_COUNT = settings.trusted_proxies

    @app.on_request
    async def rate_limit(request: Request) -> response.HTTPResponse | None:
        """Per client address: the customers' chat routes and the console's sign-in; answered
        with 429 and a plain reason, and logged without the address in clear."""
        address = client_address(request)
        kind = app.ctx.route_limits.refused(request.path, request.method, address)
        if kind is None:
            return cors.preflight(settings, request)
        logger.warning("rate limit on %s from %s", kind, hashlib.sha256(address.encode()).hexdigest()[:12])
        return error(429, "Too many requests from here: please wait a minute and try again.")

    @app.on_response
    async def security_headers(request: Request, resp: response.HTTPResponse) -> None:
        for key, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(key, value)
        cors.grant(settings, request, resp)

    app.exception(SanicException)(json_errors)  # JSON errors on /api/ and /chat/

    @app.exception(NotFound)
    async def not_found(request: Request, exc: Exception) -> response.HTTPResponse:
        if request.path.startswith("/api/"):
            return error(404, "not found")
        return response.text("Not found", status=404)

    return app
