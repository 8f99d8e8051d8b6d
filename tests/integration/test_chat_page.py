"""The chat page in Debian's Chromium, driven by Playwright, against the real stack."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.integration.conftest import SHOTS, agent_reply

pytestmark = pytest.mark.integration


def test_chat_page_talks_to_rasa_over_socketio(stack, browser):
    SHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://localhost:{stack.public_port}/")

    # First visit: the page asks for the introduction, which arrives with top-task buttons.
    page.get_by_text("virtual assistant", exact=False).first.wait_for(timeout=30_000)
    page.locator(".quick-reply", has_text="Talk to a person").first.wait_for()
    assert page.locator("#status").inner_text() == "Online"
    # a first visit gets the guided path first
    assert page.locator(".quick-reply").first.inner_text() == "Browse help topics"

    page.fill("#input", "someone stole my card, what do I do?")
    page.press("#input", "Enter")
    answer = page.locator(".msg--bot[data-article-id]").last
    answer.wait_for(timeout=30_000)
    assert answer.get_attribute("data-article-id") == "lost_or_stolen_card"
    assert page.locator(".msg--user .msg__text").last.inner_text().startswith("someone stole my card")

    # A button under the answer (a related article) is clicked and answered.
    answered = page.locator(".msg--bot[data-article-id]").count()
    answer.locator(".quick-reply").last.click()  # related articles come after "do it now" buttons
    expect(page.locator(".msg--bot[data-article-id]")).to_have_count(answered + 1, timeout=30_000)
    page.screenshot(path=str(SHOTS / "chat-desktop.png"), full_page=True)

    # Customer text is shown as text, never as markup.
    page.fill("#input", "<img src=x onerror=alert(1)> hello")
    page.press("#input", "Enter")
    page.locator(".msg--user .msg__text", has_text="<img src=x onerror=alert(1)> hello").wait_for()
    assert page.locator(".msg img").count() == 0
    assert errors == []
    page.close()


def test_signed_in_customer_compares_products_and_sees_a_table(stack, browser):
    SHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://localhost:{stack.public_port}/?customer=cust-ava")
    expect(page.locator("#status")).to_have_text("Online · signed in as Ava Patel", timeout=30_000)

    page.fill("#input", "which account is right for me?")
    page.press("#input", "Enter")
    for label in ("Travel abroad", "Up to £5", "Every month or more"):
        button = page.locator(".msg--bot").last.locator(".quick-reply", has_text=label).first
        button.wait_for(timeout=30_000)
        button.click()
    # the last question (cash) may be skipped when it was answered in passing
    table = page.locator("table.comparison")
    cash = page.locator(".msg--bot").last.locator(".quick-reply").first
    page.wait_for_timeout(500)
    if table.count() == 0:
        cash.click()
    table.first.wait_for(timeout=30_000)
    assert table.locator("thead th").count() >= 1
    assert table.locator("tbody th", has_text="Monthly fee").count() == 1
    page.screenshot(path=str(SHOTS / "comparison-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 780})
    page.screenshot(path=str(SHOTS / "comparison-phone.png"), full_page=True)

    # a transaction for the signed-in customer: freeze a card from the chat
    page.fill("#input", "freeze my card")
    page.press("#input", "Enter")
    page.locator(".quick-reply", has_text="Physical card ending 4821").last.click()
    page.locator(".quick-reply", has_text="Just to be safe").last.click()
    page.locator(".quick-reply", has_text="Yes, freeze it").last.click()
    page.get_by_text("ending 4821 is frozen", exact=False).wait_for(timeout=30_000)
    assert errors == []
    page.close()


def test_a_person_answers_on_the_chat_page(stack, browser, http):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"http://localhost:{stack.public_port}/")
    page.get_by_text("virtual assistant", exact=False).first.wait_for(timeout=30_000)
    page.fill("#input", "talk to a person")
    page.press("#input", "Enter")
    expect(page.locator("#status")).to_have_text("Waiting for a person…", timeout=30_000)
    session = page.evaluate("() => localStorage.getItem('kestrel.chat.session')")
    agent_reply(stack, http, session, "Hello, Kim here.", "Kim")
    reply = page.locator(".msg--agent", has_text="Hello, Kim here.")
    reply.wait_for(timeout=30_000)
    expect(reply.locator(".msg__who")).to_have_text("Agent · Kim")
    expect(page.locator("#status")).to_have_text("You're chatting with Kim")
    page.close()
