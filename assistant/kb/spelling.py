"""Read a customer's question the way the articles are written: slang mapped, typos corrected.

Two steps, both cheap (well under a millisecond a question):
1. **Vocabulary**: phrases editors list in ``data/vocabulary.yml`` ("quid" -> "pounds",
   "hole in the wall" -> "cash machine") are replaced, as whole words, in any case.
2. **Spelling**: a word that is neither in the knowledge base nor common English is corrected
   to the nearest word (SymSpell, at most 1 edit for short words, 2 for longer ones). Words of
   the knowledge base win ties and are preferred over general English, so "crd" becomes "card"
   and "recieved" becomes "received". Numbers, codes and short words are left alone.

The general English frequency list ships with ``symspellpy``; it is loaded once per process.
"""

from __future__ import annotations

import importlib.resources
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.kb.articles import ArticleError, Problem, line_of

WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
SPLIT = re.compile(r"([A-Za-z]+(?:'[A-Za-z]+)?)")


@dataclass(frozen=True)
class SpellingSettings:
    enabled: bool = True
    min_length: int = 3  # shorter words are never corrected
    long_word: int = 6  # from this length on, two edits are allowed
    common_count: int = 2_000_000  # general words at least this frequent are taken as spelled right

    def __post_init__(self) -> None:
        if self.min_length < 2 or self.long_word < self.min_length or self.common_count < 0:
            raise ValueError("spelling needs min_length >= 2, long_word >= min_length, common_count >= 0")


class VocabularyError(ArticleError):
    """The editors' vocabulary file is broken (each problem with its file and line)."""


def load_vocabulary(path: Path | None) -> dict[str, str]:
    """``synonyms:`` from the editors' file: customer wording -> article wording."""
    if path is None or not Path(path).is_file():
        return {}
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise VocabularyError(
            [Problem(str(path), mark.line + 1 if mark else 1, f"not valid YAML: {exc}")]
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("synonyms") or {}, dict):
        raise VocabularyError(
            [Problem(str(path), 1, "expected 'synonyms:' mapping each phrase to its replacement")]
        )
    synonyms: dict[str, str] = {}
    problems = []
    for phrase, meaning in (data.get("synonyms") or {}).items():
        if (
            not isinstance(phrase, str)
            or not isinstance(meaning, str | int | float)
            or not str(phrase).strip()
        ):
            line = line_of(path, f"{phrase}:")
            problems.append(Problem(str(path), line, f"synonym {phrase!r} must map a phrase to a text"))
            continue
        synonyms[" ".join(phrase.lower().split())] = str(meaning).strip()
    if problems:
        raise VocabularyError(problems)
    return synonyms


@lru_cache(maxsize=1)
def _general() -> tuple[Any, frozenset[str]]:
    """SymSpell over general English, and the words common enough never to correct."""
    from symspellpy import SymSpell

    speller = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
    path = importlib.resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    speller.load_dictionary(str(path), 0, 1, encoding="utf-8")
    common = frozenset(w for w, count in speller.words.items() if count >= SpellingSettings().common_count)
    return speller, common


_general_lock = threading.Lock()


def general_english() -> tuple[Any, frozenset[str]]:
    with _general_lock:
        return _general()


class QueryNormalizer:
    """Maps a question to the knowledge base's words. Built from the texts of one index."""

    def __init__(
        self,
        kb_texts: Iterable[str],
        synonyms: Mapping[str, str] | None = None,
        settings: SpellingSettings | None = None,
    ):
        self.settings = settings or SpellingSettings()
        self.synonyms = dict(synonyms or {})
        self._synonym_pattern = (
            re.compile(
                r"\b("
                + "|".join(
                    re.escape(p).replace(r"\ ", r"\s+") for p in sorted(self.synonyms, key=len, reverse=True)
                )
                + r")\b",
                re.IGNORECASE,
            )
            if self.synonyms
            else None
        )
        self._kb = None
        self._kb_words: frozenset[str] = frozenset()
        self._cache: dict[str, str] = {}
        if self.settings.enabled:
            from symspellpy import SymSpell

            counts: dict[str, int] = {}
            for text in kb_texts:
                for word in WORD.findall(text):
                    counts[word.lower()] = counts.get(word.lower(), 0) + 1
            kb = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
            for word, count in counts.items():
                if len(word) >= self.settings.min_length:
                    kb.create_dictionary_entry(word, count)
            self._kb, self._kb_words = kb, frozenset(counts)

    def __call__(self, question: str) -> str:
        text = question
        if self._synonym_pattern is not None:
            text = self._synonym_pattern.sub(
                lambda m: self.synonyms[" ".join(m.group(1).lower().split())], text
            )
        if self._kb is None:
            return text
        parts = SPLIT.split(text)
        for i in range(1, len(parts), 2):  # odd positions are the words
            parts[i] = self.word(parts[i])
        return "".join(parts)

    def word(self, word: str) -> str:
        lower = word.lower()
        if len(lower) < self.settings.min_length or lower in self._kb_words:
            return word
        if lower in self._cache:
            return self._cache[lower]
        general, common = general_english()
        if lower in common:
            return word
        from symspellpy import Verbosity

        distance = 2 if len(lower) >= self.settings.long_word else 1
        ours = self._kb.lookup(lower, Verbosity.TOP, max_edit_distance=distance) if self._kb else []
        theirs = general.lookup(lower, Verbosity.TOP, max_edit_distance=distance)
        if ours and (not theirs or ours[0].distance <= theirs[0].distance):
            fixed = ours[0].term
        elif theirs:
            fixed = theirs[0].term
        else:
            fixed = word
        if len(self._cache) < 50_000:
            self._cache[lower] = fixed
        return fixed
