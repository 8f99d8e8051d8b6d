"""The chat page in Debian's Chromium, driven by Playwright, against the real stack. The page is
the widget in its inline mode (in an open shadow root: Playwright's CSS locators pierce it)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.integration.conftest import SHOTS, agent_reply

pytestmark = pytest.mark.integration

WIDGET = "#kestrel-widget"


def ask(page: Page, text: str) -> None:
    page.locator(f"{WIDGET} .kw-input").fill(text)
    page.locator(f"{WIDGET} .kw-input").press("Enter")


def test_chat_page_talks_to_rasa_over_socketio(stack, browser):
    SHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://localhost:{stack.public_port}/")

    # The widget, inline: its panel fills the page's column, with no launcher and no close button.
    panel = page.locator(f"{WIDGET} .kw-panel")
    expect(panel).to_be_visible()
    assert page.locator(f"{WIDGET} .kw-launcher, {WIDGET} .kw-close").count() == 0
    box = panel.bounding_box()
    assert box is not None and box["height"] >= 790 and box["width"] >= 700
    expect(page.get_by_role("heading", level=1)).to_have_text("Kestrel Bank help")
    assert page.locator(f"{WIDGET} .kw-input").get_attribute("maxlength") == "1000"

    # First visit: the page asks for the introduction, which arrives with top-task buttons.
    page.locator(f"{WIDGET} .kw-msg--bot", has_text="virtual assistant").first.wait_for(timeout=30_000)
    page.locator(f"{WIDGET} .kw-reply", has_text="Talk to a person").first.wait_for()
    expect(page.locator(f"{WIDGET} .kw-status")).to_have_text("Online")
    # a first visit gets the guided path first
    assert page.locator(f"{WIDGET} .kw-reply").first.inner_text() == "Browse help topics"

    ask(page, "someone stole my card, what do I do?")
    answer = page.locator(f"{WIDGET} .kw-msg--bot[data-article-id]").last
    answer.wait_for(timeout=30_000)
    assert answer.get_attribute("data-article-id") == "lost_or_stolen_card"
    said = page.locator(f"{WIDGET} .kw-msg--user .kw-text").last.inner_text()
    assert said.startswith("someone stole my card")

    # A button under the answer (a related article) is clicked and answered.
    answers = page.locator(f"{WIDGET} .kw-msg--bot[data-article-id]")
    answered = answers.count()
    answer.locator(".kw-reply").last.click()  # related articles come after "do it now" buttons
    expect(answers).to_have_count(answered + 1, timeout=30_000)
    page.screenshot(path=str(SHOTS / "chat-desktop.png"), full_page=True)

    # Customer text is shown as text, never as markup.
    ask(page, "<img src=x onerror=alert(1)> hello")
    page.locator(f"{WIDGET} .kw-msg--user .kw-text", has_text="<img src=x onerror=alert(1)> hello").wait_for()
    assert page.locator(f"{WIDGET} .kw-msg img").count() == 0
    assert errors == []
    page.close()


def test_signed_in_customer_compares_products_and_sees_a_table(stack, browser):
    SHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://localhost:{stack.public_port}/?customer=cust-ava")
    status = page.locator(f"{WIDGET} .kw-status")
    expect(status).to_have_text("Online · signed in as Ava Patel", timeout=30_000)

    ask(page, "which account is right for me?")
    for label in ("Travel abroad", "Up to £5", "Every month or more"):
        button = page.locator(f"{WIDGET} .kw-msg--bot").last.locator(".kw-reply", has_text=label).first
        button.wait_for(timeout=30_000)
        button.click()
    # the last question (cash) may be skipped when it was answered in passing
    table = page.locator(f"{WIDGET} .kw-table table")
    cash = page.locator(f"{WIDGET} .kw-msg--bot").last.locator(".kw-reply").first
    page.wait_for_timeout(500)
    if table.count() == 0:
        cash.click()
    table.first.wait_for(timeout=30_000)
    assert table.first.locator("thead th").count() >= 1
    assert table.first.locator("tbody th", has_text="Monthly fee").count() == 1
    page.screenshot(path=str(SHOTS / "comparison-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 780})
    page.screenshot(path=str(SHOTS / "comparison-phone.png"), full_page=True)
    # the conversation scrolls inside the chat, the page itself never does
    assert page.evaluate("() => document.documentElement.scrollHeight") <= 780

    # a transaction for the signed-in customer: freeze a card from the chat
    ask(page, "freeze my card")
    page.locator(f"{WIDGET} .kw-reply", has_text="Physical card ending 4821").last.click()
    page.locator(f"{WIDGET} .kw-reply", has_text="Just to be safe").last.click()
    page.locator(f"{WIDGET} .kw-reply", has_text="Yes, freeze it").last.click()
    page.locator(f"{WIDGET} .kw-msg--bot", has_text="ending 4821 is frozen").wait_for(timeout=30_000)
    assert errors == []
    page.close()


def test_a_person_answers_on_the_chat_page(stack, browser, http):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"http://localhost:{stack.public_port}/")
    page.locator(f"{WIDGET} .kw-msg--bot", has_text="virtual assistant").first.wait_for(timeout=30_000)
    ask(page, "talk to a person")
    status = page.locator(f"{WIDGET} .kw-status")
    expect(status).to_have_text(re.compile(r"You're (number \d+ )?in the queue"), timeout=30_000)
    session = page.evaluate("() => window.KestrelWidget.session()")
    agent_reply(stack, http, session, "Hello, Kim here.", "Kim")
    # marked as from a person, with their name
    reply = page.locator(f"{WIDGET} .kw-msg--agent", has_text="Hello, Kim here.")
    reply.wait_for(timeout=30_000)
    expect(reply.locator(".kw-who")).to_have_text("Agent · Kim")
    expect(status).to_have_text("You're chatting with Kim")
    page.close()
