"""The lifecycle actions over real services: the real trees, catalog and case base, a seeded
SQLite back office, an analytics store, and signed customer tokens."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions.greet import ActionGreet
from actions.products import ActionRecommend, ValidateProductNeedsForm
from actions.services import Services
from actions.transactions import ActionFormHelp, ActionFreezeCard, ActionTransfer, validators
from actions.troubleshoot import ActionAskTreeAnswer, ActionCrossSell, ValidateTroubleshootForm
from assistant.backoffice import BackOffice
from assistant.content import CrossSell, TopTaskSettings
from assistant.conversation.forms import load_forms
from assistant.guided.answers import load_typed_answers
from assistant.guided.catalog import load_catalog
from assistant.guided.trees import CONFIRM_NODE, load_trees
from assistant.identity import sign
from assistant.insights.events import ARTICLE_SHOWN
from assistant.insights.store import InsightsStore
from tests.actions.conftest import make_tracker

ROOT = Path(__file__).resolve().parents[2]
SECRET = "stage-tests"
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


@pytest.fixture
def stage_services(services: Services, tmp_path: Path) -> Services:
    office = BackOffice(f"sqlite:///{tmp_path / 'backoffice.db'}")
    office.seed_demo()
    trees = load_trees(ROOT / "data" / "troubleshooting")
    catalog = load_catalog(ROOT / "data" / "products.yml", ROOT / "data" / "cases.yml")
    typed = load_typed_answers(ROOT / "data" / "typed_answers.yml", trees, catalog)
    content = dataclasses.replace(
        services.content,
        top_task_settings=TopTaskSettings(min_events=3, count=3),
        cross_sell=(CrossSell(("card_declined",), "Tip: get a virtual card."),),
    )
    return dataclasses.replace(
        services,
        settings=dataclasses.replace(services.settings, identity_secret=SECRET),
        content=content,
        trees=trees.with_answers(typed),  # as in production: with the customers' example answers
        catalog=catalog.with_answers(typed),
        backoffice=office,
        forms=load_forms(ROOT / "data" / "forms.yml"),
        analytics=InsightsStore(f"sqlite:///{tmp_path / 'analytics.db'}"),
    )


def slots_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def signed(customer: str = "cust-ava") -> dict[str, str]:
    return {"customer_token": sign(SECRET, customer, name="Ava Patel")}


async def test_new_visitor_gets_the_guided_path_first(stage_services, dispatcher) -> None:
    events = await ActionGreet(stage_services).run(dispatcher, make_tracker("/greet", intent="greet"), {})
    assert slots_of(events)["expertise"] == "novice"
    assert [m["response"] for m in dispatcher.messages] == ["utter_greet", "utter_guided_menu"]
    assert dispatcher.messages[1]["buttons"][0]["payload"] == "/browse"


async def test_returning_customer_gets_search_first_and_top_tasks_from_the_logs(
    stage_services, dispatcher
) -> None:
    for conversation in ("a", "b", "c"):
        stage_services.analytics.add_direct(
            conversation, ARTICLE_SHOWN, conversation, article_id="exchange_rate"
        )
    stage_services.analytics.label_pending()  # what the web app's consumer does as events arrive
    tracker = make_tracker("/greet", intent="greet", metadata={"visitor": {"visits": 4}, **signed()})
    events = await ActionGreet(stage_services).run(dispatcher, tracker, {})
    assert slots_of(events)["expertise"] == "experienced"
    assert dispatcher.messages[0]["response"] == "utter_greet_returning"
    assert dispatcher.messages[0]["name"] == ", Ava"
    buttons = [b["payload"] for b in dispatcher.messages[1]["buttons"]]
    assert buttons[0] == '/show_article{"article_id": "exchange_rate"}'  # most asked comes first
    assert buttons[1] == '/show_article{"article_id": "card_arrival"}'  # then the editor's order


async def walk(
    services: Services, tree_id: str, answers: list[str]
) -> tuple[dict[str, Any], CollectingDispatcher]:
    """Drive the tree form's validation as Rasa would, one typed answer at a time."""
    form = ValidateTroubleshootForm(services)
    dispatcher = CollectingDispatcher()
    slots = await form.validate_tree_id(tree_id, dispatcher, make_tracker(tree_id), {})
    for answer in answers:
        tracker = make_tracker(answer, slots=slots, intent="ask_question")
        slots = {**slots, **await form.validate_tree_answer(answer, dispatcher, tracker, {})}
    return slots, dispatcher


async def test_a_tree_walked_in_free_text_resolves_then_asks_if_it_helped(stage_services) -> None:
    slots, dispatcher = await walk(stage_services, "card_declined", ["the app says my card is frozen"])
    assert slots["tree_node"] == CONFIRM_NODE and slots["tree_answer"] is None
    assert dispatcher.messages[-1]["text"].startswith("Your card is frozen")
    ask = CollectingDispatcher()
    await ActionAskTreeAnswer(stage_services).run(ask, make_tracker("", slots=slots), {})
    assert ask.messages[0]["text"] == "Did this solve it?"
    slots, _ = await walk(stage_services, "card_declined", ["the app says my card is frozen", "yes, thanks"])
    assert slots["tree_result"] == "solved" and slots["tree_done"] == "card_declined"
    assert len(slots["tree_path"]) == 3


async def test_an_unsolved_tree_hands_off_with_the_path(stage_services) -> None:
    slots, _ = await walk(stage_services, "card_declined", ["frozen", "no"])
    assert slots["tree_result"] == "unsolved" and slots["handoff_reason"] == "tree_unresolved"
    tree = stage_services.trees.get("card_declined")
    assert slots["tree_path"][0].startswith(tree.node(tree.start).question + " → ")
    assert slots["tree_path"][-1] == "Did this solve it? → No, it didn't"


async def test_a_tree_leaf_can_start_a_form(stage_services) -> None:
    slots, _ = await walk(stage_services, "app_login", ["phone_lost"])
    assert slots["tree_result"] == "freeze_card"


async def test_an_answer_that_fits_no_option_is_asked_again(stage_services) -> None:
    slots, dispatcher = await walk(stage_services, "top_up_failed", ["purple elephants"])
    assert (
        slots["tree_answer"] is None and slots["tree_node"] == stage_services.trees.get("top_up_failed").start
    )
    assert dispatcher.messages[-1]["response"] == "utter_tree_not_understood"


async def test_cross_sell_follows_a_resolution_but_never_a_complaint(stage_services) -> None:
    dispatcher = CollectingDispatcher()
    await ActionCrossSell(stage_services).run(
        dispatcher, make_tracker("yes", slots={"tree_done": "card_declined"}), {}
    )
    assert dispatcher.messages[-1]["text"] == "Tip: get a virtual card."
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("yes", slots={"tree_done": "card_declined", "complained": True})
    await ActionCrossSell(stage_services).run(dispatcher, tracker, {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_glad_solved"]


async def test_needs_understood_from_free_text_and_several_at_once(stage_services, dispatcher) -> None:
    form = ValidateProductNeedsForm(stage_services)
    slots = await form.validate_need_budget(
        "I'd pay £4 a month", dispatcher, make_tracker("I'd pay £4 a month"), {}
    )
    assert slots["need_budget"] == "low"
    slots = await form.validate_need_purpose(
        "x", dispatcher, make_tracker("mostly for travelling abroad"), {}
    )
    assert slots["need_purpose"] == "travel"


async def test_recommendation_has_explanations_and_a_comparison_table(stage_services, dispatcher) -> None:
    needs = {"need_purpose": "travel", "need_budget": "medium", "need_travel": "often", "need_cash": "lots"}
    events = await ActionRecommend(stage_services).run(dispatcher, make_tracker("", slots=needs), {})
    table = next(m["custom"]["data"]["comparison"] for m in dispatcher.messages if m.get("custom"))
    assert 1 <= len(table["columns"]) <= 3
    assert table["rows"][0]["label"] == "Monthly fee" and len(table["rows"][0]["values"]) == len(
        table["columns"]
    )
    explanations = next(
        m["text"]
        for m in dispatcher.messages
        if m.get("text") and "customers with similar needs" in m["text"]
    )
    assert explanations.count("\n") == len(table["columns"]) - 1  # one line each
    # the rows that decide the stated needs (``decides:`` in products.yml) stand out where they differ
    highlighted = {r["attribute"] for r in table["rows"] if r.get("highlight")}
    assert highlighted and highlighted <= {"monthly_fee", "free_exchange", "free_atm"}
    assert slots_of(events)["need_budget"] is None  # reset for next time
    assert slots_of(events)["recommended"] == [c["product_id"] for c in table["columns"]]


async def test_freeze_card_acts_on_the_signed_in_customer_only(stage_services, dispatcher) -> None:
    filled = {"freeze_card_id": "cust-ava-card1", "freeze_reason": "lost", "freeze_confirm": "yes"}
    await ActionFreezeCard(stage_services).run(
        dispatcher, make_tracker("yes", slots=filled, metadata=signed()), {}
    )
    assert dispatcher.messages[-1]["response"] == "utter_card_frozen_replace"
    assert stage_services.backoffice.cards("cust-ava", "frozen")[0].id == "cust-ava-card1"

    # Ben cannot pick Ava's card, even by typing its id or its digits
    for typed in ("cust-ava-card2", "7730"):
        slots = await form_turn(
            stage_services, "freeze_card_form", typed, asked="freeze_card_id", customer="cust-ben"
        )
        assert slots["freeze_card_id"] is None


async def test_no_token_means_nothing_happens(stage_services, dispatcher) -> None:
    filled = {"freeze_card_id": "cust-ava-card2", "freeze_reason": "lost", "freeze_confirm": "yes"}
    forged = {"customer_token": sign("not-the-secret", "cust-ava")}
    await ActionFreezeCard(stage_services).run(
        dispatcher, make_tracker("yes", slots=filled, metadata=forged), {}
    )
    assert dispatcher.messages[-1]["response"] == "utter_sign_in_needed"
    assert stage_services.backoffice.cards("cust-ava", "frozen") == []


async def test_a_refusal_is_explained_with_the_next_step(stage_services, dispatcher) -> None:
    filled = {"transfer_payee": "cust-ben-payee1", "transfer_amount": "50", "transfer_confirm": "yes"}
    tracker = make_tracker("yes", slots=filled, metadata=signed("cust-ben"))
    await ActionTransfer(stage_services).run(dispatcher, tracker, {})
    message = dispatcher.messages[-1]
    assert message["response"] == "utter_refusal_insufficient_funds_transfer"
    assert message["balance"] == "£18.40" and message["amount"] == "£50.00"
    assert message["custom"]["data"]["refusal"]["code"] == "insufficient_funds"
    assert stage_services.backoffice.account("cust-ben").balance == Decimal("18.40")


async def test_help_inside_a_form_keeps_what_was_typed(stage_services, dispatcher) -> None:
    slots = {"requested_slot": "transfer_amount", "transfer_payee": "cust-ava-payee1"}
    tracker = make_tracker(
        "help", intent="ask_help", slots=slots, active_loop="transfer_form", metadata=signed()
    )
    await ActionFormHelp(stage_services).run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages[0]["response"] == "utter_explain_transfer_amount"
    assert dispatcher.messages[1]["response"] == "utter_values_kept"
    assert dispatcher.messages[1]["values"] == "payee: Sam Carter"


async def test_an_answer_taken_for_help_is_still_an_answer(stage_services, dispatcher) -> None:
    slots = {"requested_slot": "freeze_reason", "freeze_card_id": "cust-ava-card2"}
    tracker = make_tracker(
        "I lost it", intent="ask_help", slots=slots, active_loop="freeze_card_form", metadata=signed()
    )
    events = await ActionFormHelp(stage_services).run(dispatcher, tracker, DOMAIN)
    assert slots_of(events)["freeze_reason"] == "lost"
    assert dispatcher.messages == []  # no help text: the form carries on with the next question


async def form_turn(
    services: Services,
    form: str,
    text: str,
    *,
    asked: str | None = None,
    slots: dict[str, Any] | None = None,
    customer: str = "cust-ava",
    intent: str = "ask_question",
    dispatcher: CollectingDispatcher | None = None,
    choice: str | None = None,
) -> dict[str, Any]:
    """One turn of a transaction form's validation, as Rasa runs it: at activation (nothing
    asked yet) or with ``asked`` requested; the asked slot holds the raw text, as from_text puts it."""
    validator = validators()[form](services)
    state = {**(slots or {}), "requested_slot": asked}
    if asked:
        state[asked] = text
    tracker = make_tracker(
        text,
        intent="choose" if choice else intent,
        entities=[{"entity": "choice", "value": choice}] if choice else None,
        slots=state,
        active_loop=form if asked else None,
        metadata=signed(customer),
    )
    if asked:  # what Rasa's from_text mapping extracted from this message, for the form to validate
        tracker.events.append({"event": "slot", "name": asked, "value": text})
    events = await validator.run(dispatcher or CollectingDispatcher(), tracker, DOMAIN)
    return slots_of(events)


@pytest.mark.parametrize(
    ("typed", "amount"),
    [("forty quid", "40.00"), ("twelve pounds fifty", "12.50"), ("50, no wait, make it 30", "30.00")],
)
async def test_transfer_amounts_in_customers_words(stage_services, typed, amount) -> None:
    slots = await form_turn(stage_services, "transfer_form", typed, asked="transfer_amount")
    assert slots["transfer_amount"] == amount


async def test_an_amount_in_another_currency_gets_a_clear_answer(stage_services, dispatcher) -> None:
    slots = await form_turn(
        stage_services, "transfer_form", "€30", asked="transfer_amount", dispatcher=dispatcher
    )
    assert slots["transfer_amount"] is None
    assert dispatcher.messages[-1]["response"] == "utter_amount_in_pounds_only"
    assert dispatcher.messages[-1]["currency"] == "EUR"


async def test_the_opening_request_fills_payee_and_amount(stage_services) -> None:
    slots = await form_turn(stage_services, "transfer_form", "send forty quid to my mum")
    assert slots["transfer_payee"] == "cust-ava-payee2" and slots["transfer_amount"] == "40.00"
    slots = await form_turn(stage_services, "freeze_card_form", "freeze my virtual card, it was stolen")
    assert slots["freeze_card_id"] == "cust-ava-card2" and slots["freeze_reason"] == "stolen"


async def test_a_correction_is_taken_and_said(stage_services, dispatcher) -> None:
    filled = {"transfer_payee": "cust-ava-payee1", "transfer_amount": "50.00"}
    slots = await form_turn(
        stage_services,
        "transfer_form",
        "no wait, make it 30",
        asked="transfer_confirm",
        slots=filled,
        dispatcher=dispatcher,
    )
    assert slots["transfer_amount"] == "30.00" and slots["transfer_confirm"] is None
    [said] = dispatcher.messages
    assert said["response"] == "utter_value_changed" and (said["field"], said["value"]) == (
        "amount",
        "£30.00",
    )
    # "change the payee" at the confirmation goes back to that field
    slots = await form_turn(
        stage_services, "transfer_form", "can I change the payee", asked="transfer_confirm", slots=filled
    )
    assert slots["transfer_payee"] is None and slots["requested_slot"] == "transfer_payee"


async def test_a_button_picks_only_the_customers_own_options(stage_services) -> None:
    slots = await form_turn(
        stage_services, "transfer_form", "Mum", asked="transfer_payee", choice="cust-ava-payee2"
    )
    assert slots["transfer_payee"] == "cust-ava-payee2"
    slots = await form_turn(
        stage_services, "transfer_form", "x", asked="transfer_payee", choice="cust-ben-payee1"
    )
    assert slots["transfer_payee"] is None


async def test_a_message_the_mappings_left_alone_is_left_to_the_rules(stage_services) -> None:
    """ "talk to a person" inside a form: Rasa's mappings extract nothing and ask the form anyway;
    the form answers with no events, so that Rasa rejects it and the rules hand off."""
    validator = validators()["freeze_card_form"](stage_services)
    tracker = make_tracker(
        "talk to a person",
        intent="request_human",
        slots={"requested_slot": "freeze_reason"},
        active_loop="freeze_card_form",
        metadata=signed(),
    )
    assert await validator.run(CollectingDispatcher(), tracker, DOMAIN) == []


async def test_misses_change_the_approach_and_never_repeat_three_times(stage_services) -> None:
    """An answer that doesn't fit: the field's hint first, then the options in full and a
    person, then a plain offer of a person, alternating; never the same message thrice."""
    from actions.forms import AskField

    slots: dict[str, Any] = {"freeze_card_id": "cust-ava-card1"}
    sent: list[str] = []
    for _ in range(5):
        said = CollectingDispatcher()
        slots.update(
            await form_turn(
                stage_services,
                "freeze_card_form",
                "purple",
                asked="freeze_reason",
                slots=slots,
                dispatcher=said,
            )
        )
        tracker = make_tracker("purple", slots=slots, active_loop="freeze_card_form", metadata=signed())
        await AskField(stage_services, "freeze_reason").run(said, tracker, DOMAIN)
        sent.append(" | ".join(m.get("response") or m.get("text") or "" for m in said.messages))
    assert sent[0] == "utter_invalid_freeze_reason | utter_ask_freeze_reason"
    assert sent[1] == "utter_ask_in_full" and sent[2] == "utter_form_stuck"
    assert all(not (a == b == c) for a, b, c in zip(sent, sent[1:], sent[2:], strict=False))
    assert slots["form_misses"] == {"freeze_reason": 5}


async def test_a_question_mid_form_is_answered_not_counted_as_a_miss(stage_services, dispatcher) -> None:
    slots = await form_turn(
        stage_services,
        "order_card_form",
        "how long does a new card take to arrive?",
        asked="card_delivery",
        slots={"card_kind": "physical"},
        dispatcher=dispatcher,
    )
    assert slots["card_delivery"] is None and slots["form_misses"] == {}
    assert dispatcher.messages[0]["custom"]["data"]["kb"]["decision"] == "digression"


async def test_why_is_explained_and_help_twice_changes_approach(stage_services, dispatcher) -> None:
    slots = await form_turn(
        stage_services,
        "freeze_card_form",
        "why do u need to know?",
        asked="freeze_reason",
        slots={"freeze_card_id": "cust-ava-card1"},
        dispatcher=dispatcher,
    )
    assert dispatcher.messages[0]["response"] == "utter_explain_freeze_reason"
    assert slots["form_misses"] == {}  # explained: not a miss
    tracker = make_tracker(
        "help",
        intent="ask_help",
        slots={"requested_slot": "freeze_reason", "form_misses": {"freeze_reason": 1}},
        active_loop="freeze_card_form",
        metadata=signed(),
    )
    again = CollectingDispatcher()
    events = await ActionFormHelp(stage_services).run(again, tracker, DOMAIN)
    assert again.messages == [] and slots_of(events)["form_misses"] == {"freeze_reason": 2}


async def test_a_virtual_card_is_not_asked_how_to_deliver_it(stage_services) -> None:
    slots = await form_turn(stage_services, "order_card_form", "virtual please", asked="card_kind")
    assert slots["card_kind"] == "virtual" and slots["requested_slot"] == "order_confirm"


async def test_a_tree_asks_differently_after_two_answers_that_fit_nothing(stage_services) -> None:
    slots, dispatcher = await walk(stage_services, "top_up_failed", ["purple elephants", "green giraffes"])
    assert slots["form_misses"] == {"tree_answer": 2}
    assert [m.get("response") for m in dispatcher.messages].count("utter_tree_not_understood") == 1
    asked = CollectingDispatcher()
    await ActionAskTreeAnswer(stage_services).run(asked, make_tracker("x", slots=slots), DOMAIN)
    assert asked.messages[0]["response"] == "utter_ask_in_full"
    assert {"title": "Talk to a person", "payload": "/request_human"} in asked.messages[0]["buttons"]


async def test_the_opening_request_answers_the_product_questions(stage_services) -> None:
    form = ValidateProductNeedsForm(stage_services)
    tracker = make_tracker("I travel a lot, which card suits me?", intent="compare_products")
    slots = slots_of(await form.run(CollectingDispatcher(), tracker, DOMAIN))
    assert slots["need_travel"] == "often"


async def test_a_transfer_asked_for_in_words_read_as_a_question_starts_the_form(stage_services) -> None:
    from actions.kb import ActionKnowledgeBaseAnswer

    text = "Can you pay Sam Carter for me please? It's for the bills."
    events = await ActionKnowledgeBaseAnswer(stage_services).run(
        CollectingDispatcher(), make_tracker(text, metadata=signed()), DOMAIN
    )
    assert {"event": "followup", "name": "transfer_form"} in [
        {k: e[k] for k in ("event", "name") if k in e} for e in events
    ]
    # without a verified customer it stays a question for the knowledge base
    anonymous = await ActionKnowledgeBaseAnswer(stage_services).run(
        CollectingDispatcher(), make_tracker(text), DOMAIN
    )
    assert all(e.get("event") != "followup" for e in anonymous)


async def test_thanks_after_a_tree_answer_means_it_helped(stage_services) -> None:
    slots, _ = await walk(stage_services, "card_declined", ["the app says my card is frozen"])
    form = ValidateTroubleshootForm(stage_services)
    text = "ah right, that makes sense, cheers"
    tracker = make_tracker(text, intent="thank", slots=slots)
    result = await form.validate_tree_answer(text, CollectingDispatcher(), tracker, {})
    assert result["tree_result"] == "solved"  # not a failed question, not a handoff


async def test_a_lost_card_told_as_a_story_gets_the_freeze_started(stage_services) -> None:
    from actions.kb import ActionKnowledgeBaseAnswer

    content = dataclasses.replace(
        stage_services.content, article_actions={"lost_card": "freeze_card"}, act_at_once=("freeze_card",)
    )
    action = ActionKnowledgeBaseAnswer(dataclasses.replace(stage_services, content=content))
    story = "think i left my card in a taxi last night"
    events = action.act_at_once(make_tracker(story, metadata=signed()), "lost_card", story)
    assert events[-1]["event"] == "followup" and events[-1]["name"] == "freeze_card_form"
    # a how-to question, or nobody signed in: the article alone
    how = "how do I freeze my card?"
    assert action.act_at_once(make_tracker(how, metadata=signed()), "lost_card", how) == []
    assert action.act_at_once(make_tracker(story), "lost_card", story) == []


async def test_a_yes_taken_for_cancel_is_the_answer_and_a_real_cancel_stops(stage_services) -> None:
    from actions.transactions import ActionCancelForm

    slots = {"requested_slot": "freeze_confirm", "freeze_card_id": "cust-ava-card1", "freeze_reason": "lost"}
    said = CollectingDispatcher()
    tracker = make_tracker(
        "yes freeze it", intent="cancel", slots=slots, active_loop="freeze_card_form", metadata=signed()
    )
    events = await ActionCancelForm(stage_services).run(said, tracker, DOMAIN)
    assert slots_of(events)["freeze_confirm"] == "yes"
    assert events[-1]["event"] == "followup" and events[-1]["name"] == "freeze_card_form"
    tracker = make_tracker(
        "no don't freeze it", intent="cancel", slots=slots, active_loop="freeze_card_form", metadata=signed()
    )
    stop = CollectingDispatcher()
    events = await ActionCancelForm(stage_services).run(stop, tracker, DOMAIN)
    assert stop.messages[0]["response"] == "utter_cancelled" and slots_of(events)["freeze_confirm"] is None


async def test_help_or_a_vague_cancel_at_a_confirmation_never_sends_money(stage_services) -> None:
    from actions.transactions import ActionCancelForm

    slots = {
        "requested_slot": "transfer_confirm",
        "transfer_payee": "cust-ava-payee1",
        "transfer_amount": "50.00",
    }
    for action, text, intent in (
        (ActionFormHelp, "ok help me", "ask_help"),
        (ActionCancelForm, "ok I'm done", "cancel"),
    ):
        tracker = make_tracker(
            text, intent=intent, slots=slots, active_loop="transfer_form", metadata=signed()
        )
        events = await action(stage_services).run(CollectingDispatcher(), tracker, DOMAIN)
        assert slots_of(events).get("transfer_confirm") is None, text
        assert all(e.get("event") != "followup" for e in events), text


async def test_asked_again_the_order_confirmation_is_the_one_for_the_card_chosen(stage_services) -> None:
    from actions.forms import AskField

    slots = {"card_kind": "physical", "card_delivery": "express", "form_misses": {"order_confirm": 2}}
    said = CollectingDispatcher()
    tracker = make_tracker("hmm", slots=slots, active_loop="order_card_form", metadata=signed())
    await AskField(stage_services, "order_confirm").run(said, tracker, DOMAIN)
    question = said.messages[0]["question"]
    assert "physical card by express delivery" in question and "virtual" not in question


def followups(events: list[dict[str, Any]]) -> list[str]:
    return [e["name"] for e in events if e.get("event") == "followup"]


def just_done(form: str, values: dict[str, Any], *, turns_ago: int = 1) -> dict[str, Any]:
    """Slots and earlier events of a conversation whose transaction was done ``turns_ago``
    customer messages before this one."""
    earlier = [{"event": "user", "text": f"earlier {i}", "parse_data": {}} for i in range(turns_ago)]
    return {"slots": {"last_task": {"form": form, "values": values, "turn": 1}}, "events": earlier}


async def test_the_same_again_right_after_a_transaction_reads_against_it(stage_services) -> None:
    from actions.kb import ActionKnowledgeBaseAnswer

    frozen = just_done("freeze_card_form", {"freeze_card_id": "cust-ava-card1", "freeze_reason": "lost"})
    said = CollectingDispatcher()
    tracker = make_tracker("and the other card too", metadata=signed(), **frozen)
    events = await validators()["freeze_card_form"](stage_services).run(said, tracker, DOMAIN)
    # the other card, for the same reason, and the customer is told what changed; never confirmed
    assert slots_of(events)["freeze_card_id"] == "cust-ava-card2"
    assert slots_of(events)["freeze_reason"] == "lost"
    assert slots_of(events).get("freeze_confirm") is None
    assert [m.get("response") for m in said.messages] == ["utter_value_changed"]
    # read as a question, it starts that form again
    events = await ActionKnowledgeBaseAnswer(stage_services).run(
        CollectingDispatcher(), make_tracker("and the other card too", metadata=signed(), **frozen), DOMAIN
    )
    assert followups(events) == ["freeze_card_form"]
    # later in the conversation it leans on nothing: a fresh form
    stale = just_done("freeze_card_form", {"freeze_card_id": "cust-ava-card1"}, turns_ago=3)
    tracker = make_tracker("and the other card too", metadata=signed(), **stale)
    events = await validators()["freeze_card_form"](stage_services).run(
        CollectingDispatcher(), tracker, DOMAIN
    )
    assert slots_of(events).get("freeze_card_id") is None


async def test_a_transfer_again_keeps_the_amount_and_takes_the_new_payee(stage_services) -> None:
    sent = just_done("transfer_form", {"transfer_payee": "cust-ava-payee2", "transfer_amount": "40"})
    tracker = make_tracker("same again for Sam", metadata=signed(), **sent)
    events = await validators()["transfer_form"](stage_services).run(CollectingDispatcher(), tracker, DOMAIN)
    assert slots_of(events)["transfer_payee"] == "cust-ava-payee1"
    assert slots_of(events)["transfer_amount"] == "40"


async def test_a_short_question_after_a_transaction_is_read_with_its_topic(stage_services) -> None:
    from actions.kb import ActionKnowledgeBaseAnswer

    ordered = just_done("order_card_form", {"card_kind": "physical", "card_delivery": "standard"})
    action = ActionKnowledgeBaseAnswer(stage_services)
    assert action.task_topic(
        make_tracker("when would it arrive then?", **ordered), "when would it arrive then?"
    )
    assert action.task_topic(make_tracker("when would it arrive then?"), "when would it arrive then?") is None


@pytest.mark.parametrize(
    ("intent", "text", "routed"),
    [
        # NLU took it for a transfer; it asks for a freeze in so many words
        (
            "make_transfer",
            "There's a payment I don't recognise on my virtual card, please block the card",
            "freeze_card_form",
        ),
        # a question about transfers, not one: the knowledge base answers
        ("make_transfer", "how do I send money abroad?", "action_kb_answer"),
        ("make_transfer", "paid my rent this morning and it still says pending??", "action_kb_answer"),
        # the transaction itself
        ("make_transfer", "send £20 to mum", None),
        ("freeze_card", "can you freeze my card?", None),
    ],
)
async def test_a_transaction_intent_that_asks_for_something_else_is_routed(
    stage_services, intent, text, routed
) -> None:
    from actions.transactions import ActionCheckIdentity

    events = await ActionCheckIdentity(stage_services).run(
        CollectingDispatcher(), make_tracker(text, intent=intent, metadata=signed()), DOMAIN
    )
    assert followups(events) == ([routed] if routed else [])
    if routed is None:
        assert slots_of(events)["signed_in"] is True


@pytest.mark.parametrize(
    ("text", "compares"),
    [
        ("I'm abroad for work most months, which plan would suit me?", True),
        ("what would you recommend? I use hardly any cash", True),
        ("which account is best for me", False),  # no need stated: a question (or the menu)
        ("how much is the Premium plan?", False),
    ],
)
async def test_a_recommendation_asked_for_in_words_starts_the_comparison(
    stage_services, text, compares
) -> None:
    from actions.kb import ActionKnowledgeBaseAnswer

    events = await ActionKnowledgeBaseAnswer(stage_services).run(
        CollectingDispatcher(), make_tracker(text), DOMAIN
    )
    assert (followups(events) == ["product_needs_form"]) is compares


@pytest.mark.parametrize(
    ("action", "intent", "asked", "text", "value"),
    [
        ("complaint", "complain", "need_cash", "hardly ever", "little"),
        ("cancel", "cancel", "need_budget", "whatever's best really, money's not the issue", "high"),
    ],
)
async def test_an_answer_to_a_product_question_taken_for_something_else_is_the_answer(
    stage_services, action, intent, asked, text, value
) -> None:
    from actions.complaint import ActionComplaint
    from actions.transactions import ActionCancelForm

    runner = ActionComplaint if action == "complaint" else ActionCancelForm
    said = CollectingDispatcher()
    tracker = make_tracker(
        text, intent=intent, slots={"requested_slot": asked}, active_loop="product_needs_form"
    )
    events = await runner(stage_services).run(said, tracker, DOMAIN)
    assert slots_of(events)[asked] == value
    assert not [m for m in said.messages if m.get("response") in ("utter_complaint", "utter_cancelled")]
    # a real complaint or cancel is still one
    tracker = make_tracker(
        "this is useless, stop" if action == "cancel" else "this is useless",
        intent=intent,
        slots={"requested_slot": asked},
        active_loop="product_needs_form",
    )
    said = CollectingDispatcher()
    await runner(stage_services).run(said, tracker, DOMAIN)
    assert [m.get("response") for m in said.messages][-1] in ("utter_complaint", "utter_cancelled")


async def test_the_customers_payees_and_cards_are_read_once_a_turn(stage_services) -> None:
    office = stage_services.backoffice
    calls: list[str] = []
    real_payees, real_cards = office.payees, office.cards

    def payees(*args: Any, **kwargs: Any) -> Any:
        calls.append("payees")
        return real_payees(*args, **kwargs)

    def cards(*args: Any, **kwargs: Any) -> Any:
        calls.append("cards")
        return real_cards(*args, **kwargs)

    office.payees, office.cards = payees, cards  # type: ignore[method-assign]
    # a correction: read for the form's fields, then again to say the new value back
    slots = await form_turn(
        stage_services,
        "transfer_form",
        "actually it's for Sam",
        asked="transfer_amount",
        slots={"transfer_payee": "cust-ava-payee2"},
    )
    assert slots["transfer_payee"] == "cust-ava-payee1"
    assert calls.count("payees") == 1
