"""The channels' words come from data/channels.yml, and an editor's mistake names file:line."""

from __future__ import annotations

import pytest

from assistant.channels.words import TEXTS, WordsError, load_words
from tests.conftest import ROOT

SOURCE = ROOT / "data" / "channels.yml"


def test_the_shipped_words_load_and_cover_every_text():
    words = load_words(SOURCE)
    assert set(words.texts) == set(TEXTS)
    assert "link" in words.commands["link"] and "unlink" in words.commands["unlink"]


def edited(tmp_path, old: str, new: str):
    text = SOURCE.read_text()
    assert old in text
    path = tmp_path / "channels.yml"
    path.write_text(text.replace(old, new, 1))
    line = text[: text.index(old)].count("\n") + 1
    return path, line


def test_an_unknown_placeholder_is_reported_at_its_line(tmp_path):
    path, line = edited(
        tmp_path, 'agent_says: "{name} (agent): {text}"', 'agent_says: "{nam} (agent): {text}"'
    )
    with pytest.raises(
        WordsError, match=rf"channels.yml:{line}: texts.agent_says: unknown placeholder {{nam}}"
    ):
        load_words(path)


def test_a_misspelt_key_is_reported_at_its_line(tmp_path):
    path, line = edited(tmp_path, "  unlinked:", "  unlnked:")
    with pytest.raises(WordsError, match=rf"channels.yml:{line}: texts: unknown key 'unlnked'"):
        load_words(path)


def test_assistant_validate_reports_the_channels_words(tmp_path):
    from tests.test_cli import ARTICLE, run_validate

    path, line = edited(tmp_path, "  unlinked:", "  unlnked:")  # next to the settings file
    result = run_validate(tmp_path, "top_tasks: [a]\n", {"a.md": ARTICLE})
    assert result.returncode == 1
    assert f"channels.yml:{line}: texts: unknown key 'unlnked'" in result.stderr
    path.write_text(SOURCE.read_text())
    assert run_validate(tmp_path, "top_tasks: [a]\n", {"a.md": ARTICLE}).returncode == 0
