"""Read one customer message against a form: every value it gives, for any field of the form.

"send forty quid to mum" gives the payee and the amount at once; "the plastic one" picks the
physical card; "no wait, make it 30" corrects the amount; "not that card, the other one" swaps
the card; "change the amount" asks to go back to that field. Values are matched against the
customer's own payees and cards (passed in as options), never against anyone else's.

Fields that are not being asked are read strictly (an option's own words, a card's digits, a
payee's name, an amount with a currency or standing alone), so that a story does not fill a
field by accident; the field being asked is read generously (numbers, "the second one", word
overlap, meaning).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.amounts import parse_amount
from assistant.conversation.forms import Field, FormSpec, Option
from assistant.guided.matching import Choice, match_choice, words

# A word that turns the next mention into the one *not* meant: "Sam not mum", "not that card".
_NEGATORS = (
    "not",
    "instead of",
    "rather than",
    "except",
    "but not",
    "don't",
    "dont",
    "do not",
    "never",
    "didn't",
)
_CHANGE = re.compile(
    r"\b(change|changing|edit|amend|update|fix|correct|different|wrong|other|another|switch)\b", re.IGNORECASE
)
_OTHER = re.compile(
    r"\b(the\s+other|another|other\s+one|other\s+card|different\s+card|not\s+that)\b", re.IGNORECASE
)
_ENDING = re.compile(
    r"\b(?:end(?:s|ing)?(?:\s+(?:in|with))?|last\s+(?:digits|numbers|four)(?:\s+(?:are|is))?)\s+(\d{2,4})\b",
    re.IGNORECASE,
)
_QUESTION_START = frozenset(
    {"how", "what", "when", "where", "why", "which", "who", "whose", "can", "could", "is", "are", "do"}
    | {"does", "did", "will", "would", "should", "may", "might", "am", "isn't", "aren't", "doesn't"}
)


# Money said as money: a currency sign or word, or slang for an amount.
_MONEY_MARK = re.compile(
    r"[£€$]|\b(pounds?|quid|gbp|euros?|eur|dollars?|usd|fiver|tenner|score|ton|p)\b", re.I
)
# A bare number where an amount goes: at the end, or before "to", "for", "please"…, not before a noun.
_BARE_MONEY = re.compile(
    r"(?<![\w.,])\d[\d,]*(?:\.\d{1,2})?(?=\s*(?:$|[.,!?;)]|\s(?:to|for|into|please|pls|now|back|and|then|thanks|cheers|instead)\b))",
    re.I,
)


@dataclass(frozen=True)
class Reading:
    """What one message says for a form."""

    values: dict[str, str] = field(default_factory=dict)  # field -> option key or amount
    currency: str | None = None  # an amount in another currency ("€30"): not taken
    change: str | None = None  # a field the customer wants to change, with no new value yet

    @property
    def empty(self) -> bool:
        return not self.values and self.currency is None and self.change is None


_REQUEST_START = frozenset({"can", "could", "will", "would"})


def starts_like_question(said: list[str]) -> bool:
    return bool(said and said[0] in _QUESTION_START)


_WHY = re.compile(
    r"^\s*(?:but\s+|and\s+|ok\s+|hmm\s+)?(?:why|how come|what(?:'s| is) (?:that|this|it) for|what for)\b",
    re.IGNORECASE,
)


def asks_why(text: str) -> bool:
    """ "why do you need that?", "how come?", "what's that for": the field asked needs explaining."""
    return bool(_WHY.search(text))


def looks_like_question(text: str) -> bool:
    return text.rstrip().endswith("?") or starts_like_question(words(text))


def _mentions(said: list[str], phrase: str) -> list[int]:
    """Where the phrase's words start in the message (word positions)."""
    target = words(phrase)
    n = len(target)
    if not n:
        return []
    return [i for i in range(len(said) - n + 1) if said[i : i + n] == target]


def _negated(said: list[str], at: int) -> bool:
    before = " ".join(said[max(0, at - 3) : at])
    return any(before.endswith(n) or f"{n} that" in before or f"{n} the" in before for n in _NEGATORS)


def _pick_by_phrases(said: list[str], options: Sequence[Option]) -> Option | None:
    """The one option named in the message (its title or its words), skipping negated mentions;
    the longest phrase wins; two options named equally is no answer."""
    scores: dict[str, int] = {}
    for option in options:
        for phrase in (option.title, *option.says):
            for at in _mentions(said, phrase):
                if not _negated(said, at):
                    scores[option.key] = max(scores.get(option.key, 0), len(words(phrase)))
    if not scores:
        return None
    top = max(scores.values())
    winners = [k for k, v in scores.items() if v == top]
    return next(o for o in options if o.key == winners[0]) if len(winners) == 1 else None


# Words that hold a confirmation back: "before I send it, can I ask…", "wait", "but first".
_HEDGE = re.compile(
    r"\b(before|wait|hold on|hang on|first|but|check|question|not sure|unsure|actually|instead|if)\b",
    re.IGNORECASE,
)
CONFIRM_MAX_WORDS = 10  # a yes is short; a long message at a confirmation is something else


def _confirm(said: list[str], spec: FormSpec, text: str = "") -> str | None:
    """Yes or no in words: the longest yes- or no-phrase in the message decides. A bare number,
    a question, a hedge ("before I send it…") or a long message is neither: money only moves on
    a plain yes."""
    if not said or all(w.isdigit() for w in said):
        return None
    yes = _pick_by_phrases(said, (Option("yes", "yes", says=spec.yes),)) is not None
    no = _pick_by_phrases(said, (Option("no", "no", says=spec.no),)) is not None or any(
        _mentions(said, n) for n in ("never", "don't", "dont", "do not")
    )
    if no:
        return None if yes else "no"  # "yes… no, wait": neither; ask again
    if not yes or "?" in text or _HEDGE.search(text) or len(said) > CONFIRM_MAX_WORDS:
        return None
    return "yes"


def _negated_keys(said: list[str], options: Sequence[Option]) -> set[str]:
    """Options the message names only to rule out ("not the virtual one")."""
    named: dict[str, bool] = {}
    for option in options:
        for phrase in (option.title, *option.says):
            for at in _mentions(said, phrase):
                named[option.key] = named.get(option.key, True) and _negated(said, at)
    return {key for key, only_negated in named.items() if only_negated}


def _card(
    text: str,
    said: list[str],
    cards: Sequence[Option],
    current: str | None,
    *,
    asked: bool,
    strict: bool = False,
) -> str | None:
    digits = {w for w in said if w.isdigit() and len(w) == 4}
    exact = [c for c in cards if c.means in digits]  # a card option's `means` holds its last 4
    if len(exact) == 1:
        return exact[0].key
    ending = _ENDING.search(text)
    if ending:
        tail = ending.group(1)
        hits = [c for c in cards if c.means.endswith(tail)]
        if len(hits) == 1:
            return hits[0].key
    if strict:
        return None
    if _OTHER.search(text) and current and len(cards) == 2:
        return next(c.key for c in cards if c.key != current)
    picked = _pick_by_phrases(said, cards)
    if picked is not None:
        return picked.key
    if asked:
        ruled_out = _negated_keys(said, cards)
        left = [c for c in cards if c.key not in ruled_out]
        if ruled_out and len(left) == 1:  # "not the virtual one", of two cards
            return left[0].key
        found = match_choice(text, [Choice(c.key, c.title, c.says) for c in cards if c.key not in ruled_out])
        if found is not None:
            return found.choice.key
    return None


def _payee(said: list[str], payees: Sequence[Option], relations: Mapping[str, Sequence[str]]) -> str | None:
    """The one saved payee named, by name, first or last name, or what family call them."""
    named = [
        Option(
            p.key,
            p.title,
            p.means,
            (*p.says, *(w for n in (p.title, *p.says) for w in relations.get(n.lower(), ()))),
        )
        for p in payees
    ]
    picked = _pick_by_phrases(said, named)
    return picked.key if picked else None


def read(
    text: str,
    fields: Sequence[Field],
    spec: FormSpec,
    *,
    asked: str | None,
    current: Mapping[str, Any],
    choices: Mapping[str, Sequence[Option]] | None = None,
    encoder: Any = None,
) -> Reading:
    """Every value ``text`` gives for ``fields``. ``asked`` is the field being asked (read
    generously); ``current`` the values the form holds; ``choices`` the customer's own options
    for payee and card fields (a card option's ``means`` is its last four digits)."""
    said = words(text)
    values: dict[str, str] = {}
    currency: str | None = None
    choices = choices or {}
    # A question in the middle of a form ("how much is express delivery?") names options to ask
    # about them, not to choose them: only money, names and card digits are taken from it.
    # ("can you make it express?" is a request, not a question about express)
    asking = asked is not None and starts_like_question(said) and said[0] not in _REQUEST_START
    confirming = any(f.name == asked and f.kind == "confirm" for f in fields)
    for spec_field in fields:
        name, is_asked = spec_field.name, spec_field.name == asked
        if asking and spec_field.kind in ("choice", "confirm"):
            continue
        if spec_field.kind == "confirm":
            if is_asked:
                answer = _confirm(said, spec, text)
                if answer is not None:
                    values[name] = answer
            continue
        if spec_field.kind == "amount":
            if confirming and all(w.isdigit() for w in said):
                continue  # a bare number at a confirmation is neither a yes nor a new amount
            amount = parse_amount(text)
            if (
                amount is not None
                and not is_asked
                and not _MONEY_MARK.search(text)
                and not _BARE_MONEY.search(text)
            ):
                amount = None  # "pay mum for the 2 concert tickets": a count, not £2
            if amount is not None and amount.value > 0:
                if amount.in_pounds:
                    values[name] = str(amount.value)
                else:
                    currency = amount.currency
            continue
        if spec_field.kind == "payee":
            payee = _payee(said, choices.get(name, ()), spec.relations)
            if payee is not None:
                values[name] = payee
            continue
        if spec_field.kind == "card":
            # a question names a card only by its digits ("is 4821 the one that expires?")
            options = choices.get(name, ())
            card = _card(text, said, options, current.get(name), asked=is_asked, strict=asking)
            if card is not None:
                values[name] = card
            continue
        picked = _pick_by_phrases(said, spec_field.options)
        if picked is None and is_asked:
            ruled_out = _negated_keys(said, spec_field.options)
            found = match_choice(
                text,
                [Choice(o.key, o.title, o.says) for o in spec_field.options if o.key not in ruled_out],
                encoder=encoder,
            )
            picked = spec_field.option(found.choice.key) if found else None
        if picked is not None:
            values[name] = picked.key
    if any(f.kind != "confirm" and f.name in values for f in fields):
        # a new value at the confirmation is a correction: the changed summary is confirmed anew
        values = {
            k: v for k, v in values.items() if not any(f.name == k and f.kind == "confirm" for f in fields)
        }
    change = None
    if not values and _CHANGE.search(text):
        named = [f for f in fields if any(_mentions(said, n) for n in (f.label, *f.names))]
        if len(named) == 1 and named[0].kind != "confirm":
            change = named[0].name
    return Reading(values, currency, change)


# "And for the other card?", "same again for Sam", "her too": the transaction just done, again,
# with what this message changes. Short, and leaning on what was just done.
_AGAIN = re.compile(
    r"\b(the\s+other\s+(?:one|card)|other\s+card|same\s+(?:again|for|to|with|thing)|as\s+well|too|again|also)\b",
    re.IGNORECASE,
)
AGAIN_MAX_WORDS = 12


def again(text: str, fields: Sequence[Field], last: Mapping[str, Any]) -> dict[str, str] | None:
    """When the message asks for the transaction just done again ("and for the other card?",
    "same again for Sam"), its values (``last``) to start from: the message is then read against
    them, so that "the other card" is the other one. None otherwise. The confirmation is never
    carried: the customer confirms the new one."""
    said = words(text)
    if not said or len(said) > AGAIN_MAX_WORDS or not _AGAIN.search(text):
        return None
    kept = {
        f.name: str(last[f.name])
        for f in fields
        if f.kind != "confirm" and last.get(f.name) not in (None, "")
    }
    return kept or None


# A request to do one of the transactions, in words NLU may have taken for a question: a doing
# verb and its object ("can you pay Sam Carter for me", "lost it in a taxi, block my card").
_TASKS = (
    (
        "freeze_card_form",
        re.compile(r"\b(freeze|block|lock|switch off|turn off|disable)\b", re.I),
        re.compile(r"\bcards?\b(?!\s+(?:pin|reader|details|number|payment|machine|limit|fee|order))", re.I),
    ),
    (
        "order_card_form",
        re.compile(r"\b(order|need|want|get|send me|post me|like|give me|set me up with|issue)\b", re.I),
        re.compile(
            r"\b(new|replacement|spare|another|extra|virtual|physical|plastic|second|digital)\s+(?:\w+\s+)?cards?\b"
            r"(?!\s+(?:pin|reader|details|number|payment|machine|limit|fee))",
            re.I,
        ),
    ),
    (
        "transfer_form",
        re.compile(r"\b(send|pay|transfer|wire|bung|move)\b", re.I),
        None,  # its object is one of the customer's own payees
    ),
)


def asks_about(text: str, form: str) -> bool:
    """A message taken for a transaction that asks about one instead: "how do I send money
    abroad?", "sent money this morning and it's still pending??". A question word first (not a
    request's "can you…"), or a question mark without the transaction's own verb and object."""
    said = words(text)
    if not said:
        return False
    if starts_like_question(said) and said[0] not in _REQUEST_START:
        return True
    if not text.rstrip().endswith("?") or said[0] in _REQUEST_START:
        return False
    task = next(((verb, thing) for name, verb, thing in _TASKS if name == form), None)
    if task is None:
        return False
    verb, thing = task
    return not verb.search(text) or (thing is not None and not thing.search(text))


# ...but not one about a card already on its way ("my delivery", "still not here"); the speed of
# a new card's delivery ("by express delivery") is part of the request
_NOT_A_TASK = re.compile(
    r"\b(arrived?|arriving|(?:my|the|its|card) delivery|delivery (?:status|time|date)|track|where is|"
    r"hasn't come|still not)\b",
    re.I,
)


def requested_task(
    text: str, transfer: Sequence[Field], spec: FormSpec, payees: Sequence[Option]
) -> str | None:
    """The transaction form a message asks for, or None (a how-to question is a question)."""
    said = words(text)
    if not said or (starts_like_question(said) and said[0] not in _REQUEST_START):
        return None
    for form, verb, thing in _TASKS:
        if not verb.search(text):
            continue
        if thing is not None:
            if thing.search(text) and not (form == "order_card_form" and _NOT_A_TASK.search(text)):
                return form
            continue
        reading = read(text, transfer, spec, asked=None, current={}, choices={transfer[0].name: payees})
        if transfer[0].name in reading.values:
            return form
    return None
