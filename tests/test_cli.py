import subprocess
import sys

from tests.conftest import ROOT, write_articles


def run_validate(tmp_path, content: str, articles: dict[str, str]):
    kb = write_articles(tmp_path / "kb", articles)
    settings = tmp_path / "assistant.yml"
    settings.write_text(content)
    env = {"ASSISTANT_KB_SOURCE": str(kb), "ASSISTANT_CONTENT": str(settings), "PATH": ""}
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
