"""Product comparison: guided questions about needs (``product_needs_form``), a case-based
recommendation with one-line explanations and a side-by-side comparison, and the offer of a
sales adviser for high-value cases or when the customer hesitates."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    COMPARISON,
    MISSES,
    choice_button,
    custom_payload,
    intent_button,
    typed_text,
)
from actions.forms import reask
from actions.services import ServiceAction
from assistant.guided.catalog import Catalog, Product
from assistant.guided.recommend import RecommendationResult
from assistant.insights.events import PRODUCT_CHOSEN, RECOMMENDED

logger = logging.getLogger(__name__)

NEEDS = ("purpose", "budget", "travel", "cash")
SLOT = {need: f"need_{need}" for need in NEEDS}


def comparison_table(
    catalog: Catalog, products: list[Product], needs: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A structured side-by-side comparison: columns are products, rows typed attributes; the
    rows that matter for the customer's stated needs and differ between products are marked
    ``highlight``."""
    wanted = {
        catalog.needs[n].decides
        for n, v in (needs or {}).items()
        if v and n in catalog.needs and catalog.needs[n].decides
    }
    rows = []
    for a in catalog.attributes.values():
        values = [a.format(p.attributes.get(a.key)) for p in products]
        rows.append(
            {
                "attribute": a.key,
                "label": a.label,
                "values": values,
                "highlight": a.key in wanted and len(set(values)) > 1,
            }
        )
    rows.append(
        {"attribute": "features", "label": "Also", "values": [", ".join(p.features[:3]) for p in products]}
    )
    return {"columns": [{"product_id": p.id, "name": p.name} for p in products], "rows": rows}


def comparison_text(table: dict[str, Any]) -> str:
    """The same comparison as plain text, for channels that cannot show a table."""
    lines = []
    for i, column in enumerate(table["columns"]):
        facts = "; ".join(
            (f"**{row['label']}**" if row.get("highlight") else row["label"]) + f": {row['values'][i]}"
            for row in table["rows"]
            if row["attribute"] != "features"
        )
        lines.append(f"• {column['name']}: {facts}")
    return "\n".join(lines)


class ValidateProductNeedsForm(ServiceAction, FormValidationAction):
    def name(self) -> str:
        return "validate_product_needs_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        purpose = tracker.get_slot(SLOT["purpose"])
        skip = {SLOT["travel"], SLOT["cash"]} if purpose in ("saving", "child") else set()
        return [s for s in domain_slots if s not in skip]

    def _understand(self, need: str, tracker: Tracker, dispatcher: CollectingDispatcher) -> dict[str, Any]:
        catalog = self.services.catalog
        if catalog is None or need not in catalog.needs:
            return {SLOT[need]: None}
        text = typed_text(tracker)
        value = catalog.need(need).understand(text, self.services.encoder)
        misses: dict[str, int] = dict(tracker.get_slot(MISSES) or {})
        if value is None:
            misses[SLOT[need]] = misses.get(SLOT[need], 0) + 1
            if misses[SLOT[need]] == 1:  # later misses: the question itself changes (reask)
                dispatcher.utter_message(response="utter_need_not_understood")
            return {SLOT[need]: None, MISSES: misses}
        misses.pop(SLOT[need], None)
        slots: dict[str, Any] = {SLOT[need]: value, "stage": COMPARISON, MISSES: misses}
        # "I travel a lot and want it free" answers two questions at once.
        for other in NEEDS:
            if (
                other != need
                and other != "purpose"
                and other in catalog.needs
                and not tracker.get_slot(SLOT[other])
            ):
                spotted = catalog.need(other).spotted(text)
                if spotted:
                    slots[SLOT[other]] = spotted
        return slots

    def answer(self, tracker: Tracker) -> dict[str, Any]:
        """The slots the message sets when it answers the product question being asked though
        NLU took it for something else (cancel, a complaint); nothing when it doesn't, and no
        miss is counted."""
        asked = tracker.get_slot("requested_slot") or ""
        if tracker.active_loop_name != self.name()[len("validate_") :] or not asked.startswith("need_"):
            return {}
        need = asked[len("need_") :]
        if need not in SLOT:
            return {}
        slots = self._understand(need, tracker, CollectingDispatcher())
        return slots if slots.get(SLOT[need]) is not None else {}

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.active_loop_name is None:
            # the opening request: "I travel a lot, which card suits me?" answers a question
            opening = self.opening_needs(tracker)
            if opening:
                tracker.slots.update(opening)
                return [
                    *(SlotSet(k, v) for k, v in opening.items()),
                    *await super().run(dispatcher, tracker, domain),
                ]
        return list(await super().run(dispatcher, tracker, domain))

    def opening_needs(self, tracker: Tracker) -> dict[str, Any]:
        catalog = self.services.catalog
        text = typed_text(tracker)
        if catalog is None or not text or text.startswith("/"):
            return {}
        return {
            SLOT[n]: value
            for n in NEEDS
            if n in catalog.needs and not tracker.get_slot(SLOT[n])
            for value in [catalog.need(n).spotted(text)]
            if value
        }

    async def validate_need_purpose(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._understand("purpose", tracker, dispatcher)

    async def validate_need_budget(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._understand("budget", tracker, dispatcher)

    async def validate_need_travel(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._understand("travel", tracker, dispatcher)

    async def validate_need_cash(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._understand("cash", tracker, dispatcher)


class ActionAskNeed(ServiceAction, Action):
    """Ask one guided question from ``data/products.yml``, its options as buttons."""

    def __init__(self, services: Any = None, need: str = "purpose"):
        super().__init__(services)
        self.need = need

    def name(self) -> str:
        return f"action_ask_{SLOT[self.need]}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        catalog = self.services.catalog
        if catalog is None or self.need not in catalog.needs:
            dispatcher.utter_message(response="utter_service_unavailable")
            return []
        need = catalog.need(self.need)
        step = NEEDS.index(self.need) + 1
        misses = int((tracker.get_slot(MISSES) or {}).get(SLOT[self.need], 0))
        if reask(
            dispatcher,
            self.services,
            misses,
            field=SLOT[self.need],
            label="answer",
            question=need.question,
            options="\n".join(f"{i}. {o.label}" for i, o in enumerate(need.options, 1)),
            buttons=[choice_button(o.label, o.value) for o in need.options],
        ):
            return [SlotSet("stage", COMPARISON)]
        dispatcher.utter_message(
            text=need.question,
            buttons=[choice_button(o.label, o.value) for o in need.options],
            json_message=custom_payload(guided={"need": self.need, "step": step, "of": len(NEEDS)}),
        )
        return [SlotSet("stage", COMPARISON)]


class ActionRecommend(ServiceAction, Action):
    def name(self) -> str:
        return "action_recommend"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        needs = {need: tracker.get_slot(SLOT[need]) for need in NEEDS if tracker.get_slot(SLOT[need])}
        reset = [SlotSet(SLOT[need], None) for need in NEEDS]
        try:
            result: RecommendationResult = self.services.recommender.recommend(needs)
        except Exception:
            logger.exception("recommender unavailable")
            dispatcher.utter_message(response="utter_service_unavailable")
            return [*reset, SlotSet("stage", COMPARISON)]
        if not result.recommendations:
            dispatcher.utter_message(
                response="utter_no_recommendation",
                buttons=[self.services.button("sales"), self.services.button("talk_to_person")],
            )
            return [
                *reset,
                SlotSet("stated_needs", needs),
                SlotSet("recommended", []),
                SlotSet("stage", COMPARISON),
            ]
        catalog = self.services.catalog
        assert catalog is not None
        products = [r.product for r in result.recommendations]
        table = comparison_table(catalog, [*products, *result.compared_with], needs)
        dispatcher.utter_message(response="utter_recommendation_intro")
        dispatcher.utter_message(text="\n".join(r.explanation for r in result.recommendations))
        thin = [
            r for r in result.recommendations if r.chose < self.services.recommender.settings.min_evidence
        ]
        if thin:
            dispatcher.utter_message(
                response="utter_recommendation_thin_evidence",
                product=thin[0].product.name,
                count=str(thin[0].chose),
            )
        for other in result.compared_with:
            dispatcher.utter_message(response="utter_recommendation_compared_with", product=other.name)
        dispatcher.utter_message(
            text=comparison_text(table),
            json_message=custom_payload(
                comparison={
                    **table,
                    "recommendations": [r.to_dict() for r in result.recommendations],
                    "also": result.also.to_dict() if result.also else None,
                }
            ),
        )
        dispatcher.utter_message(
            json_message=custom_payload(
                carousel={
                    "title": self.services.content.label("recommended"),
                    "items": [
                        {
                            "title": r.product.name,
                            "subtitle": r.product.summary,
                            "text": r.explanation,
                            "buttons": [
                                intent_button(
                                    f"Choose {r.product.name}", "choose_product", product_id=r.product.id
                                )
                            ],
                        }
                        for r in result.recommendations
                    ],
                }
            )
        )
        if result.also is not None:
            dispatcher.utter_message(
                response="utter_recommendation_also", explanation=result.also.explanation
            )
        buttons = [intent_button(f"Choose {p.name}", "choose_product", product_id=p.id) for p in products]
        buttons.append(self.services.button("not_sure"))
        if result.high_value and self.services.content.sales.offer_on_high_value:
            buttons.append(self.services.button("sales"))
        dispatcher.utter_message(response="utter_recommendation_next", buttons=buttons)
        self.services.record(
            tracker.sender_id, RECOMMENDED, stage=COMPARISON, needs=needs, products=[p.id for p in products]
        )
        return [
            *reset,
            SlotSet("stated_needs", needs),
            SlotSet("recommended", [p.id for p in products]),
            SlotSet("stage", COMPARISON),
        ]


class ActionChooseProduct(ServiceAction, Action):
    def name(self) -> str:
        return "action_choose_product"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        product_id = next(tracker.get_latest_entity_values("product_id"), None)
        catalog = self.services.catalog
        product = catalog.products.get(product_id or "") if catalog else None
        if product is None:
            dispatcher.utter_message(
                response="utter_no_recommendation", buttons=[self.services.button("talk_to_person")]
            )
            return [SlotSet("stage", COMPARISON)]
        # one response per kind of product, each with its next step (domain.yml)
        dispatcher.utter_message(response=f"utter_product_chosen_{product.kind}", product=product.name)
        self.services.record(
            tracker.sender_id,
            PRODUCT_CHOSEN,
            stage=COMPARISON,
            needs=tracker.get_slot("stated_needs") or {},
            product=product.id,
        )
        return [SlotSet("chosen_product", product.id), SlotSet("stage", COMPARISON)]


class ActionSalesOffer(ServiceAction, Action):
    """The customer hesitates: after a recommendation, offer a sales adviser (configurable)."""

    def name(self) -> str:
        return "action_sales_offer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        recommended = tracker.get_slot("recommended")
        if recommended and self.services.content.sales.offer_on_hesitation:
            dispatcher.utter_message(
                response="utter_sales_offer",
                buttons=[self.services.button("sales"), self.services.button("answer_again")],
            )
        else:
            dispatcher.utter_message(
                response="utter_take_your_time",
                buttons=[self.services.button("compare"), self.services.button("talk_to_person")],
            )
        return [SlotSet("stage", COMPARISON)]
