"""The console's insights pages (static/insights.js): who may open them, what the shell loads,
and, in a real Chromium against the web app served over HTTP, the dashboard, the drill-through,
one conversation and the suggestions inbox, filled from an insights store seeded with Rasa
events through its own intake (``ingest``, ``label_pending``) and mined by the real Miner
(MiniLM encoder, a three-article index)."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from assistant.insights import events as ev
from assistant.insights.store import InsightsStore, Range
from assistant.settings import Settings
from assistant.staff.store import StaffStore
from assistant.web.app import create_app
from assistant.web.server import serve_in_thread as serve
from tests.conftest import CARD_ARRIVAL, EXCHANGE, LOST_CARD, ROOT, write_articles
from tests.web.test_console import PASSWORD, Client, TrackerRasa

USERS = {"sam": "agent", "lee": "lead", "eddie": "editor"}
SHOTS = ROOT / "test-output"
PAGES = (
    "/console/insights",
    "/console/insights/conversations?outcome=escalated&reason=customer_asked",
    "/console/insights/conversations/conv-abc",
    "/console/insights/suggestions",
)


@pytest.fixture
def staff(tmp_path) -> Iterator[StaffStore]:
    store = StaffStore(f"sqlite:///{tmp_path / 'staff.db'}")
    for username, role in USERS.items():
        store.add_user(username, PASSWORD, role=role, name=username.title())
    yield store
    store.dispose()


@pytest.fixture
def app(handoff_store, staff, tmp_path, request):
    insights = InsightsStore(f"sqlite:///{tmp_path / 'insights.db'}", handoffs=handoff_store)
    yield create_app(
        Settings(api_token="api-token"),
        handoff_store,
        TrackerRasa(),
        staff=staff,
        insights=insights,
        name=re.sub(r"[^A-Za-z0-9_]", "_", f"insights_{request.node.name}")[:60],
    )
    insights.dispose()


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize(("username", "allowed"), [("sam", False), ("lee", True), ("eddie", True)])
async def test_the_insights_pages_need_the_insights_permission(app, staff, path, username, allowed):
    resp = await Client(app, staff, username).get(path)
    if allowed:
        assert resp.status == 200, resp.text[:200]
        page = re.search(r'data-page="([^"]+)"', resp.text).group(1)
        assert page.startswith("insights")
        assert "script-src 'self'" in resp.headers["content-security-policy"]
        assert "unsafe-inline" not in resp.headers["content-security-policy"]
    else:
        assert resp.status == 403 and "cannot open this page" in resp.text


@pytest.mark.parametrize("path", PAGES)
async def test_the_insights_pages_send_strangers_to_sign_in(app, path):
    _, resp = await app.asgi_client.get(path)
    assert resp.status == 302 and resp.headers["location"] == "/console/login"


async def test_the_shell_loads_the_insights_script_and_the_chart_library_is_served(app, staff):
    shell = await Client(app, staff, "lee").get("/console/insights")
    assert '<script src="/static/insights.js"></script>' in shell.text
    assert '<link rel="stylesheet" href="/static/insights.css">' in shell.text
    assert "chart.umd.min.js" not in shell.text  # loaded by insights.js, on the dashboard only
    for path in ("/static/insights.js", "/static/insights.css", "/static/vendor/chart.umd.min.js"):
        _, resp = await app.asgi_client.get(path)
        assert resp.status == 200, path
    _, chart = await app.asgi_client.get("/static/vendor/chart.umd.min.js")
    assert chart.text.startswith("/*!\n * Chart.js v4.")


async def test_editors_land_on_the_suggestions_and_agents_on_the_queue(app, staff):
    _, page = await app.asgi_client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    landing = {}
    for username in USERS:
        _, resp = await app.asgi_client.post(
            "/console/login",
            data={"csrf": token, "username": username, "password": PASSWORD},
            headers={"Cookie": f"assistant_login_csrf={token}"},
        )
        assert resp.status == 302
        landing[username] = resp.headers["location"]
    assert landing == {"sam": "/console", "lee": "/console", "eddie": "/console/insights/suggestions"}
    resp = await Client(app, staff, "eddie").get("/console")
    assert resp.status == 302 and resp.headers["location"] == "/console/insights/suggestions"


# ---------------------------------------------------------------- in a real browser
# The seeded conversations: Rasa events as the broker publishes them, our actions' enrichments
# included. Every figure asserted below is the store's own answer for the range the page shows,
# or a count of what is seeded here; none is written into the test.

MORTGAGE = ["can I get a mortgage", "can I get a mortgage please", "can I get a mortgage from you"]


def seeded_conversations(now: dt.datetime) -> dict[str, tuple[str, list[tuple[float, dict[str, Any]]]]]:
    """sender -> (channel, [(seconds before now, event)])."""

    def user(text: str, intent: str = "kb_question") -> dict[str, Any]:
        return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent, "confidence": 0.9}}}

    def bot(text: str) -> dict[str, Any]:
        return {"event": "bot", "text": text}

    def shown(article_id: str, question: str) -> dict[str, Any]:
        return ev.enrichment(ev.ARTICLE_SHOWN, article_id=article_id, question=question)

    two_days = 2 * 86400.0
    out: dict[str, tuple[str, list[tuple[float, dict[str, Any]]]]] = {
        "seed-confirmed": ("socketio", [
            (two_days, user("why hasn't my card arrived")),
            (two_days - 1, shown("card_arrival", "why hasn't my card arrived")),
            (two_days - 2, bot("Cards arrive within 3-5 working days.")),
            (two_days - 3, ev.enrichment(ev.FEEDBACK, article_id="card_arrival", helpful=True)),
            (two_days - 4, user("thanks", "thank")),
        ]),
        "seed-assumed": ("socketio", [
            (two_days, user("which exchange rate do you use")),
            (two_days - 1, shown("exchange_rate", "which exchange rate do you use")),
            (two_days - 2, bot("We exchange at the interbank rate.")),
        ]),
        "seed-form": ("rest", [
            (two_days, user("send money to my sister", "make_transfer")),
            (two_days - 1, {"event": "active_loop", "name": "transfer_form"}),
            (two_days - 2, {"event": "slot", "name": "requested_slot", "value": "transfer_amount"}),
            (two_days - 3, bot("How much would you like to send?")),
        ]),
        "seed-person": ("socketio", [
            (600, user("talk to a person", "request_human")),
            (599, bot("I'm putting you through to a person.")),
        ]),
    }  # fmt: skip
    for i, question in enumerate(MORTGAGE):
        out[f"seed-mortgage-{i}"] = ("socketio", [
            (two_days - 60 * i, user(question)),
            (two_days - 60 * i - 1, ev.enrichment(ev.SEARCH_FAILED, question=question)),
            (two_days - 60 * i - 2, bot("Sorry, I don't know about that.")),
        ])  # fmt: skip
    return out


def seed(store: InsightsStore, handoffs: Any, now: dt.datetime) -> dict[str, str]:
    """Ingest the conversations once, as the broker consumer does; a handoff for the one who
    asked for a person; label them. Returns sender -> conversation key."""
    conversations = seeded_conversations(now)
    ids = itertools.count(1)
    batch = []
    for sender, (channel, timeline) in conversations.items():
        opened = (now - dt.timedelta(seconds=timeline[0][0] + 1)).timestamp()
        batch.append((next(ids), {"event": "session_started", "sender_id": sender, "timestamp": opened}))
        for before, event in timeline:
            event = {
                **event,
                "sender_id": sender,
                "timestamp": (now - dt.timedelta(seconds=before)).timestamp(),
            }
            if event["event"] == "user":
                event["input_channel"] = channel
            batch.append((next(ids), event))
    assert store.ingest("rasa", batch, cursor="rasa") == len(batch)
    handoffs.create(
        "seed-person", reason="customer_request", stage="information_gathering",
        transcript=[{"role": "user", "text": "talk to a person"}], slots={},
    )  # fmt: skip
    store.label_pending()
    keys = {
        row["sender_id"]: row["conversation_id"]
        for row in store.conversations(Range.last_days(30), {}, 500)["rows"]
    }
    assert set(keys) == set(conversations), keys
    return keys


@pytest.fixture(scope="module")
def browser():
    from tests.integration.conftest import CHROMIUM

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run `make browser` (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


@pytest.fixture
def site(handoff_store, staff, encoder, tmp_path, unused_tcp_port, request):
    """The web app with a seeded insights store and a miner over a real three-article index."""
    from assistant.insights.mining import Miner
    from assistant.kb.build import build_from_source
    from assistant.kb.live import LiveKnowledgeBase

    source = write_articles(
        tmp_path / "kb",
        {"cards/card_arrival.md": CARD_ARRIVAL, "cards/lost_or_stolen_card.md": LOST_CARD,
         "exchange/exchange_rate.md": EXCHANGE},
    )  # fmt: skip
    build_from_source(source, tmp_path / "index", lambda: encoder)
    kb = LiveKnowledgeBase(tmp_path / "index", encoder)
    store = InsightsStore(f"sqlite:///{tmp_path / 'insights.db'}", handoffs=handoff_store)
    keys = seed(store, handoff_store, dt.datetime.now(dt.UTC))
    miner = Miner(store, kb, source, handoffs=handoff_store)
    miner.mine(force=True)
    app = create_app(
        Settings(api_token="api-token"), handoff_store, TrackerRasa(), staff=staff, kb=kb,
        insights=store, miner=miner, name=re.sub(r"[^A-Za-z0-9_]", "_", f"ins_web_{request.node.name}")[:60],
    )  # fmt: skip
    stop = serve(app, unused_tcp_port)
    yield {"base": f"http://127.0.0.1:{unused_tcp_port}", "store": store, "miner": miner, "keys": keys,
           "source": source}  # fmt: skip
    stop()
    store.dispose()


WATCH = """
window.__problems = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__problems.push("CSP " + e.violatedDirective + " " + e.blockedURI);
});
"""


def signed_in(browser: Any, base: str, username: str) -> tuple[Any, Any, list[str]]:
    ctx = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    ctx.add_init_script(WATCH)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(base + "/console/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("#sign-in").click()
    page.wait_for_url(lambda url: "/console" in url and "/login" not in url)
    return ctx, page, errors


def no_problems(page: Any, errors: list[str]) -> None:
    assert page.evaluate("window.__problems") == []
    assert errors == []


def test_a_lead_reads_the_dashboard_and_drills_through_to_a_conversation(browser, site):
    from playwright.sync_api import expect

    store, keys, base = site["store"], site["keys"], site["base"]
    ctx, page, errors = signed_in(browser, base, "lee")
    page.goto(base + "/console/insights")
    expect(page.locator("#nav-insights")).to_have_attribute("aria-current", "page")

    # the tiles show the store's figures for the range the filter shows
    since, until = page.locator("#range-since").input_value(), page.locator("#range-until").input_value()
    r = Range(dt.date.fromisoformat(since), dt.date.fromisoformat(until))
    expected = store.summary(r)
    assert expected["conversations"] == len(keys)  # every seeded conversation is counted
    expect(page.locator(".tile[data-key='conversations'] .tile-value")).to_have_text(str(len(keys)))
    for key in ("resolved_confirmed", "resolved_assumed", "escalated", "ticket", "abandoned"):
        expect(page.locator(f".tile[data-key='{key}'] .tile-value")).to_have_text(f"{expected[key]:,}")
    rate = math.floor(expected["containment_rate"] * 1000 + 0.5) / 10  # as Math.round
    expect(page.locator(".tile[data-key='containment_rate'] .tile-value")).to_have_text(f"{rate:g}%")

    # the charts are drawn (Chart.js, under the console's CSP), with the store's figures
    for chart in ("chart-time", "chart-reasons", "chart-stages", "chart-funnel"):
        page.wait_for_function(f"() => window.Chart && Chart.getChart('{chart}')")
    funnel = page.evaluate("() => Chart.getChart('chart-funnel').data.datasets[0].data")
    assert funnel == [row["conversations"] for row in store.funnel(r)]
    drawn = page.evaluate(
        """() => { const c = document.getElementById('chart-funnel');
                   const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   let n = 0; for (let i = 3; i < px.length; i += 4) if (px[i]) n++; return [c.width, n]; }"""
    )
    assert drawn[0] > 0 and drawn[1] > 1000, drawn
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "insights-dashboard.png"), full_page=True)

    # the tables: drop-off per form field as stored, every CSV link a CSV download
    forms = store.dropoff(r)["forms"]
    expect(page.locator("#t-forms tbody tr")).to_have_count(len(forms))
    csv_links = page.locator("a.csv")
    assert csv_links.count() >= 11
    for href in csv_links.evaluate_all("links => links.map(a => a.href)"):
        assert f"since={since}" in href and f"until={until}" in href and "format=csv" in href
        resp = ctx.request.get(href)
        assert resp.status == 200 and resp.headers["content-type"].startswith("text/csv"), href
        assert "attachment" in resp.headers["content-disposition"]

    # a chart bar drills through: the funnel's first stage
    box = page.locator("#chart-funnel").bounding_box()
    x, y = page.evaluate(
        "() => { const b = Chart.getChart('chart-funnel').getDatasetMeta(0).data[0];"
        " return [(b.x + b.base) / 2, b.y]; }"
    )
    page.mouse.click(box["x"] + x, box["y"] + y)
    first_stage = store.funnel(r)[0]["stage"]
    page.wait_for_url(re.compile(rf"/console/insights/conversations\?.*stage={first_stage}"))
    staged = store.conversations(r, {"stage": first_stage})
    expect(page.locator("#conversations tbody tr[data-id]")).to_have_count(len(staged["rows"]))

    # a table row drills through: the form field the customer left at, then that conversation
    page.go_back()
    left = next(row for row in forms if row["field"] and row["left"])
    page.locator("#t-forms a.drill", has_text=left["field"].replace("_", " ")).click()
    page.wait_for_url(re.compile(r"/console/insights/conversations\?.*form=transfer_form.*left=true"))
    behind = store.conversations(r, {"form": left["form"], "field": left["field"], "left": "true"})
    assert [row["conversation_id"] for row in behind["rows"]] == [keys["seed-form"]]
    rows = page.locator("#conversations tbody tr[data-id]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-id", keys["seed-form"])
    expect(rows.first).to_contain_text(behind["rows"][0]["where"])
    expect(page.locator("#conversations-csv")).to_have_attribute("href", re.compile(r"format=csv"))
    no_problems(page, errors)

    # a conversation's id is "<sender>#<session>": in a URL path its "#" is %23, which the
    # API must read back as "#"
    api = ctx.request.get(base + "/api/insights/conversations/" + quote(keys["seed-form"], safe=""))
    assert api.status == 200, (
        f"GET /api/insights/conversations/<id> with the id percent-encoded: {api.status}"
    )
    rows.first.locator("a").click()
    page.wait_for_url(re.compile(r"/console/insights/conversations/seed-form%231$"))
    one = store.conversation(keys["seed-form"])
    expect(page.locator("#conversation-outcome")).to_contain_text(one["outcome"].replace("_", " "))
    expect(page.locator("#timeline .turn-user")).to_have_text(re.compile("send money to my sister"))
    expect(page.locator("#timeline .marker[data-kind='field']")).to_contain_text("transfer_amount")
    page.screenshot(path=str(SHOTS / "insights-conversation.png"), full_page=True)

    # the conversation handed off links to its handoff review
    page.goto(base + "/console/insights/conversations?outcome=escalated")
    page.locator(f"#conversations tr[data-id='{keys['seed-person']}'] a").click()
    handoff_id = store.conversation(keys["seed-person"])["handoff_id"]
    expect(page.locator("#handoff-review")).to_have_attribute("href", f"/console/review/{handoff_id}")
    no_problems(page, errors)
    ctx.close()


def test_an_editor_sees_the_mined_cluster_and_accepts_it_and_a_lead_only_reads(browser, site):
    from playwright.sync_api import expect

    miner, base = site["miner"], site["base"]
    clusters = miner.suggestions()
    mortgage = next(c for c in clusters if set(c["examples"]) == set(MORTGAGE))
    assert mortgage["size"] == len(MORTGAGE)

    ctx, page, errors = signed_in(browser, base, "eddie")
    expect(page).to_have_url(re.compile(r"/console/insights/suggestions$"))
    expect(page.locator("#clusters > li.cluster")).to_have_count(len(clusters))
    item = page.locator(f"#clusters > li.cluster[data-id='{mortgage['id']}']")
    title = mortgage["article_title"] or mortgage["article_id"]
    expect(item.locator(".suggestion")).to_have_text(
        f"Add these {len(MORTGAGE)} questions as examples to {title}"
        if mortgage["kind"] == "add_examples"
        else "No article answers this: draft one"
    )
    shown = item.locator("input.example-text").evaluate_all("inputs => inputs.map(i => i.value)")
    assert sorted(shown) == sorted(MORTGAGE)
    expect(item.locator(".nearest li")).to_have_count(len(mortgage["nearest"]))
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "insights-suggestions.png"), full_page=True)

    # accept two of the three, edited, into the nearest article
    target = mortgage["nearest"][0]
    item.locator("select.target").select_option(target["id"])
    item.locator("input.example-use").last.uncheck()
    item.locator("input.example-text").first.fill("could I get a mortgage from Kestrel")
    item.locator("button.accept").click()
    expect(page.locator(f"#clusters > li.cluster[data-id='{mortgage['id']}']")).to_have_count(0)
    expect(page.locator("#changes")).to_contain_text("could I get a mortgage from Kestrel")
    written = next(site["source"].rglob(f"{target['id']}.md")).read_text(encoding="utf-8")
    assert (
        "could I get a mortgage from Kestrel" in written
        and MORTGAGE[1] in written
        and MORTGAGE[2] not in written
    )
    no_problems(page, errors)
    ctx.close()

    ctx, page, errors = signed_in(browser, base, "lee")
    page.goto(base + "/console/insights/suggestions")
    expect(page.locator("#changes")).to_contain_text("could I get a mortgage from Kestrel")
    expect(page.locator("button.accept, button.reject, button.publish")).to_have_count(0)
    no_problems(page, errors)
    ctx.close()


def test_the_chart_library_is_vendored_with_its_licence_and_source():
    """The vendored library and its licence ship with the package (pyproject's package-data)."""
    vendor = Path(__file__).resolve().parents[2] / "assistant" / "web" / "static" / "vendor"
    for name in ("chart.umd.min.js", "chart.js.LICENSE.md", "README.md"):
        assert (vendor / name).is_file(), name
    assert "chart.umd.min.js" in (vendor / "README.md").read_text(encoding="utf-8")
