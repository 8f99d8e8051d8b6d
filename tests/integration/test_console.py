"""The agent console against the real stack, with two Chromium contexts: a customer on the demo
page who asks for a person in the middle of a transfer, and an agent who signs in, claims the
conversation, sees the form's values and the transcript, replies, and hands back, after which
the form resumes. Also the no-agent path: the customer leaves a message, stored as a ticket."""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import sqlite3
import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from assistant.handoff.store import HandoffStore
from assistant.rasa_client import RasaClient
from assistant.web.app import tell_long_waits
from tests.integration.conftest import SHOTS, handoffs_db, texts

pytestmark = pytest.mark.integration

WIDGET = "#kestrel-widget"


def customer_page(browser: Any, stack: Any) -> tuple[Any, Page, list[str]]:
    ctx = browser.new_context(viewport={"width": 1200, "height": 860})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://localhost:{stack.public_port}/demo?customer=cust-ava")
    page.locator(f"{WIDGET} .kw-launcher").click()
    expect(page.locator(f"{WIDGET} .kw-status")).to_have_text("Online", timeout=30_000)
    return ctx, page, errors


def ask(page: Page, text: str) -> None:
    page.locator(f"{WIDGET} .kw-input").fill(text)
    page.locator(f"{WIDGET} .kw-input").press("Enter")


def sign_in(browser: Any, stack: Any, username: str) -> tuple[Any, Page, list[str]]:
    ctx = browser.new_context(viewport={"width": 1360, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"http://localhost:{stack.public_port}/console")
    expect(page).to_have_url(re.compile(r"/console/login$"))
    page.locator("#username").fill(username)
    page.locator("#password").fill(stack.staff_password)
    page.locator("#sign-in").click()
    return ctx, page, errors


def test_an_agent_takes_over_mid_form_replies_and_hands_back(stack, browser, http):
    customer_ctx, customer, customer_errors = customer_page(browser, stack)
    ask(customer, "I want to make a transfer")
    payee = customer.locator(f"{WIDGET} .kw-msg--bot", has_text="Who would you like to send money to?")
    payee.wait_for(timeout=60_000)
    customer.locator(f"{WIDGET} .kw-buttons button", has_text="Mum").last.click()
    customer.locator(f"{WIDGET} .kw-msg--bot", has_text="How much would you like to send").wait_for(
        timeout=60_000
    )
    ask(customer, "talk to a person")
    expect(customer.locator(f"{WIDGET} .kw-status")).to_have_text(
        re.compile(r"You're number \d+ in the queue"), timeout=60_000
    )
    session = customer.evaluate("() => window.KestrelWidget.session()")

    auth = {"Authorization": f"Bearer {stack.api_token}"}
    _, listing = http.call(
        "GET", f"http://127.0.0.1:{stack.public_port}/api/handoffs?conversation_id={session}", headers=auth
    )
    [handoff] = listing["handoffs"]

    agent_ctx, agent, agent_errors = sign_in(browser, stack, "agent")
    expect(agent).to_have_url(re.compile(r"/console$"))
    item = agent.locator(f"#queue li.queue-item[data-id='{handoff['id']}']")
    expect(item).to_contain_text("transfer", timeout=30_000)
    agent.screenshot(path=str(SHOTS / "console-queue.png"), full_page=True)
    item.locator("button.claim").click()

    expect(agent).to_have_url(re.compile(rf"/console/handoffs/{handoff['id']}$"), timeout=30_000)
    customer.locator(f"{WIDGET} .kw-msg--bot", has_text="Sam from our team has joined the chat").wait_for(
        timeout=30_000
    )
    expect(customer.locator(f"{WIDGET} .kw-status")).to_have_text("You're chatting with Sam")
    # the filled form values and where the form stopped
    expect(agent.locator("#slots tr[data-slot='active_form'] td")).to_have_text(
        "transfer_form", timeout=30_000
    )
    expect(agent.locator("#slots tr[data-slot='transfer_payee'] td")).to_contain_text("cust-ava-payee")
    expect(agent.locator("#slots tr[data-slot='requested_slot'] td")).to_have_text("transfer_amount")
    # the customer's own account, read-only, next to the transcript
    expect(agent.locator("#account-balance")).to_have_text(re.compile(r"^£[\d,]+\.\d{2}$"), timeout=30_000)
    expect(agent.locator("#account")).to_contain_text("ending 4821")
    # the transcript so far, with what the customer typed
    transcript = agent.locator("#transcript")
    expect(transcript.locator(".turn-user", has_text="I want to make a transfer")).to_have_count(
        1, timeout=30_000
    )
    expect(transcript.locator(".turn-user", has_text="talk to a person")).to_have_count(1)

    # the customer writes while waiting: the agent sees it live
    ask(customer, "It's for her birthday, is there a limit?")
    expect(transcript.locator(".turn-user", has_text="for her birthday")).to_have_count(1, timeout=30_000)

    # article search: an article goes into the reply box, ready to edit
    agent.locator("#kb-query").fill("how long does a transfer take")
    agent.locator("#kb-search").click()
    first = agent.locator("#kb-results li").first
    first.locator("button.insert").click(timeout=30_000)
    expect(agent.locator("#reply")).not_to_have_value("", timeout=10_000)

    # the agent replies: the customer sees it in the same chat, marked as from a person
    agent.locator("#reply").fill("Hi Ava, I'm Sam. No limit under £1,000 today, go ahead.")
    agent.locator("#send").click()
    reply = customer.locator(f"{WIDGET} .kw-msg--agent", has_text="No limit under £1,000 today")
    reply.wait_for(timeout=30_000)
    expect(reply.locator(".kw-who")).to_have_text("Agent · Sam")
    expect(customer.locator(f"{WIDGET} .kw-status")).to_have_text("You're chatting with Sam")
    expect(transcript.locator(".turn-agent", has_text="No limit under")).to_have_count(1, timeout=30_000)
    agent.screenshot(path=str(SHOTS / "console-conversation.png"), full_page=True)

    # hand back: the bot says so, and the transfer form asks for the amount again
    agent.locator("#hand-back").click()
    customer.locator(f"{WIDGET} .kw-msg--bot", has_text="carry on where we left off").wait_for(timeout=30_000)
    expect(
        customer.locator(f"{WIDGET} .kw-msg--bot", has_text="How much would you like to send")
    ).to_have_count(2, timeout=30_000)
    ask(customer, "£25")
    customer.locator(f"{WIDGET} .kw-msg--bot", has_text="£25").last.wait_for(timeout=60_000)
    customer.screenshot(path=str(SHOTS / "console-customer-side.png"), full_page=True)

    with sqlite3.connect(handoffs_db(stack)) as db:
        status, outcome, agent_name = db.execute(
            "select status, outcome, agent_name from handoffs where id = ?", (handoff["id"],)
        ).fetchone()
    assert (status, outcome, agent_name) == ("resumed", "handed_back", "Sam")
    assert customer_errors == [] and agent_errors == []
    customer_ctx.close()
    agent_ctx.close()


def test_a_lead_reviews_annotates_and_an_editor_cannot_annotate(stack, browser, say):
    sender = f"review-{uuid.uuid4().hex[:12]}"
    say(sender, '<img src=x onerror="document.title=1"> hello')  # shown as text, never run
    say(sender, "how do I activate my new card?")
    handoff_id = next(
        m for m in say(sender, "talk to a person") if "handoff" in m.get("custom", {}).get("data", {})
    )
    handoff_id = handoff_id["custom"]["data"]["handoff"]["id"]

    ctx, lead, errors = sign_in(browser, stack, "lead")
    lead.goto(f"http://localhost:{stack.public_port}/console/review?reason=customer_request")
    row = lead.locator(f"#results tr[data-id='{handoff_id}']")
    expect(row).to_have_count(1, timeout=30_000)
    expect(lead.locator("#export-csv")).to_have_attribute(
        "href", re.compile(r"export\.csv\?.*reason=customer_request")
    )
    row.locator("a").first.click()
    expect(lead).to_have_url(re.compile(rf"/console/review/{handoff_id}$"))
    expect(lead.locator(".turn-user", has_text="activate my new card").first).to_be_visible(timeout=30_000)
    expect(lead.locator(".turn-bot .annot", has_text="activate_my_card")).to_have_count(1)
    expect(lead.locator(".turn-user", has_text='<img src=x onerror="document.title=1"> hello')).to_have_count(
        1
    )
    expect(lead.locator("#app img")).to_have_count(0)
    lead.locator("#note-text").fill("Article answered it; the customer still wanted a person.")
    lead.locator("#add-note").click()
    expect(lead.locator("#notes")).to_contain_text("still wanted a person", timeout=30_000)
    lead.locator("#tags-input").fill("coaching, activation")
    lead.locator("#save-tags").click()
    lead.screenshot(path=str(SHOTS / "console-review.png"), full_page=True)
    lead.goto(f"http://localhost:{stack.public_port}/console/review?tag=activation")
    expect(lead.locator(f"#results tr[data-id='{handoff_id}']")).to_have_count(1, timeout=30_000)
    assert errors == []
    ctx.close()

    ctx, editor, _ = sign_in(browser, stack, "editor")
    expect(editor).to_have_url(re.compile(r"/console/insights/suggestions$"))  # editors land on the inbox
    editor.goto(f"http://localhost:{stack.public_port}/console/review/{handoff_id}")
    expect(editor.locator(".turn-user", has_text="activate my new card").first).to_be_visible(timeout=30_000)
    expect(editor.locator("#note-text")).to_have_count(0)
    ctx.close()


def test_nobody_online_the_customer_leaves_a_message(stack, say, staff_store, agent_online):
    staff_store.end_session(agent_online.token)
    for user in staff_store.users():  # earlier tests signed in an agent and a lead
        staff_store.mark_away(user.id)
    sender = f"ticket-{uuid.uuid4().hex[:12]}"
    messages = say(sender, "talk to a person")
    assert "No one from our team is online" in texts(messages)
    assert "What would you like to tell our team?" in texts(say(sender, "/leave_message"))
    assert "How should we reach you?" in texts(say(sender, "My card payment was taken twice yesterday"))
    assert "doesn't look like an email" in texts(say(sender, "tomorrow"))
    assert "reference T-" in texts(say(sender, "ava@example.com"))
    with sqlite3.connect(handoffs_db(stack)) as db:
        contact, message = db.execute(
            "select contact, message from tickets where conversation_id = ?", (sender,)
        ).fetchone()
        (outcome,) = db.execute(
            "select outcome from handoffs where conversation_id = ?", (sender,)
        ).fetchone()
    assert (contact, message, outcome) == (
        "ava@example.com",
        "My card payment was taken twice yesterday",
        "ticket",
    )


def in_thread(coroutine: Any) -> Any:
    """Run a coroutine on its own loop (Playwright's sync API keeps one running in this thread)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_a_long_wait_is_told_and_keep_waiting_queues_again(stack, say, tracker):
    sender = f"wait-{uuid.uuid4().hex[:12]}"
    assert "number" in texts(say(sender, "talk to a person"))
    assert say(sender, "hello?") == []  # paused: waiting for a person

    store = HandoffStore(stack.database_url)
    rasa = RasaClient(f"http://127.0.0.1:{stack.rasa_port}", stack.rasa_token)
    assert in_thread(tell_long_waits(store, rasa, minutes=0)) >= 1  # as the web app does every 30 s
    told = [e["text"] for e in tracker(sender)["events"] if e["event"] == "bot" and e.get("text")]
    assert "taking longer than we'd like" in told[-1]

    messages = say(sender, "I'll wait")
    assert "Thanks for waiting" in texts(messages)
    assert tracker(sender)["paused"] is True and say(sender, "still there?") == []
    assert in_thread(tell_long_waits(store, rasa, minutes=0)) == 0  # told once
    store.dispose()
