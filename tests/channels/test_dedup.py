"""A platform's retry is answered once: message ids remembered, bounded, for a time."""

from __future__ import annotations

from assistant.channels.dedup import SeenInProcess, key


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_retry_is_recognised_and_other_channels_are_apart():
    seen = SeenInProcess()
    assert seen.first("slack", "Ev01") and not seen.first("slack", "Ev01")
    assert seen.first("telegram", "Ev01")  # another platform's id space
    assert seen.first("slack", "") and seen.first("slack", "")  # no id: always answered


def test_ids_are_forgotten_after_their_time_and_beyond_the_bound():
    clock = Clock()
    seen = SeenInProcess(ttl=60, keys=3, clock=clock)
    assert seen.first("twilio", "SM1")
    clock.now = 61
    assert seen.first("twilio", "SM1")  # forgotten: a day later it would be a new message
    for i in range(2, 6):
        assert seen.first("twilio", f"SM{i}")
    assert len(seen._seen) <= 3


def test_keys_keep_no_platform_id_in_clear():
    assert "447700900123" not in key("twilio", "whatsapp:+447700900123")
