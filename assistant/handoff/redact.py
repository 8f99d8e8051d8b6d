"""Redaction of personal data in what is stored and exported: card numbers, email addresses and
phone numbers are replaced by placeholders (an option: ASSISTANT_REDACT=1)."""

from __future__ import annotations

import re
from typing import Any

CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
# Bounded like real addresses (64-character local part, 63-character labels): linear time. The
# unbounded form took 0.6 s on 16,000 characters of "a.a.a." and ran on the web app's event loop.
EMAIL = re.compile(r"\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}\b")
PHONE = re.compile(r"(?<![\w£$€.])(?:\+\d{1,3}[ .-]?)?(?:\(?\d{2,5}\)?[ .-]?){2,4}\d{3,4}(?![\w.])")


def _luhn(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        n = int(ch)
        if i % 2 == parity:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def redact_text(text: str) -> str:
    def card(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        return "[card number]" if 13 <= len(digits) <= 19 and _luhn(digits) else match.group()

    text = CARD.sub(card, text)
    text = EMAIL.sub("[email]", text)
    return PHONE.sub(lambda m: "[phone]" if 9 <= len(re.sub(r"\D", "", m.group())) <= 13 else m.group(), text)


AMOUNT = re.compile(r"[£€$]\s?\d[\d,]*(?:\.\d+)?")
CARD_DIGITS = re.compile(r"\b(ending(?: in)?|ends in|card)(\s+)\d{4}\b", re.IGNORECASE)


def redact_account_text(text: str) -> str:
    """Stricter, for facts read from the customer's account: amounts and card digits too."""
    text = AMOUNT.sub("[amount]", redact_text(text))
    return CARD_DIGITS.sub(lambda m: f"{m.group(1)}{m.group(2)}[card]", text)


def redact_transcript(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every turn redacted; the bot's account answers with amounts and card digits as well."""
    out = []
    for turn in redact(turns):
        if isinstance(turn, dict) and turn.get("account") and isinstance(turn.get("text"), str):
            turn = {**turn, "text": redact_account_text(turn["text"])}
        out.append(turn)
    return out


def redact(value: Any) -> Any:
    """The same structure with every string redacted (dicts, lists, strings; others unchanged)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    return value
