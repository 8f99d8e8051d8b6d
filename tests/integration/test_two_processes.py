"""Two Rasa processes behind one gateway, over the machine's real Redis (lock store and
socket.io between processes): a person's message made in either process reaches the customer's
socket, and one conversation's turns alternating between the processes stay whole and in order,
even two at the same moment (Rasa's own Redis lock store gave both the same ticket:
rasa_addons/lock_store.py).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import threading
import time

import pytest

from assistant.rasa_client import RasaClient
from assistant.stack import Stack
from tests.conftest import ROOT
from tests.integration.test_stages import new_sender

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("ASSISTANT_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
PORTS = {"rasa_port": 16005, "action_port": 16055, "web_port": 17081, "public_port": 17080}


def _redis_reachable(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def pair(tmp_path_factory, profile, request):
    if profile == "production":  # the session's stack already runs two instances on Redis
        yield request.getfixturevalue("stack")
        return
    if not _redis_reachable(REDIS_URL):
        pytest.fail(f"Redis is not reachable at {REDIS_URL} (the machine runs one; see env)")
    if not list((ROOT / "models").glob("*.tar.gz")):
        pytest.fail("no trained model in models/: run `make train` (make test does)")
    running = Stack(
        **PORTS,
        rasa_processes=2,
        redis_url=REDIS_URL,
        embed_origins="",
        rasa_token=secrets.token_urlsafe(16),
        api_token=secrets.token_urlsafe(16),
        var_dir=tmp_path_factory.mktemp("pair"),
    )
    running.start(timeout=900, quiet=True)
    stopping = threading.Event()
    running.supervise(stopping)
    yield running
    stopping.set()
    running.stop()


CONNECT = """async ({url, sticky}) => {
  const s = window.io(url, {transports: ["websocket"], forceNew: true, query: {sticky}});
  const seen = [];
  s.on("bot_uttered", (m) => seen.push((m && m.text) || ""));
  await new Promise((ok) => s.on("connect", ok));
  const granted = await new Promise((ok) => {
    s.on("session_credential", ok);
    s.emit("session_request", {});
  });
  window.__pair = {s, seen};
  return granted;
}"""
SEEN = "() => window.__pair.seen.slice()"


def test_a_persons_message_from_either_process_reaches_the_customer(pair, browser):
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(f"http://localhost:{pair.public_port}/demo")
    page.locator("#kestrel-widget .kw-launcher").click()
    page.wait_for_function("() => typeof window.io === 'function'")
    granted = page.evaluate(CONNECT, {"url": f"http://localhost:{pair.public_port}", "sticky": "k1"})
    conversation = granted["session_id"]
    page.evaluate("() => window.__pair.s.emit('user_uttered', {message: 'hello', metadata: {}})")
    page.wait_for_function("() => window.__pair.seen.length > 0", timeout=60_000)

    async def from_each_process() -> None:
        for n, port in enumerate(pair.rasa_ports, start=1):
            rasa = RasaClient(f"http://127.0.0.1:{port}", pair.rasa_token)
            await rasa.send_agent_message(conversation, f"A person here, through process {n}.", "Sam")

    worker = threading.Thread(target=asyncio.run, args=(from_each_process(),))  # not Playwright's loop
    worker.start()
    worker.join(60)
    deadline, seen = time.monotonic() + 30, []
    while time.monotonic() < deadline:
        seen = page.evaluate(SEEN)
        if all(any(f"process {n}" in t for t in seen) for n in (1, 2)):
            break
        time.sleep(0.5)
    # one of the two was made in the process the customer is not connected to
    assert any("through process 1" in t for t in seen), seen
    assert any("through process 2" in t for t in seen), seen
    ctx.close()


def test_one_conversation_alternating_between_processes_stays_whole(pair, http):
    """Each message recorded once and answered before the next one starts, even two at once."""
    sender = new_sender()
    said = ["hello", "how do I activate my new card?", "thanks", "what are your opening hours?"]
    for n, text in enumerate(said):
        port = pair.rasa_ports[n % 2]
        status, body = http.call(
            "POST", f"http://127.0.0.1:{port}/webhooks/rest/webhook", {"sender": sender, "message": text}
        )
        assert status == 200 and body, (text, body)
    # Two messages at the same moment, one to each process: the lock store lets one finish first.
    at_once = ["can I change my pin?", "and what about a new card?"]
    replies: dict[str, tuple[int, object]] = {}

    def send(port: int, text: str) -> None:
        url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
        replies[text] = http.call("POST", url, {"sender": sender, "message": text})

    pairs = zip(pair.rasa_ports, at_once, strict=True)
    threads = [threading.Thread(target=send, args=(port, text)) for port, text in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(replies[t][0] == 200 and replies[t][1] for t in at_once), replies
    status, tracker = http.call(
        "GET", f"http://127.0.0.1:{pair.rasa_port}/conversations/{sender}/tracker?token={pair.rasa_token}"
    )
    assert status == 200
    events = tracker["events"]
    users = [i for i, e in enumerate(events) if e["event"] == "user"]
    texts = [events[i]["text"] for i in users]
    assert texts[:4] == said and sorted(texts[4:]) == sorted(at_once)  # each once, in order
    for i, j in zip(users, [*users[1:], len(events)], strict=True):
        assert any(e["event"] == "bot" for e in events[i:j]), events[i]["text"]
