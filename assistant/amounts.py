"""Amounts of money as customers type them: "£40", "40 quid", "forty pounds", "12.50", "€30",
"a tenner", "50, no wait, make it 30".

Numbers in words become digits with ``text2num`` (alpha2digit); each amount and its currency are
read with ``price-parser``. When a message names several amounts, the last one counts: that is
how people correct themselves ("50, no wait, make it 30").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CURRENCIES = {
    "£": "GBP",
    "gbp": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
    "quid": "GBP",
    "sterling": "GBP",
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "$": "USD",
    "usd": "USD",
    "dollar": "USD",
    "dollars": "USD",
}
# Whole-word money slang, before numbers are read.
SLANG = {"fiver": "5 pounds", "tenner": "10 pounds", "score": "20 pounds", "ton": "100 pounds"}
_SLANG = re.compile(r"\b(?:an?\s+)?(" + "|".join(SLANG) + r")\b", re.IGNORECASE)
_CURRENCY_WORD = re.compile(r"\b(pounds?|quid|gbp|sterling|euros?|eur|dollars?|usd)\b", re.IGNORECASE)
# "12 pounds 50" (what alpha2digit makes of "twelve pounds fifty") is £12.50
_POUNDS_PENCE = re.compile(
    r"(\d+)\s*(pounds?|quid)\s+(?:and\s+)?(\d{1,2})\b(?!\s*(?:pounds?|quid))", re.IGNORECASE
)
# Clauses: an amount per clause, the last one wins ("1,250" keeps its comma: no space after it).
_CLAUSES = re.compile(
    r",\s|;|\bno\b|\bactually\b|\bsorry\b|\bi mean\b|\bmake it\b|\bor rather\b", re.IGNORECASE
)
# A number standing alone, maybe with a currency sign: not part of an id, a sort code or a word.
_NUMBER = re.compile(r"^[£€$]?\d[\d,]*(?:\.\d+)?[.,!?)]*$")
_DIGIT = re.compile(r"\d")
# An amount named only to be replaced: "30 instead of 50", "30, not 50".
_REPLACED = re.compile(
    r"\b(?:instead of|rather than|not)\s+[£€$]?\d[\d,.]*(?:\s*(?:pounds?|quid|euros?|dollars?))?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Amount:
    value: Decimal
    currency: str = "GBP"  # when the customer named none, pounds

    @property
    def in_pounds(self) -> bool:
        return self.currency == "GBP"


def amounts(text: str) -> list[Amount]:
    """Every amount in ``text``, in order."""
    from price_parser import Price
    from text_to_num import alpha2digit

    text = _SLANG.sub(lambda m: SLANG[m.group(1).lower()], str(text))
    text = alpha2digit(text, "en")
    text = _POUNDS_PENCE.sub(lambda m: f"{m.group(1)}.{int(m.group(3)):02d} {m.group(2)}", text)
    text = _REPLACED.sub(" ", text)
    found = []
    for clause in _CLAUSES.split(text):
        clause = " ".join(t for t in clause.split() if not _DIGIT.search(t) or _NUMBER.match(t))
        if not _DIGIT.search(clause):
            continue
        price = Price.fromstring(clause)
        if price.amount is None:
            continue
        symbol = (price.currency or "").strip().lower()
        word = _CURRENCY_WORD.search(clause)
        currency = (
            CURRENCIES.get(symbol) or (CURRENCIES.get(word.group(1).lower()) if word else None) or "GBP"
        )
        value = Decimal(price.amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        found.append(Amount(value, currency))
    return found


def parse_amount(text: str) -> Amount | None:
    """The amount the customer means: the last one they named (None when there is none)."""
    found = amounts(text)
    return found[-1] if found else None
