"""Match what a customer typed to one of a few offered choices.

Used by troubleshooting trees and guided questions: buttons send the choice itself, but a
customer may type "it was online", "the second one" or "I travel a lot" instead. Matching goes
from the most to the least certain evidence and gives up (``None``) rather than guess between
two choices:

1. the label itself, or its number ("2", "the second one");
2. a listed phrase or word, as whole words (the longest phrase wins);
3. when customers' example answers are known for the question (``examples`` and
   ``none_of_these``, from ``data/typed_answers.yml``) and an encoder is given: the question's
   own small model, learned from them, decides (a listed phrase counts only when the model does
   not rule its option out; below its confidence, word overlap counts when it names the model's
   own best choice), else it gives up;
4. without examples: word overlap with the label and phrases, then (with an encoder) sentence
   similarity to each choice's label and phrases.
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


# Chosen on the validation part of data/typed_answers.yml (``bench/guided_bench.py --tune``),
# never on the benchmark's held-out answers. With example answers, a question's own small model
# decides: it picks an option when at least EXAMPLE_CONFIDENCE sure, and a listed phrase counts
# only when the model gives its option at least PHRASE_AGREEMENT.
EXAMPLE_CONFIDENCE = 0.75
PHRASE_AGREEMENT = 0.3
_NONE = "\x00none"


@dataclass(frozen=True)
class Choice:
    """One choice offered to the customer: its key, its label and phrases that mean it."""

    key: str
    label: str
    phrases: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()  # answers customers typed for it


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
    none_of_these: Sequence[str] = (),
    confidence: float | None = None,
    agreement: float | None = None,
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

    if encoder is not None and any(c.examples for c in choices):
        sure = _model(encoder, choices, none_of_these).probabilities(text)
        confidence = confidence if confidence is not None else EXAMPLE_CONFIDENCE
        agreement = agreement if agreement is not None else PHRASE_AGREEMENT
        if picked is not None and sure.get(picked.key, 0.0) >= agreement:
            return Match(picked, "phrase", best[picked.key])
        key, p = max(sure.items(), key=lambda kv: kv[1])
        if key != _NONE and p >= confidence:
            return Match(next(c for c in choices if c.key == key), "examples", p)
        overlapping, overlap = _overlap(said, choices)
        if overlapping is not None and overlapping.key == key:
            # less sure, but the words and the model agree ("never really": never)
            return Match(overlapping, "overlap", overlap)
        return None

    if picked is not None:
        return Match(picked, "phrase", best[picked.key])
    overlapping, overlap = _overlap(said, choices)
    if overlapping is not None:
        return Match(overlapping, "overlap", overlap)

    if encoder is not None:
        descriptions = [_description(c) for c in choices]
        query = _unit(np.asarray(encoder.encode([text]), dtype=np.float32))[0]
        sims = _vectors(encoder, descriptions) @ query
        order = np.argsort(-sims)
        top = float(sims[order[0]])
        second = float(sims[order[1]]) if len(order) > 1 else -1.0
        if top >= min_similarity and top - second >= margin:
            return Match(choices[int(order[0])], "meaning", top)
    return None


def _overlap(said: list[str], choices: Sequence[Choice]) -> tuple[Choice | None, float]:
    """The choice whose label and phrases share the most words with the answer (Jaccard)."""
    said_content = {w for w in said if w not in _STOP}
    overlap: dict[str, float] = {}
    for choice in choices:
        vocab = {w for phrase in (choice.label, *choice.phrases) for w in words(phrase) if w not in _STOP}
        shared = said_content & vocab
        if shared:
            overlap[choice.key] = len(shared) / len(said_content | vocab)
    picked = _unique_best(overlap, choices)
    return picked, (overlap[picked.key] if picked is not None else 0.0)


def _description(choice: Choice) -> str:
    return ". ".join((choice.label, *choice.phrases[:6]))


class _AnswerModel:
    """One question's options (and "none of these") learned from the answers customers typed:
    logistic regression over the sentence embedding and character 2-4-grams, fitted in
    milliseconds the first time the question is asked."""

    def __init__(self, encoder: Any, choices: Sequence[Choice], none_of_these: Sequence[str]):
        from scipy.sparse import csr_matrix, hstack
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self._encoder, self._hstack, self._csr = encoder, hstack, csr_matrix
        texts: list[str] = []
        labels: list[str] = []
        for choice in choices:
            for text in (choice.label, *choice.examples):
                texts.append(text)
                labels.append(choice.key)
        texts += list(none_of_these)
        labels += [_NONE] * len(none_of_these)
        self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
        self._chars.fit([t.lower() for t in texts])
        features = self._features(texts, _vectors(encoder, texts))
        self._model = LogisticRegression(C=10, max_iter=2000).fit(features, labels)

    def _features(self, texts: list[str], vectors: np.ndarray) -> Any:
        # the embedding weighs twice as much as the spelling
        return self._hstack(
            [self._csr(vectors * 2.0), self._chars.transform([t.lower() for t in texts])]
        ).tocsr()

    def probabilities(self, text: str) -> dict[str, float]:
        vector = _unit(np.asarray(self._encoder.encode([text]), dtype=np.float32))
        p = self._model.predict_proba(self._features([text], vector))[0]
        return {str(key): float(value) for key, value in zip(self._model.classes_, p, strict=True)}


_MODELS: dict[tuple[Any, ...], _AnswerModel] = {}


def _model(encoder: Any, choices: Sequence[Choice], none_of_these: Sequence[str]) -> _AnswerModel:
    key = (id(encoder), tuple((c.key, c.label, c.examples) for c in choices), tuple(none_of_these))
    model = _MODELS.get(key)
    if model is None:
        if len(_MODELS) >= 256:
            _MODELS.clear()
        model = _MODELS[key] = _AnswerModel(encoder, choices, none_of_these)
    return model


_DESCRIPTIONS: dict[tuple[int, str], np.ndarray] = {}
_MAX_CACHED = 4096


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9)


def _vectors(encoder: Any, descriptions: list[str]) -> np.ndarray:
    """Vectors of the editors' fixed texts (descriptions, example answers): each encoded once."""
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
