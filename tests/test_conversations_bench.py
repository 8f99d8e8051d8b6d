"""The pure parts of bench/conversations_bench.py: what the customer says next, goal checks against
gathered state, identical re-asks and dead ends. No stack is started."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import pytest

from tests.conftest import ROOT


def _load() -> Any:
    path = ROOT / "bench" / "conversations_bench.py"
    spec = importlib.util.spec_from_file_location("conversations_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


cb = _load()


def office(transfers=(), cards=(), payees=None) -> dict[str, Any]:
    return {
        "transfers": [dict(t) for t in transfers],
        "cards": [dict(c) for c in cards],
        "payees": payees or {"cust-ava-payee1": "Sam Carter", "cust-ava-payee2": "Mum"},
    }


AVA_CARDS = [
    {"id": "cust-ava-card1", "last4": "4821", "kind": "physical", "status": "active", "note": ""},
    {"id": "cust-ava-card2", "last4": "7730", "kind": "virtual", "status": "active", "note": ""},
]


def bot(text: str = "", buttons=(), **custom: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"recipient_id": "x"}
    if text:
        message["text"] = text
    if buttons:
        message["buttons"] = [{"title": b, "payload": "/x"} for b in buttons]
    if custom:
        message["custom"] = {"data": custom}
    return message


def evidence(turns=None, before=None, after=None, **more: Any) -> dict[str, Any]:
    base = office(cards=AVA_CARDS)
    return {
        "turns": turns or [],
        "before": {"cust-ava": before or base},
        "after": {"cust-ava": after or before or base},
        "handoffs": [],
        "analytics": [],
        "events": [],
        "sign_in_texts": [],
        "followups_left": 0,
        **more,
    }


def script(goal: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"id": "s", "customer": "cust-ava", "opening": "hi", "goal": goal, "minimum_turns": 1, **more}


# ---- what to say next ----------------------------------------------------------------------------
def test_interjection_once_then_the_answer_then_followups():
    s = script(
        {"kind": "transfer"},
        answers={"transfer_confirm": "yes"},
        interjections=[{"when": "transfer_confirm", "say": "wait, 30 not 40"}],
        followups=["and another thing"],
    )
    progress = cb.Progress()
    assert cb.next_message(s, "transfer_confirm", progress) == (
        "wait, 30 not 40",
        "interjection:transfer_confirm",
    )
    assert cb.next_message(s, "transfer_confirm", progress) == ("yes", "answer:transfer_confirm")
    assert cb.next_message(s, "transfer_confirm", progress) == ("yes", "answer:transfer_confirm")
    # a field the script has no answer for: the customer moves on to what they wanted to say
    assert cb.next_message(s, "tree_answer", progress) == ("and another thing", "followup:1")
    assert cb.next_message(s, None, progress) is None


# ---- goals -----------------------------------------------------------------------------------------
def test_transfer_goal_needs_exactly_the_payee_and_amount():
    goal = {"kind": "transfer", "payee": "Mum", "amount": "30.00"}
    right = office(transfers=[{"id": "t1", "payee": "Mum", "amount": "30.00"}], cards=AVA_CARDS)
    assert cb.check_goal(script(goal), evidence(after=right))["reached"] is True

    wrong = office(transfers=[{"id": "t1", "payee": "Mum", "amount": "40.00"}], cards=AVA_CARDS)
    result = cb.check_goal(script(goal), evidence(after=wrong))
    assert result["reached"] is False and "£40.00 to Mum" in result["reason"]

    both = office(
        transfers=[
            {"id": "t1", "payee": "Mum", "amount": "40.00"},
            {"id": "t2", "payee": "Mum", "amount": "30"},
        ],
        cards=AVA_CARDS,
    )
    assert cb.check_goal(script(goal), evidence(after=both))["reached"] is False
    assert "no transfer" in cb.check_goal(script(goal), evidence())["reason"]


def test_freeze_goal_checks_the_card_and_the_reason_stored_on_it():
    goal = {"kind": "freeze_card", "card": "4821", "reason": "lost"}
    frozen = [{**AVA_CARDS[0], "status": "frozen", "note": "lost"}, AVA_CARDS[1]]
    assert cb.check_goal(script(goal), evidence(after=office(cards=frozen)))["reached"] is True

    other_reason = [{**AVA_CARDS[0], "status": "frozen", "note": "stolen"}, AVA_CARDS[1]]
    result = cb.check_goal(script(goal), evidence(after=office(cards=other_reason)))
    assert result["reached"] is False and "'stolen'" in result["reason"]

    other_card = [AVA_CARDS[0], {**AVA_CARDS[1], "status": "frozen", "note": "lost"}]
    result = cb.check_goal(script(goal), evidence(after=office(cards=other_card)))
    assert result["reached"] is False and "7730 instead of 4821" in result["reason"]


def test_order_goal_reads_the_delivery_given_to_the_back_office_from_the_tracker():
    goal = {"kind": "order_card", "card_kind": "physical", "delivery": "express"}
    new = {"id": "card_new", "last4": "1234", "kind": "physical", "status": "ordered", "note": ""}
    after = office(cards=[*AVA_CARDS, new])
    events: list[dict[str, Any]] = [
        {"event": "slot", "name": "card_delivery", "value": "express"},
        {"event": "action", "name": "action_order_card"},
        {"event": "slot", "name": "card_delivery", "value": None},  # the form's reset after submit
    ]
    assert cb.check_goal(script(goal), evidence(after=after, events=events))["reached"] is True
    events[0]["value"] = "standard"
    result = cb.check_goal(script(goal), evidence(after=after, events=events))
    assert result["reached"] is False and "standard" in result["reason"]
    virtual = {"kind": "order_card", "card_kind": "virtual", "delivery": None}
    assert cb.check_goal(script(virtual), evidence(after=after))["reached"] is False


def test_refusal_goal_needs_the_code_and_the_form_and_no_change():
    goal = {"kind": "refused", "form": "transfer_form", "reason": "insufficient_funds"}
    refused = [
        {
            "bot": [
                bot("Your balance is £18.40..."),
                bot(refusal={"code": "insufficient_funds", "form": "transfer_form"}),
            ]
        }
    ]
    assert cb.check_goal(script(goal), evidence(turns=refused))["reached"] is True
    other = [{"bot": [bot(refusal={"code": "daily_limit", "form": "transfer_form"})]}]
    result = cb.check_goal(script(goal), evidence(turns=other))
    assert result["reached"] is False and "daily_limit" in result["reason"]


def test_article_goal_is_the_article_shown_in_the_last_turn():
    goal = {"kind": "article", "article_id": "change_pin"}
    first = {"bot": [bot("Unblock it in the app.", kb={"article_id": "pin_blocked", "decision": "answer"})]}
    last = {"bot": [bot("Change it at an ATM.", kb={"article_id": "change_pin", "decision": "answer"})]}
    assert cb.check_goal(script(goal), evidence(turns=[first, last]))["reached"] is True
    assert cb.check_goal(script(goal), evidence(turns=[last, first]))["reached"] is False
    clarify = {
        "bot": [bot("Which one?", kb={"decision": "clarify", "options": [{"article_id": "change_pin"}]})]
    }
    result = cb.check_goal(script(goal), evidence(turns=[first, clarify]))
    assert result["reached"] is False and "offered among choices" in result["reason"]
    assert cb.check_goal(script(goal), evidence(turns=[last], followups_left=1))["reached"] is False


def test_handoff_goal_reads_payee_ids_and_amounts_in_the_context():
    goal = {
        "kind": "handoff",
        "form": "transfer_form",
        "values": {"transfer_payee": "Sam Carter", "transfer_amount": "200.00"},
    }
    slots = {"active_form": "transfer_form", "transfer_payee": "cust-ava-payee1", "transfer_amount": "200"}
    assert cb.check_goal(script(goal), evidence(handoffs=[{"slots": slots}]))["reached"] is True
    outside = {"transfer_payee": "cust-ava-payee1", "transfer_amount": "200"}
    result = cb.check_goal(script(goal), evidence(handoffs=[{"slots": outside}]))
    assert result["reached"] is False and "outside transfer_form" in result["reason"]
    assert (
        cb.check_goal(script({"kind": "handoff", "form": None, "values": {}}), evidence())["reached"] is False
    )
    freeze = {"kind": "handoff", "form": "freeze_card_form", "values": {"freeze_card_id": "4821"}}
    slots = {"active_form": "freeze_card_form", "freeze_card_id": "cust-ava-card1"}
    assert cb.check_goal(script(freeze), evidence(handoffs=[{"slots": slots}]))["reached"] is True


ANONYMOUS_SIGN_IN = {
    "id": "a",
    "customer": None,
    "opening": "x",
    "goal": {"kind": "sign_in_asked"},
    "minimum_turns": 1,
}


def test_comparison_and_sign_in_goals():
    goal = {"kind": "comparison", "min_products": 2}
    one = [{"bot": [bot(comparison={"columns": [{"product_id": "plus"}]})]}]
    two = [{"bot": [bot(comparison={"columns": [{"product_id": "plus"}, {"product_id": "premium"}]})]}]
    assert cb.check_goal(script(goal), evidence(turns=one))["reached"] is False
    assert cb.check_goal(script(goal), evidence(turns=two))["reached"] is True

    anon = ANONYMOUS_SIGN_IN
    text = "To do that I need to know it's you. Please sign in."
    asked = [{"bot": [bot(text, buttons=["Talk to a person"])]}]
    assert cb.check_goal(anon, evidence(turns=asked, sign_in_texts=[text]))["reached"] is True
    assert (
        cb.check_goal(anon, evidence(turns=[{"bot": [bot("Sure!")]}], sign_in_texts=[text]))["reached"]
        is False
    )


def test_unknown_goal_kinds_and_keys_are_unsupported_not_passed():
    assert cb.check_goal(script({"kind": "teleport"}), evidence())["reached"] is None
    goal = {"kind": "comparison", "min_products": 2, "must_include": "premium"}
    two = [{"bot": [bot(comparison={"columns": [{"product_id": "plus"}, {"product_id": "premium"}]})]}]
    result = cb.check_goal(script(goal), evidence(turns=two))
    assert result["reached"] is None and "must_include" in result["reason"]


# ---- re-asks and dead ends ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        ([], (0, 0)),
        (["a", "b", "c"], (0, 1)),
        (["a", "a", "a", "b"], (2, 3)),
        (["a", " a ", "", "a"], (1, 2)),  # an empty turn ends the run
        (["a", "b", "a"], (0, 1)),
    ],
)
def test_identical_reasks(texts, expected):
    assert cb.identical_reasks(texts) == expected


def test_dead_end_only_when_nothing_was_offered_and_the_goal_was_missed():
    flat = {"bot": [bot("Okay.")], "requested": None, "paused": False}
    assert cb.is_dead_end(False, "nothing_to_say", flat) is True
    assert cb.is_dead_end(True, "nothing_to_say", flat) is False
    assert cb.is_dead_end(False, "turn_cap", flat) is False
    assert cb.is_dead_end(False, "nothing_to_say", {**flat, "bot": [bot("Anything else?")]}) is False
    assert cb.is_dead_end(False, "nothing_to_say", {**flat, "bot": [bot("Okay.", buttons=["Yes"])]}) is False
    assert cb.is_dead_end(False, "nothing_to_say", {**flat, "requested": "tree_answer"}) is False
    assert cb.is_dead_end(False, "nothing_to_say", {**flat, "paused": True}) is False
    done = [bot("Sent: £200.00 to Sam Carter."), bot(transaction={"form": "transfer_form"})]
    assert cb.is_dead_end(False, "nothing_to_say", {**flat, "bot": done}) is False


def test_score_and_aggregate():
    s = script({"kind": "comparison", "min_products": 2}, minimum_turns=1)
    turns = [
        {
            "user": "hi",
            "as": "opening",
            "bot": [bot("Same?")],
            "form": None,
            "requested": None,
            "paused": False,
        },
        {
            "user": "hi",
            "as": "followup:1",
            "bot": [bot("Same?")],
            "form": None,
            "requested": None,
            "paused": False,
        },
    ]
    failed = cb.score(s, "c1", evidence(turns=turns, stop="nothing_to_say"))
    assert failed["reached"] is False and failed["identical_reasks"] == 1 and failed["transcript"]
    ok_turns = [{**turns[0], "bot": [bot(comparison={"columns": [{}, {}]})]}]
    ok = cb.score(s, "c2", evidence(turns=ok_turns, stop="nothing_to_say"))
    assert ok["reached"] is True and "transcript" not in ok
    summary = cb.aggregate([failed, ok])
    assert summary["goals_reached"] == 1 and summary["goal_reached_rate"] == 0.5
    assert summary["mean_turns_over_minimum"] == 0 and summary["identical_reasks"] == 1
    assert summary["failed"] == ["s"]


def test_the_script_file_uses_only_supported_fields_and_goals():
    scripts = cb.load_scripts()
    assert cb.unsupported_fields(scripts) == {}
    for s in scripts:
        kind = s["goal"]["kind"]
        assert kind in cb.GOAL_KEYS, s["id"]
        assert set(s["goal"]) - {"kind"} <= cb.GOAL_KEYS[kind], s["id"]


def test_fact_goal_is_the_topic_and_the_values_stated_in_the_last_turn():
    goal = {"kind": "fact", "fact": "balance", "mentions": ["18.40"]}
    right = [{"bot": [bot("Your main account balance is **£18.40**.", account={"topic": "balance"})]}]
    assert cb.check_goal(script(goal), evidence(turns=right))["reached"] is True
    wrong_value = [{"bot": [bot("Your balance is £2,450.00.", account={"topic": "balance"})]}]
    result = cb.check_goal(script(goal), evidence(turns=wrong_value))
    assert result["reached"] is False and "18.40" in result["reason"]
    article = [
        {"bot": [bot("Share your sort code.", kb={"article_id": "receiving_money", "decision": "answer"})]}
    ]
    assert "no account answer" in cb.check_goal(script(goal), evidence(turns=article))["reason"]
    other = [{"bot": [bot("£18.40 to Alex", account={"topic": "transfers"})]}]
    assert "wanted balance" in cb.check_goal(script(goal), evidence(turns=other))["reason"]
    anon = ANONYMOUS_SIGN_IN
    asked = [
        {"bot": [bot("To look at your balance, sign in.", account={"topic": "balance", "sign_in": True})]}
    ]
    assert cb.check_goal(anon, evidence(turns=asked, sign_in_texts=[]))["reached"] is True
