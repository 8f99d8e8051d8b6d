"""Linking a messaging app to a customer's account: ``GET /link?token=...``.

The bank's website sends its signed-in customer here with a short-lived signed link token
(:func:`assistant.channels.linking.sign_link_token`: the claim ``link: true``; a chat token is
refused). The page shows a one-time code (single use, minutes long) and the deep links of the
apps switched on: ``https://t.me/<bot>?start=<code>`` and
``https://wa.me/<number>?text=LINK%20<code>``; on Slack and Messenger the customer sends
``link <code>``. Its words are in ``data/channels.yml`` (``link_page:``).

A customer page, not part of the staff API (so not in the OpenAPI document, like ``/chat/``):
limited per client address like the chat routes, never cached, never sent as a referrer.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import re
from typing import Any
from urllib.parse import quote

from sanic import Blueprint, Request, response

from assistant.channels import config
from assistant.channels.linking import CODE_TTL, LinkError, LinkStore, verify_link_token
from assistant.channels.words import ChannelWords, load_words
from assistant.settings import Settings

logger = logging.getLogger(__name__)

link = Blueprint("link")
MAX_TOKEN_CHARS = 4096
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the code never leaves in a Referer header
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
}


def _words(app: Any) -> ChannelWords:
    words = getattr(app.ctx, "channel_words", None)
    if words is None:
        words = app.ctx.channel_words = load_words()
    return words


def _store(app: Any) -> LinkStore:
    store = getattr(app.ctx, "links", None)
    if store is None:
        settings: Settings = app.ctx.settings
        store = app.ctx.links = LinkStore(settings.database_url)
    return store


def deep_links(code: str, words: ChannelWords, environ: dict[str, str]) -> list[tuple[str, str]]:
    """(label, URL) for each app switched on that takes a deep link."""
    try:
        switched_on = {spec.name for spec in config.enabled(environ)}
    except config.ChannelConfigError:  # Rasa refuses to start on it and says why
        switched_on = set()
    found = []
    if "telegram" in switched_on:
        bot = environ["TELEGRAM_BOT_NAME"].strip().lstrip("@")
        found.append((words.link_page["telegram"], f"https://t.me/{quote(bot)}?start={code}"))
    if "twilio" in switched_on:
        digits = re.sub(r"\D", "", environ["TWILIO_WHATSAPP_NUMBER"])
        said = quote(f"{words.commands['link'][0].upper()} {code}")
        found.append((words.link_page["whatsapp"], f"https://wa.me/{digits}?text={said}"))
    return found


def _page(words: ChannelWords, body: str) -> str:
    title = html.escape(words.link_page["title"])
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        f"<body><main><h1>{title}</h1>{body}</main></body></html>"
    )


@link.get("/link")
async def link_page(request: Request) -> response.HTTPResponse:
    settings: Settings = request.app.ctx.settings
    words = _words(request.app)
    token = request.args.get("token", "")
    try:
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise LinkError("no token")
        who = verify_link_token(settings.identity_secret, token)
        code = await asyncio.to_thread(_store(request.app).issue_code, who, token=token)
    except LinkError as exc:
        logger.warning("a link token refused: %s", exc)
        body = f"<p>{html.escape(words.link_page['refused'])}</p>"
        return response.html(_page(words, body), status=403, headers=HEADERS)
    links = deep_links(code, words, dict(os.environ))
    said = f"{words.commands['link'][0]} {code}"
    items = "".join(
        f'<li><a href="{html.escape(url, quote=True)}" rel="noreferrer">{html.escape(label)}</a></li>'
        for label, url in links
    )
    body = (
        f"<p>{html.escape(words.link_page['intro'].format(minutes=CODE_TTL // 60))}</p>"
        f'<p><strong id="code">{html.escape(code)}</strong></p>'
        + (f"<ul>{items}</ul>" if items else "")
        + f"<p>{html.escape(words.link_page['other'])} <code>{html.escape(said)}</code></p>"
    )
    return response.html(_page(words, body), headers=HEADERS)
