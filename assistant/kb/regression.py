"""Knowledge-base regression tests: a question and the article that must answer it (or decline).

Editors keep them in ``data/kb_tests.yml``::

    tests:
      - question: "how do I freeze my card"
        expect: lost_or_stolen_card   # the answer must be this article (decision "answer")
      - question: "what is the weather on mars"
        expect: decline               # the knowledge base must not answer
      - question: "..."
        expect: card_arrival
        allow: clarify                # offering it among the clarify choices also passes

Every problem in the file is reported as ``file:line: message``. A suite is ranked once
(:func:`rank_suite`) and then judged at any thresholds (:func:`judge`, :func:`what_if`): a
decision is only the calibrated confidence and coverage against the thresholds, so moving them
needs no new search. :func:`add_test` appends one test to the file, keeping its text and
comments. Knows nothing of Rasa or the web.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from assistant.kb.articles import ArticleError, Problem
from assistant.kb.ranking import ArticleHit
from assistant.kb.search import ANSWER, CLARIFY, DECLINE, DecisionSettings
from assistant.yamldoc import Checker, LineList, LineMap, parse_yaml

EXPECT_DECLINE = "decline"
ALLOW_CLARIFY = "clarify"
MAX_QUESTION_CHARS = 500
MAX_TESTS = 2000
HEADER = (
    "# Knowledge-base regression tests: a question and the article that must answer it (or decline).\n"
    "# `assistant kb test` runs them (and `make test`); the console's workbench adds them.\n"
    "tests:\n"
)
_WRITE_LOCK = threading.Lock()  # one append at a time in this process (read, add, replace)


class DuplicateQuestion(ValueError):
    """The question is already a test (the same words, whatever the case and spacing)."""


class InvalidTest(ValueError):
    """A test that cannot be saved: an empty or long question, an unknown article."""


class KnowledgeBaseLike(Protocol):
    """What running the tests needs of :class:`assistant.kb.search.KnowledgeBase`."""

    settings: DecisionSettings

    def read(self, question: str) -> str: ...

    def rank(self, question: str, limit: int = 5) -> list[ArticleHit]: ...

    def decide(
        self, hits: list[ArticleHit], settings: DecisionSettings | None = None
    ) -> tuple[str, float, float]: ...


@dataclass(frozen=True)
class KBTest:
    question: str
    expect: str  # an article id, or "decline"
    line: int
    allow_clarify: bool = False

    @property
    def expects_decline(self) -> bool:
        return self.expect == EXPECT_DECLINE

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"question": self.question, "expect": self.expect, "line": self.line}
        data["allow"] = ALLOW_CLARIFY if self.allow_clarify else None
        return data


@dataclass(frozen=True)
class Suite:
    path: str  # as shown in messages
    tests: tuple[KBTest, ...] = ()

    def __len__(self) -> int:
        return len(self.tests)


def question_key(question: str) -> str:
    """Two questions are the same test when they differ only in case and spacing."""
    return " ".join(question.split()).casefold()


def _clean_question(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidTest("question must be a text")
    question = " ".join(value.split())
    if not question:
        raise InvalidTest("question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidTest(f"question is longer than {MAX_QUESTION_CHARS} characters")
    return question


def load_suite(path: Path, article_ids: Collection[str] | None = None, *, shown: str | None = None) -> Suite:
    """Read and check ``path``; raises :class:`ArticleError` with every problem, file:line.

    ``article_ids``: the articles a test may expect (None: not checked); ``shown``: the file's
    name in messages (default ``path``). An empty file is an empty suite."""
    name = shown or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ArticleError([Problem(name, 1, f"cannot read: {exc.strerror}")]) from exc
    except UnicodeDecodeError:
        raise ArticleError([Problem(name, 1, "file is not UTF-8 text")]) from None
    return parse_suite(text, name, article_ids)


def parse_suite(text: str, shown: str, article_ids: Collection[str] | None = None) -> Suite:
    """The tests in ``text`` (the file ``shown``), checked as :func:`load_suite` does."""
    data = parse_yaml(text, shown)
    check = Checker(shown)
    if data is None:
        return Suite(shown)
    top = check.mapping(data, "the file", 1)
    if top is None:
        raise ArticleError(check.problems)
    check.keys(top, "the file", {"tests"}, set())
    raw = top.get("tests")
    items: list[Any] = []
    if raw is not None and not isinstance(raw, LineList):
        check.add(top.line_of("tests"), "'tests' must be a list of tests")
    elif raw is not None:
        items = list(raw)
        if len(items) > MAX_TESTS:
            check.add(top.line_of("tests"), f"at most {MAX_TESTS} tests, found {len(items)}")
    tests: list[KBTest] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        at = raw.line_at(index) if isinstance(raw, LineList) else 1
        test = _check_test(check, item, at, article_ids)
        question = item.get("question") if isinstance(item, LineMap) else None
        if isinstance(question, str) and question.strip():  # a duplicate whatever else is wrong
            key, shown_question = question_key(question), " ".join(question.split())
            if key in seen:
                check.add(item.line, f"duplicate question {shown_question!r}, also on line {seen[key]}")
                continue
            seen[key] = item.line
        if test is not None:
            tests.append(test)
    if check.problems:
        raise ArticleError(sorted(check.problems, key=lambda p: p.line))
    return Suite(shown, tuple(tests))


def _check_test(check: Checker, item: Any, at: int, article_ids: Collection[str] | None) -> KBTest | None:
    test = check.mapping(item, "a test", at)
    if test is None:
        return None
    before = len(check.problems)
    check.keys(test, "a test", {"question", "expect"}, {"allow"})
    question = check.text(test, "question", "a test")
    expect = check.text(test, "expect", "a test")
    if question is not None:
        question = " ".join(question.split())
        if len(question) > MAX_QUESTION_CHARS:
            check.add(test.line_of("question"), f"question is longer than {MAX_QUESTION_CHARS} characters")
    known = article_ids is None or expect in article_ids
    if expect is not None and expect != EXPECT_DECLINE and not known:
        check.add(test.line_of("expect"), f"expected article {expect!r} does not exist")
    allow = test.get("allow")
    if allow is not None and allow != ALLOW_CLARIFY:
        check.add(test.line_of("allow"), f"'allow' may only be '{ALLOW_CLARIFY}', not {allow!r}")
    elif allow is not None and expect == EXPECT_DECLINE:
        check.add(test.line_of("allow"), "'allow: clarify' needs an expected article, not decline")
    if len(check.problems) > before or question is None or expect is None:
        return None
    return KBTest(question, expect, test.line, allow_clarify=allow == ALLOW_CLARIFY)


# ----------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Ranked:
    """One question searched once: the articles and their calibrated confidence and coverage.
    Deciding it again at other thresholds needs none of the search."""

    question: str
    read_as: str
    hits: tuple[ArticleHit, ...]
    confidence: float
    coverage: float
    clarify_options: int

    def decision(self, settings: DecisionSettings) -> str:
        return settings.choose(self.confidence, self.coverage) if self.hits else DECLINE

    @property
    def top(self) -> str | None:
        return self.hits[0].id if self.hits else None

    @property
    def offered(self) -> tuple[str, ...]:
        """The articles a clarify offers."""
        return tuple(h.id for h in self.hits[: self.clarify_options])


def rank_question(kb: KnowledgeBaseLike, question: str, limit: int = 5) -> Ranked:
    """As :meth:`KnowledgeBase.search` does, without the decision."""
    question = " ".join(question.split())
    options = kb.settings.clarify_options
    if not question:
        return Ranked(question, question, (), 0.0, 0.0, options)
    read_as = kb.read(question)
    hits = kb.rank(read_as, limit=max(limit, options))
    _, confidence, coverage = kb.decide(hits)
    return Ranked(question, read_as, tuple(hits), confidence, coverage, options)


@dataclass(frozen=True)
class Outcome:
    """One test judged at some thresholds."""

    test: KBTest
    ranked: Ranked
    decision: str

    @property
    def passed(self) -> bool:
        test, ranked = self.test, self.ranked
        if test.expects_decline:
            return self.decision == DECLINE
        if self.decision == ANSWER:
            return ranked.top == test.expect
        return self.decision == CLARIFY and test.allow_clarify and test.expect in ranked.offered

    def got(self) -> str:
        if self.decision == ANSWER:
            return str(self.ranked.top)
        if self.decision == CLARIFY:
            return "clarify between " + ", ".join(self.ranked.offered)
        return DECLINE

    def message(self) -> str:
        """What went wrong, e.g. ``expected card_arrival, got decline (confidence 0.41)``."""
        return f"expected {self.test.expect}, got {self.got()} (confidence {self.ranked.confidence:.2f})"

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.test.to_dict(),
            "passed": self.passed,
            "decision": self.decision,
            "top": self.ranked.top,
            "offered": list(self.ranked.offered) if self.decision == CLARIFY else [],
            "confidence": round(self.ranked.confidence, 4),
            "coverage": round(self.ranked.coverage, 4),
            "message": None if self.passed else self.message(),
        }


@dataclass(frozen=True)
class RankedSuite:
    suite: Suite
    ranked: tuple[Ranked, ...]


def rank_suite(kb: KnowledgeBaseLike, suite: Suite) -> RankedSuite:
    return RankedSuite(suite, tuple(rank_question(kb, t.question) for t in suite.tests))


def judge(ranked: RankedSuite, settings: DecisionSettings) -> list[Outcome]:
    """Every test decided at ``settings``, from the one search :func:`rank_suite` made."""
    pairs = zip(ranked.suite.tests, ranked.ranked, strict=True)
    return [Outcome(test, searched, searched.decision(settings)) for test, searched in pairs]


def run_suite(kb: KnowledgeBaseLike, suite: Suite, settings: DecisionSettings | None = None) -> list[Outcome]:
    return judge(rank_suite(kb, suite), settings or kb.settings)


@dataclass(frozen=True)
class Flip:
    """A test whose result changes when the thresholds move."""

    before: Outcome
    after: Outcome

    def to_dict(self) -> dict[str, Any]:
        test = self.before.test
        return {
            "question": test.question,
            "line": test.line,
            "expect": test.expect,
            "was": "passed" if self.before.passed else "failed",
            "now": "passed" if self.after.passed else "failed",
            "decision_was": self.before.decision,
            "decision_now": self.after.decision,
        }


@dataclass(frozen=True)
class WhatIf:
    outcomes: list[Outcome]  # at the moved thresholds
    flips: list[Flip]

    @property
    def passed(self) -> int:
        return sum(o.passed for o in self.outcomes)

    @property
    def failed(self) -> int:
        return len(self.outcomes) - self.passed

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "failed": self.failed, "flips": [f.to_dict() for f in self.flips]}


def what_if(ranked: RankedSuite, current: DecisionSettings, moved: DecisionSettings) -> WhatIf:
    """The suite at ``moved`` thresholds, and the tests that pass or fail differently there
    than at ``current`` ones (no search: the suite was ranked once)."""
    before, after = judge(ranked, current), judge(ranked, moved)
    flips = [Flip(b, a) for b, a in zip(before, after, strict=True) if b.passed != a.passed]
    return WhatIf(after, flips)


def summary(outcomes: Sequence[Outcome]) -> str:
    failed = sum(not o.passed for o in outcomes)
    tests = "1 test" if len(outcomes) == 1 else f"{len(outcomes)} tests"
    return f"{tests}: {len(outcomes) - failed} passed, {failed} failed"


# ----------------------------------------------------------------------------- adding one


def _scalar(text: str) -> str:
    """``text`` as a YAML scalar that reads back as exactly this string."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", text) and yaml.safe_load(text) == text:
        return text
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def _item_indent(text: str, suite: Suite) -> str:
    """The indentation of the list's dashes, as the file has it (two spaces in a new file)."""
    if suite.tests:
        first = text.splitlines()[suite.tests[0].line - 1]
        if first.lstrip(" ").startswith("-"):
            return " " * (len(first) - len(first.lstrip(" ")))
    return "  "


def add_test(
    path: Path, question: str, expect: str, article_ids: Collection[str], *, allow_clarify: bool = False
) -> KBTest:
    """Append one test to ``path`` (created when missing) and return it with its line.

    The file's text and comments are kept as they are: the test is appended as text, then the
    whole file is read back and checked before it replaces the old one (a temporary file and
    ``os.replace``, so a reader never sees half a file). Raises :class:`DuplicateQuestion`,
    :class:`InvalidTest` (an empty or too long question, an unknown article), or
    :class:`ArticleError` when the file has problems already."""
    question = _clean_question(question)
    if not isinstance(expect, str) or not expect.strip():
        raise InvalidTest("expect must be an article id or 'decline'")
    expect = expect.strip()
    if expect != EXPECT_DECLINE and expect not in article_ids:
        raise InvalidTest(f"there is no article {expect!r}")
    if allow_clarify and expect == EXPECT_DECLINE:
        raise InvalidTest("'allow: clarify' needs an expected article, not decline")
    path = Path(path)
    shown = str(path)
    with _WRITE_LOCK:
        text = load_text(path)
        suite = parse_suite(text, shown)  # the article ids are not checked: an article may be gone
        for test in suite.tests:
            if question_key(test.question) == question_key(question):
                raise DuplicateQuestion(f"this question is already a test (line {test.line})")
        if not text.strip():
            text = HEADER
        elif not re.search(r"^tests:", text, re.MULTILINE):
            text = text.rstrip("\n") + "\ntests:\n"
        else:  # an empty flow list becomes a block list
            text = re.sub(r"^tests:[ \t]*\[[ \t]*\][ \t]*$", "tests:", text, count=1, flags=re.MULTILINE)
        if not text.endswith("\n"):
            text += "\n"
        pad = _item_indent(text, suite)
        line = len(text.splitlines()) + 1
        entry = f"{pad}- question: {_scalar(question)}\n{pad}  expect: {_scalar(expect)}\n"
        if allow_clarify:
            entry += f"{pad}  allow: {ALLOW_CLARIFY}\n"
        new_text = text + entry
        after = parse_suite(new_text, shown)
        wanted = [(t.question, t.expect) for t in suite.tests] + [(question, expect)]
        if [(t.question, t.expect) for t in after.tests] != wanted or after.tests[-1].line != line:
            raise ArticleError(
                [Problem(shown, line, "cannot append a test here: end the file with the 'tests:' list")]
            )
        _replace(path, new_text)
    return after.tests[-1]


def load_text(path: Path) -> str:
    """The file's text; empty when there is no file yet."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise ArticleError([Problem(str(path), 1, f"cannot read: {exc.strerror}")]) from exc
    except UnicodeDecodeError:
        raise ArticleError([Problem(str(path), 1, "file is not UTF-8 text")]) from None


def _replace(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            os.chmod(temp, path.stat().st_mode & 0o777)
        else:
            os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
