"""The phrase rules in config.yml that make a request for a person work however it is scored."""

from __future__ import annotations

import pytest
import yaml

from rasa_addons.phrases import PhraseRules
from tests.conftest import ROOT


def rules() -> PhraseRules:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    [step] = [c for c in config["pipeline"] if c["name"].endswith("IntentRules")]
    return PhraseRules.from_config(step["rules"], step["keep"])


@pytest.mark.parametrize(
    "text",
    [
        "before I send it, can I talk to an actual person?",
        "could I speak with one of your staff about this",
        "put me through to someone please",
        "i want a real human",
        "pass me over to your team",
        "agent",
    ],
)
def test_a_request_for_a_person_is_heard_whatever_the_classifier_said(text) -> None:
    assert rules().intent_for(text, "affirm") == "request_human"


@pytest.mark.parametrize(
    ("text", "predicted"),
    [
        ("how do I add a new person as a payee?", "ask_question"),
        ("my friend talked me into opening an account", "ask_question"),
        ("can I talk to someone in sales about upgrading", "request_sales"),  # kept: more precise
        ('/choose{"choice": "yes"}', "choose"),  # a button is never overruled
    ],
)
def test_other_messages_keep_their_intent(text, predicted) -> None:
    assert rules().intent_for(text, predicted) is None


def test_a_broken_rule_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="request_human"):
        PhraseRules.from_config({"request_human": ["(unclosed"]}, [])


def test_a_question_about_the_bot_or_a_payee_is_not_a_request_for_a_person() -> None:
    assert rules().intent_for("am I talking to a real person?", "bot_challenge") is None
    assert rules().intent_for("can I transfer it to someone else?", "ask_question") is None
