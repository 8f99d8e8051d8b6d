"""The one public origin, over the real stack: through the gateway a browser reaches the widget,
the chat routes and socket.io, and nothing of Rasa's own HTTP API or REST webhook; a
conversation is joined, written into or read only with its credential; signing in gives a new
conversation; only allowlisted sites may embed the widget."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest

from tests.integration.conftest import EMBED_ORIGIN

pytestmark = pytest.mark.integration

JOIN = """async ({url, ask}) => {
  const s = window.io(url, {transports: ["websocket"], forceNew: true});
  const seen = [];
  s.on("bot_uttered", (m) => seen.push((m && m.text) || ""));
  await new Promise((ok, fail) => {
    s.on("connect", ok);
    setTimeout(() => fail(new Error("not connected within 30 s")), 30000);
  });
  const granted = await new Promise((ok, fail) => {
    s.on("session_credential", ok);
    s.emit("session_request", ask);
    setTimeout(() => fail(new Error("no session_credential within 30 s")), 30000);
  });
  window.__sockets = (window.__sockets || []).concat([{s, seen}]);
  return {granted, index: window.__sockets.length - 1};
}"""

SAY = """async ({index, text, session_id, wait}) => {
  const {s, seen} = window.__sockets[index];
  const before = seen.length;
  s.emit("user_uttered", {message: text, session_id, metadata: {}});
  for (let t = 0; t < wait && seen.length === before; t += 100) {
    await new Promise((ok) => setTimeout(ok, 100));
  }
  return seen.slice(before);
}"""

HEARD = "({index}) => window.__sockets[index].seen.slice()"


def _page(browser, stack):
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(f"http://localhost:{stack.public_port}/demo")
    page.locator("#kestrel-widget .kw-launcher").click()  # the widget loads socket.io when opened
    page.wait_for_function("() => typeof window.io === 'function'")
    return ctx, page


def test_a_stolen_session_id_opens_nothing(stack, browser, http, tracker):
    public = f"http://localhost:{stack.public_port}"
    victim_ctx, victim = _page(browser, stack)
    mine = victim.evaluate(JOIN, {"url": public, "ask": {}})
    granted = mine["granted"]
    assert granted["session_id"] and granted["credential"].startswith("c1.")
    assert victim.evaluate(SAY, {"index": mine["index"], "text": "hello", "session_id": None, "wait": 30000})

    thief_ctx, thief = _page(browser, stack)
    # joining with the id alone (or a made-up credential) gives the thief a conversation of their own
    for ask in (
        {"session_id": granted["session_id"]},
        {"session_id": granted["session_id"], "credential": "c1.1.anon.x"},
    ):
        theirs = thief.evaluate(JOIN, {"url": public, "ask": ask})
        assert theirs["granted"]["session_id"] != granted["session_id"]
    # writing into the victim's conversation by naming it lands in the thief's own
    victim.wait_for_timeout(2000)  # the greeting's last messages
    victim_heard = len(victim.evaluate(HEARD, {"index": mine["index"]}))
    heard = thief.evaluate(
        SAY,
        {
            "index": theirs["index"],
            "text": "i want to talk to a human",
            "session_id": granted["session_id"],
            "wait": 30000,
        },
    )
    assert heard  # answered, in the thief's own conversation
    victim.wait_for_timeout(1000)
    assert len(victim.evaluate(HEARD, {"index": mine["index"]})) == victim_heard  # nothing reached them

    def typed(conversation: str) -> list[str]:
        return [e.get("text") for e in tracker(conversation)["events"] if e.get("event") == "user"]

    # Rasa saves a turn after sending its replies: wait until both turns are saved (a busy
    # machine takes seconds), then the thief's message is in the thief's conversation only.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (
        "hello" in typed(granted["session_id"])
        and "i want to talk to a human" in typed(theirs["granted"]["session_id"])
    ):
        time.sleep(0.5)
    assert "i want to talk to a human" in typed(theirs["granted"]["session_id"])
    texts = typed(granted["session_id"])
    assert "i want to talk to a human" not in texts and "hello" in texts

    # the history over HTTP: 403 without the credential, the conversation with it
    history = f"{public}/chat/history/{granted['session_id']}"
    status, body = http.call("GET", history)
    assert status == 403 and "credential" in body["error"]
    status, body = http.call("GET", history, headers={"X-Chat-Credential": theirs["granted"]["credential"]})
    assert status == 403
    status, body = http.call("GET", history, headers={"X-Chat-Credential": granted["credential"]})
    assert status == 200 and any(m["text"] == "hello" for m in body["messages"])

    # rejoining with the credential keeps the conversation; signing in on the host page gives a new one
    again = victim.evaluate(JOIN, {"url": public, "ask": granted})
    assert again["granted"]["session_id"] == granted["session_id"]
    signed_in_ctx = browser.new_context()
    signed_in = signed_in_ctx.new_page()
    signed_in.goto(f"{public}/demo?customer=cust-ava")
    customer_token = signed_in.locator("script[data-customer-token]").get_attribute("data-customer-token")
    assert customer_token
    rotated = victim.evaluate(JOIN, {"url": public, "ask": {**granted, "customer_token": customer_token}})
    assert rotated["granted"]["session_id"] != granted["session_id"]
    for ctx in (victim_ctx, thief_ctx, signed_in_ctx):
        ctx.close()


def test_only_the_public_routes_are_reachable_through_the_gateway(stack, http):
    public = f"http://127.0.0.1:{stack.public_port}"
    status, _ = http.call("POST", f"{public}/webhooks/rest/webhook", {"sender": "x", "message": "hi"})
    assert status == 404  # Rasa's REST channel stays internal
    for path in (
        f"/conversations/x/tracker?token={stack.rasa_token}",
        f"/status?token={stack.rasa_token}",
        "/model/parse",
    ):
        status, _ = http.call("GET", public + path)
        assert status == 404, path
    status, _, body = _raw("GET", f"{public}/static/widget.js")
    assert status == 200 and b"KestrelWidget" in body  # served by the gateway itself
    status, body = http.call("GET", f"{public}/api/health")
    assert status == 200 and body["status"] == "ok"
    status, _ = http.call("POST", f"{public}/chat/feedback", {"padding": "x" * 200_000})
    assert status == 413  # larger than the gateway reads


def _raw(method: str, url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def _socketio_handshake(stack, origin: str) -> int:
    url = f"http://127.0.0.1:{stack.public_port}/socket.io/?EIO=4&transport=polling"
    return _raw("GET", url, {"Origin": origin})[0]


def test_only_allowlisted_sites_may_embed_the_widget(stack, http):
    assert _socketio_handshake(stack, f"http://localhost:{stack.public_port}") == 200
    assert _socketio_handshake(stack, EMBED_ORIGIN) == 200
    assert _socketio_handshake(stack, "http://evil.example") == 400

    def options(origin: str) -> tuple[int, dict[str, str]]:
        status, headers, _ = _raw(
            "OPTIONS",
            f"http://127.0.0.1:{stack.public_port}/chat/history/abcdefgh12345678",
            {
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "x-chat-credential",
            },
        )
        return status, headers

    status, headers = options(EMBED_ORIGIN)
    assert status == 204 and headers["Access-Control-Allow-Origin"] == EMBED_ORIGIN
    assert "X-Chat-Credential" in headers["Access-Control-Allow-Headers"]
    status, headers = options("http://evil.example")
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    # the console and the staff API are never granted to another site
    status, headers, _ = _raw(
        "GET", f"http://127.0.0.1:{stack.public_port}/api/health", {"Origin": EMBED_ORIGIN}
    )
    assert status == 200 and "Access-Control-Allow-Origin" not in headers


def test_the_apps_behind_the_gateway_see_each_customers_own_address(stack):
    """Per-address limits count each customer, not the gateway: a flood from one address is
    refused while another address is still served."""
    import http.client

    def status_from(source: str) -> int:
        conn = http.client.HTTPConnection(
            "127.0.0.1", stack.public_port, timeout=30, source_address=(source, 0)
        )
        try:
            conn.request("GET", "/chat/queue/abcdefgh12345678")
            return conn.getresponse().status
        finally:
            conn.close()

    statuses = [status_from("127.0.0.5") for _ in range(125)]
    assert statuses[0] == 403 and statuses[-1] == 429  # no credential; then too many from there
    assert status_from("127.0.0.6") == 403  # someone else is not held back
