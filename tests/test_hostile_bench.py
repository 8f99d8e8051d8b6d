"""The pure parts of bench/hostile_bench.py: resident memory from /proc, the socket.io framing and
payload sizes, and the summary with its targets. No stack is started."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT


def _load() -> Any:
    path = ROOT / "bench" / "hostile_bench.py"
    spec = importlib.util.spec_from_file_location("hostile_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


hb = _load()
linux = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


@linux
def test_the_current_process_memory_and_group_are_read_from_proc():
    own = hb.rss_bytes(os.getpid())
    assert own > 1024 * 1024  # a Python process with pytest loaded
    assert hb.process_group(os.getpid()) == os.getpgrp()
    total, count = hb.group_rss(os.getpgrp())
    assert count >= 1 and total >= own
    assert hb.rss_bytes(2**22 + 12345) == 0 and hb.process_group(2**22 + 12345) is None


def test_a_fake_proc_with_an_awkward_command_name(tmp_path):
    for pid, comm, group, pages in (
        (10, "nginx: worker (x) y", 7, 100),
        (11, "rasa", 7, 50),
        (12, "sh", 3, 9),
    ):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(f"{pid} ({comm}) S 1 {group} {group} 0 -1 4194560 0\n")
        (tmp_path / str(pid) / "statm").write_text(f"999 {pages} 10 1 0 20 0\n")
    (tmp_path / "self").mkdir()
    assert hb.process_group(10, tmp_path) == 7
    assert hb.group_rss(7, tmp_path) == (150 * hb.PAGE, 2)
    assert hb.group_rss(99, tmp_path) == (0, 0)


def test_socketio_frames_and_payloads_stay_under_the_limits():
    assert hb.frame("session_request", {}) == '42["session_request",{}]'
    for name, data in hb.hostile_socket_payloads().items():
        size = len(hb.frame("user_uttered", data).encode())
        assert hb.PAYLOAD_BYTES <= size < 64 * 1024, name  # through the gateway, read by Rasa
    assert hb.hostile_socket_payloads()["socketio_intent"]["message"].startswith("/greet{")
    deep = hb.nested_json(50)
    assert json.loads(deep) == json.loads("[" * 50 + "]" * 50) and len(hb.nested_json()) == 2 * hb.NESTING


def memory(rss: dict[str, float], alive: bool = True, processes: int = 1) -> dict[str, dict[str, Any]]:
    return {s: {"rss_mb": mb, "processes": processes, "alive": alive} for s, mb in rss.items()}


ENTRIES = {"socketio_text": {"sent": 100, "outcomes": {"refused_politely": 100}}}


def test_the_summary_meets_both_targets_when_nothing_changed():
    before = memory({"gateway": 10.0, "web": 300.0, "rasa": 900.0, "actions": 400.0})
    after = memory({"gateway": 11.0, "web": 340.0, "rasa": 920.5, "actions": 400.0})
    out = hb.summarise(
        ENTRIES,
        before,
        after,
        {"socketio": [100.0, 120.0, 110.0, 500.0, 90.0], "rest": [80.0, 85.0, 90.0, 95.0, 70.0]},
        {"socketio": [150.0, 300.0, 200.0, 250.0, 260.0], "rest": [80.0] * 5},
    )
    assert out["memory_delta_mb"] == {"gateway": 1.0, "web": 40.0, "rasa": 20.5, "actions": 0.0}
    assert out["reply_ms_before"] == {"socketio": 110.0, "rest": 85.0}
    assert out["reply_ms_after"]["socketio"] == 250.0 and out["reply_ms_delta"]["socketio"] == 140.0
    assert out["target"]["memory_unchanged"]["met"] is True
    reply = out["target"]["reply_time_unchanged"]
    assert reply["met"] is True and reply["limit_ms"] == 265.0  # 1.5 x 110 + 100
    assert out["sent_total"] == 100
    json.dumps(out)  # one JSON object


def test_growth_a_dead_process_or_slower_replies_miss_the_targets():
    before = memory({"web": 300.0, "rasa": 900.0}, processes=2)
    grown = hb.summarise(ENTRIES, before, memory({"web": 351.0, "rasa": 900.0}, processes=2), {}, {})
    assert grown["target"]["memory_unchanged"]["met"] is False
    assert grown["target"]["memory_unchanged"]["grown"] == ["web"]
    dead = hb.summarise(ENTRIES, before, memory({"web": 300.0, "rasa": 900.0}, processes=1), {}, {})
    assert dead["target"]["memory_unchanged"]["died"] == ["web", "rasa"]
    restarted = {**before, "web": {**before["web"], "pid": 4242}}
    again = hb.summarise(ENTRIES, before, restarted, {}, {})
    assert again["target"]["memory_unchanged"]["died"] == ["web"]
    stopped = hb.summarise(
        ENTRIES, before, memory({"web": 300.0, "rasa": 900.0}, alive=False, processes=2), {}, {}
    )
    assert stopped["target"]["memory_unchanged"]["met"] is False

    slow = hb.summarise(ENTRIES, before, before, {"socketio": [200.0]}, {"socketio": [401.0]})
    assert slow["target"]["reply_time_unchanged"]["met"] is False  # limit 400 ms
    silent = hb.summarise(ENTRIES, before, before, {"socketio": [200.0]}, {"socketio": [None, None]})
    assert silent["reply_ms_after"]["socketio"] is None
    assert silent["target"]["reply_time_unchanged"]["met"] is False
    partly = hb.summarise(ENTRIES, before, before, {"socketio": [200.0]}, {"socketio": [None, 210.0]})
    assert partly["target"]["reply_time_unchanged"]["met"] is True


def test_refusal_texts_come_from_the_channel_settings(tmp_path):
    texts = hb.refusal_texts()
    assert set(texts.values()) == {"refused_politely", "refused_busy"}
    custom = tmp_path / "credentials.yml"
    custom.write_text("rasa_addons.channels.GuardedSocketIOInput:\n  texts:\n    too_large: Too long.\n")
    assert hb.refusal_texts(custom)["Too long."] == "refused_politely"


def test_the_sign_in_form_token_is_read_from_the_page():
    page = (ROOT / "assistant" / "web" / "templates" / "console_login.html").read_text(encoding="utf-8")
    assert hb.csrf_token(page.replace("{{CSRF}}", "tok-123_x")) == "tok-123_x"
    assert hb.csrf_token('{"error": "Too many requests"}') == ""
