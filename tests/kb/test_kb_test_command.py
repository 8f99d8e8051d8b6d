"""`assistant kb test`: the regression tests run by the command, against a real index of three
articles: file:line and what happened for each failure, a summary, and the exit code (0 all
passed, 1 a test failed, 2 the file is invalid or there is no index)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.kb.test_regression import SUITE

FAILING = SUITE.replace(
    "  - question: someone took my card\n    expect: lost_or_stolen_card\n",
    "  - question: someone took my card\n    expect: exchange_rate\n",
).replace(
    '"what is the weather on mars"\n    expect: decline',
    '"what is the weather on mars"\n    expect: card_arrival',
)


@pytest.fixture
def index_dir(small_index) -> Path:
    return small_index


def kb_test(folder: Path, index: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command as an editor runs it in ``folder`` (data/kb_tests.yml under it by default)."""
    env = {
        "ASSISTANT_KB_INDEX": str(index),
        "ASSISTANT_CONTENT": str(ROOT / "data" / "assistant.yml"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PATH": "",
    }
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", "kb", "test", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def write_tests(folder: Path, text: str) -> Path:
    path = folder / "data" / "kb_tests.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_passing_tests_exit_0_with_a_summary(index_dir, tmp_path):
    write_tests(tmp_path, SUITE)
    result = kb_test(tmp_path, index_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "data/kb_tests.yml: 4 tests: 4 passed, 0 failed\n"


def test_each_failure_is_named_by_file_and_line_and_the_exit_code_is_1(index_dir, tmp_path):
    (tmp_path / "work").mkdir()
    path = write_tests(tmp_path / "elsewhere", FAILING)  # not under the folder it runs in: shown whole
    result = kb_test(tmp_path / "work", index_dir, "--file", str(path))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert re.fullmatch(
        rf"{path}:5: expected exchange_rate, got lost_or_stolen_card \(confidence 0\.9\d\)", lines[0]
    )
    assert re.fullmatch(rf"{path}:9: expected card_arrival, got decline \(confidence 0\.0\d\)", lines[1])
    assert lines[2] == f"{path}: 4 tests: 2 passed, 2 failed"
    relative = kb_test(tmp_path, index_dir, "--file", "elsewhere/data/kb_tests.yml")
    assert relative.returncode == 1
    assert relative.stdout.splitlines()[0].startswith("elsewhere/data/kb_tests.yml:5: expected exchange_rate")


def test_an_invalid_file_exits_2_naming_each_problem_and_runs_nothing(index_dir, tmp_path):
    write_tests(
        tmp_path,
        "tests:\n  - question: a\n    expect: freeze_card\n"
        "  - question: A\n    expect: decline\n"
        "  - expect: x\n",
    )
    result = kb_test(tmp_path, index_dir)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: data/kb_tests.yml:3: expected article 'freeze_card' does not exist",
        "error: data/kb_tests.yml:4: duplicate question 'A', also on line 2",
        "error: data/kb_tests.yml:6: a test is missing 'question'",
        "error: data/kb_tests.yml:6: expected article 'x' does not exist",
        "4 problem(s) in data/kb_tests.yml: no test was run.",
    ]


def test_a_missing_file_or_index_exits_2(index_dir, tmp_path):
    missing = kb_test(tmp_path, index_dir)
    assert missing.returncode == 2 and "data/kb_tests.yml:1: cannot read" in missing.stderr
    write_tests(tmp_path, SUITE)
    no_index = kb_test(tmp_path, tmp_path / "no-index")
    assert no_index.returncode == 2 and "no knowledge-base index" in no_index.stderr.lower()
