from rasa_sdk.events import SlotSet

from actions.kb import ActionKnowledgeBaseAnswer, ActionShowArticle
from tests.actions.conftest import make_tracker


async def test_answers_with_the_article_and_its_metadata(services, dispatcher):
    events = await ActionKnowledgeBaseAnswer(services).run(
        dispatcher, make_tracker("I'm still waiting for my card, it hasn't arrived"), {}
    )
    [message] = dispatcher.messages
    assert message["text"].startswith("Cards arrive within 3-5 working days")
    kb = message["custom"]["data"]["kb"]
    assert kb["article_id"] == "card_arrival" and kb["decision"] == "answer" and 0.5 < kb["score"] <= 1
    assert message["buttons"][0]["payload"] == '/show_article{"article_id": "lost_or_stolen_card"}'
    assert SlotSet("kb_decision", "answer") in events
    assert SlotSet("kb_article", "card_arrival") in events
    assert SlotSet("stage", "information_gathering") in events


async def test_declines_and_offers_a_person(services, dispatcher):
    events = await ActionKnowledgeBaseAnswer(services).run(
        dispatcher, make_tracker("what's the best lasagne recipe?"), {}
    )
    [message] = dispatcher.messages
    assert message["response"] == "utter_kb_decline"
    assert message["buttons"] == [{"title": "Talk to a person", "payload": "/request_human"}]
    assert message["custom"]["data"]["kb"]["decision"] == "decline"
    assert SlotSet("kb_decision", "decline") in events
    assert SlotSet("failed_turns", 1) in events


async def test_a_second_unanswerable_question_in_a_row_goes_to_a_person(services, dispatcher):
    tracker = make_tracker("and what about a good pizza dough?", slots={"failed_turns": 1})
    events = await ActionKnowledgeBaseAnswer(services).run(dispatcher, tracker, {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_handoff_after_failures"]
    assert SlotSet("kb_decision", "escalate") in events
    assert SlotSet("handoff_reason", "understanding_failed") in events
    assert SlotSet("failed_turns", 0) in events


async def test_a_broken_knowledge_base_degrades_to_an_apology(services, dispatcher, tmp_path):
    class Broken:
        def get(self):
            raise FileNotFoundError("no index")

    services.kb = Broken()
    await ActionKnowledgeBaseAnswer(services).run(dispatcher, make_tracker("I lost my card"), {})
    assert dispatcher.messages[0]["response"] == "utter_service_unavailable"


async def test_show_article_from_a_button(services, dispatcher):
    tracker = make_tracker(
        '/show_article{"article_id": "exchange_rate"}',
        intent="show_article",
        entities=[{"entity": "article_id", "value": "exchange_rate"}],
    )
    events = await ActionShowArticle(services).run(dispatcher, tracker, {})
    assert dispatcher.messages[0]["text"].startswith("We exchange at the interbank rate")
    assert SlotSet("kb_article", "exchange_rate") in events


async def test_show_unknown_article(services, dispatcher):
    tracker = make_tracker("x", intent="show_article", entities=[{"entity": "article_id", "value": "nope"}])
    await ActionShowArticle(services).run(dispatcher, tracker, {})
    assert dispatcher.messages[0]["response"] == "utter_kb_decline"


async def test_the_same_question_again_after_its_answer_goes_to_a_person(services, dispatcher):
    question = "Why hasn't my new card arrived?"
    earlier = [{"event": "user", "text": question, "parse_data": {"intent": {"name": "ask_question"}}}]
    tracker = make_tracker(question + "!", slots={"kb_article": "card_arrival"}, events=earlier)
    events = await ActionKnowledgeBaseAnswer(services).run(dispatcher, tracker, {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_repeated_handoff"]
    assert SlotSet("kb_decision", "escalate") in events
    assert SlotSet("handoff_reason", "repeated_question") in events
    # asked once, or after another answer, it is simply answered
    dispatcher.messages.clear()
    tracker = make_tracker(question, slots={"kb_article": "exchange_rate"}, events=earlier)
    events = await ActionKnowledgeBaseAnswer(services).run(dispatcher, tracker, {})
    assert SlotSet("kb_decision", "answer") in events


def test_a_follow_up_is_read_with_the_question_before_it() -> None:
    from actions.kb import follow_up_context
    from tests.actions.conftest import make_tracker

    before = [{"event": "user", "text": "how long do transfers to the UK take?"}]
    answered = {"kb_article": "transfer_timing", "kb_decision": "answer"}
    for follow_up in ("and to euro accounts?", "how much is it?", "is it the same for Spain?", "euros?"):
        tracker = make_tracker(follow_up, slots=answered, events=before)
        assert follow_up_context(tracker, follow_up) == "how long do transfers to the UK take?"
    # a new topic starts cleanly; nothing answered just before, nothing to lean on
    new_topic = "my card was swallowed by a cash machine this morning"
    assert follow_up_context(make_tracker(new_topic, slots=answered, events=before), new_topic) is None
    assert follow_up_context(make_tracker("and in euros?", events=before), "and in euros?") is None
    # after a choice of articles too, a follow-up leans on the question that got the choice
    offered = make_tracker(
        "why would it differ from the day I paid?", slots={"kb_decision": "clarify"}, events=before
    )
    assert follow_up_context(offered, "why would it differ from the day I paid?") is not None


async def test_cancel_or_help_outside_a_task_answers_a_real_question(services) -> None:
    from rasa_sdk.executor import CollectingDispatcher

    from actions.kb import ActionOutsideATask
    from tests.actions.conftest import make_tracker

    bare = CollectingDispatcher()
    await ActionOutsideATask(services).run(bare, make_tracker("cancel", intent="cancel"), {})
    assert [m["response"] for m in bare.messages] == ["utter_anything_else"]
    question = CollectingDispatcher()
    text = "can I cancel a card payment that is still pending?"
    await ActionOutsideATask(services).run(question, make_tracker(text, intent="cancel"), {})
    assert any("kb" in (m.get("custom") or {}).get("data", {}) for m in question.messages)


async def test_the_article_just_shown_is_not_the_answer_to_a_different_question(services, dispatcher):
    earlier = [{"event": "user", "text": "Why hasn't my new card arrived?"}]
    text = "I'm still waiting for my card, it hasn't arrived"
    tracker = make_tracker(
        text, slots={"kb_article": "card_arrival", "kb_decision": "answer"}, events=earlier
    )
    events = await ActionKnowledgeBaseAnswer(services).run(dispatcher, tracker, {})
    [message] = dispatcher.messages
    assert message["response"] == "utter_kb_clarify"
    kb = message["custom"]["data"]["kb"]
    assert kb["not_again"] == "card_arrival" and kb["article_id"] == "lost_or_stolen_card"  # its related one
    assert SlotSet("kb_decision", "clarify") in events
