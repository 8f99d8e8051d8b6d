"""The real stack for end-to-end tests: the gateway (the public port, 18080), and behind it the
web app, Rasa and the action server, on test ports. Browsers use the public port only; the
`rest` channel and Rasa's HTTP API are reached on Rasa's internal address.

Needs the trained model (models/) and the built index (kb_index/): `make test` prepares both.
Each run gets its own databases in a temporary folder.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from assistant import production
from assistant.stack import Stack
from tests.conftest import ROOT

RASA_PORT, ACTION_PORT, WEB_PORT, PUBLIC_PORT = 15005, 15055, 18081, 18080
EMBED_ORIGIN = "http://shop.example"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "test-output"


@pytest.fixture(scope="module")  # not longer: Playwright's loop would outlive the module
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run `make browser` (make test does)")
    from playwright.sync_api import sync_playwright  # deferred: only the browser tests need it

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield browser
        browser.close()


# The production profile's services for the tests: the machine's own, with throw-away databases,
# queue and exchange per run, and a Redis database of their own.
PG_SERVER = os.environ.get("ASSISTANT_TEST_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
PRODUCTION_REDIS_URL = os.environ.get("ASSISTANT_TEST_PRODUCTION_REDIS_URL", "redis://127.0.0.1:6379/8")
RABBITMQ_URL = os.environ.get("ASSISTANT_TEST_RABBITMQ_URL", "amqp://guest@127.0.0.1:5672/")
ACTIONS_PORT = 15054  # the gateway's internal listener in front of the action servers


def production_settings(run: str) -> dict[str, Any]:
    made = production.throwaway(
        run, server=PG_SERVER, redis_url=PRODUCTION_REDIS_URL, rabbitmq_url=RABBITMQ_URL
    )
    return {**made, "actions_port": ACTIONS_PORT}


@pytest.fixture(scope="session")
def profile(pytestconfig) -> str:
    return str(pytestconfig.getoption("--profile"))


@pytest.fixture(scope="session")
def stack(tmp_path_factory, profile):
    if not list((ROOT / "models").glob("*.tar.gz")):
        pytest.fail("no trained model in models/: run `make train` (make test does)")
    if not (ROOT / "kb_index" / "CURRENT").is_file():
        pytest.fail("no knowledge-base index: run `make index` (make test does)")
    var = tmp_path_factory.mktemp("stack")
    # the articles and their index as copies: editors' changes made by the tests (an accepted
    # suggestion) never touch the project's own files
    content = tmp_path_factory.mktemp("content")  # not in var/: content, not secrets
    shutil.copytree(ROOT / "data" / "kb", content / "kb")
    shutil.copytree(ROOT / "kb_index", content / "kb_index", symlinks=True)
    extra = production_settings(secrets.token_hex(4)) if profile == "production" else {}
    running = Stack(
        kb_source=content / "kb",
        kb_index=content / "kb_index",
        traffic="test",  # the tests' conversations are test traffic, as a benchmark's are
        rasa_port=RASA_PORT,
        action_port=ACTION_PORT,
        web_port=WEB_PORT,
        public_port=PUBLIC_PORT,
        embed_origins=EMBED_ORIGIN,  # a partner site allowed to embed the widget
        rasa_token=secrets.token_urlsafe(16),
        api_token=secrets.token_urlsafe(16),
        var_dir=var,
        **extra,
    )
    try:
        running.start(timeout=900, quiet=True)
        stopping = threading.Event()
        running.supervise(stopping)  # as `make run` does: a process that dies is started again
        yield running
        stopping.set()
        running.stop()
    finally:
        if profile == "production":
            production.discard(extra)


class Http:
    """Minimal JSON over HTTP with the standard library."""

    @staticmethod
    def call(
        method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw) if raw else None
            except ValueError:  # an error page from the server itself (e.g. 413), not our JSON
                return err.code, raw.decode(errors="replace")


@pytest.fixture(scope="session")
def http() -> Http:
    return Http()


@pytest.fixture
def say(stack, http):
    """Send one message over the `rest` channel; returns the bot's messages."""

    def _say(
        sender: str, text: str, metadata: dict[str, Any] | None = None, *, port: int | None = None
    ) -> list[dict[str, Any]]:
        """``port``: one Rasa instance of several (the first by default)."""
        body: dict[str, Any] = {"sender": sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        address = f"http://127.0.0.1:{port or stack.rasa_port}"
        status, body = http.call("POST", f"{address}/webhooks/rest/webhook", body)
        assert status == 200, body
        return body

    return _say


def kb_of(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return next(m["custom"]["data"]["kb"] for m in messages if "kb" in m.get("custom", {}).get("data", {}))


def handoffs_db(stack: Stack) -> Path:
    assert stack.var_dir is not None
    return stack.var_dir / "assistant.db"


_engines: dict[str, Any] = {}


def query(stack: Stack, sql: str, params: dict[str, Any] | None = None, *, db: str = "app") -> list[tuple]:
    """Rows of ``sql`` (named parameters, ``:name``) on the stack's own database, whichever
    profile: ``app`` (handoffs, staff, analytics) or ``bank`` (the demo back office). JSON columns
    come back as their text on both (PostgreSQL's driver would decode them)."""
    from sqlalchemy import create_engine, text

    url = stack.database_url if db == "app" else stack.bank_url
    engine = _engines.get(url) or _engines.setdefault(url, create_engine(url, pool_pre_ping=True))
    with engine.connect() as connection:
        rows = connection.execute(text(sql), params or {})
        return [tuple(json.dumps(v) if isinstance(v, dict | list) else v for v in row) for row in rows]


@pytest.fixture
def tracker(stack, http):
    """The conversation's tracker from Rasa's token-protected HTTP API."""

    def _tracker(sender: str, port: int | None = None) -> dict[str, Any]:
        address = f"http://127.0.0.1:{port or stack.rasa_port}"
        status, body = http.call("GET", f"{address}/conversations/{sender}/tracker?token={stack.rasa_token}")
        assert status == 200, body
        return body

    return _tracker


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def custom(messages: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return next(m["custom"]["data"][key] for m in messages if key in m.get("custom", {}).get("data", {}))


@pytest.fixture(scope="session")
def staff_store(stack):
    from assistant.staff.store import StaffStore

    store = StaffStore(stack.database_url)
    yield store
    store.dispose()


@pytest.fixture(autouse=True)
def agent_online(request):
    """An agent has the console open (so a handoff queues rather than offering a message).
    Tests of the no-agent path sign everyone out first."""
    if "stack" not in request.fixturenames:
        yield None
        return
    store = request.getfixturevalue("staff_store")
    session = store.start_session(store.user("agent"))
    yield session
    store.end_session(session.token)


def agent_reply(stack: Stack, http: Http, conversation_id: str, text: str, agent: str) -> dict[str, Any]:
    """A person answers the conversation's handoff through the staff API (token auth)."""
    auth = {"Authorization": f"Bearer {stack.api_token}"}
    api = f"http://127.0.0.1:{stack.public_port}/api/handoffs"
    _, listing = http.call("GET", f"{api}?conversation_id={conversation_id}", headers=auth)
    [handoff] = listing["handoffs"]
    status, body = http.call("POST", f"{api}/{handoff['id']}/messages", {"text": text, "agent": agent}, auth)
    assert status == 200, body
    return handoff
