import subprocess
import sys

from tests.conftest import ROOT, write_articles


def run_validate(tmp_path, content: str, articles: dict[str, str], data: dict[str, str] | None = None):
    kb = write_articles(tmp_path / "kb", articles)
    settings = tmp_path / "assistant.yml"
    settings.write_text(content)
    for name, text in (data or {}).items():
        (tmp_path / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / name).write_text(text)
    env = {
        "ASSISTANT_KB_SOURCE": str(kb),
        "ASSISTANT_CONTENT": str(settings),
        "ASSISTANT_DATA": str(tmp_path / "data"),
        "PATH": "",
    }
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", "validate"], cwd=ROOT, env=env, capture_output=True, text=True
    )


ARTICLE = "---\nid: a\ntitle: A\ncategory: C\n---\nBody.\n"


def test_validate_ok(tmp_path):
    result = run_validate(tmp_path, "top_tasks: [a]\n", {"a.md": ARTICLE})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: 1 articles")


def test_validate_reports_settings_and_article_problems_with_lines(tmp_path):
    result = run_validate(
        tmp_path,
        "bank_name: X\ntop_tasks:\n  - a\n  - missing\nkb:\n  answer_at: 1.2\n  decline_below: 0.5\n",
        {"a.md": ARTICLE, "b.md": "---\nid: b\n---\nBody\n"},
    )
    assert result.returncode == 1
    assert "assistant.yml:5: kb settings: answer_at and clarify_at are probabilities" in result.stderr
    assert "assistant.yml:7: unknown kb setting 'decline_below'" in result.stderr
    assert "assistant.yml:4: top task 'missing'" not in result.stderr  # settings broken: not checked
    assert "b.md:" in result.stderr and "missing or empty 'title'" in result.stderr


def test_validate_reports_unknown_top_task_line(tmp_path):
    result = run_validate(tmp_path, "top_tasks:\n  - a\n  - missing\n", {"a.md": ARTICLE})
    assert result.returncode == 1
    assert "assistant.yml:3: top task 'missing' is not an article id" in result.stderr


def test_the_repository_data_is_valid():
    result = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "validate"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


BROKEN_TREE = """\
id: t
title: T
articles: [a, nope]
start: q
nodes:
  q:
    question: Which?
    options:
      - label: One
        next: leaf
      - label: Two
        next: missing
  leaf:
    answer: Done.
    outcome: resolved
  lonely:
    outcome: resolved
"""


def test_validate_reports_tree_problems_with_file_and_line(tmp_path):
    result = run_validate(tmp_path, "", {"a.md": ARTICLE}, {"troubleshooting/t.yml": BROKEN_TREE})
    assert result.returncode == 1
    assert "t.yml:3: unknown article 'nope'" in result.stderr
    assert "t.yml:12: option 'Two' of node 'q' leads to unknown node 'missing'" in result.stderr
    assert "t.yml:16: node 'lonely' is a leaf (no options) but has no answer" in result.stderr
    assert "t.yml:16: node 'lonely' cannot be reached" in result.stderr


def test_the_projects_own_content_validates():
    result = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "validate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "", "ASSISTANT_ROOT": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert "5 troubleshooting trees" in result.stdout


def test_validate_reports_button_titles_with_lines(tmp_path):
    from assistant.content import BUTTON_PAYLOADS

    titles = "".join(f"  {key}: Title {i}\n" for i, key in enumerate(BUTTON_PAYLOADS) if key != "cancel")
    result = run_validate(
        tmp_path, f"buttons:\n{titles}  launch_rocket: Go\n  browse_extra: ''\n", {"a.md": ARTICLE}
    )
    assert result.returncode == 1
    lines = len(BUTTON_PAYLOADS) + 1
    assert f"assistant.yml:{lines}: unknown buttons key 'launch_rocket'" in result.stderr
    assert "assistant.yml:1: buttons: 'cancel' has no title" in result.stderr


def test_buttons_carry_the_editors_titles():
    from assistant.content import load_content

    content = load_content(ROOT / "data" / "assistant.yml")
    person = content.button("talk_to_person")
    assert person["payload"] == "/request_human" and person["title"] == content.buttons["talk_to_person"]
    assert (
        content.button("fix_step_by_step", tree_id="app_login")["payload"]
        == '/troubleshoot{"tree_id": "app_login"}'
    )


def test_validate_reports_account_words_with_lines(tmp_path):
    broken = (
        (ROOT / "data" / "account.yml")
        .read_text()
        .replace(
            'balance: "Your {account} balance is **{balance}**."', 'balance: "Your balance is {balnce}."'
        )
    )
    result = run_validate(tmp_path, "top_tasks: [a]\n", {"a.md": ARTICLE}, {"account.yml": broken})
    assert result.returncode == 1
    line = next(n for n, text in enumerate(broken.splitlines(), 1) if "{balnce}" in text)
    assert f"account.yml:{line}: 'balance' cannot use {{balnce}}" in result.stdout + result.stderr


def test_a_failed_operation_is_added_for_a_demo(tmp_path):
    env = {"ASSISTANT_BACKOFFICE_URL": f"sqlite:///{tmp_path / 'bo.db'}", "PATH": ""}

    def fail(*args: str):
        return subprocess.run(
            [sys.executable, "-m", "assistant.cli", "backoffice", "fail", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )

    done = fail("cust-ava", "topup", "50", "issuer_declined", "--what", "Visa ending 0042")
    assert done.returncode == 0, done.stderr
    assert "failed topup" in done.stdout and "£50.00" in done.stdout
    assert "unknown reason" in fail("cust-ava", "topup", "50", "bad_luck").stderr
    assert "not an amount" in fail("cust-ava", "topup", "fifty", "issuer_declined").stderr
    assert fail("nobody", "payment", "5", "insufficient_funds").returncode == 2

    from assistant.backoffice import BackOffice

    office = BackOffice(env["ASSISTANT_BACKOFFICE_URL"])
    assert office.topups("cust-ava")[0].source == "Visa ending 0042"


def run_handoff(tmp_path, *args: str):
    env = {
        "ASSISTANT_DB_URL": f"sqlite:///{tmp_path / 'handoffs.db'}",
        "RASA_URL": "http://127.0.0.1:9",  # nothing listens: a command that needs Rasa says so
        "PATH": "",
    }
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", "handoff", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_handoffs_are_listed_newest_first_up_to_a_limit_and_refused_hand_backs_say_why(tmp_path):
    import json

    from assistant.handoff.store import HandoffStore

    store = HandoffStore(f"sqlite:///{tmp_path / 'handoffs.db'}")
    ids = [store.create(f"c{n}", reason="r", stage="s", transcript=[], slots={}).id for n in range(3)]
    store.claim(ids[0], "sam")
    store.finish(ids[0], status="closed", outcome="resolved")

    listed = run_handoff(tmp_path, "list", "--limit", "2")
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [ids[2], ids[1]]
    assert run_handoff(tmp_path, "list", "--limit", "0").returncode == 2

    missing = run_handoff(tmp_path, "resume", "999")
    assert missing.returncode == 1 and "error: no handoff 999" in missing.stderr
    closed = run_handoff(tmp_path, "resume", str(ids[0]))
    assert closed.returncode == 1 and "already closed" in closed.stderr  # Rasa not even asked
    unreachable = run_handoff(tmp_path, "resume", str(ids[1]))
    assert unreachable.returncode == 1 and "unreachable" in unreachable.stderr
    assert store.get(ids[1]).status == "queued"  # still waiting for a person
    store.dispose()
