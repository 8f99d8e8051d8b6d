"""What a customer asks about their own account: which part (balance, cards, a card order,
payments, transfers, top-ups, the plan), and which card, payee or merchant they mean.

Two readings, the first that finds a topic wins:
1. **Cues** in the message itself ("how much do I have", "is my card frozen", "has my new card
   been posted", "did my transfer to Sam go through", "why did my top-up fail").
2. **The knowledge base's reading**: the article it found (data/account.yml ``articles:``), when
   the customer speaks of their own situation ("my", "I").
Either way a message about how things work in general ("how long do cards take to arrive?") is
not about the customer's account and is left to the knowledge base.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_PERSONAL = re.compile(  # the customer's own things and doings: "my card", "I sent", "have I got"
    r"\b(?:my|mine|our|i'?ve|ive|me)\b|\bi (?:have|had|sent|paid|ordered|tried|made|topped|got|froze|"
    r"bought|did|was|am|transferred|received|spent|still|added|put|used)\b|\b(?:am|have|did|do|was) i\b",
    re.IGNORECASE,
)
_GENERAL = re.compile(  # how something works, even when asked in the first person
    r"^\s*(?:how (?:do|can|would|should|to)|(?:can|could|should) (?:i|you|we)|is it possible|"
    r"what (?:do|should) i do|what happens|what(?:'s| is) the (?:most|max|maximum|minimum|limit))\b|"
    r"\b(?:the most|maximum|max|minimum|in general|usually|normally)\b",
    re.IGNORECASE,
)
_HOW = re.compile(  # how things work in general, whoever asks
    r"\b(?:how (?:long|do|does|can|to)|usually|normally|in general|typically)\b", re.IGNORECASE
)
_STATUS = re.compile(  # ... unless it asks where the customer's own thing stands
    r"\b(?:still|yet|go through|gone through|went through|arrived?|declined|failed|fail|rejected|pending|"
    r"frozen|status|happened|where is|where's|left|yet|posted|sent|arrived)\b",
    re.IGNORECASE,
)
_COMMAND = re.compile(  # asks for something to be done, not where things stand
    r"^\s*(?:please\s+|pls\s+|can you\s+|could you\s+)?(?:send|pay|transfer|freeze|block|order|cancel|"
    r"top up|move|unfreeze|stop|make)\b",
    re.IGNORECASE,
)
_WHY = re.compile(r"\b(?:why|how come|what (?:happened|went wrong)|reason)\b", re.IGNORECASE)
_NAME_WORD = re.compile(r"[\w-]+")
_LAST4 = re.compile(r"(?<!\d)(\d{4})(?!\d)")

CARD = r"(?:card|debit card|plastic)s?"
# In order: the first topic one of whose cues is found is the one asked about.
_CUE_PATTERNS: dict[str, list[str]] = {
    "topups": [
        r"top[ -]?ups?",
        r"topp?ed up",
        r"topping up",
        r"add(?:ed|ing)? money",
        r"money (?:i|we) (?:added|put in|loaded|paid in)",
        r"load(?:ed|ing)? (?:money|funds)",
    ],
    "plan": [
        r"allowances?",
        r"(?:free|fee[ -]free) (?:atm |cash )?(?:withdrawals?|exchange|limit)",
        r"withdrawals? (?:left|remaining)",
        r"(?:which|what) plan",
        r"my plan",
        r"plan am i",
        r"(?:how much|how many)\b.{0,30}\b(?:withdraw|exchange)\w*\b.{0,30}\b"
        r"(?:left|free|more|remaining|used)",
        r"exchange (?:limit|allowance)",
        r"used (?:up )?my (?:free|allowance)",
    ],
    "card_order": [
        rf"(?:new|replacement|spare|ordered|other) {CARD}\b.{{0,40}}\b"
        r"(?:arriv|deliver|post|dispatch|sent|ship|come|coming|here|track|where|when|yet)\w*",
        rf"(?:where|when)\b.{{0,25}}\b(?:my|the) (?:new |replacement )?{CARD}\b",
        rf"{CARD}\b.{{0,30}}\b(?:arrived?|arriving|delivered|posted|dispatched|shipped|on (?:its|it's) way)",
        rf"(?:haven'?t|hasn'?t|not|never|still not) (?:got|received|had|arrived)\b.{{0,20}}\b{CARD}",
        rf"ordered (?:a |my )?(?:new )?{CARD}",
    ],
    "transfers": [
        r"transfers?",
        r"transferred",
        r"sent",
        r"send",
        r"sending",
        r"wired?",
        r"(?:payment|money|cash|paid) to",
    ],
    "payments": [
        r"declined",
        r"rejected",
        r"refused",
        r"bounced",
        r"did(?:n'?t| not) go through",
        r"card payments?",
        r"payments?",
        r"purchases?",
        r"charged?",
        r"charges",
        r"transactions?",
        r"spent",
        r"spending",
        r"bought",
        r"paid (?:for|at)",
    ],
    "balance": [
        r"balance",
        r"how much (?:money |cash )?"
        r"(?:do i|i'?ve|ive|i have|have i|is (?:there )?(?:in|on)|is left|left|in my|on my)",
        r"money (?:do i have|i have|left|have i got)",
        r"what'?s (?:in|on) my account",
        r"overdrawn",
        r"in (?:the )?(?:red|black)",
        r"funds (?:left|available)",
    ],
    "cards": [
        r"frozen",
        r"unfrozen",
        r"froze",
        r"unfreeze",
        r"freezed",
        r"blocked",
        r"expired",
        r"expiry",
        r"active",
        rf"(?:which|what|how many) (?:of my )?{CARD}",
        rf"my {CARD} (?:do i have|still work)",
        r"still (?:work|use|valid|good)",
        r"can i (?:still )?use",
    ],
}
_CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (topic, re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE))
    for topic, patterns in _CUE_PATTERNS.items()
)


@dataclass(frozen=True)
class AccountQuestion:
    topic: str  # balance payments cards card_order transfers topups plan
    why: bool = False  # asks why something happened
    last4: str | None = None  # one of the customer's own cards, by its last four digits
    payee: str | None = None  # one of the customer's own payees, by name
    merchant: str | None = None  # one of the merchants in the customer's own payments


def asks_to_act(text: str) -> bool:
    """ "send it to Sam", "freeze it", "cancel": a request to do something, for the forms."""
    return bool(_COMMAND.search(text))


def personal(text: str) -> bool:
    """Speaks of the customer's own situation ("my card", "I sent"), not how things work
    ("how do I top up?", "what's the most I can top up?")."""
    if not _PERSONAL.search(text):
        return False
    return not _GENERAL.search(text) or bool(_STATUS.search(text))


def _named(text: str, names: Iterable[str]) -> str | None:
    """The name (a payee, a merchant) the message mentions by any of its words, longest first."""
    lower = " " + " ".join(_NAME_WORD.findall(text.lower())) + " "
    for name in sorted(set(names), key=len, reverse=True):
        parts = [p for p in _NAME_WORD.findall(name.lower()) if len(p) >= 3]
        if any(f" {p} " in lower for p in parts) or f" {name.lower()} " in lower:
            return name
    return None


def read_account_question(
    text: str,
    *,
    read_as: str = "",
    cards: Iterable[str] = (),
    payees: Iterable[str] = (),
    merchants: Iterable[str] = (),
    article_topic: Mapping[str, str] | None = None,
    articles: Iterable[str] = (),
) -> AccountQuestion | None:
    """The account question in ``text`` (``read_as``: the same, spelling corrected), or None.

    ``cards`` are the customer's last four digits, ``payees`` and ``merchants`` their names;
    ``articles`` the knowledge base's best articles for it, read through ``article_topic``."""
    said = f"{text} {read_as}".strip()
    cards = list(cards)
    last4 = next((d for d in _LAST4.findall(said) if d in cards), None)
    payee = _named(said, payees)
    merchant = _named(said, merchants)
    if asks_to_act(text):
        return None
    topic = next((name for name, cue in _CUES if cue.search(said)), None)
    # the customer's own things, or where one of them stands ("new card posted yet?", "has the
    # transfer gone through?"): a status asked about one thing is about theirs
    status = topic is not None and bool(_STATUS.search(said)) and not _HOW.search(said)
    own = personal(said) or last4 is not None or payee is not None or status
    if not own:
        return None
    why = bool(_WHY.search(said))
    if topic in ("payments", "transfers") and payee is not None:
        topic = "transfers"  # "did my payment to Alex go through": a transfer to a payee
    elif topic == "transfers" and merchant is not None and payee is None:
        topic = "payments"  # "the money I sent to Spotify"
    if topic is None and merchant is not None:
        topic = "payments"
    if topic is None and payee is not None:
        topic = "transfers"
    if topic is None and article_topic:
        topic = next((article_topic[a] for a in articles if a in article_topic), None)
    if topic is None and last4 is not None:
        topic = "cards"
    if topic is None:
        return None
    return AccountQuestion(topic, why, last4, payee, merchant)
