"""Each app's rendering of real bot messages (shaped as the actions send them), within its limits,
and never a payload in sight."""

from __future__ import annotations

import json
import re

import pytest

from assistant.channels import render
from assistant.channels.words import load_words

WORDS = load_words()
PAYLOAD = re.compile(r"/[a-z_]+\{|/request_human|/choose|/show_article")


def choose(title: str, choice: str) -> dict[str, str]:
    return {"title": title, "payload": "/choose" + json.dumps({"choice": choice})}


def article(title: str, article_id: str) -> dict[str, str]:
    return {"title": title, "payload": f'/show_article{{"article_id": "{article_id}"}}'}


KB_ANSWER = {
    "text": "Cards usually arrive within **3 to 5 working days** of ordering.",
    "buttons": [
        article("Track my card delivery with a very long related article title", "card_delivery_estimate"),
        {"title": "Talk to a person", "payload": "/request_human"},
    ],
    "custom": {
        "data": {
            "kb": {
                "article_id": "card_arrival",
                "title": "My card hasn't arrived",
                "score": 0.84,
                "decision": "answer",
                "related": [],
            }
        }
    },
}
AGENT = {"custom": {"data": {"agent": {"name": "Sam"}, "text": "Hello, I can see your card order."}}}
COMPARISON = {
    "custom": {
        "data": {
            "comparison": {
                "columns": [
                    {"product_id": "easy", "name": "Easy Account"},
                    {"product_id": "plus", "name": "Plus"},
                ],
                "rows": [
                    {"attribute": "fee", "label": "Monthly fee", "values": ["£0", "£7"], "highlight": True},
                    {"attribute": "features", "label": "Also", "values": ["app", "travel insurance"]},
                ],
            }
        }
    }
}
CAROUSEL = {
    "custom": {
        "data": {
            "carousel": {
                "title": "Recommended for you",
                "items": [
                    {
                        "title": "Plus",
                        "subtitle": "Travel insurance and no fees abroad",
                        "buttons": [
                            {"title": "Choose Plus", "payload": '/choose_product{"product_id": "plus"}'}
                        ],
                    }
                ],
            }
        }
    }
}
FORM = {"custom": {"data": {"input": {"slot": "transfer_amount", "type": "amount", "label": "Amount"}}}}


def many(n: int) -> dict:
    return {"text": "Which card?", "buttons": [choose(f"Card {i}", f"card-{i}") for i in range(1, n + 1)]}


def every_text(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def visible(value) -> list[str]:
    """Every string a customer could see (not the references the apps send back to us)."""
    found: list[str] = []

    def walk(v, key=""):
        if isinstance(v, dict):
            for k, sub in v.items():
                if k not in ("callback_data", "value", "payload", "action_id"):
                    walk(sub, k)
        elif isinstance(v, list):
            for sub in v:
                walk(sub, key)
        elif isinstance(v, str):
            found.append(v)

    walk(value)
    return found


MESSAGES = [KB_ANSWER, AGENT, COMPARISON, CAROUSEL, FORM, many(2), many(5), many(6), many(14)]


@pytest.mark.parametrize("platform", sorted(render.RENDERERS))
@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: str(list(m))[:40])
def test_no_payload_is_ever_visible(platform, message):
    sent = render.RENDERERS[platform](json.loads(json.dumps(message)), WORDS)
    assert sent, "every message shows something"
    for text in visible(sent):
        assert not PAYLOAD.search(text), (platform, text)


def test_references_are_short_and_resolve_back_to_the_offered_payload():
    [send] = render.telegram(KB_ANSWER, WORDS)
    keyboard = send["reply_markup"]["inline_keyboard"]
    refs = [row[0]["callback_data"] for row in keyboard]
    assert all(len(ref.encode()) <= render.TELEGRAM_CALLBACK_BYTES for ref in refs)
    events = [{"event": "user", "text": "hi"}, {"event": "bot", "text": KB_ANSWER["text"], "data": KB_ANSWER}]
    assert [render.resolve_ref(r, events) for r in refs] == [b["payload"] for b in KB_ANSWER["buttons"]]
    assert render.resolve_ref(refs[0], [{"event": "bot", "data": many(3)}]) is None  # never offered
    assert render.resolve_ref("/request_human", events) is None  # a raw payload is no reference


def test_telegram_html_bold_escaping_and_the_article_link():
    [send] = render.telegram(KB_ANSWER, WORDS)
    assert send["parse_mode"] == "HTML"
    assert "<b>3 to 5 working days</b>" in send["text"]
    assert WORDS.article_url.format(article_id="card_arrival") in send["text"]
    [tricky] = render.telegram({"text": "a <script> & b"}, WORDS)
    assert tricky["text"] == "a &lt;script&gt; &amp; b"


@pytest.mark.parametrize(
    ("platform", "limit"),
    [("telegram", 4096), ("twilio", 1600), ("facebook", 2000)],
)
def test_long_text_is_split_within_the_limit_without_losing_words(platform, limit):
    words = [f"word{i}" for i in range(2500)]
    text = " ".join(words)
    sent = render.RENDERERS[platform]({"text": text}, WORDS)
    parts = [s if isinstance(s, str) else s["text"] for s in sent]
    assert len(parts) > 1 and all(len(p) <= limit for p in parts)
    assert " ".join(parts).split() == words


def test_slack_sections_stay_under_3000_characters():
    [send] = render.slack({"text": "x " * 4000}, WORDS)
    sections = [b for b in send["blocks"] if b["type"] == "section"]
    assert len(sections) == 3 and all(len(b["text"]["text"]) <= 3000 for b in sections)


def test_slack_five_buttons_then_a_static_select():
    [five] = render.slack(many(5), WORDS)
    [actions] = [b for b in five["blocks"] if b["type"] == "actions"]
    assert [e["type"] for e in actions["elements"]] == ["button"] * 5
    assert [e["text"]["text"] for e in actions["elements"]] == [f"Card {i}" for i in range(1, 6)]
    [six] = render.slack(many(6), WORDS)
    [select] = next(b for b in six["blocks"] if b["type"] == "actions")["elements"]
    assert select["type"] == "static_select" and len(select["options"]) == 6
    assert select["placeholder"]["text"] == WORDS.texts["choose"]


def test_messenger_buttons_quick_replies_and_numbers():
    [three] = render.messenger(many(3), WORDS)
    template = three["attachment"]["payload"]
    assert template["template_type"] == "button" and len(template["buttons"]) == 3
    [thirteen] = render.messenger(many(13), WORDS)
    assert [q["title"] for q in thirteen["quick_replies"]] == [f"Card {i}" for i in range(1, 14)]
    [fourteen] = render.messenger(many(14), WORDS)
    assert "quick_replies" not in fourteen and "14. Card 14" in fourteen["text"]
    [long_titles] = render.messenger(KB_ANSWER, WORDS)  # a title over 20 characters: numbered
    assert "1. Track my card delivery" in long_titles["text"]
    assert [q["title"] for q in long_titles["quick_replies"]] == ["1", "2"]


def test_whatsapp_numbers_the_options_and_reads_the_answer_back():
    [body] = render.whatsapp(many(3), WORDS)
    assert body.startswith("Which card?")
    assert "1. Card 1\n2. Card 2\n3. Card 3" in body and WORDS.texts["options_hint"] in body
    events = [{"event": "user", "text": "freeze"}, {"event": "bot", "text": "Which card?", "data": many(3)}]
    assert render.resolve_typed("2", events) == '/choose{"choice": "card-2"}'
    assert render.resolve_typed(" 3. ", events) == '/choose{"choice": "card-3"}'
    assert render.resolve_typed("card 1", events) == '/choose{"choice": "card-1"}'
    assert render.resolve_typed("4", events) is None
    assert render.resolve_typed("what is a card", events) is None
    # once the customer has answered, the old list no longer counts
    later = [*events, {"event": "user", "text": "2"}, {"event": "bot", "text": "Done.", "data": {}}]
    assert render.resolve_typed("1", later) is None


def test_custom_parts_become_text():
    [agent] = render.whatsapp(AGENT, WORDS)
    assert agent == WORDS.text("agent_says", name="Sam", text="Hello, I can see your card order.")
    [table] = render.whatsapp(COMPARISON, WORDS)
    assert "Easy Account: *Monthly fee*: £0" in table and "Plus: *Monthly fee*: £7" in table
    [carousel] = render.messenger(CAROUSEL, WORDS)
    assert carousel["text"].startswith("Recommended for you\n1. Plus: Travel insurance")
    [form] = render.slack(FORM, WORDS)
    assert form["blocks"][0]["text"]["text"] == WORDS.text("input", label="Amount")
    queued = {
        "custom": {"data": {"handoff": {"id": 4, "status": "queued", "position": 2, "wait_minutes": 6}}}
    }
    [notice] = render.telegram(queued, WORDS)
    assert notice["text"] == WORDS.text("queued", position=2, wait=6)
    [ticket] = render.slack({"custom": {"data": {"ticket": {"id": 9}}}}, WORDS)
    assert ticket["text"] == WORDS.text("ticket")
    [joined] = render.messenger({"custom": {"data": {"agent_joined": {"name": "Sam"}}}}, WORDS)
    assert joined == {"text": WORDS.text("agent_joined", name="Sam")}
    # with its own words (the domain's response), a notice is not said twice
    said = {"text": "Sam has joined.", "custom": {"data": {"agent_joined": {"name": "Sam"}}}}
    assert render.whatsapp(said, WORDS) == ["Sam has joined."]


def test_a_payload_in_a_text_is_taken_out():
    [send] = render.whatsapp({"text": 'You said /choose{"choice": "x"} there.'}, WORDS)
    assert send == "You said there."
    assert render.options_of([{"title": "/request_human", "payload": "/request_human"}]) == []
    assert render.scrub("see https://t.me/kestrel/start and a/b") == "see https://t.me/kestrel/start and a/b"
    nested = 'Pick /choose{"choice": {"id": 1, "of": {"kind": "card"}}} now'
    assert render.scrub(nested) == "Pick now"  # nested entities go with the rest
