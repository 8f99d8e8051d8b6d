"""Transactions against the demo back office: order a card, freeze a card, make a transfer.

Each is a Rasa form. The customer must be signed in (a signed token from the host page), and
every action that reads or writes their data verifies the token again: slots are not trusted
for identity. Validation explains each field's problem; "help" explains the current field and
keeps what was typed so far; when the back office says no, the customer hears why and what to do.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.account import record_resolution
from actions.common import (
    LAST_TASK,
    MISSES,
    TRANSACTION,
    custom_payload,
    typed_text,
    user_turns,
)
from actions.forms import AskField, CustomerOptions, GuidedForm, spec_of
from actions.services import ServiceAction
from assistant.backoffice.store import Refusal, pounds
from assistant.chat_session import log_ref
from assistant.conversation.forms import FORMS, Field
from assistant.identity import Identity
from assistant.insights.events import TRANSACTION as TRANSACTION_EVENT

logger = logging.getLogger(__name__)


def form_fields(domain: DomainDict, form: str) -> tuple[str, ...]:
    """A form's fields, in order, as the domain declares them (forms: required_slots)."""
    return tuple((domain.get("forms") or {}).get(form, {}).get("required_slots") or ())


TRANSACTION_FORMS = FORMS


def spec_fields(services: Any, domain: DomainDict, form: str) -> list[Field]:
    """A transaction form's fields, in the domain's order, as data/forms.yml describes them."""
    spec = spec_of(services)
    return [f for f in (spec.field(n) for n in form_fields(domain, form)) if f is not None]


class CustomerAction(CustomerOptions):
    """An action over the signed-in customer's own data (see :class:`CustomerOptions`)."""


FORM_OF_INTENT = {
    "order_card": "order_card_form",
    "freeze_card": "freeze_card_form",
    "make_transfer": "transfer_form",
}


class ActionCheckIdentity(CustomerAction, Action):
    """Before a transaction form: the customer must be signed in. A message NLU took for the
    transaction that asks for another one ("a payment I don't know on my card: block it") goes
    to that one; one that asks about it and gives it nothing ("how do I send money abroad?")
    is answered from the knowledge base (whose article offers to do it)."""

    def name(self) -> str:
        return "action_check_identity"

    def route(self, tracker: Tracker, domain: DomainDict, form: str, text: str) -> list[EventType]:
        from actions.account import AccountAnswers
        from actions.kb import ActionKnowledgeBaseAnswer
        from assistant.conversation.understand import asks_about, looks_like_question, read

        account = AccountAnswers(self.services)
        if (looks_like_question(text) or account.follows_up(tracker, text)) and account.question(
            tracker, text, None
        ):
            # "is my card 1192 still frozen?", "did my transfer to Sam go through?": where the
            # customer's own things stand, answered from their account (or a sign-in request)
            return [FollowupAction("action_kb_answer")]
        if self.customer(tracker) is not None:
            other = ActionKnowledgeBaseAnswer(self.services).requested_task(tracker, text)
            if other is not None and other != form:
                return [SlotSet("stage", TRANSACTION), SlotSet(MISSES, {}), FollowupAction(other)]
        if not asks_about(text, form) or self.services.forms is None:
            return []
        fields = spec_fields(self.services, domain, form)
        reading = read(
            text,
            fields,
            spec_of(self.services),
            asked=None,
            current={},
            choices=self.choices(tracker, fields),
        )
        return [] if reading.values else [FollowupAction("action_kb_answer")]

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        form = FORM_OF_INTENT.get((tracker.latest_message.get("intent") or {}).get("name") or "")
        text = str(tracker.latest_message.get("text") or "").strip()
        if form and text and not text.startswith("/"):
            routed = self.route(tracker, domain, form, text)
            if routed:
                return routed
        customer = self.customer(tracker)
        if customer is None:
            self.ask_to_sign_in(dispatcher, tracker)
            return [SlotSet("signed_in", False), SlotSet("stage", TRANSACTION)]
        return [SlotSet("signed_in", True), SlotSet("stage", TRANSACTION), SlotSet(MISSES, {})]


class ValidateOrderCardForm(GuidedForm):
    def name(self) -> str:
        return "validate_order_card_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        if tracker.get_slot("card_kind") == "virtual":
            return [s for s in domain_slots if s != "card_delivery"]
        return domain_slots

    def adjust(self, tracker: Tracker, slots: dict[str, Any]) -> dict[str, Any]:
        kind = slots["card_kind"] if "card_kind" in slots else tracker.get_slot("card_kind")
        if kind == "virtual":
            slots["card_delivery"] = None  # a virtual card is not delivered
        return slots


class ValidateFreezeCardForm(GuidedForm):
    def name(self) -> str:
        return "validate_freeze_card_form"


class ValidateTransferForm(GuidedForm):
    def name(self) -> str:
        return "validate_transfer_form"


# ---- asking: the customer's own cards and payees, the amount field, the confirmations -------
class ActionAskTransferAmount(AskField):
    """Asks for the amount, with a small amount field for chat widgets that can show one."""

    field_name = "transfer_amount"

    def extra(self, tracker: Tracker) -> dict[str, Any] | None:
        return custom_payload(
            input={
                "slot": "transfer_amount",
                "type": "amount",
                "label": self.services.content.label("amount"),
            }
        )


class ActionAskFreezeConfirm(AskField):
    field_name = "freeze_confirm"

    def ask_params(self, tracker: Tracker) -> dict[str, Any]:
        spec_field = spec_of(self.services).field("freeze_card_id")
        card = self.describe(tracker, spec_field, tracker.get_slot("freeze_card_id")) if spec_field else ""
        return {"card": card.lower() or "this card"}


class ActionAskTransferConfirm(AskField):
    field_name = "transfer_confirm"

    def ask_params(self, tracker: Tracker) -> dict[str, Any]:
        spec_field = spec_of(self.services).field("transfer_payee")
        payee_id = tracker.get_slot("transfer_payee")
        options = self.options_for(tracker, spec_field) if spec_field else []
        payee = next((o.means for o in options if o.key == payee_id), "")
        amount = Decimal(tracker.get_slot("transfer_amount") or "0")
        return {"amount": pounds(amount), "payee": payee or "this payee"}


# Fields asked by the plain AskField (their question, their options); the others need more.
PLAIN_ASKS = (
    "card_kind",
    "card_delivery",
    "order_confirm",
    "freeze_card_id",
    "freeze_reason",
    "transfer_payee",
)


def ask_actions(services: Any) -> list[Action]:
    """Every ``action_ask_<field>`` of the transaction forms."""
    return [
        *(AskField(services, name) for name in PLAIN_ASKS),
        ActionAskTransferAmount(services),
        ActionAskFreezeConfirm(services),
        ActionAskTransferConfirm(services),
    ]


def refusal_response(refusal: Refusal) -> str:
    """The domain response that explains a refusal: ``utter_refusal_<code>``, and for a balance
    too low, what it was too low for (``utter_refusal_insufficient_funds_transfer``)."""
    what = refusal.params.get("what")
    return f"utter_refusal_{refusal.code}" + (f"_{what}" if what else "")


# ---- doing it ----------------------------------------------------------------------------------
class SubmitAction(CustomerAction, Action):
    form = ""
    confirm_slot = ""

    def reset(self, domain: DomainDict) -> list[EventType]:
        return [*(SlotSet(slot, None) for slot in form_fields(domain, self.form)), SlotSet(MISSES, {})]

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events = [*self.reset(domain), SlotSet("stage", TRANSACTION)]
        done = {
            slot: tracker.get_slot(slot)
            for slot in form_fields(domain, self.form)
            if slot != self.confirm_slot
        }
        if tracker.get_slot(self.confirm_slot) != "yes":
            dispatcher.utter_message(response="utter_nothing_done")
            return events
        customer = self.customer(tracker)
        if customer is None:
            self.ask_to_sign_in(dispatcher, tracker)
            return events
        # what a follow-up to this ("and for the other card?") leans on, done or refused
        events.append(SlotSet(LAST_TASK, {"form": self.form, "values": done, "turn": user_turns(tracker)}))
        try:
            self.execute(dispatcher, tracker, customer)
            self.services.record(
                tracker.sender_id, TRANSACTION_EVENT, stage=TRANSACTION, form=self.form, ok=True
            )
            record_resolution(self.services, tracker, self.form)
        except Refusal as refusal:
            self.services.record(
                tracker.sender_id,
                TRANSACTION_EVENT,
                stage=TRANSACTION,
                form=self.form,
                ok=False,
                code=refusal.code,
            )
            dispatcher.utter_message(
                response=refusal_response(refusal),
                buttons=[self.services.button("talk_to_person")],
                **refusal.params,
                json_message=custom_payload(refusal={"code": refusal.code, "form": self.form}),
            )
        except Exception:
            logger.exception("back office failed during %s", self.form)
            dispatcher.utter_message(response="utter_service_unavailable")
        return events

    def execute(self, dispatcher: CollectingDispatcher, tracker: Tracker, customer: Identity) -> None:
        raise NotImplementedError


class ActionOrderCard(SubmitAction):
    form, confirm_slot = "order_card_form", "order_confirm"

    def name(self) -> str:
        return "action_order_card"

    def execute(self, dispatcher: CollectingDispatcher, tracker: Tracker, customer: Identity) -> None:
        kind = tracker.get_slot("card_kind") or "physical"
        order = self.backoffice.order_card(
            customer.customer_id, kind, tracker.get_slot("card_delivery") or "standard"
        )
        dispatcher.utter_message(
            response=f"utter_card_ordered_{kind}",
            last4=order.card.last4,
            working_days=order.working_days,
            json_message=custom_payload(
                transaction={"form": self.form, "card": order.card.last4, "fee": str(order.fee)}
            ),
        )
        if order.fee:
            dispatcher.utter_message(response="utter_card_fee_taken", fee=pounds(order.fee))


class ActionFreezeCard(SubmitAction):
    form, confirm_slot = "freeze_card_form", "freeze_confirm"

    def name(self) -> str:
        return "action_freeze_card"

    def execute(self, dispatcher: CollectingDispatcher, tracker: Tracker, customer: Identity) -> None:
        reason = tracker.get_slot("freeze_reason") or ""
        card = self.backoffice.freeze_card(
            customer.customer_id, tracker.get_slot("freeze_card_id") or "", reason
        )
        # a lost, stolen or misused card should be replaced: the answer offers it
        replace = reason in ("lost", "stolen", "suspicious")
        dispatcher.utter_message(
            response="utter_card_frozen_replace" if replace else "utter_card_frozen",
            last4=card.last4,
            json_message=custom_payload(transaction={"form": self.form, "card": card.last4}),
        )


class ActionTransfer(SubmitAction):
    form, confirm_slot = "transfer_form", "transfer_confirm"

    def name(self) -> str:
        return "action_transfer"

    def execute(self, dispatcher: CollectingDispatcher, tracker: Tracker, customer: Identity) -> None:
        amount = Decimal(tracker.get_slot("transfer_amount") or "0")
        done = self.backoffice.transfer(
            customer.customer_id, tracker.get_slot("transfer_payee") or "", amount
        )
        dispatcher.utter_message(
            response="utter_transfer_sent",
            amount=pounds(done.amount),
            payee=done.payee.name,
            balance=pounds(done.balance_after),
            json_message=custom_payload(
                transaction={"form": self.form, "transfer": done.id, "amount": str(done.amount)}
            ),
        )


# ---- help and cancel inside any form -----------------------------------------------------------
def validators() -> dict[str, Any]:
    from actions.products import ValidateProductNeedsForm
    from actions.troubleshoot import ValidateTroubleshootForm

    return {
        "order_card_form": ValidateOrderCardForm,
        "freeze_card_form": ValidateFreezeCardForm,
        "transfer_form": ValidateTransferForm,
        "product_needs_form": ValidateProductNeedsForm,
        "troubleshoot_form": ValidateTroubleshootForm,
    }


class ActionFormHelp(CustomerAction, Action):
    """Explain the field being asked (``utter_explain_<field>``), repeat what the customer gave so
    far, offer a person. A message that NLU took for help but that answers the question ("I lost
    it") is taken as the answer instead."""

    def name(self) -> str:
        return "action_form_help"

    def describe_slot(self, tracker: Tracker, slot: str, value: Any) -> str:
        """A slot's value as the customer knows it: the payee's name, the card's last digits."""
        spec_field = spec_of(self.services).field(slot) if self.services.forms else None
        if spec_field is not None:
            return self.describe(tracker, spec_field, value)
        return str(value)

    async def answered_anyway(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType] | None:
        form, requested = tracker.active_loop_name or "", tracker.get_slot("requested_slot") or ""
        validator_class = validators().get(form)
        if validator_class is None:
            return None
        validator = validator_class(self.services)
        said = CollectingDispatcher()
        if form in TRANSACTION_FORMS:
            result = await validator.turn(said, tracker, domain, reread="help")
            if not any(result.get(s) not in (None, "") for s in form_fields(domain, form)):
                return None
        else:
            method = getattr(validator, f"validate_{requested}", None)
            if method is None:
                return None
            result = await method(typed_text(tracker), said, tracker, domain)
            if result.get(requested) is None:
                return None
        dispatcher.messages.extend(said.messages)
        return [SlotSet(key, value) for key, value in result.items()]

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        answered = await self.answered_anyway(dispatcher, tracker, domain)
        if answered is not None:
            return answered
        form = tracker.active_loop_name or ""
        requested = tracker.get_slot("requested_slot") or ""
        misses: dict[str, int] = dict(tracker.get_slot(MISSES) or {})
        if form in TRANSACTION_FORMS and requested and misses.get(requested):
            # help again at the same field: the form's next question changes approach instead
            # (the options in full, a person) rather than the same explanation once more
            misses[requested] += 1
            return [SlotSet(MISSES, misses)]
        dispatcher.utter_message(
            response=f"utter_explain_{requested}" if requested else "utter_explain_form",
            buttons=[self.services.button("talk_to_person"), self.services.button("cancel")],
        )
        events: list[EventType] = []
        if form in TRANSACTION_FORMS and requested:
            misses[requested] = 1  # helped once: the next miss shows the options in full
            events.append(SlotSet(MISSES, misses))
        so_far = []
        for slot in form_fields(domain, form):
            value = tracker.get_slot(slot)
            if value in (None, "") or slot == requested:
                continue
            spec_field = spec_of(self.services).field(slot) if self.services.forms else None
            label = spec_field.label if spec_field else slot.replace("_", " ")
            so_far.append(f"{label}: {self.describe_slot(tracker, slot, value)}")
        if so_far:
            dispatcher.utter_message(response="utter_values_kept", values="; ".join(so_far))
        return events


# Words that mean stop whatever else a message says; without one, "yes freeze it" is not a cancel.
_STOP_WORDS = re.compile(
    r"\b(cancel|stop|forget|abort|quit|exit|scrap|don'?t|do not|never ?mind|changed my mind|no longer)\b",
    re.IGNORECASE,
)


class ActionCancelForm(ServiceAction, Action):
    """Stop the form, changing nothing. A message NLU took for "cancel" that says no such thing
    and answers the form's question ("yes freeze it") is taken as the answer instead."""

    def name(self) -> str:
        return "action_cancel_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        form = tracker.active_loop_name or ""
        text = typed_text(tracker)
        if form in TRANSACTION_FORMS and text and not _STOP_WORDS.search(text):
            said = CollectingDispatcher()
            try:
                result = await validators()[form](self.services).turn(said, tracker, domain, reread="cancel")
            except Exception:  # cancelling never depends on anything else working
                logger.exception("could not read a cancel as an answer in %s", log_ref(tracker.sender_id))
                result = {}
            if any(result.get(s) not in (None, "") for s in form_fields(domain, form)):
                dispatcher.messages.extend(said.messages)
                return [*(SlotSet(k, v) for k, v in result.items()), FollowupAction(form)]
        if text and not _STOP_WORDS.search(text):
            # "whatever's best, money's not the issue" answers the budget question
            from actions.products import ValidateProductNeedsForm

            result = ValidateProductNeedsForm(self.services).answer(tracker)
            if result:
                return [*(SlotSet(k, v) for k, v in result.items()), FollowupAction(form)]
        dispatcher.utter_message(response="utter_cancelled")
        return [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            SlotSet(MISSES, {}),
            *(SlotSet(s, None) for s in form_fields(domain, form)),
        ]
