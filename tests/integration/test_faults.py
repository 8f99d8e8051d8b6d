"""Faults over the real stack: with the action server dead, a customer still gets an answer and
a request for a person is recorded; the supervisor starts the action server again."""

from __future__ import annotations

import os
import signal
import time
import urllib.request

import pytest

from tests.integration.test_public_entry import JOIN, SAY, _page

pytestmark = pytest.mark.integration


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def test_a_dead_action_server_never_means_silence(stack, browser, http):
    public = f"http://localhost:{stack.public_port}"
    ctx, page = _page(browser, stack)
    joined = page.evaluate(JOIN, {"url": public, "ask": {}})
    session = joined["granted"]["session_id"]
    assert page.evaluate(SAY, {"index": joined["index"], "text": "hello", "session_id": None, "wait": 30000})

    actions = next(s for s in stack.services if s.name == "actions")
    assert actions.process is not None
    old_pid = actions.process.pid
    os.killpg(old_pid, signal.SIGKILL)
    actions.process.wait()
    try:
        said = page.evaluate(
            SAY,
            {
                "index": joined["index"],
                "text": "i want to talk to a human",
                "session_id": None,
                "wait": 30000,
            },
        )
        assert said, "silence while the action server was down"
        assert any("noted that you'd like" in t and "reference conv-" in t for t in said), said
        auth = {"Authorization": f"Bearer {stack.api_token}"}
        deadline, found = time.monotonic() + 60, []
        while time.monotonic() < deadline and not found:
            status, body = http.call("GET", f"{public}/api/handoffs?conversation_id={session}", headers=auth)
            assert status == 200
            found = body["handoffs"]
            time.sleep(1)
        assert found and found[0]["reason"] == "asked for a person while the assistant was unavailable"
        assert found[0]["status"] == "queued"
    finally:
        # the supervisor starts it again on its own
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not _healthy(actions.health_url):
            time.sleep(1)
    assert actions.process.pid != old_pid and _healthy(actions.health_url)
    ctx.close()
