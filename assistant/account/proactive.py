"""Help offered as the chat opens, about a failed operation of the signed-in customer's own:
which failure to offer (the newest one inside its kind's window, not offered before) and what
to say (the editors' text from data/assistant.yml ``proactive:``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from assistant.account.facts import money, when
from assistant.account.words import AccountWords
from assistant.backoffice.store import Failure
from assistant.content import ProactiveRule


def longest_window(rules: Mapping[str, ProactiveRule]) -> dt.timedelta:
    hours = [r.within_hours for r in rules.values() if r.enabled]
    return dt.timedelta(hours=max(hours, default=0))


def failure_to_offer(
    failures: Iterable[Failure],
    rules: Mapping[str, ProactiveRule],
    offered: set[str],
    now: dt.datetime,
) -> Failure | None:
    """The newest failure whose kind has an offer, inside its window, and not offered before."""
    for failure in sorted(failures, key=lambda f: f.at, reverse=True):
        rule = rules.get(failure.kind)
        if rule is None or not rule.enabled or failure.id in offered:
            continue
        if now - failure.at <= dt.timedelta(hours=rule.within_hours):
            return failure
    return None


def offer_text(rule: ProactiveRule, failure: Failure, words: AccountWords, now: dt.datetime) -> str:
    return rule.text.format(
        amount=money(failure.amount),
        when=when(failure.at, now),
        what=failure.what,
        reason=words.reason(failure.reason).text,
    )
