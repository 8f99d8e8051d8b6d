"""The editors' workbench over HTTP: the playground, the regression tests' listing, run and save,
who may do what, and the console page. A real index of three articles (the MiniLM encoder) served
by a real LiveKnowledgeBase, real SQLite stores and console sessions."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from assistant.kb.live import LiveKnowledgeBase
from assistant.settings import Settings
from assistant.web.app import create_app
from tests.kb.test_regression import SUITE
from tests.web.test_console import Client, TrackerRasa

FIRST = "my new card still hasn't come in the post"


@pytest.fixture
def index_dir(small_index) -> Path:
    return small_index


@pytest.fixture
def live(index_dir, encoder) -> LiveKnowledgeBase:
    return LiveKnowledgeBase(index_dir, encoder)


@pytest.fixture
def tests_file(tmp_path) -> Path:
    path = tmp_path / "data" / "kb_tests.yml"
    path.parent.mkdir()
    path.write_text(SUITE, encoding="utf-8")
    return path


@pytest.fixture
def bench(handoff_store, security_staff, live, tests_file, tmp_path, request):
    return create_app(
        Settings(api_token="api-token", project_root=tmp_path, kb_tests_path=tests_file),
        handoff_store,
        TrackerRasa(),
        staff=security_staff,
        kb=live,
        name=re.sub(r"[^A-Za-z0-9_]", "_", f"workbench_{request.node.name}")[:60],
    )


def error_of(resp) -> str:
    assert resp.headers["content-type"].startswith("application/json"), resp.text
    message = resp.json["error"]
    assert isinstance(message, str) and message
    return message


# ---------------------------------------------------------------- the playground


async def test_the_playground_shows_the_ranking_the_confidence_and_the_decision(bench, security_staff, live):
    sam = Client(bench, security_staff, "sam")  # an agent may use the playground
    resp = await sam.post("/api/kb/playground", {"question": f"  {FIRST}  "})
    assert resp.status == 200, resp.text
    data = resp.json
    assert data["question"] == FIRST and data["read_as"]
    assert data["decision"] == "answer" and data["confidence"] > 0.85
    top = data["articles"][0]
    assert set(top) == {"id", "title", "score", "dense", "lexical", "head", "passage", "passage_kind"}
    assert top["id"] == "card_arrival" and top["title"] == "My card hasn't arrived yet"
    assert top["passage"] and top["dense"] > 0.3 and top["score"] > data["articles"][1]["score"]
    assert [a["id"] for a in data["articles"]] == ["card_arrival", "lost_or_stolen_card", "exchange_rate"]
    settings = live.get().settings
    assert data["thresholds"] == {
        "answer_at": settings.answer_at,
        "clarify_at": settings.clarify_at,
        "clarify_options": settings.clarify_options,
    }
    what = data["what_if"]
    assert what["decision_at_given_thresholds"] == "answer"  # no thresholds sent: the live ones
    assert what["answers_if_answer_at_at_most"] <= data["confidence"]
    assert data["confidence"] - what["answers_if_answer_at_at_most"] < 0.0002
    assert what["tests"] == {
        "total": 4,
        "passed": 4,
        "failed": 0,
        "passed_at_current": 4,
        "flips": [],
        "problems": [],
    }
    # the same search as the assistant's
    result = live.get().search(FIRST)
    assert data["decision"] == result.decision and data["confidence"] == result.confidence


async def test_moved_thresholds_show_the_new_decision_and_the_tests_that_flip(bench, security_staff):
    sam = Client(bench, security_staff, "sam")
    now = (await sam.post("/api/kb/playground", {"question": "my card"})).json
    assert now["decision"] == "clarify"
    reach = now["what_if"]["answers_if_answer_at_at_most"]

    moved = (await sam.post("/api/kb/playground", {"question": "my card", "answer_at": reach})).json
    assert moved["decision"] == "clarify"  # at the live thresholds, still
    assert moved["what_if"]["decision_at_given_thresholds"] == "answer"
    assert moved["what_if"]["answer_at"] == reach
    tests = moved["what_if"]["tests"]
    # "my card" (line 11, card_arrival or among the choices) would now be answered with the
    # wrong article
    flip = {"question": "my card", "line": 11, "was": "passed", "now": "failed"}
    assert [f for f in tests["flips"] if flip.items() <= f.items()] == tests["flips"]
    assert len(tests["flips"]) == 1
    assert (tests["passed"], tests["failed"], tests["passed_at_current"]) == (3, 1, 4)

    above = round(reach + 0.001, 4)
    still = (await sam.post("/api/kb/playground", {"question": "my card", "answer_at": above})).json
    assert still["what_if"]["decision_at_given_thresholds"] == "clarify"

    strict = {"question": "my card", "answer_at": 1, "clarify_at": 1}
    declined = (await sam.post("/api/kb/playground", strict)).json
    assert declined["what_if"]["decision_at_given_thresholds"] == "decline"
    assert {f["line"] for f in declined["what_if"]["tests"]["flips"]} == {3, 5, 11}


async def test_the_suite_is_searched_once_per_build_and_off_the_event_loop(
    bench, security_staff, live, monkeypatch
):
    kb = live.get()
    searched: list[tuple[str, int]] = []
    rank = kb.rank

    def counting(question, limit=5):
        searched.append((question, threading.get_ident()))
        return rank(question, limit=limit)

    monkeypatch.setattr(kb, "rank", counting)
    sam = Client(bench, security_staff, "sam")
    for answer_at in (0.2, 0.5, 0.9, 0.95):
        assert (
            await sam.post("/api/kb/playground", {"question": "my card", "answer_at": answer_at})
        ).status == 200
    assert len(searched) == 4 + 4  # each playground question, and the four tests once
    assert (await sam.post("/api/kb/tests/run")).status == 200
    assert len(searched) == 8  # the run used the same rankings
    assert threading.get_ident() not in {thread for _, thread in searched}


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "question"),
        ({"question": ""}, "question"),
        ({"question": "   "}, "question"),
        ({"question": 42}, "question"),
        ({"question": "x" * 501}, "500"),
        ({"question": "card", "answer_at": "0.5"}, "answer_at"),
        ({"question": "card", "answer_at": True}, "answer_at"),
        ({"question": "card", "answer_at": 1.01}, "answer_at"),
        ({"question": "card", "clarify_at": -0.1}, "clarify_at"),
        ({"question": "card", "clarify_at": [0.5]}, "clarify_at"),
    ],
)
async def test_the_playground_refuses_bad_input_with_400(bench, security_staff, body, message):
    resp = await Client(bench, security_staff, "sam").post("/api/kb/playground", body)
    assert resp.status == 400
    assert message in error_of(resp)


async def test_a_body_that_is_not_a_json_object_is_400(bench, security_staff):
    sam = Client(bench, security_staff, "sam")
    headers = {"Cookie": sam.cookie, "X-CSRF-Token": sam.csrf}
    for content in (b"[1, 2]", b'"my card"', b"{not json"):
        _, resp = await bench.asgi_client.post("/api/kb/playground", content=content, headers=headers)
        assert resp.status == 400, content
        error_of(resp)


async def test_who_may_use_the_playground_and_who_may_save_tests(bench, security_staff, tests_file):
    before = tests_file.read_text(encoding="utf-8")
    body = {"question": "where has my card got to", "expect": "card_arrival"}
    _, anonymous = await bench.asgi_client.post("/api/kb/playground", json={"question": "card"})
    assert anonymous.status == 401
    _, anonymous = await bench.asgi_client.get("/api/kb/tests")
    assert anonymous.status == 401
    for username in ("sam", "lee", "eddie"):  # agent, lead, editor
        member = Client(bench, security_staff, username)
        assert (await member.post("/api/kb/playground", {"question": "card"})).status == 200
        assert (await member.get("/api/kb/tests")).status == 200
        assert (await member.post("/api/kb/tests/run")).status == 200
    for username in ("sam", "lee"):  # only editors curate
        refused = await Client(bench, security_staff, username).post("/api/kb/tests", body)
        assert refused.status == 403 and "cannot do this" in error_of(refused)
    assert tests_file.read_text(encoding="utf-8") == before
    eddie = Client(bench, security_staff, "eddie")
    no_csrf = await eddie.post("/api/kb/tests", body, csrf=False)
    assert no_csrf.status == 403 and "CSRF" in error_of(no_csrf)
    assert tests_file.read_text(encoding="utf-8") == before
    saved = await eddie.post("/api/kb/tests", body)
    assert saved.status == 201, saved.text
    _, token = await bench.asgi_client.post(
        "/api/kb/tests",
        json={"question": "rates at the weekend", "expect": "exchange_rate"},
        headers={"Authorization": "Bearer api-token"},
    )
    assert token.status == 201


# ---------------------------------------------------------------- the tests: list, run, save


async def test_tests_are_listed_run_and_saved_into_the_file(bench, security_staff, tests_file):
    eddie = Client(bench, security_staff, "eddie")
    listed = (await eddie.get("/api/kb/tests")).json
    assert listed["path"] == "data/kb_tests.yml" and listed["problems"] == [] and listed["last_run"] is None
    assert [(t["line"], t["expect"], t["allow"], t["result"]) for t in listed["tests"]] == [
        (3, "card_arrival", None, None),
        (5, "lost_or_stolen_card", None, None),
        (9, "decline", None, None),
        (11, "card_arrival", "clarify", None),
    ]

    ran = (await eddie.post("/api/kb/tests/run")).json
    assert ran["last_run"]["total"] == 4 and ran["last_run"]["passed"] == 4 and ran["last_run"]["failed"] == 0
    results = [t["result"] for t in ran["tests"]]
    assert [r["decision"] for r in results] == ["answer", "answer", "decline", "clarify"]
    assert all(r["passed"] and r["message"] is None for r in results)
    assert results[3]["offered"][:2] == ["lost_or_stolen_card", "card_arrival"]

    before = tests_file.read_text(encoding="utf-8")
    saved = await eddie.post("/api/kb/tests", {"question": " my card   is late ", "expect": "exchange_rate"})
    assert saved.status == 201
    assert saved.json == {
        "question": "my card is late",
        "expect": "exchange_rate",
        "allow": None,
        "line": 14,
        "path": "data/kb_tests.yml",
    }
    text = tests_file.read_text(encoding="utf-8")
    assert text.startswith(before) and "# off topic" in text
    assert text.splitlines()[13:] == ['  - question: "my card is late"', "    expect: exchange_rate"]

    listed = (await eddie.get("/api/kb/tests")).json
    assert [t["line"] for t in listed["tests"]] == [3, 5, 9, 11, 14]
    assert listed["tests"][0]["result"]["passed"] and listed["tests"][4]["result"] is None  # not run yet
    ran = (await eddie.post("/api/kb/tests/run")).json
    failed = ran["tests"][4]["result"]
    assert failed["passed"] is False and failed["top"] == "card_arrival"
    assert failed["message"].startswith("expected exchange_rate, got card_arrival (confidence ")
    assert (ran["last_run"]["passed"], ran["last_run"]["failed"]) == (4, 1)


async def test_saving_refuses_duplicates_unknown_articles_and_bad_bodies(bench, security_staff, tests_file):
    eddie = Client(bench, security_staff, "eddie")
    before = tests_file.read_text(encoding="utf-8")
    duplicate = await eddie.post("/api/kb/tests", {"question": "Someone took  my card", "expect": "decline"})
    assert duplicate.status == 409 and "line 5" in error_of(duplicate)
    unknown = await eddie.post("/api/kb/tests", {"question": "freeze it", "expect": "freeze_card"})
    assert unknown.status == 400 and "freeze_card" in error_of(unknown)
    for body in (
        {"question": "freeze it"},
        {"question": "freeze it", "expect": ""},
        {"question": "freeze it", "expect": 3},
        {"question": "", "expect": "decline"},
        {"question": "x" * 501, "expect": "decline"},
        {"question": "freeze it", "expect": "card_arrival", "allow": "answer"},
        {"question": "freeze it", "expect": "decline", "allow": "clarify"},
    ):
        resp = await eddie.post("/api/kb/tests", body)
        assert resp.status == 400, body
        error_of(resp)
    assert tests_file.read_text(encoding="utf-8") == before
    ok = await eddie.post(
        "/api/kb/tests", {"question": "freeze it", "expect": "card_arrival", "allow": "clarify"}
    )
    assert ok.status == 201 and ok.json["allow"] == "clarify"
    assert tests_file.read_text(encoding="utf-8").endswith("    allow: clarify\n")


async def test_a_broken_tests_file_is_reported_with_its_lines_and_not_written(
    bench, security_staff, tests_file
):
    tests_file.write_text("tests:\n  - question: a\n    expect: no_such_article\n", encoding="utf-8")
    eddie = Client(bench, security_staff, "eddie")
    listed = (await eddie.get("/api/kb/tests")).json
    assert listed["tests"] == []
    assert listed["problems"] == ["data/kb_tests.yml:3: expected article 'no_such_article' does not exist"]
    assert (await eddie.post("/api/kb/tests/run")).json["problems"] == listed["problems"]
    played = (await eddie.post("/api/kb/playground", {"question": "my card"})).json
    assert played["what_if"]["tests"]["problems"] == listed["problems"]
    tests_file.write_text("tests:\n  - question: a\n", encoding="utf-8")
    refused = await eddie.post("/api/kb/tests", {"question": "b", "expect": "decline"})
    assert refused.status == 409 and "kb_tests.yml:2" in error_of(refused)
    assert tests_file.read_text(encoding="utf-8") == "tests:\n  - question: a\n"


async def test_without_a_knowledge_base_the_tests_are_listed_and_the_rest_is_503(
    handoff_store, security_staff, tests_file, tmp_path
):
    app = create_app(
        Settings(project_root=tmp_path, kb_tests_path=tests_file),
        handoff_store,
        TrackerRasa(),
        staff=security_staff,
        name="workbench_no_kb",
    )
    eddie = Client(app, security_staff, "eddie")
    assert len((await eddie.get("/api/kb/tests")).json["tests"]) == 4
    for path, body in (
        ("/api/kb/playground", {"question": "card"}),
        ("/api/kb/tests/run", {}),
        ("/api/kb/tests", {"question": "card", "expect": "decline"}),
    ):
        resp = await eddie.post(path, body)
        assert resp.status == 503 and "not loaded" in error_of(resp), path


# ---------------------------------------------------------------- the console page


async def test_the_workbench_page_is_a_console_shell_for_the_kb_permission(bench, security_staff):
    _, anonymous = await bench.asgi_client.get("/console/workbench")
    assert anonymous.status == 302 and anonymous.headers["location"] == "/console/login"
    for username in ("sam", "eddie"):
        page = await Client(bench, security_staff, username).get("/console/workbench")
        assert page.status == 200
        assert 'data-page="workbench"' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        scripts = re.findall(r'<script src="([^"]+)"', page.text)
        assert scripts.index("/static/console.js") < scripts.index("/static/workbench.js")
        assert 'id="nav-workbench-item" data-permission="kb" hidden' in page.text
    _, script = await bench.asgi_client.get("/static/workbench.js")
    assert script.status == 200 and "innerHTML" not in script.text and 'register("workbench"' in script.text
