"""Insights over the real stack: Rasa's event broker, the web app's consumer and miner, the
console in Chromium.

1. Scripted conversations with known outcomes (a confirmed answer, an assumed one, a decline,
   a greeting, a request for a person) are labelled so, and the summary API agrees exactly with
   the conversations it lists.
2. One failed question asked three times in different words, by three customers, becomes a
   suggestion naming the right article; an editor accepts it in the console; the same question
   is then answered with that article (the action server's watcher rebuilt the index).
"""

from __future__ import annotations

import re
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.integration.conftest import kb_of
from tests.integration.test_console import sign_in

pytestmark = pytest.mark.integration

# three customers' words for one need the knowledge base does not answer outright (it offers a
# choice); written for this test, not taken from the articles or the held-out sets
WALLET = [
    "can i pay with my phone instead of the card",
    "can i use samsung pay",
    "pay at the till with my mobile",
]


def wait_for(check: Callable[[], Any], timeout: float = 90.0, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def api(stack: Any, http: Any, path: str, body: Any = None) -> Any:
    status, got = http.call(
        "POST" if body is not None else "GET",
        f"http://127.0.0.1:{stack.web_port}/api/insights{path}",
        body,
        {"Authorization": f"Bearer {stack.api_token}"},
    )
    assert status == 200, (path, status, got)
    return got


def outcome_of(stack: Any, http: Any, sender: str) -> dict[str, Any]:
    status, got = http.call(
        "GET",
        f"http://127.0.0.1:{stack.web_port}/api/insights/conversations/{urllib.parse.quote(sender)}",
        None,
        {"Authorization": f"Bearer {stack.api_token}"},
    )
    return got if status == 200 else {}


def test_scripted_conversations_get_their_outcomes_and_the_summary_agrees(stack, say, http) -> None:
    run = uuid.uuid4().hex[:8]
    expected = {
        f"ins-confirmed-{run}": ("resolved_confirmed", ["does google pay work with your cards", "thank you"]),
        f"ins-assumed-{run}": ("resolved_assumed", ["is my card a visa"]),
        f"ins-declined-{run}": ("abandoned", ["what's the weather going to be like in Madrid tomorrow"]),
        f"ins-hello-{run}": ("no_request", ["hello"]),
        f"ins-person-{run}": ("escalated", ["I want to talk to a person"]),
    }
    for sender, (_, messages) in expected.items():
        for text in messages:
            say(sender, text)

    def labelled() -> dict[str, dict[str, Any]] | None:
        got = {sender: outcome_of(stack, http, sender) for sender in expected}
        done = all(g.get("outcome") == expected[s][0] for s, g in got.items())
        return got if done else None

    got = wait_for(labelled)
    assert got, {s: outcome_of(stack, http, s).get("outcome") for s in expected}
    assert got[f"ins-declined-{run}"]["where"] == "after a decline"
    assert got[f"ins-person-{run}"]["reason"] and got[f"ins-person-{run}"]["handoff_id"]
    assert all(g["test"] for g in got.values())  # the tests' stack is test traffic
    assert {e["kind"] for e in got[f"ins-confirmed-{run}"]["events"]} >= {"user", "bot", "article_shown"}

    # the summary counts exactly the conversations the drill-through lists
    summary = api(stack, http, "/summary?traffic=test")
    listed = api(stack, http, "/conversations?traffic=test&limit=500")
    assert summary["conversations"] == listed["total"]
    labels = ("resolved_confirmed", "resolved_assumed", "escalated", "ticket", "abandoned", "no_request")
    for label in labels:
        behind = api(stack, http, f"/conversations?traffic=test&outcome={label}&limit=500")
        assert summary[label] == behind["total"], label
        assert all(row["outcome"] == label for row in behind["rows"])
    if listed["total"] <= 500:  # the whole list: its labels add up to the summary's
        by_label = Counter(row["outcome"] for row in listed["rows"])
        assert {label: summary[label] for label in labels} == {label: by_label[label] for label in labels}
    assert api(stack, http, "/summary")["conversations"] == 0  # live traffic only: none from tests


def test_a_failed_question_becomes_a_suggestion_an_editor_accepts_and_it_is_answered(
    stack, say, http, browser
) -> None:
    run = uuid.uuid4().hex[:8]
    for i, question in enumerate(WALLET):
        decision = kb_of(say(f"ins-wallet-{i}-{run}", question))["decision"]
        assert decision != "answer", (question, decision)  # a failed question, to begin with

    def suggested() -> dict[str, Any] | None:
        clusters = api(stack, http, "/suggestions")["clusters"]
        return next((c for c in clusters if set(WALLET) <= set(c["examples"])), None)

    cluster = wait_for(suggested)
    assert cluster, api(stack, http, "/suggestions")
    assert (cluster["kind"], cluster["article_id"]) == ("add_examples", "apple_pay_or_google_pay")

    ctx, page, errors = sign_in(browser, stack, "editor")
    try:
        expect(page).to_have_url(re.compile(r"/console/insights/suggestions$"))
        item = page.locator(f"li.cluster[data-id='{cluster['id']}']")
        expect(item).to_be_visible(timeout=30_000)
        expect(item.locator(".target")).to_have_value("apple_pay_or_google_pay")
        item.get_by_role("button", name="Accept").click()
        expect(page.locator(f"li.cluster[data-id='{cluster['id']}']")).to_have_count(0, timeout=30_000)
        assert errors == []
    finally:
        ctx.close()

    changes = api(stack, http, "/changes")["rows"]
    assert (changes[0]["who"], changes[0]["article_id"]) == ("editor", "apple_pay_or_google_pay")
    assert set(WALLET) <= set(changes[0]["questions"])
    assert all(q in (next(stack.kb_source.rglob("apple_pay_or_google_pay.md"))).read_text() for q in WALLET)

    def answered() -> bool:
        kb = kb_of(say(f"ins-wallet-after-{uuid.uuid4().hex[:6]}", WALLET[0]))
        return kb["decision"] == "answer" and kb["article_id"] == "apple_pay_or_google_pay"

    assert wait_for(answered, timeout=120, every=1.0)  # bench-insights measures how fast
