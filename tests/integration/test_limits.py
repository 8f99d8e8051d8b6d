"""Limits at the public chat door, over the real stack: a script flooding the socket.io channel
from a browser is slowed down politely before NLU, and a message far too large is refused."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

FLOOD = """async ({url, count, big}) => {
  const s = window.io(url, {transports: ["websocket"]});
  const texts = [];
  s.on("bot_uttered", (m) => texts.push((m && m.text) || ""));
  await new Promise((ok) => s.on("connect", ok));
  const sid = await new Promise((ok) => {
    s.on("session_confirm", ok);
    s.emit("session_request", {session_id: null});
  });
  s.emit("user_uttered", {message: big, session_id: sid, metadata: {}});
  for (let i = 0; i < count; i++) {
    s.emit("user_uttered", {message: "hello", session_id: sid, metadata: {}});
  }
  const busy = (t) => t.startsWith("You're sending messages faster");
  for (let waited = 0; waited < 60000 && texts.filter(busy).length < 5; waited += 250) {
    await new Promise((ok) => setTimeout(ok, 250));
  }
  s.close();
  return texts;
}"""


def test_a_flood_is_slowed_down_politely_and_a_huge_message_refused(stack, browser):
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(f"http://localhost:{stack.public_port}/demo")
    page.locator("#kestrel-widget .kw-launcher").click()  # the widget loads socket.io when opened
    page.wait_for_function("() => typeof window.io === 'function'")
    texts = page.evaluate(
        FLOOD, {"url": f"http://localhost:{stack.public_port}", "count": 25, "big": "x" * 6000}
    )
    ctx.close()
    busy = [t for t in texts if t.startswith("You're sending messages faster")]
    assert any(t.startswith("That message is too long for me to read") for t in texts)
    # 20 a minute per conversation: the big one and 19 greetings go on, 6 are slowed down
    assert len(busy) >= 5, texts
