"""The editors' workbench API: ask the knowledge base a question and see why it decided as it
did, what other thresholds would decide, and the regression tests of ``data/kb_tests.yml``.

- ``POST /api/kb/playground`` (kb): the ranking with its scores and matched passages, the
  calibrated confidence and coverage, the decision, and at the thresholds sent: the decision
  and which regression tests would pass or fail differently.
- ``GET /api/kb/tests`` (kb), ``POST /api/kb/tests/run`` (kb): the tests with the last run's
  results; run them.
- ``POST /api/kb/tests`` (curate): save a question as a test (appended to the file).

Searching is CPU work: it runs in worker threads. The suite's rankings are kept per
knowledge-base build, so moving a slider re-decides the tests without searching them again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from pathlib import Path
from typing import Any

from sanic import Blueprint, Request, response

from assistant.kb.articles import ArticleError, Problem
from assistant.kb.regression import (
    MAX_QUESTION_CHARS,
    DuplicateQuestion,
    InvalidTest,
    KnowledgeBaseLike,
    Outcome,
    Ranked,
    RankedSuite,
    Suite,
    add_test,
    judge,
    load_text,
    parse_suite,
    question_key,
    rank_question,
    what_if,
)
from assistant.kb.search import DecisionSettings
from assistant.settings import Settings
from assistant.web.auth import error, require

logger = logging.getLogger(__name__)

workbench = Blueprint("workbench", url_prefix="/api")

SHOWN_ARTICLES = 5
THRESHOLDS = ("answer_at", "clarify_at")


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@workbench.exception(Refused)
async def refused(request: Request, exc: Refused) -> response.HTTPResponse:
    return error(exc.status, str(exc))


class Workbench:
    """One app's rankings of the regression questions (for the current build only) and the
    last run's results."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._build: tuple[int, str] | None = None
        self._ranked: dict[str, Ranked] = {}
        self.last_run: dict[str, Any] | None = None

    def ranked_suite(self, kb: KnowledgeBaseLike, suite: Suite) -> RankedSuite:
        """The suite ranked by ``kb``; each question is searched once per build."""
        with self._lock:
            build = (id(kb), build_id(kb))
            if build != self._build:
                self._build, self._ranked = build, {}
            ranked = []
            for test in suite.tests:
                if test.question not in self._ranked:
                    self._ranked[test.question] = rank_question(kb, test.question)
                ranked.append(self._ranked[test.question])
            return RankedSuite(suite, tuple(ranked))


def _state(request: Request) -> Workbench:
    ctx = request.app.ctx
    if getattr(ctx, "workbench", None) is None:
        ctx.workbench = Workbench()
    return ctx.workbench


def build_id(kb: Any) -> str:
    return str(getattr(getattr(kb, "index", None), "build_id", "") or "")


def _article_ids(kb: Any) -> set[str]:
    return set(kb.index.articles)


def _tests_path(request: Request) -> Path:
    settings: Settings = request.app.ctx.settings
    return Path(settings.kb_tests_path)


def _shown(request: Request) -> str:
    settings: Settings = request.app.ctx.settings
    path = _tests_path(request)
    try:
        return str(path.resolve().relative_to(Path(settings.project_root).resolve()))
    except ValueError:
        return path.name


def _kb(request: Request) -> Any:
    """The current knowledge base (call in a worker thread: a new build loads here)."""
    live = request.app.ctx.kb
    if live is None:
        raise Refused(503, "the knowledge base is not loaded in this process")
    try:
        return live.get()
    except FileNotFoundError as exc:
        raise Refused(503, str(exc)) from exc


def _body(request: Request) -> dict[str, Any]:
    body: Any = request.json if request.body else None
    if not isinstance(body, dict):
        raise Refused(400, "send a JSON object")
    return body


def _question(body: dict[str, Any]) -> str:
    value = body.get("question")
    if not isinstance(value, str) or not value.strip():
        raise Refused(400, "question must be a non-empty text")
    question = " ".join(value.split())
    if len(value) > MAX_QUESTION_CHARS:
        raise Refused(400, f"question must be at most {MAX_QUESTION_CHARS} characters")
    return question


def _thresholds(body: dict[str, Any], current: DecisionSettings) -> DecisionSettings:
    moved: dict[str, float] = {}
    for name in THRESHOLDS:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise Refused(400, f"{name} must be a number from 0 to 1")
        if not 0 <= value <= 1:
            raise Refused(400, f"{name} must be from 0 to 1")
        moved[name] = float(value)
    return DecisionSettings(
        answer_at=moved.get("answer_at", current.answer_at),
        clarify_at=moved.get("clarify_at", current.clarify_at),
        clarify_options=current.clarify_options,
    )


def _floor(value: float) -> float:
    """Rounded down to 4 places: a threshold set to this still lets the value through."""
    return math.floor(value * 10_000) / 10_000


def _problems(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems]


def _suite(request: Request, kb: Any) -> tuple[Suite | None, list[str]]:
    """The tests file read now (checked against the knowledge base's articles)."""
    shown = _shown(request)
    try:
        return parse_suite(load_text(_tests_path(request)), shown, _article_ids(kb)), []
    except ArticleError as exc:
        return None, _problems(exc.problems)


def _thresholds_view(settings: DecisionSettings) -> dict[str, Any]:
    return {
        "answer_at": settings.answer_at,
        "clarify_at": settings.clarify_at,
        "clarify_options": settings.clarify_options,
    }


def _article(hit: Any) -> dict[str, Any]:
    return {
        "id": hit.id,
        "title": hit.title,
        "score": round(hit.score, 4),
        "dense": round(hit.dense, 4),
        "lexical": round(hit.lexical, 4),
        "head": round(hit.head, 4),
        "passage": hit.passage,
        "passage_kind": hit.passage_kind,
    }


@workbench.post("/kb/playground", name="kb_playground")
@require("kb")
async def playground(request: Request) -> response.HTTPResponse:
    """``{"question", "answer_at"?, "clarify_at"?}``: the ranking, the decision, and what the
    thresholds sent would change (the decision, and the regression tests that flip)."""
    body = _body(request)
    question = _question(body)
    state = _state(request)

    def work() -> dict[str, Any]:
        kb = _kb(request)
        current: DecisionSettings = kb.settings
        moved = _thresholds(body, current)
        ranked = rank_question(kb, question)
        decision = ranked.decision(current)
        suite, problems = _suite(request, kb)
        tests: dict[str, Any] = {"total": 0, "passed": 0, "failed": 0, "passed_at_current": 0, "flips": []}
        if suite is not None:
            ranked_suite = state.ranked_suite(kb, suite)
            change = what_if(ranked_suite, current, moved)
            tests.update(change.to_dict())
            tests["total"] = len(suite)
            tests["passed_at_current"] = sum(o.passed for o in judge(ranked_suite, current))
        tests["problems"] = problems
        found = bool(ranked.hits)
        return {
            "question": ranked.question,
            "read_as": ranked.read_as,
            "decision": decision,
            "confidence": round(ranked.confidence, 4),
            "coverage": round(ranked.coverage, 4),
            "articles": [_article(h) for h in ranked.hits[:SHOWN_ARTICLES]],
            "offered": list(ranked.offered) if found else [],
            "thresholds": _thresholds_view(current),
            "build_id": build_id(kb),
            "what_if": {
                "answer_at": moved.answer_at,
                "clarify_at": moved.clarify_at,
                "decision_at_given_thresholds": ranked.decision(moved),
                "answers_if_answer_at_at_most": _floor(ranked.confidence) if found else None,
                "clarifies_if_clarify_at_at_most": _floor(ranked.coverage) if found else None,
                "tests": tests,
            },
        }

    return response.json(await asyncio.to_thread(work), headers={"Cache-Control": "no-store"})


def _listing(request: Request, suite: Suite | None, problems: list[str], state: Workbench) -> dict[str, Any]:
    """The tests with the last run's result of each (when the test is still the same)."""
    run = state.last_run
    results: dict[str, dict[str, Any]] = run["results"] if run else {}
    tests = []
    for test in suite.tests if suite is not None else ():
        item = test.to_dict()
        last = results.get(question_key(test.question))
        fits = last is not None and last["expect"] == test.expect and last["allow"] == item["allow"]
        item["result"] = last if fits else None
        tests.append(item)
    summary = None
    if run:
        summary = {k: run[k] for k in ("at", "build_id", "total", "passed", "failed")}
    return {"path": _shown(request), "tests": tests, "problems": problems, "last_run": summary}


@workbench.get("/kb/tests", name="kb_tests")
@require("kb")
async def list_tests(request: Request) -> response.HTTPResponse:
    """The regression tests, each with its result in the last run (None: not run since)."""
    state = _state(request)

    def read() -> dict[str, Any]:
        try:  # without a knowledge base the tests are listed, their articles unchecked
            kb = _kb(request)
        except Refused:
            kb = None
        try:
            ids = _article_ids(kb) if kb is not None else None
            suite = parse_suite(load_text(_tests_path(request)), _shown(request), ids)
        except ArticleError as exc:
            return _listing(request, None, _problems(exc.problems), state)
        return _listing(request, suite, [], state)

    return response.json(await asyncio.to_thread(read), headers={"Cache-Control": "no-store"})


@workbench.post("/kb/tests/run", name="kb_tests_run")
@require("kb")
async def run_tests(request: Request) -> response.HTTPResponse:
    """Run every test at the current thresholds; the answer is the listing with the results."""
    state = _state(request)

    def run() -> dict[str, Any]:
        kb = _kb(request)
        suite, problems = _suite(request, kb)
        if suite is None:
            return _listing(request, None, problems, state)
        outcomes: list[Outcome] = judge(state.ranked_suite(kb, suite), kb.settings)
        passed = sum(o.passed for o in outcomes)
        state.last_run = {
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_id": build_id(kb),
            "total": len(outcomes),
            "passed": passed,
            "failed": len(outcomes) - passed,
            "results": {question_key(o.test.question): _result(o) for o in outcomes},
        }
        return _listing(request, suite, [], state)

    return response.json(await asyncio.to_thread(run), headers={"Cache-Control": "no-store"})


def _result(outcome: Outcome) -> dict[str, Any]:
    data = outcome.to_dict()
    return {key: data[key] for key in ("expect", "allow", "passed", "decision", "top", "offered",
                                       "confidence", "coverage", "message")}  # fmt: skip


@workbench.post("/kb/tests", name="kb_tests_add")
@require("curate")
async def save_test(request: Request) -> response.HTTPResponse:
    """``{"question", "expect": article id or "decline", "allow"?: "clarify"}``: appended to the
    tests file. 201; 409 when the question is a test already (or the file has problems)."""
    body = _body(request)
    question = _question(body)
    expect = body.get("expect")
    if not isinstance(expect, str) or not expect.strip():
        raise Refused(400, "expect must be an article id or 'decline'")
    allow = body.get("allow")
    if allow not in (None, "clarify"):
        raise Refused(400, "allow may only be 'clarify'")

    def save() -> dict[str, Any]:
        kb = _kb(request)
        try:
            test = add_test(
                _tests_path(request), question, expect, _article_ids(kb), allow_clarify=allow == "clarify"
            )
        except DuplicateQuestion as exc:
            raise Refused(409, str(exc)) from exc
        except InvalidTest as exc:
            raise Refused(400, str(exc)) from exc
        except ArticleError as exc:
            raise Refused(409, "the tests file has problems, fix them first: " + str(exc)) from exc
        except OSError as exc:
            logger.error("could not save a knowledge-base test: %s", exc)
            raise Refused(503, "the tests file could not be written") from exc
        return {**test.to_dict(), "path": _shown(request)}

    return response.json(await asyncio.to_thread(save), status=201)
