"""GET /link on the real web app: a signed link token becomes a one-time code and the apps' deep
links; anything else is refused without a code."""

from __future__ import annotations

import dataclasses
import re

import pytest

from assistant.channels.linking import LinkStore, sign_link_token
from assistant.identity import sign
from assistant.web.link import HEADERS

SECRET = "link-page-secret"


@pytest.fixture
def page_client(web, security_app, monkeypatch, tmp_path):
    settings = security_app.ctx.settings
    security_app.ctx.settings = dataclasses.replace(settings, identity_secret=SECRET)
    security_app.ctx.links = LinkStore(f"sqlite:///{tmp_path / 'links.db'}")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:x")
    monkeypatch.setenv("TELEGRAM_BOT_NAME", "kestrel_bot")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "hook")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC1")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "t")
    monkeypatch.setenv("TWILIO_WHATSAPP_NUMBER", "+1 415 523 8886")
    yield web
    security_app.ctx.links.dispose()
    security_app.ctx.links = None
    security_app.ctx.settings = settings


async def test_a_link_token_gives_a_single_use_code_and_deep_links(page_client, security_app):
    token = sign_link_token(SECRET, "cust-ava", name="Ava")
    resp = await page_client.get(f"/link?token={token}")
    assert resp.status == 200
    for name, value in HEADERS.items():
        assert resp.headers[name] == value
    code = re.search(r'<strong id="code">([A-Z0-9]+)</strong>', resp.text).group(1)
    assert f"https://t.me/kestrel_bot?start={code}" in resp.text
    assert f"https://wa.me/14155238886?text=LINK%20{code}" in resp.text
    link = security_app.ctx.links.take_code(code)
    assert link is not None and link.customer_id == "cust-ava"
    assert security_app.ctx.links.take_code(code) is None
    again = await page_client.get(f"/link?token={token}")  # the page opened again from history
    assert again.status == 403 and 'id="code"' not in again.text


@pytest.mark.parametrize(
    "token",
    [
        "",
        "v1.x.y",
        sign(SECRET, "cust-ava"),  # a chat token: no link claim
        sign("another-secret", "cust-ava", link=True),
        sign(SECRET, "cust-ava", ttl=60, now=1_000, link=True),  # expired
        "v1." + "a" * 5000 + ".b",
    ],
)
async def test_anything_but_a_valid_link_token_is_refused(page_client, token):
    resp = await page_client.get(f"/link?token={token}")
    assert resp.status == 403
    assert 'id="code"' not in resp.text and "t.me" not in resp.text
