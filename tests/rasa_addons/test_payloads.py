"""The strict "/payload" reader that runs first in Rasa's pipeline, and its allowlist in config.yml
checked against every button the assistant can send."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from rasa_addons.payloads import (
    BAD_ENTITIES,
    SYNTAX,
    TOO_LONG,
    UNKNOWN_INTENT,
    PayloadRules,
    is_payload,
)
from tests.conftest import ROOT


def guard_config() -> dict:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    [first] = [
        c for c in config["pipeline"] if c["name"].endswith("MessageGuard") and c["mode"] == "truncate"
    ]
    return first


@pytest.fixture(scope="module")
def rules() -> PayloadRules:
    c = guard_config()
    return PayloadRules.from_config(
        c["payloads"], max_chars=c["payload_max_chars"], max_value_chars=c["payload_value_max_chars"]
    )


@pytest.mark.parametrize(
    "text",
    [
        "/greet",
        "/request_human",
        ' /choose{"choice": "physical"} ',
        '/show_article{"article_id": "reverted_card_payment?"}',
        '/troubleshoot{"tree_id": "card_declined"}',
        '/choose_product{"product_id": 7}',
    ],
)
def test_the_payloads_buttons_send_are_allowed(rules, text):
    assert is_payload(text)
    assert rules.problem(text) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("/" + "a" * 60_000, TOO_LONG),
        ('/choose{"choice": "' + "x" * 60_000 + '"}', TOO_LONG),
        ("/", SYNTAX),
        ("/ help me please", SYNTAX),
        ("/request_human@0.99", SYNTAX),  # no confidence overrides
        ("/choose{not json}", SYNTAX),
        ('/choose["physical"]', SYNTAX),
        ('/choose{"choice": "a"} and more', SYNTAX),
        ("/EXTERNAL_handed_back", UNKNOWN_INTENT),  # only Rasa's HTTP API may trigger these
        ("/message_too_long", UNKNOWN_INTENT),
        ("/nlu_fallback", UNKNOWN_INTENT),
        ('/choose{"article_id": "x"}', BAD_ENTITIES),  # an entity this intent doesn't take
        ('/choose{"choice": {"deep": {"er": 1}}}', BAD_ENTITIES),
        ('/choose{"choice": ["a", "b"]}', BAD_ENTITIES),
        ('/choose{"choice": true}', BAD_ENTITIES),
        ('/choose{"choice": "' + "x" * 300 + '"}', BAD_ENTITIES),
        ("/greet{}", None),
    ],
)
def test_anything_else_starting_with_a_slash_is_refused_with_a_reason(rules, text, reason):
    assert rules.problem(text) == reason


def test_text_that_does_not_start_with_a_slash_is_not_a_payload():
    assert not is_payload("what does /greet do?")
    assert is_payload("   /greet")


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="list of entity names"):
        PayloadRules.from_config({"choose": "choice"})
    with pytest.raises(ValueError, match="plain intent name"):
        PayloadRules.from_config({"choose{": []})
    with pytest.raises(ValueError, match="at least"):
        PayloadRules.from_config({}, max_chars=1)


# ---- the allowlist against the domain and every button we send ---------------------------


def domain() -> dict:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def test_allowed_payloads_name_domain_intents_and_entities_only():
    d = domain()
    payloads = guard_config()["payloads"]
    assert set(payloads) <= set(d["intents"])
    assert {e for entities in payloads.values() for e in entities} <= set(d["entities"])
    assert not any(i.startswith("EXTERNAL_") or i.startswith("message_") for i in payloads)


def sent_payloads() -> set[str]:
    """Every payload a button of ours can carry: domain responses, the actions' buttons, the web
    clients, and the conversation tests (with placeholder values)."""
    found: set[str] = set()
    for response in domain()["responses"].values():
        for variant in response:
            found |= {b["payload"] for b in variant.get("buttons", [])}
    for path in (ROOT / "actions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        for intent, entity in re.findall(r'intent_button\([^)]*?"(\w+)"(?:, (\w+)=)?', source):
            found.add(f"/{intent}" + (json.dumps({entity: "x"}) if entity else ""))
        for literal in re.findall(r'"payload": f?"(/\w+)', source):
            found.add(literal)
        if "choice_button(" in source:
            found.add('/choose{"choice": "x"}')
        if "article_button(" in source:
            found.add('/show_article{"article_id": "x"}')
    for name in ("widget.js",):  # the customer's clients (console.js talks to the API)
        source = (ROOT / "assistant" / "web" / "static" / name).read_text(encoding="utf-8")
        found |= {p for p in re.findall(r'"(/[a-z_]+)"', source) if not p.startswith(("/static", "/chat"))}
    for line in (ROOT / "tests" / "test_stories.yml").read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if text.startswith("/") and "EXTERNAL_" not in text:
            found.add(text)
    return found


def test_every_button_we_send_passes_the_guard(rules):
    payloads = sent_payloads()
    assert len(payloads) > 15  # the scan found the buttons
    refused = {p: rules.problem(p) for p in payloads if rules.problem(p)}
    assert refused == {}
