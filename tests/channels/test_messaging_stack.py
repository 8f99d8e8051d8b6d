"""The four messaging apps over the real stack: Rasa with the channels switched on by their
environment variables, the action server, the web app and the gateway (webhooks posted to the
public port, as the platforms would), and a fake of each platform's API that records what the
customer would see. Redis holds the retries' message ids, as with several Rasa processes.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from assistant.backoffice import BackOffice
from assistant.channels import dedup, linking
from assistant.channels.words import load_words
from assistant.identity import sign
from assistant.stack import Stack
from tests.channels import fakes
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

PORTS = {"rasa_port": 19005, "action_port": 19055, "web_port": 19081, "public_port": 19080}
FAKE_PORTS = {"telegram": 19100, "twilio": 19101, "slack": 19102, "facebook": 19103}
REDIS_URL = os.environ.get("ASSISTANT_TEST_REDIS_URL_CHANNELS", "redis://127.0.0.1:6379/9")
WORDS = load_words()
PAYLOAD = re.compile(r"/[A-Za-z_]+\{|(?<![\w/:.])/(request_human|choose|show_article|greet)\b")
BALANCE_QUESTION = "how much money have I got in my account?"


def _redis(command: list[str]) -> bytes:
    parts = urllib.parse.urlsplit(REDIS_URL)
    db = (parts.path or "/0").strip("/") or "0"
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=3) as sock:
        for cmd in (["SELECT", db], command):
            sock.sendall(
                f"*{len(cmd)}\r\n".encode() + b"".join(f"${len(a)}\r\n{a}\r\n".encode() for a in cmd)
            )
            time.sleep(0.05)
        time.sleep(0.1)
        return sock.recv(4096)


@pytest.fixture(scope="module")
def fake_apis():
    apis = {name: fakes.FakeApi(name, port).start() for name, port in FAKE_PORTS.items()}
    yield apis
    for api in apis.values():
        api.stop()


@pytest.fixture(scope="module")
def channel_env(fake_apis):
    env = {
        "TELEGRAM_BOT_TOKEN": "7011223344:" + secrets.token_urlsafe(24),
        "TELEGRAM_BOT_NAME": "kestrel_test_bot",
        "TELEGRAM_WEBHOOK_SECRET": secrets.token_urlsafe(16),
        "TELEGRAM_API_URL": f"http://127.0.0.1:{FAKE_PORTS['telegram']}",
        "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "TWILIO_WHATSAPP_NUMBER": "+14155238886",
        "TWILIO_API_URL": f"http://127.0.0.1:{FAKE_PORTS['twilio']}",
        "SLACK_BOT_TOKEN": "xoxb-" + secrets.token_hex(12),
        "SLACK_SIGNING_SECRET": secrets.token_hex(16),
        "SLACK_API_URL": f"http://127.0.0.1:{FAKE_PORTS['slack']}/api/",
        "FACEBOOK_VERIFY_TOKEN": secrets.token_urlsafe(12),
        "FACEBOOK_APP_SECRET": secrets.token_hex(16),
        "FACEBOOK_PAGE_ACCESS_TOKEN": "EAAB" + secrets.token_hex(20),
        "FACEBOOK_API_URL": f"http://127.0.0.1:{FAKE_PORTS['facebook']}/v18.0",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the stack's processes inherit them (and again when restarted)
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def stack(channel_env, tmp_path_factory):
    if not (ROOT / "models" / "kestrel.tar.gz").is_file():
        pytest.fail("no trained model in models/: run `make train` (make test does)")
    if not (ROOT / "kb_index" / "CURRENT").is_file():
        pytest.fail("no knowledge-base index: run `make index` (make test does)")
    try:
        _redis(["PING"])
    except OSError:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} (the machine runs one)")
    running = Stack(
        **PORTS,
        actions_port=19054,
        public_host="127.0.0.1",
        traffic="test",
        redis_url=REDIS_URL,
        embed_origins="",
        rasa_token=secrets.token_urlsafe(16),
        api_token=secrets.token_urlsafe(16),
        var_dir=tmp_path_factory.mktemp("channels"),
    )
    running.start(timeout=900, quiet=True)
    stopping = threading.Event()
    running.supervise(stopping)
    yield running
    stopping.set()
    running.stop()


@pytest.fixture(scope="module")
def platforms(stack, fake_apis, channel_env):
    known = {**channel_env, "ASSISTANT_PUBLIC_URL": stack.public_url}
    return {
        name: cls(f"http://127.0.0.1:{stack.public_port}", fake_apis[name], known)
        for name, cls in fakes.PLATFORMS.items()
    }


@pytest.fixture(scope="module")
def agent_online(stack):
    from assistant.staff.store import StaffStore

    store = StaffStore(stack.database_url)
    session = store.start_session(store.user("agent"))
    yield session
    store.end_session(session.token)
    store.dispose()


# --------------------------------------------------------------------------- helpers


def call(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            raw = resp.read()
            kind = resp.headers.get("Content-Type", "")
            return resp.status, json.loads(raw) if raw and "json" in kind else raw.decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def tracker(stack: Stack, conversation: str) -> dict[str, Any]:
    quoted = urllib.parse.quote(conversation, safe="")
    url = f"http://127.0.0.1:{stack.rasa_port}/conversations/{quoted}/tracker"
    status, body = call("GET", f"{url}?token={stack.rasa_token}")
    assert status == 200, body
    return body


def users(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("event") == "user"]


def settled(body: dict[str, Any], count: int) -> bool:
    events = body.get("events") or []
    said = [i for i, e in enumerate(events) if e.get("event") == "user"]
    if len(said) < count:
        return False
    after = events[said[-1] + 1 :]
    return body.get("paused") or any(
        e.get("event") == "action" and e.get("name") == "action_listen" for e in after
    )


def turn(stack: Stack, platform: fakes.Platform, sender: str, act: Callable[[], int], timeout: float = 90):
    """Do ``act`` (a webhook), wait until its turn is over, and return what the customer saw."""
    conversation = platform.conversation(sender)
    before_users = len(users(tracker(stack, conversation)["events"] or []))
    before_seen = len(platform.seen(sender))
    assert act() == 200
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if settled(tracker(stack, conversation), before_users + 1):
            time.sleep(0.3)
            return platform.seen(sender)[before_seen:]
        time.sleep(0.25)
    raise AssertionError(f"no turn on {platform.name} within {timeout} s")


def replies(
    platform: fakes.Platform, sender: str, act: Callable[[], int], count: int = 1, timeout: float = 30
):
    """Do ``act`` and wait for ``count`` new messages to the customer (no turn: linking)."""
    before = len(platform.seen(sender))
    assert act() == 200
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = platform.seen(sender)[before:]
        if len(seen) >= count:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"no reply on {platform.name} within {timeout} s")


def text_of(seen: list[fakes.Seen]) -> str:
    return "\n".join(s.text for s in seen)


def bot_buttons(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [(e.get("data") or {}).get("buttons") or [] for e in events if e.get("event") == "bot"]


def assert_nothing_raw(seen: list[fakes.Seen]) -> None:
    for message in seen:
        assert not PAYLOAD.search(message.text), message.text
        for label, _ in message.options:
            assert not PAYLOAD.search(label), label


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("name", ["telegram", "twilio", "slack", "facebook"])
def test_a_greeting_shows_the_options_natively_and_a_tap_answers_one(stack, platforms, name):
    platform = platforms[name]
    sender = platform.new_sender()
    seen = turn(stack, platform, sender, lambda: platform.send(sender, "hi"))
    assert seen and text_of(seen).strip()
    assert_nothing_raw(seen)
    events = tracker(stack, platform.conversation(sender))["events"]
    offered = [b for b in bot_buttons(events) if b][-1]  # the latest buttons the bot offered
    options = [s.options for s in seen if s.options][-1]  # as the app shows them
    assert len(options) == len(offered)
    if name in ("telegram", "slack"):
        assert [label for label, _ in options] == [b["title"] for b in offered]
    if name == "telegram":
        assert all(len(v.encode()) <= 64 and v.startswith("k1.") for _, v in options)
    if name == "twilio":
        assert [v for _, v in options] == [str(n) for n in range(1, len(offered) + 1)]
        assert WORDS.texts["options_hint"] in text_of(seen)
    _, value = options[1]
    seen = turn(stack, platform, sender, lambda: platform.press(sender, value))
    assert seen and text_of(seen).strip()
    assert_nothing_raw(seen)
    latest = users(tracker(stack, platform.conversation(sender))["events"])[-1]
    assert latest["text"] == offered[1]["payload"]  # the tap (or its number) meant the button's payload


def test_whatsapp_answers_by_words_too(stack, platforms):
    platform = platforms["twilio"]
    sender = platform.new_sender()
    turn(stack, platform, sender, lambda: platform.send(sender, "hi"))
    events = tracker(stack, platform.conversation(sender))["events"]
    last = [b for b in bot_buttons(events) if b][-1]
    title = last[0]["title"]
    turn(stack, platform, sender, lambda: platform.send(sender, title.lower()))
    assert users(tracker(stack, platform.conversation(sender))["events"])[-1]["text"] == last[0]["payload"]


def _refusals(platform: fakes.Platform, sender: str) -> list[int]:
    if platform.name == "telegram":
        return [platform.send(sender, "hi", secret=""), platform.send(sender, "hi", secret="wrong")]
    if platform.name == "twilio":
        form_url = (
            "http://127.0.0.1:19005/webhooks/twilio/webhook"  # Rasa's own address: not what Twilio signs
        )
        internal = platform.sign({"Body": "hi"}, url=form_url)
        return [platform.send(sender, "hi", signature=""), platform.send(sender, "hi", signature=internal)]
    if platform.name == "slack":
        stale = int(time.time()) - 6 * 60
        return [
            platform.send(sender, "hi", stamp=stale),
            platform.post_event(platform.event(sender, "hi"), secret="x")[0],
        ]
    return [
        platform.send(sender, "hi", header="X-Hub-Signature"),
        platform.send(sender, "hi", secret="wrong"),
    ]


@pytest.mark.parametrize("name", ["telegram", "twilio", "slack", "facebook"])
def test_an_unsigned_or_badly_signed_webhook_is_refused_and_runs_no_turn(stack, platforms, name):
    platform = platforms[name]
    sender = platform.new_sender()
    statuses = _refusals(platform, sender)
    assert all(s in (401, 403) for s in statuses), statuses
    time.sleep(2)
    assert users(tracker(stack, platform.conversation(sender))["events"] or []) == []
    assert platform.seen(sender) == []


@pytest.mark.parametrize("name", ["telegram", "twilio", "slack", "facebook"])
def test_a_platforms_retry_is_answered_once(stack, platforms, name):
    platform = platforms[name]
    sender = platform.new_sender()
    message_id = {
        "telegram": str(secrets.randbelow(10**9)),
        "twilio": "SM" + secrets.token_hex(16),
        "slack": "Ev" + secrets.token_hex(5).upper(),
        "facebook": "m_" + secrets.token_hex(20),
    }[name]
    first = turn(stack, platform, sender, lambda: platform.send(sender, "hi", message_id=message_id))
    retry = {"retry": 1} if name == "slack" else {}
    assert platform.send(sender, "hi", message_id=message_id, **retry) == 200  # acknowledged, not answered
    time.sleep(3)
    assert len(users(tracker(stack, platform.conversation(sender))["events"])) == 1
    assert len(platform.seen(sender)) == len(first)
    assert _redis(["EXISTS", dedup.key(name, message_id)]).endswith(b":1\r\n")  # shared by every Rasa process


def test_slack_url_verification_and_a_static_select_value(stack, platforms):
    platform = platforms["slack"]
    status, body = platform.post_event(fakes.fixture("slack_url_verification.json"))
    assert status == 200 and json.loads(body)["challenge"].startswith("3eZbrw1")
    status, _ = platform.post_event(fakes.fixture("slack_url_verification.json"), secret="wrong")
    assert status == 401


def test_messenger_subscription_check_and_a_postback(stack, platforms, channel_env):
    platform = platforms["facebook"]
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": ""}
    status, body = call("GET", platform.webhook + "?" + urllib.parse.urlencode(query))
    assert status == 403
    query["hub.verify_token"] = channel_env["FACEBOOK_VERIFY_TOKEN"]
    status, body = call("GET", platform.webhook + "?" + urllib.parse.urlencode(query))
    assert (status, body) == (200, "1158201444")
    sender = platform.new_sender()
    seen = turn(stack, platform, sender, lambda: platform.send(sender, "hi"))
    value = next(v for s in seen for _, v in s.options)
    seen = turn(stack, platform, sender, lambda: platform.postback(sender, value))
    assert seen and text_of(seen).strip()
    assert users(tracker(stack, sender)["events"])[-1]["text"].startswith("/")


def test_the_widgets_limits_hold_on_the_apps(stack, platforms):
    platform = platforms["slack"]
    sender = platform.new_sender()
    seen = replies(platform, sender, lambda: platform.send(sender, "x" * 5001))
    assert text_of(seen) == load_credentials_text("too_large")
    assert users(tracker(stack, sender)["events"] or []) == []


def load_credentials_text(key: str) -> str:
    import yaml

    data = yaml.safe_load((ROOT / "credentials.yml").read_text())
    return data["rasa_addons.channels.GuardedSocketIOInput"]["texts"][key]


def _link_code(stack: Stack, token: str) -> tuple[int, str]:
    status, page = call("GET", f"http://127.0.0.1:{stack.public_port}/link?token={urllib.parse.quote(token)}")
    found = re.search(r'<strong id="code">([A-Z0-9]+)</strong>', page) if status == 200 else None
    return status, found.group(1) if found else ""


def test_account_linking_opens_the_customers_own_account_and_nothing_before(stack, platforms):
    telegram, whatsapp = platforms["telegram"], platforms["twilio"]
    sender = telegram.new_sender()
    before = turn(stack, telegram, sender, lambda: telegram.send(sender, BALANCE_QUESTION))
    assert WORDS.texts["link_needed"] in text_of(before) and "£" not in text_of(before)

    # forged, expired, or a plain chat token: no code
    for bad in (
        linking.sign_link_token("not-the-banks-secret", "cust-ben"),
        sign(stack.identity_secret, "cust-ben", ttl=60, now=time.time() - 3600, link=True),
        sign(stack.identity_secret, "cust-ben"),
    ):
        assert _link_code(stack, bad) == (403, "")
    seen = replies(telegram, sender, lambda: telegram.send(sender, "/start ABCDEFGHJK"))  # a made-up code
    assert text_of(seen) == WORDS.text("link_refused")

    status, code = _link_code(stack, linking.sign_link_token(stack.identity_secret, "cust-ben", name="Ben"))
    assert status == 200 and code
    seen = replies(telegram, sender, lambda: telegram.send(sender, f"/start {code}"))
    assert text_of(seen) == WORDS.text("linked", name=", Ben")
    other = whatsapp.new_sender()  # the same code again, elsewhere: used up
    seen = replies(whatsapp, other, lambda: whatsapp.send(other, f"LINK {code}"))
    assert text_of(seen) == WORDS.text("link_refused")

    balance = BackOffice(f"sqlite:///{stack.var_dir / 'backoffice.db'}").account("cust-ben").balance
    after = turn(stack, telegram, sender, lambda: telegram.send(sender, BALANCE_QUESTION))
    assert f"£{balance:,.2f}" in text_of(after)
    assert_nothing_raw(after)
    seen = turn(stack, whatsapp, other, lambda: whatsapp.send(other, BALANCE_QUESTION))
    assert "£" not in text_of(seen)  # the other chat is not linked

    seen = replies(telegram, sender, lambda: telegram.send(sender, "unlink"))
    assert text_of(seen) == WORDS.text("unlinked")
    again = turn(stack, telegram, sender, lambda: telegram.send(sender, BALANCE_QUESTION))
    assert "£" not in text_of(again) and WORDS.texts["link_needed"] in text_of(again)


def domain_text(response: str) -> str:
    import yaml

    return yaml.safe_load((ROOT / "domain.yml").read_text())["responses"][response][0]["text"]


def _handoff(stack: Stack, conversation: str) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {stack.api_token}"}
    url = f"http://127.0.0.1:{stack.public_port}/api/handoffs?conversation_id={urllib.parse.quote(conversation)}"
    status, listing = call("GET", url, headers=auth)
    assert status == 200, listing
    [handoff] = listing["handoffs"]
    return handoff


def _wait_seen(platform: fakes.Platform, sender: str, before: int, contains: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = text_of(platform.seen(sender)[before:])
        if contains in seen:
            return seen
        time.sleep(0.25)
    raise AssertionError(
        f"{contains!r} never reached {platform.name}: {text_of(platform.seen(sender)[before:])!r}"
    )


@pytest.mark.parametrize("name", ["telegram", "twilio", "slack", "facebook"])
def test_a_person_answers_in_the_customers_app_and_hands_back(stack, platforms, agent_online, name):
    platform = platforms[name]
    sender = platform.new_sender()
    conversation = platform.conversation(sender)
    queued = turn(stack, platform, sender, lambda: platform.send(sender, "I want to talk to a person"))
    assert re.search(r"number \d+ in the queue", text_of(queued)), text_of(queued)
    handoff = _handoff(stack, conversation)
    auth = {"Authorization": f"Bearer {stack.api_token}"}
    api = f"http://127.0.0.1:{stack.public_port}/api/handoffs/{handoff['id']}"

    before = len(platform.seen(sender))
    status, claimed = call("POST", f"{api}/claim", headers=auth)  # as the console does first
    assert status == 200, claimed
    agent = claimed["agent"]
    joined = domain_text("utter_agent_joined").format(agent=claimed["agent_name"])
    _wait_seen(platform, sender, before, joined)
    said = f"Hello, I'm looking at your card order now ({secrets.token_hex(3)})."
    status, body = call("POST", f"{api}/messages", {"text": said, "agent": agent}, auth)
    assert status == 200, body
    # marked as a person's
    _wait_seen(platform, sender, before, WORDS.text("agent_says", name=agent, text=said))

    quiet = turn(stack, platform, sender, lambda: platform.send(sender, "thanks, I'll wait"))
    assert quiet == []  # the bot keeps quiet while a person has the conversation

    before = len(platform.seen(sender))
    status, body = call("POST", f"{api}/resume", headers=auth)
    assert status == 200, body
    _wait_seen(platform, sender, before, domain_text("utter_handed_back"))  # said in the app
    assert not tracker(stack, conversation)["paused"]

    answer = turn(
        stack, platform, sender, lambda: platform.send(sender, "how long does a new card take to arrive?")
    )
    assert answer and text_of(answer).strip()
    assert_nothing_raw(answer)


def test_no_account_where_others_read_or_the_sender_is_unproven(stack, platforms):
    """A code sent in a Telegram group, a Slack channel or by SMS (whose sender can be forged)
    links nothing and stays unused; a chat linked already is never moved to another account."""
    telegram, whatsapp, slack = platforms["telegram"], platforms["twilio"], platforms["slack"]
    status, code = _link_code(stack, linking.sign_link_token(stack.identity_secret, "cust-chloe"))
    assert status == 200 and code

    group = fakes.fixture("telegram_message.json")
    group_id = -int(telegram.new_sender())
    group["update_id"] = int(uuid.uuid4().int % 10**9)
    group["message"]["chat"] = {"id": group_id, "title": "Family", "type": "group"}
    group["message"]["text"] = f"/start {code}"
    assert telegram._post(group) == 200
    mention = slack.event(slack.new_sender(), f"link {code}")
    mention["event"].update(type="app_mention", channel="C0PUBLIC01")
    mention["event"].pop("channel_type", None)
    assert slack.post_event(mention)[0] == 200
    sms = "+447700900" + str(uuid.uuid4().int % 1000).zfill(3)
    seen = replies(whatsapp, sms, lambda: whatsapp.send(sms, f"LINK {code}"))
    assert text_of(seen) == WORDS.text("private_only")
    deadline = time.monotonic() + 30
    in_channel: list[str] = []
    while time.monotonic() < deadline and not in_channel:
        in_channel = [s.text for c in slack.fake.snapshot() if fakes.recipient("slack", c) == "C0PUBLIC01"
                      for s in [fakes.seen_slack(c)] if s is not None]  # fmt: skip
        time.sleep(0.2)
    assert in_channel == [WORDS.text("private_only")]
    sent_to_group = [c for c in telegram.fake.snapshot() if fakes.recipient("telegram", c) == str(group_id)]
    assert sent_to_group == []  # a group gets no answer at all

    sender = telegram.new_sender()  # the code was left unused: it links a private chat
    seen = replies(telegram, sender, lambda: telegram.send(sender, f"/start {code}"))
    assert text_of(seen) == WORDS.text("linked", name="")
    status, other = _link_code(stack, linking.sign_link_token(stack.identity_secret, "cust-ava"))
    seen = replies(telegram, sender, lambda: telegram.send(sender, f"/start {other}"))
    assert text_of(seen) == WORDS.text("already_linked")  # not moved to Ava's account
    assert linking.LinkStore(stack.database_url).linked("telegram", sender).customer_id == "cust-chloe"


def test_a_senders_quick_messages_are_taken_in_the_order_they_came(stack, platforms):
    whatsapp = platforms["twilio"]
    sender = whatsapp.new_sender()
    said = ["hello", "how do I top up with a card?", "thanks", "what are your opening hours?"]
    for text in said:  # one right after the other, before any answer
        assert whatsapp.send(sender, text) == 200
    conversation = whatsapp.conversation(sender)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not settled(tracker(stack, conversation), len(said)):
        time.sleep(0.5)
    events = tracker(stack, conversation)["events"]
    assert [e["text"] for e in users(events)] == said
