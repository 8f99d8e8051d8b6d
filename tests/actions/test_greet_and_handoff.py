from rasa_sdk.events import ConversationPaused, SlotSet

from actions.greet import ActionGreet
from actions.handoff import ActionHandoff
from tests.actions.conftest import make_tracker


async def test_greeting_offers_existing_top_tasks_and_a_person(services, dispatcher):
    events = await ActionGreet(services).run(dispatcher, make_tracker("hi", intent="greet"), {})
    intro, tasks = dispatcher.messages
    assert intro["response"] == "utter_greet" and intro["bank_name"] == "Kestrel Bank"
    titles = [b["title"] for b in tasks["buttons"]]
    guided = ["Browse help topics", "Fix a problem step by step", "Compare accounts and cards"]
    # a first visit is a novice: the guided path first, then the top tasks that exist, then a person
    assert titles == [*guided, "My card hasn't arrived yet", "Our exchange rates", "Talk to a person"]
    assert SlotSet("stage", "introduction") in events


async def test_handoff_stores_transcript_reason_stage_and_pauses(services, dispatcher):
    history = [
        {
            "event": "user",
            "text": "I lost my card",
            "parse_data": {"intent": {"name": "ask_question", "confidence": 0.9}},
        },
        {
            "event": "bot",
            "text": "Freeze your card",
            "data": {"custom": {"data": {"kb": {"article_id": "lost_or_stolen_card", "score": 0.8}}}},
        },
    ]
    tracker = make_tracker(
        "I want to talk to a human",
        intent="request_human",
        slots={"stage": "information_gathering", "kb_article": "lost_or_stolen_card", "requested_slot": None},
        events=history,
    )
    events = await ActionHandoff(services).run(dispatcher, tracker, {})
    assert ConversationPaused() in events
    assert dispatcher.messages[0]["response"] == "utter_handoff_queued"

    [record] = services.handoffs.list()
    assert record.conversation_id == "customer-1"
    assert record.reason == "customer_request" and record.stage == "information_gathering"
    assert [t["text"] for t in record.transcript] == [
        "I lost my card",
        "Freeze your card",
        "I want to talk to a human",
    ]
    assert record.transcript[1]["article_id"] == "lost_or_stolen_card"
    assert record.slots == {"stage": "information_gathering", "kb_article": "lost_or_stolen_card"}
    handoff = dispatcher.messages[0]["custom"]["data"]["handoff"]
    assert handoff["id"] == record.id and handoff["position"] == 1 and handoff["wait_minutes"] == 4
    assert dispatcher.messages[0]["position"] == 1 and dispatcher.messages[0]["wait"] == 4
    # an extractive summary, and priority for having tried self-service first (an article)
    assert record.summary == (
        "Customer said: “I lost my card”. Shown: lost_or_stolen_card. Stage: information gathering. "
        "Reason: customer request."
    )
    assert record.priority == 1


async def test_asking_twice_reuses_the_open_handoff(services, dispatcher):
    await ActionHandoff(services).run(dispatcher, make_tracker("human", intent="request_human"), {})
    await ActionHandoff(services).run(dispatcher, make_tracker("human!", intent="request_human"), {})
    assert len(services.handoffs.list()) == 1


async def test_handoff_store_failure_gives_a_phone_number(services, dispatcher):
    from assistant.handoff.store import Base

    Base.metadata.drop_all(services.handoffs.engine)  # the database loses its table
    events = await ActionHandoff(services).run(dispatcher, make_tracker("human", intent="request_human"), {})
    assert dispatcher.messages[0]["response"] == "utter_handoff_failed"
    assert events == []


async def test_a_second_complaint_hands_off_with_reason_frustration(services, dispatcher):
    from actions.complaint import ActionComplaint

    first = await ActionComplaint(services).run(dispatcher, make_tracker("useless", intent="complain"), {})
    assert first == [SlotSet("complained", True)] and services.handoffs.list() == []
    tracker = make_tracker("still useless", intent="complain", slots={"complained": True})
    events = await ActionComplaint(services).run(dispatcher, tracker, {})
    assert ConversationPaused() in events
    [record] = services.handoffs.list()
    assert record.reason == "frustration"
    assert [m["response"] for m in dispatcher.messages][-2:] == [
        "utter_complaint_handoff",
        "utter_handoff_queued",
    ]


async def test_hello_while_waiting_for_a_person_gets_the_status_not_a_greeting(services, dispatcher):
    services.handoffs.create(
        "customer-1", reason="customer_request", stage="introduction", transcript=[], slots={}
    )
    events = await ActionGreet(services).run(dispatcher, make_tracker("hello? anyone?", intent="greet"), {})
    [message] = dispatcher.messages
    assert message["response"] == "utter_still_queued" and message["position"] == 1
    assert [b["payload"] for b in message["buttons"]] == ["/leave_message", "/keep_waiting"]
    assert events == []


async def test_a_conversation_opening_handoff_after_handoff_is_limited_per_hour(services):
    from rasa_sdk.executor import CollectingDispatcher

    limit = services.content.handoff.max_per_hour
    for _ in range(limit):
        await ActionHandoff(services).run(
            CollectingDispatcher(), make_tracker("human", intent="request_human", sender_id="flood"), {}
        )
        [open_one] = [r for r in services.handoffs.list() if r.status == "queued"]
        services.handoffs.finish(open_one.id, status="closed", outcome="resolved")
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff(services).run(
        dispatcher, make_tracker("human", intent="request_human", sender_id="flood"), {}
    )
    assert dispatcher.messages[0]["response"] == "utter_handoff_limited"
    assert dispatcher.messages[0]["buttons"][0]["payload"] == "/leave_message"
    assert ConversationPaused() not in events
    assert len(services.handoffs.list()) == limit
    other = CollectingDispatcher()
    await ActionHandoff(services).run(
        other, make_tracker("human", intent="request_human", sender_id="calm"), {}
    )
    assert other.messages[0]["response"] == "utter_handoff_queued"


async def test_a_handoff_the_store_refuses_is_kept_and_recorded_once_it_takes_it(
    services, dispatcher, tmp_path
):
    import dataclasses

    from assistant.handoff import HandoffStore
    from assistant.handoff.recover import record_spooled
    from assistant.handoff.store import Base
    from assistant.handoff_spool import drain

    spool = tmp_path / "handoff-spool.jsonl"
    kept = dataclasses.replace(services, settings=dataclasses.replace(services.settings, handoff_spool=spool))
    url = services.handoffs.engine.url
    Base.metadata.drop_all(services.handoffs.engine)  # the database refuses every write
    tracker = make_tracker("I want a person", intent="request_human")
    events = await ActionHandoff(kept).run(dispatcher, tracker, {})
    assert dispatcher.messages[0]["response"] == "utter_handoff_kept"
    assert {"event": "slot", "name": "handoff_reason", "value": None} in [
        {k: e.get(k) for k in ("event", "name", "value")} for e in events
    ]
    store = HandoffStore(str(url))  # the database is back (the table created again)
    assert drain(spool, lambda r: record_spooled(store, r), settle=0) == 1
    [record] = store.list(conversation_id=tracker.sender_id)
    assert record.reason == "customer_request" and record.status == "queued"
    assert any(t["text"] == "I want a person" for t in record.transcript)
    store.dispose()
