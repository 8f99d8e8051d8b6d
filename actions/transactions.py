"""Transactions against the demo back office: order a card, freeze a card, make a transfer.

Each is a Rasa form. The customer must be signed in (a signed token from the host page), and
every action that reads or writes their data verifies the token again: slots are not trusted
for identity. Validation explains each field's problem; "help" explains the current field and
keeps what was typed so far; when the back office says no, the customer hears why and what to do.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    CANCEL_BUTTON,
    HUMAN_BUTTON,
    TRANSACTION,
    choice_button,
    custom_payload,
    identity,
    typed_text,
)
from actions.services import ServiceAction
from assistant.amounts import parse_amount
from assistant.analytics import TRANSACTION as TRANSACTION_EVENT
from assistant.backoffice.store import Refusal, pounds
from assistant.guided.matching import Choice, match_choice, words
from assistant.identity import Identity, someone_else_owns

logger = logging.getLogger(__name__)

FORM_SLOTS = {
    "order_card_form": ("card_kind", "card_delivery", "order_confirm"),
    "freeze_card_form": ("freeze_card_id", "freeze_reason", "freeze_confirm"),
    "transfer_form": ("transfer_payee", "transfer_amount", "transfer_confirm"),
    "product_needs_form": ("need_purpose", "need_budget", "need_travel", "need_cash"),
    "troubleshoot_form": ("tree_id", "tree_answer"),
}
FIELD_HELP = {
    "card_kind": (
        "A physical card is a plastic Mastercard we post to you; a virtual card lives in the app and "
        "works straight away for online and wallet payments."
    ),
    "card_delivery": (
        "Standard delivery is free and takes 3 to 5 working days in the UK. Express takes 2 working days"
        " (UK only) and costs £4.99, free on Premium."
    ),
    "order_confirm": "Say yes to place the order, or no to stop without ordering anything.",
    "freeze_card_id": (
        "Pick the card you want to freeze. Freezing is instant and you can undo it at any time in the app."
    ),
    "freeze_reason": (
        "Why you're freezing it helps me suggest the next step: a lost or stolen card should be "
        "replaced, a card you just can't find can stay frozen until it turns up."
    ),
    "freeze_confirm": "Say yes to freeze the card now, or no to leave it as it is.",
    "transfer_payee": (
        "Send to one of your saved payees. To pay someone new, add them first in the app under "
        "Payments → New payee."
    ),
    "transfer_amount": (
        "Type the amount in pounds, like 25 or £120.50. UK transfers are free and arrive within 2 "
        "hours at most."
    ),
    "transfer_confirm": "Say yes to send the money now, or no to stop without sending anything.",
    "tree_id": "Pick the problem that's closest to yours, or describe it in a few words.",
    "tree_answer": (
        "Pick the answer that fits best, or type it in your own words. If none fits, a person can help."
    ),
    "need_purpose": "What you'll mostly use it for helps me compare the right products.",
    "need_budget": "The most you'd pay each month. Free accounts are always an option.",
    "need_travel": "How often you spend abroad decides how much fee-free currency exchange matters.",
    "need_cash": "How much cash you take out decides how big a free ATM allowance you need.",
}
YES_WORDS = (
    "yes",
    "yeah",
    "yep",
    "sure",
    "ok",
    "okay",
    "please do",
    "go ahead",
    "confirm",
    "do it",
    "correct",
)
NO_WORDS = ("no", "nope", "don't", "do not", "stop", "wait", "not now")


def yes_or_no(tracker: Tracker) -> str | None:
    intent = tracker.latest_message.get("intent", {}).get("name")
    if intent == "affirm":
        return "yes"
    if intent == "deny":
        return "no"
    found = match_choice(typed_text(tracker), [Choice("yes", "Yes", YES_WORDS), Choice("no", "No", NO_WORDS)])
    return found.choice.key if found else None


class CustomerAction(ServiceAction):
    def customer(self, tracker: Tracker) -> Identity | None:
        return identity(tracker, self.services.settings.identity_secret)

    def ask_to_sign_in(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        """No verified customer for this message: sign in, or, when another customer owns the
        conversation, start a new one."""
        secret = self.services.settings.identity_secret
        if secret and someone_else_owns(secret, tracker.events):
            dispatcher.utter_message(response="utter_conversation_of_someone_else", buttons=[HUMAN_BUTTON])
        else:
            dispatcher.utter_message(response="utter_sign_in_needed", buttons=[HUMAN_BUTTON])

    @property
    def backoffice(self) -> Any:
        if self.services.backoffice is None:
            raise RuntimeError("no back office configured")
        return self.services.backoffice


class ActionCheckIdentity(CustomerAction, Action):
    def name(self) -> str:
        return "action_check_identity"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        customer = self.customer(tracker)
        if customer is None:
            self.ask_to_sign_in(dispatcher, tracker)
            return [SlotSet("signed_in", False), SlotSet("stage", TRANSACTION)]
        return [SlotSet("signed_in", True), SlotSet("stage", TRANSACTION)]


def _confirm_value(tracker: Tracker, dispatcher: CollectingDispatcher, slot: str) -> dict[str, Any]:
    answer = yes_or_no(tracker)
    if answer is None:
        dispatcher.utter_message(response="utter_yes_or_no")
    return {slot: answer}


class ValidateOrderCardForm(CustomerAction, FormValidationAction):
    def name(self) -> str:
        return "validate_order_card_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        if tracker.get_slot("card_kind") == "virtual":
            return [s for s in domain_slots if s != "card_delivery"]
        return domain_slots

    async def validate_card_kind(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        found = match_choice(
            typed_text(tracker),
            [
                Choice(
                    "physical",
                    "Physical card",
                    ("plastic", "physical", "real card", "posted", "by post", "replacement"),
                ),
                Choice(
                    "virtual", "Virtual card", ("virtual", "digital", "online card", "in the app", "online")
                ),
            ],
        )
        if found is None:
            dispatcher.utter_message(response="utter_invalid_card_kind")
            return {"card_kind": None}
        return {"card_kind": found.choice.key, "stage": TRANSACTION}

    async def validate_card_delivery(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        found = match_choice(
            typed_text(tracker),
            [
                Choice("standard", "Standard", ("standard", "normal", "free", "regular", "slow")),
                Choice("express", "Express", ("express", "fast", "quick", "next day", "asap", "urgent")),
            ],
        )
        if found is None:
            dispatcher.utter_message(response="utter_invalid_card_delivery")
            return {"card_delivery": None}
        return {"card_delivery": found.choice.key}

    async def validate_order_confirm(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _confirm_value(tracker, dispatcher, "order_confirm")


class ValidateFreezeCardForm(CustomerAction, FormValidationAction):
    def name(self) -> str:
        return "validate_freeze_card_form"

    async def validate_freeze_card_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        customer = self.customer(tracker)
        if customer is None:
            dispatcher.utter_message(response="utter_sign_in_needed")
            return {"freeze_card_id": None}
        cards = self.backoffice.cards(customer.customer_id, "active", "frozen")
        text = typed_text(tracker)
        picked = next((c for c in cards if c.id == text), None)
        if picked is None:
            digits = [w for w in words(text) if w.isdigit() and len(w) == 4]
            picked = next((c for c in cards if c.last4 in digits), None)
        if picked is None:
            found = match_choice(
                text, [Choice(c.id, c.label, (c.kind, f"{c.kind} card", c.last4)) for c in cards]
            )
            picked = next((c for c in cards if found and c.id == found.choice.key), None)
        if picked is None:
            dispatcher.utter_message(response="utter_invalid_card")
            return {"freeze_card_id": None}
        return {"freeze_card_id": picked.id, "stage": TRANSACTION}

    async def validate_freeze_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        found = match_choice(
            typed_text(tracker),
            [
                Choice(
                    "lost", "I lost it", ("lost", "lose", "can't find", "cannot find", "missing", "misplaced")
                ),
                Choice("stolen", "It was stolen", ("stolen", "stole", "theft", "robbed", "pickpocket")),
                Choice(
                    "suspicious",
                    "Payments I don't recognise",
                    ("fraud", "don't recognise", "suspicious", "unknown payment", "compromised", "hacked"),
                ),
                Choice(
                    "precaution",
                    "Just to be safe",
                    ("just in case", "to be safe", "precaution", "temporarily", "for now"),
                ),
            ],
        )
        if found is None:
            dispatcher.utter_message(response="utter_invalid_freeze_reason")
            return {"freeze_reason": None}
        return {"freeze_reason": found.choice.key}

    async def validate_freeze_confirm(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _confirm_value(tracker, dispatcher, "freeze_confirm")


class ValidateTransferForm(CustomerAction, FormValidationAction):
    def name(self) -> str:
        return "validate_transfer_form"

    async def validate_transfer_payee(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        customer = self.customer(tracker)
        if customer is None:
            dispatcher.utter_message(response="utter_sign_in_needed")
            return {"transfer_payee": None}
        payees = self.backoffice.payees(customer.customer_id)
        text = typed_text(tracker)
        picked = next((p for p in payees if p.id == text), None)
        if picked is None:
            found = match_choice(text, [Choice(p.id, p.name, tuple(words(p.name))) for p in payees])
            picked = next((p for p in payees if found and p.id == found.choice.key), None)
        if picked is None:
            dispatcher.utter_message(response="utter_invalid_payee")
            return {"transfer_payee": None}
        slots: dict[str, Any] = {"transfer_payee": picked.id, "stage": TRANSACTION}
        clicked = next(tracker.get_latest_entity_values("choice"), None) is not None
        amount = None if clicked else parse_amount(text)  # "send £50 to Sam" gives the amount too
        if (
            amount is not None
            and amount.in_pounds
            and amount.value > 0
            and not tracker.get_slot("transfer_amount")
        ):
            slots["transfer_amount"] = str(amount.value)
        return slots

    async def validate_transfer_amount(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        amount = parse_amount(typed_text(tracker))
        if amount is not None and not amount.in_pounds:
            dispatcher.utter_message(response="utter_amount_in_pounds_only", currency=amount.currency)
            return {"transfer_amount": None}
        if amount is None or amount.value <= 0:
            dispatcher.utter_message(response="utter_invalid_amount")
            return {"transfer_amount": None}
        return {"transfer_amount": str(amount.value)}

    async def validate_transfer_confirm(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _confirm_value(tracker, dispatcher, "transfer_confirm")


# ---- questions that depend on the customer's data ---------------------------------------------
class ActionAskFreezeCardId(CustomerAction, Action):
    def name(self) -> str:
        return "action_ask_freeze_card_id"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        customer = self.customer(tracker)
        cards = self.backoffice.cards(customer.customer_id, "active", "frozen") if customer else []
        if not cards:
            dispatcher.utter_message(response="utter_no_cards", buttons=[CANCEL_BUTTON, HUMAN_BUTTON])
            return []
        buttons = [
            choice_button(c.label + (" (frozen)" if c.status == "frozen" else ""), c.id) for c in cards
        ]
        dispatcher.utter_message(response="utter_ask_freeze_card_id", buttons=[*buttons, CANCEL_BUTTON])
        return []


class ActionAskTransferPayee(CustomerAction, Action):
    def name(self) -> str:
        return "action_ask_transfer_payee"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        customer = self.customer(tracker)
        payees = self.backoffice.payees(customer.customer_id) if customer else []
        if not payees:
            dispatcher.utter_message(response="utter_no_payees", buttons=[CANCEL_BUTTON, HUMAN_BUTTON])
            return []
        buttons = [choice_button(p.name, p.id) for p in payees]
        dispatcher.utter_message(response="utter_ask_transfer_payee", buttons=[*buttons, CANCEL_BUTTON])
        return []


class ActionAskTransferAmount(Action):
    """Ask for the amount, with a small amount field for chat widgets that can show one."""

    def name(self) -> str:
        return "action_ask_transfer_amount"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(
            response="utter_ask_transfer_amount",
            json_message=custom_payload(
                input={"slot": "transfer_amount", "type": "amount", "label": "Amount in £"}
            ),
        )
        return []


class ActionAskOrderConfirm(CustomerAction, Action):
    def name(self) -> str:
        return "action_ask_order_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        kind = tracker.get_slot("card_kind") or "physical"
        summary = (
            "a virtual card, ready in the app straight away"
            if kind == "virtual"
            else (f"a physical card by {tracker.get_slot('card_delivery') or 'standard'} delivery")
        )
        dispatcher.utter_message(
            text=f"I'll order {summary}. Any fee is shown in the app and taken from your balance. "
            "Shall I go ahead?",
            buttons=[choice_button("Yes, order it", "yes"), choice_button("No", "no")],
        )
        return []


class ActionAskFreezeConfirm(CustomerAction, Action):
    def name(self) -> str:
        return "action_ask_freeze_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        customer = self.customer(tracker)
        cards = {c.id: c for c in self.backoffice.cards(customer.customer_id)} if customer else {}
        card = cards.get(tracker.get_slot("freeze_card_id") or "")
        label = card.label.lower() if card else "this card"
        dispatcher.utter_message(
            text=f"Freeze your {label}? Payments with it will be declined until you unfreeze it.",
            buttons=[choice_button("Yes, freeze it", "yes"), choice_button("No", "no")],
        )
        return []


class ActionAskTransferConfirm(CustomerAction, Action):
    def name(self) -> str:
        return "action_ask_transfer_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        customer = self.customer(tracker)
        payees = {p.id: p for p in self.backoffice.payees(customer.customer_id)} if customer else {}
        payee = payees.get(tracker.get_slot("transfer_payee") or "")
        amount = Decimal(tracker.get_slot("transfer_amount") or "0")
        dispatcher.utter_message(
            text=f"Send {pounds(amount)} to {payee.label if payee else 'this payee'} now?",
            buttons=[choice_button("Yes, send it", "yes"), choice_button("No", "no")],
        )
        return []


# ---- doing it ----------------------------------------------------------------------------------
class SubmitAction(CustomerAction, Action):
    form = ""
    confirm_slot = ""

    def reset(self) -> list[EventType]:
        return [SlotSet(slot, None) for slot in FORM_SLOTS[self.form]]

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events = [*self.reset(), SlotSet("stage", TRANSACTION)]
        if tracker.get_slot(self.confirm_slot) != "yes":
            dispatcher.utter_message(response="utter_nothing_done")
            return events
        customer = self.customer(tracker)
        if customer is None:
            self.ask_to_sign_in(dispatcher, tracker)
            return events
        try:
            self.execute(dispatcher, tracker, customer)
            self.services.record(
                tracker.sender_id, TRANSACTION_EVENT, stage=TRANSACTION, form=self.form, ok=True
            )
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
                text=f"{refusal.reason} {refusal.next_step}",
                buttons=[HUMAN_BUTTON],
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
        fee = f" A fee of {pounds(order.fee)} was taken from your balance." if order.fee else ""
        where = (
            "It's ready in the app under Card." if kind == "virtual" else f"It should arrive {order.arrives}."
        )
        dispatcher.utter_message(
            text=f"Done: your new {kind} card ends {order.card.last4}. {where}{fee}",
            json_message=custom_payload(
                transaction={"form": self.form, "card": order.card.last4, "fee": str(order.fee)}
            ),
        )


class ActionFreezeCard(SubmitAction):
    form, confirm_slot = "freeze_card_form", "freeze_confirm"

    def name(self) -> str:
        return "action_freeze_card"

    def execute(self, dispatcher: CollectingDispatcher, tracker: Tracker, customer: Identity) -> None:
        reason = tracker.get_slot("freeze_reason") or ""
        card = self.backoffice.freeze_card(
            customer.customer_id, tracker.get_slot("freeze_card_id") or "", reason
        )
        buttons = []
        if reason in ("lost", "stolen", "suspicious"):
            buttons.append({"title": "Order a replacement", "payload": "/order_card"})
        dispatcher.utter_message(
            text=f"Done: your card ending {card.last4} is frozen. Nobody can pay with it; "
            "you can unfreeze it any time in the app (Card → Unfreeze).",
            buttons=buttons,
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
            text=f"Sent: {pounds(done.amount)} to {done.payee.name}. It usually arrives within minutes. "
            f"Your balance is now {pounds(done.balance_after)}.",
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
    """Explain the field being asked, repeat what the customer gave so far, offer a person."""

    def name(self) -> str:
        return "action_form_help"

    def describe(self, tracker: Tracker, slot: str, value: Any) -> str:
        """A value as the customer knows it: the payee's name, the card's last digits."""
        customer = self.customer(tracker)
        if customer is not None and self.services.backoffice is not None:
            if slot == "transfer_payee":
                return next(
                    (p.label for p in self.backoffice.payees(customer.customer_id) if p.id == value),
                    str(value),
                )
            if slot == "freeze_card_id":
                return next(
                    (c.label for c in self.backoffice.cards(customer.customer_id) if c.id == value),
                    str(value),
                )
        if slot == "transfer_amount":
            return pounds(Decimal(str(value)))
        return str(value)

    async def answered_anyway(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType] | None:
        """NLU took the message for a request for help, but it answers the question ("I lost it"):
        validate it as the answer, exactly as the form would, and carry on."""
        form, requested = tracker.active_loop_name or "", tracker.get_slot("requested_slot") or ""
        validator_class = validators().get(form)
        validator = validator_class(self.services) if validator_class else None
        method = getattr(validator, f"validate_{requested}", None)
        if method is None:
            return None
        said = CollectingDispatcher()
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
        so_far = [
            f"{slot.replace('_', ' ').replace('transfer ', '').replace('freeze ', '')}: "
            f"{self.describe(tracker, slot, tracker.get_slot(slot))}"
            for slot in FORM_SLOTS.get(form, ())
            if tracker.get_slot(slot) not in (None, "") and slot != requested
        ]
        kept = f" What you've given so far is kept ({'; '.join(so_far)})." if so_far else ""
        dispatcher.utter_message(
            text=FIELD_HELP.get(requested, "Answer the question above, or say cancel to stop.") + kept,
            buttons=[HUMAN_BUTTON, CANCEL_BUTTON],
        )
        return []


class ActionCancelForm(ServiceAction, Action):
    def name(self) -> str:
        return "action_cancel_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        form = tracker.active_loop_name or ""
        dispatcher.utter_message(response="utter_cancelled")
        return [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            *(SlotSet(s, None) for s in FORM_SLOTS.get(form, ())),
        ]
