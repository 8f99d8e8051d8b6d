"""The embeddable widget in Debian's Chromium, on a host page that embeds it with one script tag,
against the real stack: ask, click, give feedback, reload, lose the network, keyboard only."""

from __future__ import annotations

import re
import sqlite3
import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.integration.conftest import SHOTS, agent_reply, handoffs_db

pytestmark = pytest.mark.integration

WIDGET = "#kestrel-widget"


def open_page(browser: Any, stack: Any, path: str = "/demo", **context: Any) -> tuple[Any, Page, list[str]]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 860}, **context)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://localhost:{stack.public_port}{path}")
    return ctx, page, errors


def ask(page: Page, text: str) -> None:
    page.locator(f"{WIDGET} .kw-input").fill(text)
    page.locator(f"{WIDGET} .kw-input").press("Enter")


def test_embed_ask_click_feedback_and_reload(stack, browser):
    SHOTS.mkdir(exist_ok=True)
    ctx, page, errors = open_page(browser, stack)
    launcher = page.locator(f"{WIDGET} .kw-launcher")
    # The host page's loud button styles (red, dashed) do not reach into the widget.
    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(11, 93, 75)"
    assert page.locator("body").evaluate("b => getComputedStyle(b).fontFamily").startswith("Georgia")
    launcher.click()
    expect(page.locator(f"{WIDGET} .kw-panel")).to_be_visible()
    page.locator(f"{WIDGET} .kw-msg--bot", has_text="virtual assistant").first.wait_for(timeout=30_000)
    expect(page.locator(f"{WIDGET} .kw-status")).to_have_text("Online")

    ask(page, "someone stole my card, what do I do?")
    page.locator(f"{WIDGET} .kw-msg--bot[data-article-id]").last.wait_for(timeout=30_000)
    answer = page.locator(f"{WIDGET} .kw-msg--bot[data-article-id='lost_or_stolen_card']")
    expect(answer).to_have_count(1)
    page.screenshot(path=str(SHOTS / "widget-desktop.png"))

    # a button under the answer (a related article) is clicked and answered
    answer.locator(".kw-reply").last.click()
    expect(page.locator(f"{WIDGET} .kw-msg--bot[data-article-id]")).to_have_count(2, timeout=30_000)

    # feedback on the first article, recorded with its article id
    feedback = answer.get_by_role("group", name="Was this helpful?")
    expect(feedback.get_by_role("button", name="Not helpful", exact=True)).to_have_count(1)
    expect(feedback.locator("button.kw-thumb svg")).to_have_count(2)  # drawn, not an emoji
    feedback.get_by_role("button", name="Helpful", exact=True).click()
    expect(answer.locator(".kw-thanks")).to_be_visible()
    session = page.evaluate("() => window.KestrelWidget.session()")
    # the thumbs go into the conversation, through Rasa's event broker, into the analytics store
    rows: list[tuple[str, str]] = []
    deadline = time.monotonic() + 20
    while not rows and time.monotonic() < deadline:
        with sqlite3.connect(handoffs_db(stack)) as db:
            rows = db.execute(
                "select name, detail from insight_events where kind = 'feedback' and sender_id = ?",
                (session,),
            ).fetchall()
        time.sleep(0.3)
    assert rows == [("lost_or_stolen_card", '{"helpful": true}')]

    # reload: the conversation comes back from the server, once, with the feedback kept
    page.reload()
    page.locator(f"{WIDGET} .kw-msg--user", has_text="someone stole my card").wait_for(timeout=30_000)
    expect(page.locator(f"{WIDGET} .kw-msg--user", has_text="someone stole my card")).to_have_count(1)
    expect(page.locator(f"{WIDGET} .kw-msg--bot", has_text="virtual assistant")).to_have_count(1)
    expect(page.locator(f"{WIDGET} .kw-msg--bot[data-article-id]")).to_have_count(2)
    expect(page.locator(f"{WIDGET} [data-article-id='lost_or_stolen_card'] .kw-thanks")).to_be_visible()

    # markup typed by the customer is shown as text
    ask(page, "<img src=x onerror=alert(1)> **hello** https://example.com/x")
    user = page.locator(f"{WIDGET} .kw-msg--user").last
    expect(user.locator("strong")).to_have_text("hello")
    assert user.locator("a").get_attribute("rel") == "noopener noreferrer nofollow"
    assert page.locator(f"{WIDGET} .kw-msg img").count() == 0
    assert errors == []
    ctx.close()


def test_offline_then_back_loses_and_repeats_nothing(stack, browser, http):
    ctx, page, errors = open_page(browser, stack)
    page.locator(f"{WIDGET} .kw-launcher").click()
    expect(page.locator(f"{WIDGET} .kw-status")).to_have_text("Online", timeout=30_000)
    page.locator(f"{WIDGET} .kw-msg--bot", has_text="virtual assistant").first.wait_for(timeout=30_000)

    ctx.set_offline(True)
    page.evaluate("() => window.dispatchEvent(new Event('offline'))")
    page.locator(f"{WIDGET} .kw-status", has_text="Offline").wait_for(timeout=30_000)
    ask(page, "how do I activate my new card?")
    expect(page.locator(f"{WIDGET} .kw-msg--user.kw-pending")).to_have_count(1)

    ctx.set_offline(False)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    answer = page.locator(f"{WIDGET} .kw-msg--bot[data-article-id='activate_my_card']")
    answer.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)  # anything duplicated would have arrived by now
    expect(page.locator(f"{WIDGET} .kw-msg--user", has_text="activate my new card")).to_have_count(1)
    expect(answer).to_have_count(1)
    expect(page.locator(f"{WIDGET} .kw-pending")).to_have_count(0)

    # the "Talk to a person" control is always there; the queue position is shown
    page.locator(f"{WIDGET} .kw-human").click()
    expect(page.locator(f"{WIDGET} .kw-status")).to_have_text(re.compile(r"You're number \d+ in the queue"))

    # a person replies through the staff API and Rasa: shown in the same chat, marked as a person
    session = page.evaluate("() => window.KestrelWidget.session()")
    agent_reply(stack, http, session, "Hi, I'm Sam. Let me look.", "Sam")
    agent = page.locator(f"{WIDGET} .kw-msg--agent", has_text="Hi, I'm Sam. Let me look.")
    agent.wait_for(timeout=30_000)
    expect(agent.locator(".kw-who")).to_have_text("Agent · Sam")
    page.reload()
    expect(page.locator(f"{WIDGET} .kw-msg--agent .kw-who")).to_have_text("Agent · Sam", timeout=30_000)
    assert errors == []
    ctx.close()


def test_keyboard_only(stack, browser):
    ctx, page, errors = open_page(browser, stack)
    # Tab from the top of the page to the launcher (past the page's own link)
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement && document.activeElement.id") == "kestrel-widget":
            break
    focused = "() => document.querySelector('#kestrel-widget').shadowRoot.activeElement?.className"
    assert page.evaluate(focused) == "kw-launcher"
    page.keyboard.press("Enter")
    assert page.evaluate(focused) == "kw-input"  # focus moves into the chat
    page.locator(f"{WIDGET} .kw-msg--bot", has_text="virtual assistant").first.wait_for(timeout=30_000)
    page.keyboard.type("my card payment was declined")
    page.keyboard.press("Enter")
    page.locator(f"{WIDGET} .kw-msg--bot").filter(has=page.locator(".kw-reply")).last.wait_for(timeout=30_000)
    before = page.locator(f"{WIDGET} .kw-msg").count()
    # Shift+Tab back from the input reaches the newest buttons; Enter presses one
    for _ in range(12):
        page.keyboard.press("Shift+Tab")
        if page.evaluate(focused) == "kw-reply":
            break
    assert page.evaluate(focused) == "kw-reply"
    page.keyboard.press("Enter")
    expect(page.locator(f"{WIDGET} .kw-msg")).not_to_have_count(before, timeout=30_000)
    assert page.evaluate(focused) == "kw-input"
    page.keyboard.press("Escape")  # closes, focus back on the launcher
    expect(page.locator(f"{WIDGET} .kw-panel")).to_be_hidden()
    assert page.evaluate(focused) == "kw-launcher"
    assert page.locator(f"{WIDGET} .kw-log").get_attribute("aria-live") == "polite"
    assert errors == []
    ctx.close()


def test_phone_width_comparison_carousel_and_a_form_in_the_chat(stack, browser):
    SHOTS.mkdir(exist_ok=True)
    ctx, page, errors = open_page(browser, stack, "/demo?customer=cust-ava", is_mobile=True)
    page.set_viewport_size({"width": 360, "height": 780})
    page.locator(f"{WIDGET} .kw-launcher").click()
    page.locator(f"{WIDGET} .kw-msg--bot").first.wait_for(timeout=30_000)
    panel_width = page.locator(f"{WIDGET} .kw-panel").evaluate("p => p.getBoundingClientRect().width")
    assert 330 <= panel_width <= 360

    ask(page, "which account is right for me?")
    for label in ("Travel abroad", "Up to £5", "Every month or more", "Some cash now and then"):
        button = page.locator(f"{WIDGET} .kw-msg").last.locator(".kw-reply", has_text=label).first
        if label.startswith("Some") and page.locator(f"{WIDGET} .kw-table table").count():
            break
        button.wait_for(timeout=30_000)
        button.click()
    page.locator(f"{WIDGET} .kw-table table").first.wait_for(timeout=30_000)
    expect(page.locator(f"{WIDGET} .kw-carousel .kw-slide").first).to_be_visible()
    page.screenshot(path=str(SHOTS / "widget-phone-comparison.png"))

    # a form inside the chat: the amount of a transfer
    ask(page, "make a transfer")
    page.locator(f"{WIDGET} .kw-reply", has_text="Sam Carter").last.click()
    amount = page.locator(f"{WIDGET} .kw-inline input").last
    amount.wait_for(timeout=30_000)
    amount.fill("0")
    page.locator(f"{WIDGET} .kw-inline .kw-send").last.click()
    expect(page.locator(f"{WIDGET} .kw-inline .kw-error").last).to_have_text("Please check this value")
    amount.fill("12.5")
    page.locator(f"{WIDGET} .kw-inline .kw-send").last.click()
    page.locator(f"{WIDGET} .kw-msg--bot", has_text="Send £12.50 to Sam Carter").wait_for(timeout=30_000)
    page.locator(f"{WIDGET} .kw-reply", has_text="Yes, send it").last.click()
    page.locator(f"{WIDGET} .kw-msg--bot", has_text="Sent: £12.50 to Sam Carter").wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / "widget-phone-transfer.png"))
    assert errors == []
    ctx.close()
