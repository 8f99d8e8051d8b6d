"""Phrase rules that overrule the intent classifier for a few intents where a miss is costly.

Asking for a person must always work: "before I send it, can I talk to an actual person?" is a
request for a person however the classifier scores it, and a customer who is not heard there
may lose money or patience. Each rule is a list of regular expressions per intent, set in
config.yml; the classifier's own reading stands when it is one of the ``keep`` intents (a
sales adviser, cancel, a complaint: those are answered with a person too, or more precisely).
Pure Python: tested without Rasa.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PhraseRules:
    rules: dict[str, tuple[re.Pattern[str], ...]] = field(default_factory=dict)
    keep: frozenset[str] = frozenset()

    @classmethod
    def from_config(
        cls, rules: Mapping[str, Sequence[str]] | None, keep: Sequence[str] | None
    ) -> PhraseRules:
        compiled: dict[str, tuple[re.Pattern[str], ...]] = {}
        for intent, patterns in (rules or {}).items():
            if not isinstance(patterns, (list, tuple)) or not patterns:
                raise ValueError(f"phrase rules for {intent!r} must be a non-empty list")
            try:
                compiled[str(intent)] = tuple(re.compile(str(p), re.IGNORECASE) for p in patterns)
            except re.error as exc:
                raise ValueError(f"phrase rule for {intent!r} is not a valid pattern: {exc}") from exc
        return cls(compiled, frozenset(keep or ()))

    def intent_for(self, text: str, predicted: str | None) -> str | None:
        """The intent a rule gives ``text``, or None to keep the classifier's ``predicted``."""
        if not text or text.lstrip().startswith("/") or predicted in self.keep:
            return None
        for intent, patterns in self.rules.items():
            if intent != predicted and any(p.search(text) for p in patterns):
                return intent
        return None
