"""The words of account answers, from data/account.yml, checked with file:line problems."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.kb.articles import ArticleError, Problem
from assistant.yamldoc import LineMap, load_yaml

TOPICS = ("balance", "payments", "cards", "card_order", "transfers", "topups", "plan")
OFFERS = ("article", "tree", "form")

# What each sentence may use; a placeholder outside its set is an editor's mistake.
SENTENCES: dict[str, set[str]] = {
    "balance": {"balance", "account"},
    "balance_pending": {"count", "total"},
    "payment": {"merchant", "amount", "original", "when", "card", "status"},
    "payments_intro": set(),
    "no_payments": set(),
    "transfer": {"payee", "amount", "when", "status", "reference"},
    "transfers_intro": set(),
    "no_transfers": set(),
    "no_transfers_to": {"payee"},
    "transfer_due": {"when"},
    "topup": {"amount", "source", "when", "status"},
    "topups_intro": set(),
    "no_topups": set(),
    "why": {"reason"},
    "because": {"what", "reason"},
    "transfer_due_about": {"amount", "payee", "when"},
    "card_due": {"label", "expected"},
    "card": {"label", "status"},
    "cards_intro": set(),
    "card_frozen_since": {"when", "note"},
    "card_order": {"label", "ordered", "dispatched", "delivery", "expected"},
    "card_order_posted": {"when"},
    "no_card_order": set(),
    "plan": {
        "plan",
        "atm_used",
        "atm_allowance",
        "atm_left",
        "exchange_used",
        "exchange_allowance",
        "exchange_left",
    },
    "plan_atm": {"atm_used", "atm_allowance", "atm_left"},
    "plan_atm_unlimited": {"atm_used"},
    "plan_exchange": {"exchange_used", "exchange_allowance", "exchange_left"},
    "plan_exchange_unlimited": {"exchange_used"},
    "sign_in": {"what"},
    "sign_in_more": {"what"},
    "more_help": set(),
    "unchanged": set(),
}
STATUS_KINDS = ("payment", "transfer", "topup", "card")


@dataclass(frozen=True)
class Reason:
    text: str
    offer: tuple[str, str] | None = None  # ("tree", "top_up_failed"), ("article", id), ("form", name)


@dataclass(frozen=True)
class AccountWords:
    sentences: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, dict[str, str]] = field(default_factory=dict)
    reasons: dict[str, Reason] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)  # topic -> how the sign-in sentence names it
    articles: dict[str, str] = field(default_factory=dict)  # article id -> topic
    more_help: dict[str, str] = field(default_factory=dict)  # topic -> article id

    def say(self, key: str, **values: Any) -> str:
        return self.sentences[key].format(**values)

    def status(self, kind: str, status: str) -> str:
        return self.statuses.get(kind, {}).get(status, status)

    def reason(self, code: str) -> Reason:
        return self.reasons.get(code) or Reason(code.replace("_", " "))


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def load_account_words(
    path: Path, article_ids: set[str] | None = None, tree_ids: set[str] | None = None
) -> AccountWords:
    """Read data/account.yml; every problem is raised at once as :class:`ArticleError`."""
    path = Path(path)
    data = load_yaml(path) or LineMap()
    problems: list[Problem] = []
    if not isinstance(data, LineMap):
        raise ArticleError([Problem(str(path), 1, "must be a mapping of sections")])

    def problem(where: str, message: str) -> None:
        """At ``section`` or ``section.key``: the line of that key in that section."""
        section, _, key = where.partition(".")
        value = data.get(section)
        at = value.line_of(key) if key and isinstance(value, LineMap) else data.line_of(section)
        problems.append(Problem(str(path), at, message))

    def mapping(key: str) -> dict[str, Any]:
        raw = data.get(key) or {}
        if not isinstance(raw, dict):
            problem(key, f"'{key}' must be a mapping")
            return {}
        return raw

    for key in sorted(set(data) - {"articles", "more_help", "sentences", "topics", "statuses", "reasons"}):
        problem(key, f"unknown section '{key}'")
    sentences = {str(k): str(v) for k, v in mapping("sentences").items()}
    for key, allowed in SENTENCES.items():
        if key not in sentences:
            problem("sentences", f"sentence '{key}' is missing")
            continue
        unknown = placeholders(sentences[key]) - allowed
        if unknown:
            problem(
                f"sentences.{key}",
                f"'{key}' cannot use {{{', '.join(sorted(unknown))}}}: "
                f"it may use {sorted(allowed) or 'none'}",
            )
    for key in sorted(set(sentences) - set(SENTENCES)):
        problem(f"sentences.{key}", f"unknown sentence '{key}'")
    articles = {str(k): str(v) for k, v in mapping("articles").items()}
    more_help = {str(k): str(v) for k, v in mapping("more_help").items()}
    for article, topic in articles.items():
        if topic not in TOPICS:
            problem(f"articles.{article}", f"'{topic}' is not one of {', '.join(TOPICS)}")
    for topic in more_help:
        if topic not in TOPICS:
            problem(f"more_help.{topic}", f"'{topic}' is not one of {', '.join(TOPICS)}")
    if article_ids is not None:
        for article in articles:
            if article not in article_ids:
                problem(f"articles.{article}", f"no article '{article}' in the knowledge base")
        for topic, article in more_help.items():
            if article not in article_ids:
                problem(f"more_help.{topic}", f"no article '{article}' in the knowledge base")
    topics = {str(k): str(v) for k, v in mapping("topics").items()}
    for topic in TOPICS:
        if topic not in topics:
            problem("topics", f"topic '{topic}' has no words for the sign-in sentence")
    statuses: dict[str, dict[str, str]] = {}
    for kind, values in mapping("statuses").items():
        if kind not in STATUS_KINDS or not isinstance(values, dict):
            problem(
                f"statuses.{kind}",
                f"statuses: '{kind}' must be one of {', '.join(STATUS_KINDS)} with a mapping",
            )
            continue
        statuses[str(kind)] = {str(k): str(v) for k, v in values.items()}
    reasons: dict[str, Reason] = {}
    for code, raw in mapping("reasons").items():
        if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
            problem(f"reasons.{code}", f"reason '{code}' needs a text")
            continue
        offer = raw.get("offer")
        pair: tuple[str, str] | None = None
        if offer is not None:
            if not isinstance(offer, dict) or len(offer) != 1 or next(iter(offer)) not in OFFERS:
                problem(
                    f"reasons.{code}",
                    f"reason '{code}': offer must be one of {', '.join(OFFERS)} with its id",
                )
            else:
                kind, target = next(iter(offer.items()))
                pair = (str(kind), str(target))
                if kind == "article" and article_ids is not None and target not in article_ids:
                    problem(f"reasons.{code}", f"reason '{code}': no article '{target}'")
                if kind == "tree" and tree_ids is not None and target not in tree_ids:
                    problem(f"reasons.{code}", f"reason '{code}': no troubleshooting tree '{target}'")
        reasons[str(code)] = Reason(raw["text"], pair)
    if problems:
        raise ArticleError(problems)
    return AccountWords(sentences, statuses, reasons, topics, articles, more_help)
