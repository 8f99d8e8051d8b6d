"""Forms that follow the customer: every message is read for every field of the form.

One :class:`GuidedForm` runs each turn of a transaction form (Rasa calls it as the form's
validation action, also at activation with the opening request):

- values for any field are kept, whichever field was asked ("send £20 to mum" fills two);
- a value that differs from one already given replaces it, and the assistant says so;
- "change the amount" clears that field and asks it again;
- a question is answered (the field's explanation for "why?", else the knowledge base) and the
  form asks again; thanks, hello and "are you a bot?" get a short answer likewise;
- an answer that doesn't fit is a miss: the first gets the field's own hint, the second the
  options in full with the offer of a person, later ones alternate that with a plain offer of a
  person, so the same message is never sent three times in a row.

Asking is done by :class:`AskField` (``action_ask_<field>``), which knows the misses. Every word
the customer sees is a domain response or in ``data/forms.yml``.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    MISSES,
    TRANSACTION,
    choice_button,
    custom_payload,
    identity,
    last_task,
    typed_text,
)
from actions.kb import answer_in_passing
from actions.services import ServiceAction
from assistant.backoffice.store import pounds
from assistant.chat_session import log_ref
from assistant.conversation.forms import Field, FormSpec, Option
from assistant.conversation.understand import again, asks_why, looks_like_question, read
from assistant.identity import Identity, someone_else_owns

logger = logging.getLogger(__name__)

_UNMISTAKABLE_YES = re.compile(r"^\s*(yes|yeah|yep|yup|confirm(ed)?)\b", re.IGNORECASE)
ANSWERED, UNSURE = "answered", "unsure"
# A short answer to small talk inside a form; the form then asks its question again.
SMALL_TALK = {
    "greet": "utter_still_here",
    "thank": "utter_form_thanks",
    "bot_challenge": "utter_iamabot",
}


def spec_of(services: Any) -> FormSpec:
    if services.forms is None:
        raise RuntimeError("no forms file loaded (data/forms.yml)")
    spec: FormSpec = services.forms
    return spec


def response_exists(domain: DomainDict, name: str) -> bool:
    return name in (domain.get("responses") or {})


def response_text(domain: DomainDict, name: str, tracker: Tracker | None = None, **params: Any) -> str:
    """A domain response's text, to compose a longer message: the variation whose slot
    conditions the conversation meets (else the first without conditions), its {placeholders}
    filled from ``params`` and the slots; one not filled stays as it is, never an error."""
    variations = (domain.get("responses") or {}).get(name) or [{}]
    slots = dict(tracker.slots) if tracker is not None else {}

    def meets(variation: dict[str, Any]) -> bool:
        return all(
            c.get("type") == "slot" and slots.get(c.get("name")) == c.get("value")
            for c in variation.get("condition") or []
        )

    chosen = next((v for v in variations if v.get("condition") and meets(v)), None) or next(
        (v for v in variations if not v.get("condition")), variations[0]
    )
    values = {k: v for k, v in {**slots, **params}.items() if v is not None}
    return re.sub(
        r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), str(chosen.get("text") or "")
    )


def ask_to_sign_in(services: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """No verified customer for this message: sign in, or, when another customer owns the
    conversation, start a new one."""
    secret = services.settings.identity_secret
    if secret and someone_else_owns(secret, tracker.events):
        dispatcher.utter_message(
            response="utter_conversation_of_someone_else", buttons=[services.button("talk_to_person")]
        )
    else:
        dispatcher.utter_message(response="utter_sign_in_needed", buttons=[services.button("talk_to_person")])


class CustomerOptions(ServiceAction):
    """The verified customer of the message, and their own payees and cards as options a
    message can pick from."""

    def customer(self, tracker: Tracker) -> Identity | None:
        return identity(tracker, self.services.settings.identity_secret)

    def ask_to_sign_in(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        ask_to_sign_in(self.services, dispatcher, tracker)

    @property
    def backoffice(self) -> Any:
        if self.services.backoffice is None:
            raise RuntimeError("no back office configured")
        return self.services.backoffice

    def options_for(self, tracker: Tracker, spec_field: Field) -> list[Option]:
        """The field's options: its own, or the customer's payees or cards, read from the back
        office once per turn (a turn reads them for several fields and to describe values)."""
        if spec_field.kind == "choice":
            return list(spec_field.options)
        customer = self.customer(tracker)
        if customer is None or self.services.backoffice is None:
            return []
        key = (tracker.sender_id, len(tracker.events), customer.customer_id, spec_field.kind)
        memo: dict[tuple[Any, ...], list[Option]] = self.__dict__.setdefault("_read_this_turn", {})
        if key not in memo:
            if len(memo) > 256:
                memo.clear()
            memo[key] = self._own_options(customer, spec_field)
        return list(memo[key])

    def choices(self, tracker: Tracker, fields: list[Field]) -> dict[str, list[Option]]:
        """The customer's options for the payee and card fields; none when the back office is
        down, so that what needs no customer data is still read."""
        try:
            return {f.name: self.options_for(tracker, f) for f in fields if f.kind in ("payee", "card")}
        except Exception:
            logger.exception("could not read the payees and cards of %s", log_ref(tracker.sender_id))
            return {f.name: [] for f in fields if f.kind in ("payee", "card")}

    def _own_options(self, customer: Identity, spec_field: Field) -> list[Option]:
        backoffice = self.backoffice
        if spec_field.kind == "payee":
            return [
                Option(p.id, p.name, p.label, tuple(w.lower() for w in p.name.split()))
                for p in backoffice.payees(customer.customer_id)
            ]
        if spec_field.kind == "card":
            kinds = spec_of(self.services).field("card_kind")
            return [
                Option(
                    c.id,
                    c.label + (" (frozen)" if c.status == "frozen" else ""),
                    c.last4,
                    (f"{c.kind} card", c.kind, *(_kind_words(kinds, c.kind))),
                )
                for c in backoffice.cards(customer.customer_id, "active", "frozen")
            ]
        return []

    def describe(self, tracker: Tracker, spec_field: Field, value: Any) -> str:
        """A value as the customer knows it: the payee's name, the card, the amount in pounds."""
        if value in (None, ""):
            return ""
        if spec_field.kind == "amount":
            return pounds(Decimal(str(value)))
        option = next((o for o in self.options_for(tracker, spec_field) if o.key == value), None)
        if option is not None:
            return option.title
        return str(value)


def _kind_words(kinds: Field | None, kind: str) -> tuple[str, ...]:
    option = kinds.option(kind) if kinds else None
    return option.says if option else ()


class GuidedForm(CustomerOptions, FormValidationAction):
    """The validation action of a transaction form (see the module's docstring)."""

    def fields(self, domain: DomainDict) -> list[Field]:
        spec = spec_of(self.services)
        return [f for f in (spec.field(n) for n in self.domain_slots(domain)) if f is not None]

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if self.not_for_the_form(tracker):
            return []
        return await self.events(dispatcher, tracker, domain, await self.turn(dispatcher, tracker, domain))

    async def events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, slots: dict[str, Any]
    ) -> list[EventType]:
        """The turn's slots as events; when this form skips a field of the domain's (a virtual
        card is not delivered), it names the next field to ask itself, as rasa-sdk would."""
        events: list[EventType] = [SlotSet(k, v) for k, v in slots.items()]
        if "requested_slot" in slots:
            return events
        tracker.slots.update(slots)
        domain_slots = self.domain_slots(domain)
        required = await self.required_slots(domain_slots, dispatcher, tracker, domain)
        if required != domain_slots:
            missing = next((s for s in required if tracker.slots.get(s) is None), None)
            events.append(SlotSet("requested_slot", missing))
        return events

    @staticmethod
    def not_for_the_form(tracker: Tracker) -> bool:
        """Rasa asks the form to validate a message its slot mappings left alone ("talk to a
        person", "cancel", "help") and when it comes back to the form after one: no events then,
        so that the form lets the rules answer, and nothing is read twice."""
        asked = tracker.get_slot("requested_slot") if tracker.active_loop_name else None
        return bool(asked) and asked not in tracker.slots_to_validate()

    async def turn(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, *, reread: str = ""
    ) -> dict[str, Any]:
        """The slots this message sets. ``reread``: "help" or "cancel" when NLU took the message
        for that and the caller checks whether it answers the form after all; a message that
        gives no value is then the caller's to answer, not a miss, and a confirmation is taken
        only from an unmistakable yes after "cancel" (never after "help")."""
        fields = self.fields(domain)
        by_name = {f.name: f for f in fields}
        asked = tracker.get_slot("requested_slot") if tracker.active_loop_name else None
        # the asked field's slot holds the raw text Rasa put there: not a value yet
        current = {f.name: tracker.get_slot(f.name) for f in fields if f.name != asked}
        slots: dict[str, Any] = {"stage": TRANSACTION}
        if asked in by_name:
            slots[asked] = None
        if self.customer(tracker) is None:
            if asked or tracker.active_loop_name is None:
                self.ask_to_sign_in(dispatcher, tracker)
            return slots
        misses: dict[str, int] = dict(tracker.get_slot(MISSES) or {})
        options = self.choices(tracker, fields)
        clicked = next(tracker.get_latest_entity_values("choice"), None)
        text = typed_text(tracker)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if asked is None and clicked is None and text:
            # "and for the other card?" right after a freeze: that freeze's values, read anew
            before = self.carried(tracker, fields, text)
            current.update(before)
            slots.update(before)
        values: dict[str, str] = {}
        change = None
        answered = bool(reread)  # the caller answers a message that gives no value
        if clicked is not None and asked in by_name:
            value = self._clicked(by_name[asked], str(clicked), options.get(asked))
            if value is not None:
                values[asked] = value
        elif text:
            reading = read(
                text,
                fields,
                spec_of(self.services),
                asked=asked,
                current=current,
                choices=options,
                encoder=self.services.encoder,
            )
            values, change = dict(reading.values), reading.change
            values = {
                k: v
                for k, v in values.items()
                if by_name[k].kind != "confirm" or self._confirmed_on(reread, text)
            }
            if reading.currency:
                dispatcher.utter_message(response="utter_amount_in_pounds_only", currency=reading.currency)
                answered = True
        for name, value in values.items():
            old = current.get(name)
            slots[name] = value
            misses.pop(name, None)
            if old not in (None, "") and old != value:
                spec_field = by_name[name]
                dispatcher.utter_message(
                    response="utter_value_changed",
                    field=spec_field.label,
                    value=self.describe(tracker, spec_field, value),
                )
        if change is not None:
            slots[change] = None
            for spec_field in fields:  # a confirmation given before no longer stands
                if spec_field.kind == "confirm":
                    slots[spec_field.name] = None
            slots["requested_slot"] = change
            dispatcher.utter_message(response="utter_change_field", field=by_name[change].label)
        elif asked in by_name and not values and not answered:
            replied = await self._digression(dispatcher, tracker, domain, asked, intent, text)
            if replied != ANSWERED:
                # not an answer (or a question the knowledge base is unsure of): a miss, so that
                # the next question changes approach rather than repeating itself
                misses[asked] = misses.get(asked, 0) + 1
                if misses[asked] == 1 and replied is None:
                    self._hint(dispatcher, domain, by_name[asked])
        slots[MISSES] = misses
        return self.adjust(tracker, slots)

    def carried(self, tracker: Tracker, fields: list[Field], text: str) -> dict[str, str]:
        """The values of this same transaction, done in reply to the previous message, when this
        message asks for it again; else nothing."""
        done = last_task(tracker)
        if done is None or f"validate_{done.get('form')}" != self.name():
            return {}
        return again(text, fields, done.get("values") or {}) or {}

    def adjust(self, tracker: Tracker, slots: dict[str, Any]) -> dict[str, Any]:
        """A form's own rule over the turn's slots, whichever way the message came in."""
        return slots

    @staticmethod
    def _confirmed_on(reread: str, text: str) -> bool:
        """A confirmation read from a message NLU took for help never counts; one NLU took for
        cancel counts only with an unmistakable yes ("yes freeze it", not "ok I'm done")."""
        if not reread:
            return True
        return reread == "cancel" and bool(_UNMISTAKABLE_YES.search(text))

    @staticmethod
    def _clicked(spec_field: Field, key: str, customer_options: list[Option] | None) -> str | None:
        if spec_field.kind == "confirm":
            return key if key in ("yes", "no") else None
        allowed = customer_options if customer_options is not None else list(spec_field.options)
        return key if any(o.key == key for o in allowed) else None

    async def _digression(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
        field_name: str,
        intent: str | None,
        text: str,
    ) -> str | None:
        """Answer a message that is not an answer: small talk or a question ("why?" and "help"
        are the form's help, before this). ``ANSWERED`` when answered (the form then asks again,
        and it is not a miss), ``UNSURE`` for a question the knowledge base can't answer here."""
        if intent in SMALL_TALK and response_exists(domain, SMALL_TALK[intent]):
            dispatcher.utter_message(response=SMALL_TALK[intent])
            return ANSWERED
        if asks_why(text) and response_exists(domain, f"utter_explain_{field_name}"):
            dispatcher.utter_message(response=f"utter_explain_{field_name}")
            return ANSWERED
        if looks_like_question(text):
            if answer_in_passing(self.services, dispatcher, tracker, text):
                return ANSWERED
            dispatcher.utter_message(
                response="utter_digression_unsure", buttons=[self.services.button("talk_to_person")]
            )
            return UNSURE
        return None

    @staticmethod
    def _hint(dispatcher: CollectingDispatcher, domain: DomainDict, spec_field: Field) -> None:
        own = f"utter_invalid_{spec_field.name}"
        dispatcher.utter_message(
            response=own if response_exists(domain, own) else f"utter_invalid_{spec_field.kind}"
        )


class AskField(CustomerOptions, Action):
    """``action_ask_<field>``: the field's question with its options as buttons; after the
    second miss the options in full and a person; then a plain offer of a person, in turn."""

    field_name = ""

    def __init__(self, services: Any = None, field_name: str = ""):
        super().__init__(services)
        self.field_name = field_name or self.field_name

    def name(self) -> str:
        return f"action_ask_{self.field_name}"

    def ask_params(self, tracker: Tracker) -> dict[str, Any]:
        """Values the question's text names (the confirmation's summary)."""
        return {}

    def extra(self, tracker: Tracker) -> dict[str, Any] | None:
        """A custom payload sent with the plain question (an input field, say)."""
        return None

    def buttons(self, tracker: Tracker, spec_field: Field, options: list[Option]) -> list[dict[str, str]]:
        if spec_field.kind == "confirm":
            return []  # the response's own buttons
        return [choice_button(o.title, o.key) for o in options]

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        spec_field = spec_of(self.services).field(self.field_name)
        if spec_field is None:
            raise RuntimeError(f"{self.field_name} is not described in data/forms.yml")
        options = self.options_for(tracker, spec_field)
        if spec_field.kind in ("payee", "card") and not options:
            empty = "utter_no_payees" if spec_field.kind == "payee" else "utter_no_cards"
            dispatcher.utter_message(
                response=empty,
                buttons=[self.services.button("cancel"), self.services.button("talk_to_person")],
            )
            return []
        misses = int((tracker.get_slot(MISSES) or {}).get(self.field_name, 0))
        params = self.ask_params(tracker)
        buttons = self.buttons(tracker, spec_field, options)
        listed = "\n".join(
            f"{i}. {o.title}" + (f": {o.means}" if o.means and spec_field.kind == "choice" else "")
            for i, o in enumerate(options, 1)
        )
        if spec_field.kind == "confirm" or not listed:
            listed = response_text(domain, f"utter_explain_{self.field_name}", tracker)
        if reask(
            dispatcher,
            self.services,
            misses,
            field=self.field_name,
            label=spec_field.label,
            question=response_text(domain, f"utter_ask_{self.field_name}", tracker, **params),
            options=listed,
            buttons=buttons or _confirm_buttons(domain, self.field_name),
        ):
            return []
        dispatcher.utter_message(
            response=f"utter_ask_{self.field_name}",
            buttons=[*buttons, self.services.button("cancel")] if buttons else None,
            json_message=self.extra(tracker),
            **params,
        )
        return []


def reask(
    dispatcher: CollectingDispatcher,
    services: Any,
    misses: int,
    *,
    field: str,
    label: str,
    question: str,
    options: str,
    buttons: list[dict[str, str]],
) -> bool:
    """After the second miss at a field, ask differently: the options in full with the offer of
    a person, then a plain offer of a person, in turn, so that no message goes out three times
    in a row. False while a plain question will do (the caller asks it)."""
    payload = custom_payload(reask={"field": field, "misses": misses})
    if misses >= 2 and misses % 2 == 0:
        dispatcher.utter_message(
            response="utter_ask_in_full",
            question=question,
            options=options,
            buttons=[*buttons, services.button("talk_to_person"), services.button("cancel")],
            json_message=payload,
        )
        return True
    if misses >= 3:
        dispatcher.utter_message(
            response="utter_form_stuck",
            field=label,
            buttons=[services.button("talk_to_person"), *buttons, services.button("cancel")],
            json_message=payload,
        )
        return True
    return False


def _confirm_buttons(domain: DomainDict, field_name: str) -> list[dict[str, str]]:
    variations = (domain.get("responses") or {}).get(f"utter_ask_{field_name}") or [{}]
    return [dict(b) for b in variations[0].get("buttons") or []]
