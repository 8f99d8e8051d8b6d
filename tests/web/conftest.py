"""The whole web app for the security and fuzz tests: real SQLite stores (handoffs, staff,
analytics), one user of each role, the recording Rasa of test_console, a stand-in knowledge base
and account facts, so that every API route can answer 200. Per-address limits are lifted: these
tests send many requests from one address on purpose."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sanic_testing.testing import TestingResponse

from assistant.insights.store import InsightsStore
from assistant.kb.ranking import ArticleHit
from assistant.kb.search import DecisionSettings
from assistant.settings import Settings
from assistant.staff.store import ROLES, StaffStore
from tests.web.test_console import PASSWORD, TrackerRasa, new_handoff

API_TOKEN = "security-api-token"
USERS = {"agent": "sam", "lead": "lee", "editor": "eddie"}  # one user per role
assert set(USERS) == set(ROLES), "a new role needs a user here"


class StandInKnowledgeBase:
    """What kb_search uses of a LiveKnowledgeBase: get() -> .search(query, k) and .index; and
    what the workbench uses of a KnowledgeBase: .settings, .read, .rank and .decide."""

    index = SimpleNamespace(
        articles={
            "card_arrival": SimpleNamespace(
                category="Cards", body="# Card arrival\nCards arrive in 3-5 days."
            )
        },
        build_id="stand-in",
    )
    settings = DecisionSettings()
    hit = ArticleHit("card_arrival", "My card hasn't arrived", 0.9, "Cards arrive in 3-5 days.", "lead")

    def get(self) -> StandInKnowledgeBase:
        return self

    def search(self, query: str, k: int) -> Any:
        hit = SimpleNamespace(id="card_arrival", title="My card hasn't arrived", score=0.9, passage="...")
        return SimpleNamespace(decision="answer", articles=[hit])

    def read(self, question: str) -> str:
        return question

    def rank(self, question: str, limit: int = 5) -> list[ArticleHit]:
        return [self.hit]

    def decide(self, hits: list[ArticleHit], settings: DecisionSettings | None = None) -> Any:
        return (settings or self.settings).choose(0.9, 0.95), 0.9, 0.95


class StandInAccount:
    def summary(self, customer_id: str) -> dict[str, Any]:
        return {"customer_id": customer_id, "balance": "£18.40"}


@pytest.fixture(scope="session")
def staff_template(tmp_path_factory) -> Path:
    """The staff database with its users, made once: each password costs an scrypt."""
    path = tmp_path_factory.mktemp("staff") / "staff.db"
    store = StaffStore(f"sqlite:///{path}")
    for role, username in USERS.items():
        store.add_user(username, PASSWORD, role=role, name=username.title())
    store.dispose()
    return path


@pytest.fixture
def security_staff(staff_template, tmp_path):
    path = tmp_path / "staff.db"
    shutil.copyfile(staff_template, path)
    store = StaffStore(f"sqlite:///{path}")
    yield store
    store.dispose()


@pytest.fixture
def security_app(handoff_store, security_staff, tmp_path, request):
    from assistant.insights.mining import Miner
    from assistant.web.app import RouteLimits, create_app
    from tests.conftest import CARD_ARRIVAL, EXCHANGE, LOST_CARD, write_articles

    insights = InsightsStore(f"sqlite:///{tmp_path / 'analytics.db'}")
    articles = write_articles(
        tmp_path / "kb",
        {"cards/card_arrival.md": CARD_ARRIVAL, "cards/lost_or_stolen_card.md": LOST_CARD,
         "exchange/exchange_rate.md": EXCHANGE},
    )  # fmt: skip
    app = create_app(
        Settings(api_token=API_TOKEN, kb_tests_path=tmp_path / "kb_tests.yml"),
        handoff_store,
        TrackerRasa(),
        staff=security_staff,
        kb=StandInKnowledgeBase(),
        insights=insights,
        miner=Miner(insights, StandInKnowledgeBase(), articles),
        account=StandInAccount(),
        name=re.sub(r"[^A-Za-z0-9_]", "_", f"sec_{request.node.name}")[:60],
    )
    app.ctx.route_limits = RouteLimits(chat_per_minute=10**6, sign_in_per_minute=10**6)
    return app


def seed(handoff_store: Any) -> dict[str, int]:
    """A queued handoff of a signed-in customer, one claimed by the agent, and an open ticket."""
    queued = new_handoff(handoff_store, "conv-queued", customer_id="cust-ben")
    claimed = new_handoff(handoff_store, "conv-claimed")
    handoff_store.claim(claimed.id, USERS["agent"], "Sam")
    ticket = handoff_store.create_ticket("conv-ticket", contact="+44 7700 900123", message="Call me")
    return {"handoff_id": queued.id, "claimed_id": claimed.id, "ticket_id": ticket.id}


class FastClient:
    """Requests straight to the app's ASGI callable. sanic_testing's ``asgi_client`` starts the
    app up again for every request (some 60 ms each); this starts it once, with the first."""

    def __init__(self, app: Any):
        self.app, self.client = app, None

    async def request(self, method: str, url: str, **kwargs: Any) -> TestingResponse:
        if self.client is None:
            await self.app.asgi_client.get("/api/health")  # start-up, and the routes finalized
            transport = httpx.ASGITransport(app=self.app, client=("127.0.0.1", 40000))
            self.client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        resp = await self.client.request(method, url, **kwargs)
        resp.__class__ = TestingResponse  # .status and .json as properties, like asgi_client's
        return resp  # type: ignore[return-value]

    async def get(self, url: str, **kwargs: Any) -> TestingResponse:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> TestingResponse:
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> TestingResponse:
        return await self.request("PUT", url, **kwargs)


@pytest.fixture
def web(security_app) -> FastClient:
    return FastClient(security_app)
