"""Limits at the chat's public door: sizes, and messages per minute per conversation and per
client address, with a fake clock."""

from __future__ import annotations

import pytest

from assistant.limits import BUSY, TOO_LARGE, LimitSettings, MessageLimiter, Window


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sizes_are_refused_before_anything_else():
    limiter = MessageLimiter(LimitSettings(max_message_chars=10, max_metadata_bytes=20))
    assert limiter.check("c", "a", "hello", {}) is None
    assert limiter.check("c", "a", "x" * 11, {}) == TOO_LARGE
    assert limiter.check("c", "a", "hello", {"visitor": "y" * 30}) == TOO_LARGE
    assert limiter.check("c", "a", None, {}) == TOO_LARGE  # not text at all
    assert limiter.check("c", "a", "hi", {"x": object()}) == TOO_LARGE  # not JSON


def test_a_conversation_faster_than_a_person_types_is_slowed_down():
    clock = Clock()
    limiter = MessageLimiter(LimitSettings(per_conversation_per_minute=3, per_address_per_minute=0), clock)
    assert [limiter.check("c1", "", "hi", {}) for _ in range(4)] == [None, None, None, BUSY]
    assert limiter.check("c2", "", "hi", {}) is None  # another conversation is not affected
    clock.now += 61
    assert limiter.check("c1", "", "hi", {}) is None  # a minute later it may go on


def test_one_address_cannot_flood_through_many_conversations():
    limiter = MessageLimiter(
        LimitSettings(per_conversation_per_minute=100, per_address_per_minute=5), Clock()
    )
    answers = [limiter.check(f"c{i}", "203.0.113.9", "hi", {}) for i in range(7)]
    assert answers == [None] * 5 + [BUSY, BUSY]
    assert limiter.check("c99", "198.51.100.1", "hi", {}) is None


def test_memory_is_bounded():
    window = Window(limit=1, seconds=60, keys=100, clock=Clock())
    for i in range(1000):
        window.allow(f"k{i}")
    assert len(window._seen) == 100


def test_settings_are_checked():
    with pytest.raises(ValueError, match="unknown limit settings: per_day"):
        LimitSettings.from_credentials({"per_day": 5})
    with pytest.raises(ValueError):
        LimitSettings(max_message_chars=0)
    assert (
        LimitSettings.from_credentials({"per_conversation_per_minute": "7"}).per_conversation_per_minute == 7
    )


def test_the_projects_credentials_use_the_guarded_channel():
    import yaml

    from tests.conftest import ROOT

    channels = yaml.safe_load((ROOT / "credentials.yml").read_text())
    assert "socketio" not in channels  # the unguarded channel is not exposed
    guarded = channels["rasa_addons.channels.GuardedSocketIOInput"]
    LimitSettings.from_credentials(guarded["limits"])
    assert set(guarded["texts"]) == {BUSY, TOO_LARGE, "unavailable", "unavailable_person", "in_line", "full"}
    import string

    from rasa_addons.admission import AdmissionSettings

    placeholders = {"unavailable": {"reference"}, "unavailable_person": {"reference"}}
    placeholders["in_line"] = {"position", "seconds"}
    for key, text in guarded["texts"].items():  # only the placeholders the channel fills
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        assert fields == placeholders.get(key, set()), key
    AdmissionSettings.from_mapping(guarded["admission"])
    rest = channels["rasa_addons.channels.SteadyRestInput"]  # the REST channel says the same
    assert rest["texts"] == guarded["texts"] and rest["person_intents"] == guarded["person_intents"]
    assert 1 <= guarded["action_timeout_seconds"] <= 30  # not Rasa's 300 s
    assert "request_human" in guarded["person_intents"]
