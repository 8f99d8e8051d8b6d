"""Every bot message as each messaging app can show it, within that app's limits.

One function per platform turns a Rasa bot message (``text``, ``buttons`` / ``quick_replies``,
``custom`` = ``{"data": {...}}`` as the actions send it, ``image``) into the calls its API takes:

- :func:`telegram`: ``sendMessage`` parameters; HTML text in parts of at most 4,096 characters;
  buttons as an inline keyboard whose ``callback_data`` is a short reference (Telegram allows
  64 bytes), never the payload;
- :func:`whatsapp`: message bodies of at most 1,600 characters; buttons as numbered options the
  customer answers with the number or the words (:func:`resolve_typed`);
- :func:`slack`: ``chat.postMessage`` arguments with blocks (sections of at most 3,000
  characters); up to 5 buttons, more as a static select;
- :func:`messenger`: Send API ``message`` objects; text in parts of at most 2,000 characters; up
  to 3 buttons as a button template, up to 13 as quick replies (titles of at most 20
  characters), else numbered options.

What the widget draws from a custom payload becomes text: a person's message marked as theirs,
the article card as a link, the comparison table as lines, the carousel as a short list, the
inline form as a plain question, queue and ticket notices as sentences. A payload such as
``/choose{"choice": "x"}`` never reaches a customer: not as a label, not in a text (:func:`scrub`).
The words come from ``data/channels.yml`` (:class:`assistant.channels.words.ChannelWords`).

Pure Python, no Rasa (runs in Rasa's process, Python 3.10, and in the tests).
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from assistant.channels.words import ChannelWords

TELEGRAM_TEXT, TELEGRAM_CALLBACK_BYTES, TELEGRAM_BUTTON = 4096, 64, 64
WHATSAPP_TEXT = 1600
SLACK_SECTION, SLACK_BUTTONS, SLACK_BLOCKS, SLACK_LABEL, SLACK_SELECT = 3000, 5, 50, 75, 100
SLACK_FALLBACK = 3000
MESSENGER_TEXT, MESSENGER_TEMPLATE_TEXT = 2000, 640
MESSENGER_BUTTONS, MESSENGER_QUICK_REPLIES, MESSENGER_TITLE = 3, 13, 20

REF_PREFIX = "k1."
# a button payload written anywhere in a text: /intent or /intent{...}
# a payload in text: "/intent" with its entities, braces nested up to three deep
_BRACES = r"\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}"
PAYLOAD_IN_TEXT = re.compile(rf"(?<![\w/:.@-])/[A-Za-z_][A-Za-z0-9_]*(?:{_BRACES})?(?![\w/])")
PAYLOAD_ONLY = re.compile(r"\s*/[A-Za-z_][A-Za-z0-9_]*(\{.*\})?\s*", re.S)
BOLD = re.compile(r"\*\*(.+?)\*\*", re.S)
LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")


@dataclass(frozen=True)
class Option:
    title: str
    payload: str

    @property
    def ref(self) -> str:
        return ref_of(self.payload)


@dataclass
class Plain:
    """A bot message reduced to what every app can show: paragraphs (light Markdown: ``**bold**``,
    ``[text](url)``) and the options offered."""

    paragraphs: list[str] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(p for p in self.paragraphs if p.strip())


def ref_of(payload: str) -> str:
    """A short stand-in for a button's payload (13 characters), resolved back from the buttons
    the bot offered in the conversation (:func:`resolve_ref`)."""
    digest = hashlib.sha256(payload.encode("utf-8")).digest()
    return REF_PREFIX + base64.urlsafe_b64encode(digest).decode("ascii")[:10]


def scrub(text: str) -> str:
    """``text`` without any button payload written in it."""
    cleaned = PAYLOAD_IN_TEXT.sub("", text)
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip() if cleaned != text else text


def _is_payload(text: str) -> bool:
    return bool(PAYLOAD_ONLY.fullmatch(text or ""))


def options_of(buttons: Any) -> list[Option]:
    """The buttons a customer can be shown: each with a title that is no payload and a payload."""
    found = []
    for button in buttons or []:
        if not isinstance(button, Mapping):
            continue
        title = " ".join(str(button.get("title") or "").split())
        payload = str(button.get("payload") or "")
        if title and payload and not _is_payload(title):
            found.append(Option(scrub(title) or title, payload))
    return found


def _data(message: Mapping[str, Any]) -> dict[str, Any]:
    custom = message.get("custom")
    if not isinstance(custom, Mapping):
        return {}
    data = custom.get("data", custom)
    return dict(data) if isinstance(data, Mapping) else {}


def _comparison(table: Mapping[str, Any]) -> str:
    lines = []
    rows = [r for r in table.get("rows") or [] if isinstance(r, Mapping)]
    for i, column in enumerate(table.get("columns") or []):
        name = column.get("name") if isinstance(column, Mapping) else None
        facts = []
        for row in rows:
            values = row.get("values") or []
            if i < len(values) and values[i] not in (None, ""):
                label = str(row.get("label") or row.get("attribute") or "")
                facts.append((f"**{label}**" if row.get("highlight") else label) + f": {values[i]}")
        lines.append(f"• {name or ''}: " + "; ".join(facts))
    return "\n".join(lines)


def plain(message: Mapping[str, Any], words: ChannelWords) -> Plain:
    """What the message says and offers, for any app."""
    data = _data(message)
    text = str(message.get("text") or "").strip()
    out = Plain()
    agent = data.get("agent")
    if isinstance(agent, Mapping) and data.get("text"):
        name = str(agent.get("name") or "").strip() or "?"
        out.paragraphs.append(words.text("agent_says", name=name, text=str(data["text"]).strip()))
    if text:
        out.paragraphs.append(text)
    kb = data.get("kb")
    shown = isinstance(kb, Mapping) and kb.get("article_id") and kb.get("decision") != "clarify"
    if shown and words.article_url:
        assert isinstance(kb, Mapping)
        url = words.article_url.format(article_id=kb["article_id"])
        title = str(kb.get("title") or kb["article_id"])
        out.paragraphs.append(words.text("article_link", title=title, url=url))
    table = data.get("comparison")
    if isinstance(table, Mapping) and table.get("columns") and not text:
        out.paragraphs.append(_comparison(table))
    carousel = data.get("carousel")
    if isinstance(carousel, Mapping) and carousel.get("items"):
        lines = [str(carousel["title"])] if carousel.get("title") else []
        for n, item in enumerate(carousel["items"], 1):
            if isinstance(item, Mapping):
                subtitle = str(item.get("subtitle") or item.get("text") or "")
                line = words.text("carousel_item", number=n, title=item.get("title") or "", subtitle=subtitle)
                lines.append(line)
        out.paragraphs.append("\n".join(lines))
    form = data.get("input")
    if isinstance(form, Mapping) and form.get("label") and not text:
        out.paragraphs.append(words.text("input", label=form["label"]))
    if not text:
        handoff = data.get("handoff")
        if isinstance(handoff, Mapping):
            if handoff.get("status") == "no_agent":
                out.paragraphs.append(words.text("no_agent"))
            elif handoff.get("position"):
                wait = handoff.get("wait_minutes", handoff.get("wait", ""))
                out.paragraphs.append(words.text("queued", position=handoff["position"], wait=wait))
        if isinstance(data.get("ticket"), Mapping):
            out.paragraphs.append(words.text("ticket"))
        joined = data.get("agent_joined")
        if isinstance(joined, Mapping):
            out.paragraphs.append(words.text("agent_joined", name=joined.get("name") or ""))
    account = data.get("account")
    if isinstance(account, Mapping) and account.get("sign_in"):
        out.paragraphs.append(words.text("link_needed"))
    image = message.get("image")
    if isinstance(image, str) and image.startswith(("http://", "https://")):
        out.paragraphs.append(words.text("image", url=image))
    out.paragraphs = [p for p in (scrub(p) for p in out.paragraphs) if p]
    out.options = options_of(message.get("quick_replies") or message.get("buttons"))
    return out


# ----------------------------------------------------------------------------- splitting


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, cut between paragraphs, else lines,
    else words, and only inside a word when one word is longer than ``limit``."""
    text = text.strip()
    if not text:
        return []
    parts: list[str] = []
    for separator in ("\n\n", "\n", " "):
        if len(text) <= limit:
            break
        cut = text.rfind(separator, 0, limit + 1)
        if cut > 0:
            head, rest = text[:cut].rstrip(), text[cut + len(separator) :]
            return [*([head] if head else []), *split_text(rest, limit)]
    if len(text) > limit:
        return [text[:limit], *split_text(text[limit:], limit)]
    parts.append(text)
    return parts


def _fit(text: str, limit: int, convert: Callable[[str], str]) -> list[str]:
    """Split Markdown-ish ``text`` so that each part, once converted, fits ``limit``."""
    budget = limit
    while True:
        parts = [convert(p) for p in split_text(text, budget)]
        if all(len(p) <= limit for p in parts) or budget < 16:
            return [p[:limit] for p in parts]
        budget = int(budget * 0.85)


def _numbered(options: list[Option], words: ChannelWords) -> str:
    lines = [words.text("option", number=n, title=o.title) for n, o in enumerate(options, 1)]
    return "\n".join(lines) + "\n" + words.text("options_hint")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# ----------------------------------------------------------------------------- Telegram


def telegram_html(text: str) -> str:
    escaped = html.escape(text, quote=False)
    escaped = BOLD.sub(r"<b>\1</b>", escaped)
    return LINK.sub(lambda m: f'<a href="{html.escape(m.group(2))}">{m.group(1)}</a>', escaped)


def telegram(message: Mapping[str, Any], words: ChannelWords) -> list[dict[str, Any]]:
    """``sendMessage`` parameters (without ``chat_id``), in order."""
    content = plain(message, words)
    parts = _fit(content.text, TELEGRAM_TEXT, telegram_html)
    if not parts and content.options:
        parts = [html.escape(words.text("choose"))]
    sends: list[dict[str, Any]] = [
        {"text": p, "parse_mode": "HTML", "disable_web_page_preview": True} for p in parts
    ]
    if content.options and sends:
        keyboard = [
            [{"text": _clip(o.title, TELEGRAM_BUTTON), "callback_data": o.ref}] for o in content.options
        ]
        sends[-1]["reply_markup"] = {"inline_keyboard": keyboard}
    return sends


# ----------------------------------------------------------------------------- WhatsApp / SMS


def whatsapp_text(text: str) -> str:
    text = BOLD.sub(r"*\1*", text)
    return LINK.sub(r"\1 (\2)", text)


def whatsapp(message: Mapping[str, Any], words: ChannelWords) -> list[str]:
    """Message bodies, in order; the options numbered at the end."""
    content = plain(message, words)
    text = content.text
    if content.options:
        text = (text + "\n\n" if text else "") + _numbered(content.options, words)
    return _fit(text, WHATSAPP_TEXT, whatsapp_text)


# ----------------------------------------------------------------------------- Slack


def slack_mrkdwn(text: str) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = BOLD.sub(r"*\1*", escaped)
    return LINK.sub(r"<\2|\1>", escaped)


def slack(message: Mapping[str, Any], words: ChannelWords) -> list[dict[str, Any]]:
    """``chat.postMessage`` arguments (without ``channel``), in order."""
    content = plain(message, words)
    parts = _fit(content.text, SLACK_SECTION, slack_mrkdwn)
    if not parts and content.options:
        parts = [slack_mrkdwn(words.text("choose"))]
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": p}} for p in parts]
    if content.options:
        label = {"type": "plain_text", "emoji": True}
        if len(content.options) <= SLACK_BUTTONS:
            elements: list[dict[str, Any]] = [
                {
                    "type": "button",
                    "text": {**label, "text": _clip(o.title, SLACK_LABEL)},
                    "value": o.ref,
                    "action_id": f"option-{n}",
                }
                for n, o in enumerate(content.options, 1)
            ]
        else:
            elements = [
                {
                    "type": "static_select",
                    "action_id": "options",
                    "placeholder": {**label, "text": _clip(words.text("choose"), SLACK_LABEL)},
                    "options": [
                        {"text": {**label, "text": _clip(o.title, SLACK_LABEL)}, "value": o.ref}
                        for o in content.options[:SLACK_SELECT]
                    ],
                }
            ]
        blocks.append({"type": "actions", "elements": elements})
    sends = []
    for start in range(0, len(blocks), SLACK_BLOCKS):
        chunk = blocks[start : start + SLACK_BLOCKS]
        fallback = " ".join(b["text"]["text"] for b in chunk if b["type"] == "section")
        sends.append({"text": _clip(fallback, SLACK_FALLBACK), "blocks": chunk})
    return sends


# ----------------------------------------------------------------------------- Messenger


def messenger_text(text: str) -> str:
    text = BOLD.sub(r"\1", text)
    return LINK.sub(r"\1 (\2)", text)


def messenger(message: Mapping[str, Any], words: ChannelWords) -> list[dict[str, Any]]:
    """Send API ``message`` objects, in order."""
    content = plain(message, words)
    options = content.options
    short = all(len(o.title) <= MESSENGER_TITLE for o in options)
    text = content.text
    numbered = bool(options) and not (short and len(options) <= MESSENGER_QUICK_REPLIES)
    if numbered:
        text = (text + "\n\n" if text else "") + _numbered(options, words)
    if not text and options:
        text = words.text("choose")
    parts = _fit(text, MESSENGER_TEXT, messenger_text)
    sends: list[dict[str, Any]] = [{"text": p} for p in parts]
    if not options or not sends:
        return sends
    last = sends[-1]
    if not numbered and len(options) <= MESSENGER_BUTTONS and len(last["text"]) <= MESSENGER_TEMPLATE_TEXT:
        buttons = [{"type": "postback", "title": o.title, "payload": o.ref} for o in options]
        sends[-1] = {
            "attachment": {
                "type": "template",
                "payload": {"template_type": "button", "text": last["text"], "buttons": buttons},
            }
        }
    elif not numbered:
        last["quick_replies"] = [
            {"content_type": "text", "title": o.title, "payload": o.ref} for o in options
        ]
    elif len(options) <= MESSENGER_QUICK_REPLIES:  # long titles: the numbers as quick replies
        last["quick_replies"] = [
            {"content_type": "text", "title": str(n), "payload": o.ref} for n, o in enumerate(options, 1)
        ]
    return sends


# ----------------------------------------------------------------------------- answers


def _bot_messages(events: Iterable[Mapping[str, Any]]) -> list[list[Option]]:
    return [
        options_of((e.get("data") or {}).get("quick_replies") or (e.get("data") or {}).get("buttons"))
        for e in events
        if e.get("event") == "bot"
    ]


def resolve_ref(ref: str, events: Iterable[Mapping[str, Any]], *, look_back: int = 200) -> str | None:
    """The payload of the offered button whose reference is ``ref`` (newest first), if any."""
    if not ref.startswith(REF_PREFIX):
        return None
    offered = _bot_messages(list(events)[-look_back:])
    for options in reversed(offered):
        for option in options:
            if option.ref == ref:
                return option.payload
    return None


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9£€$]+", text.casefold())


def resolve_typed(text: str, events: Iterable[Mapping[str, Any]]) -> str | None:
    """The payload a typed answer means: a number of the latest options, or their words. Only
    the bot's latest reply counts (the messages since the customer's last one), so an old list
    is never answered by accident."""
    events = list(events)
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    turn = [o for o in _bot_messages(events[last_user + 1 :]) if o]
    if not turn:
        return None
    number = re.fullmatch(r"\s*(\d{1,3})\s*[.)]?\s*", text)
    if number:
        latest = turn[-1]
        n = int(number.group(1))
        return latest[n - 1].payload if 1 <= n <= len(latest) else None
    said = _words(text)
    if not said:
        return None
    candidates = [o for options in reversed(turn) for o in options]
    exact = [o for o in candidates if _words(o.title) == said]
    if exact:
        return exact[0].payload
    scored = []
    for option in candidates:
        title = set(_words(option.title))
        if not title:
            continue
        overlap = len(title & set(said)) / len(title | set(said))
        scored.append((overlap, option))
    scored.sort(key=lambda pair: pair[0], reverse=True)
    if scored and scored[0][0] >= 0.6 and (len(scored) == 1 or scored[1][0] < scored[0][0]):
        return scored[0][1].payload
    return None


RENDERERS: dict[str, Callable[[Mapping[str, Any], ChannelWords], list[Any]]] = {
    "telegram": telegram,
    "twilio": whatsapp,
    "slack": slack,
    "facebook": messenger,
}
