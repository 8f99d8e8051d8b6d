"""Match what a customer typed to one of a few offered choices.

Used by troubleshooting trees and guided questions: buttons send the choice itself, but a
customer may type "it was online", "the second one" or "I travel a lot" instead. Matching goes
from the most to the least certain evidence and gives up (``None``) rather than guess between
two choices:

1. the label itself, or its number ("2", "the second one");
2. a listed phrase or word, as whole words (the longest phrase wins);
3. word overlap with the label and phrases;
4. optionally, sentence-embedding similarity (when an encoder is given).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_WORD = re.compile(r"[a-z0-9£$€.']+")
_ORDINALS = {
    "1": 0, "first": 0, "one": 0,
    "2": 1, "second": 1, "two": 1,
    "3": 2, "third": 2, "three": 2,
    "4": 3, "fourth": 3, "four": 3,
    "5": 4, "fifth": 4, "five": 4,
}  # fmt: skip
_STOP = frozenset(
    "a an the i i'm im my me it it's its is was were be been to of in on at for and or but with "  # noqa: SIM905
    "this that there they we you your have has had do did does just so very really please".split()
)


def words(text: str) -> list[str]:
    return [w.strip(".'") for w in _WORD.findall(text.lower()) if w.strip(".'")]


def normal(text: str) -> str:
    return " ".join(words(text))


@dataclass(frozen=True)
class Choice:
    """One choice offered to the customer: its key, its label and phrases that mean it."""

    key: str
    label: str
    phrases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    choice: Choice
    how: str  # label | number | phrase | overlap | meaning
    score: float


def _contains(text_words: list[str], phrase_words: list[str]) -> bool:
    n = len(phrase_words)
    if n == 0:
        return False
    return any(text_words[i : i + n] == phrase_words for i in range(len(text_words) - n + 1))


def match_choice(
    text: str,
    choices: Sequence[Choice],
    *,
    encoder: Any = None,
    min_similarity: float = 0.5,
    margin: float = 0.04,
) -> Match | None:
    said = words(text)
    if not said or not choices:
        return None
    joined = " ".join(said)
    for choice in choices:
        if joined == normal(choice.label) or joined == normal(choice.key):
            return Match(choice, "label", 1.0)
    content = [w for w in said if w not in {"the", "one", "option", "number", "no.", "choice"}]
    if len(content) == 1 and content[0] in _ORDINALS and _ORDINALS[content[0]] < len(choices):
        # "2", "the second one"; a bare "one" only when no choice is called that
        return Match(choices[_ORDINALS[content[0]]], "number", 1.0)

    best: dict[str, float] = {}
    for choice in choices:
        for phrase in (choice.label, *choice.phrases):
            phrase_words = words(phrase)
            if _contains(said, phrase_words):
                best[choice.key] = max(best.get(choice.key, 0.0), float(len(phrase_words)))
    picked = _unique_best(best, choices)
    if picked is not None:
        return Match(picked, "phrase", best[picked.key])

    said_content = {w for w in said if w not in _STOP}
    overlap: dict[str, float] = {}
    for choice in choices:
        vocab = {w for phrase in (choice.label, *choice.phrases) for w in words(phrase) if w not in _STOP}
        shared = said_content & vocab
        if shared:
            overlap[choice.key] = len(shared) / len(said_content | vocab)
    picked = _unique_best(overlap, choices)
    if picked is not None:
        return Match(picked, "overlap", overlap[picked.key])

    if encoder is not None:
        descriptions = [". ".join((c.label, *c.phrases[:6])) for c in choices]
        query = _unit(np.asarray(encoder.encode([text]), dtype=np.float32))[0]
        sims = _described(encoder, descriptions) @ query
        order = np.argsort(-sims)
        top = float(sims[order[0]])
        second = float(sims[order[1]]) if len(order) > 1 else -1.0
        if top >= min_similarity and top - second >= margin:
            return Match(choices[int(order[0])], "meaning", top)
    return None


_DESCRIPTIONS: dict[tuple[int, str], np.ndarray] = {}
_MAX_CACHED = 4096


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9)


def _described(encoder: Any, descriptions: list[str]) -> np.ndarray:
    """The choices' vectors: they are the editors' fixed texts, so each is encoded once."""
    missing = [d for d in descriptions if (id(encoder), d) not in _DESCRIPTIONS]
    if missing:
        if len(_DESCRIPTIONS) + len(missing) > _MAX_CACHED:
            _DESCRIPTIONS.clear()
        for description, vector in zip(
            missing, _unit(np.asarray(encoder.encode(missing), dtype=np.float32)), strict=True
        ):
            _DESCRIPTIONS[(id(encoder), description)] = vector
    return np.stack([_DESCRIPTIONS[(id(encoder), d)] for d in descriptions])


def _unique_best(scores: dict[str, float], choices: Sequence[Choice]) -> Choice | None:
    if not scores:
        return None
    top = max(scores.values())
    winners = [key for key, score in scores.items() if score == top]
    if len(winners) != 1:
        return None
    return next(c for c in choices if c.key == winners[0])
