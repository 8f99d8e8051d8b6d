"""Small fakes of the four platforms' APIs on localhost, and their webhooks as the platforms send
them (recorded JSON in fixtures/, signed as each platform signs): what the connectors send is
recorded and read back as what the customer would see.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import html
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).with_name("fixtures")


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@dataclass
class Call:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]


class FakeApi:
    """A platform's API: every POST is recorded and answered as the platform would."""

    def __init__(self, name: str, port: int) -> None:
        self.name, self.port = name, port
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                kind = self.headers.get("Content-Type", "")
                if "json" in kind:
                    body = json.loads(raw or b"{}")
                else:
                    body = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
                url = urllib.parse.urlsplit(self.path)
                call = Call(
                    url.path,
                    {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with fake.lock:
                    fake.calls.append(call)
                status, answer = fake.answer(call)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"fake-{name}", daemon=True)

    def start(self) -> FakeApi:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, call: Call) -> tuple[int, Any]:
        if self.name == "telegram":
            result: Any = True
            if call.path.endswith("/sendMessage"):
                chat = {"id": int(call.body["chat_id"]), "type": "private"}
                result = {"message_id": len(self.calls), "date": int(time.time()), "chat": chat}
            return 200, {"ok": True, "result": result}
        if self.name == "twilio":
            sid = "SM" + uuid.uuid4().hex
            return 201, {
                "sid": sid,
                "status": "queued",
                "to": call.body.get("To"),
                "from": call.body.get("From"),
                "body": call.body.get("Body"),
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
            }
        if self.name == "slack":
            return 200, {"ok": True, "channel": call.body.get("channel"), "ts": f"{time.time():.6f}"}
        return 200, {"recipient_id": (call.body.get("recipient") or {}).get("id"), "message_id": "m_x"}

    def snapshot(self) -> list[Call]:
        with self.lock:
            return list(self.calls)


# --------------------------------------------------------------------------- what the customer sees


@dataclass
class Seen:
    """One message as the customer sees it: its text and the options they can tap (label, the
    value the app sends back), and everything the connector sent, for inspection."""

    text: str
    options: list[tuple[str, str]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


def _unhtml(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def seen_telegram(call: Call) -> Seen | None:
    if not call.path.endswith("/sendMessage"):
        return None
    markup = json.loads(call.body.get("reply_markup") or "{}")
    options = [(b["text"], b["callback_data"]) for row in markup.get("inline_keyboard", []) for b in row]
    return Seen(_unhtml(call.body["text"]), options, call.body)


def seen_twilio(call: Call) -> Seen | None:
    if not call.path.endswith("/Messages.json"):
        return None
    body = call.body["Body"]
    options = re.findall(r"^(\d+)\. (.+)$", body, re.M)
    return Seen(body, [(title, number) for number, title in options], call.body)


def seen_slack(call: Call) -> Seen | None:
    if not call.path.endswith("/chat.postMessage"):
        return None
    blocks = call.body.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    text = "\n".join(b["text"]["text"] for b in blocks if b.get("type") == "section")
    options: list[tuple[str, str]] = []
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element["type"] == "button":
                options.append((element["text"]["text"], element["value"]))
            else:
                options += [(o["text"]["text"], o["value"]) for o in element["options"]]
    return Seen(html.unescape(text), options, call.body)


def seen_facebook(call: Call) -> Seen | None:
    if not call.path.endswith("/me/messages"):
        return None
    message = call.body.get("message") or {}
    template = (message.get("attachment") or {}).get("payload") or {}
    text = message.get("text") or template.get("text") or ""
    options = [(q["title"], q["payload"]) for q in message.get("quick_replies") or []]
    options += [(b["title"], b["payload"]) for b in template.get("buttons") or []]
    return Seen(text, options, call.body)


def recipient(platform: str, call: Call) -> str:
    if platform == "telegram":
        return str(call.body.get("chat_id", ""))
    if platform == "twilio":
        return str(call.body.get("To", ""))
    if platform == "slack":
        return str(call.body.get("channel", ""))
    return str((call.body.get("recipient") or {}).get("id", ""))


SEEN = {"telegram": seen_telegram, "twilio": seen_twilio, "slack": seen_slack, "facebook": seen_facebook}


# --------------------------------------------------------------------------- webhooks


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


class Platform:
    """One platform's side: posts its webhooks to the gateway, reads the fake's records."""

    name = ""

    def __init__(self, public: str, fake: FakeApi, secrets: dict[str, str]) -> None:
        self.public, self.fake, self.secrets = public.rstrip("/"), fake, secrets
        self.webhook = f"{self.public}/webhooks/{self.name}/webhook"

    def new_sender(self) -> str:
        raise NotImplementedError

    def conversation(self, sender: str) -> str:
        """Rasa's conversation id for ``sender``."""
        return sender

    def addresses(self, sender: str) -> set[str]:
        return {sender}

    def send(self, sender: str, text: str, *, message_id: str | None = None, **kw: Any) -> int:
        raise NotImplementedError

    def press(self, sender: str, value: str, *, message_id: str | None = None) -> int:
        raise NotImplementedError

    def seen(self, sender: str) -> list[Seen]:
        to = self.addresses(sender)
        found = []
        for call in self.fake.snapshot():
            if recipient(self.name, call) in to:
                shown = SEEN[self.name](call)
                if shown is not None:
                    found.append(shown)
        return found


class TelegramPlatform(Platform):
    name = "telegram"

    def new_sender(self) -> str:
        return str(5_000_000_000 + uuid.uuid4().int % 1_000_000_000)

    def _post(self, update: dict[str, Any], secret: str | None = None) -> int:
        token = self.secrets["TELEGRAM_WEBHOOK_SECRET"] if secret is None else secret
        headers = {"Content-Type": "application/json"}
        if token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        status, _ = post(self.webhook, json.dumps(update).encode(), headers)
        return status

    def send(
        self, sender: str, text: str, *, message_id: str | None = None, secret: str | None = None
    ) -> int:
        update = fixture("telegram_message.json")
        update["update_id"] = int(message_id or uuid.uuid4().int % 10**9)
        update["message"]["chat"]["id"] = update["message"]["from"]["id"] = int(sender)
        update["message"]["text"] = text
        return self._post(update, secret)

    def press(self, sender: str, value: str, *, message_id: str | None = None) -> int:
        update = fixture("telegram_callback.json")
        update["update_id"] = int(message_id or uuid.uuid4().int % 10**9)
        update["callback_query"]["from"]["id"] = update["callback_query"]["message"]["chat"]["id"] = int(
            sender
        )
        update["callback_query"]["data"] = value
        return self._post(update)


class TwilioPlatform(Platform):
    name = "twilio"

    def conversation(self, sender: str) -> str:
        return "whatsapp-" + sender.removeprefix("whatsapp:+")

    def new_sender(self) -> str:
        return f"whatsapp:+4477009{uuid.uuid4().int % 100000:05d}"

    def sign(self, params: dict[str, str], url: str | None = None) -> str:
        """Twilio's signature: HMAC-SHA1 of the URL then each parameter's name and value, sorted."""
        signed = (url or self.signed_url) + "".join(k + params[k] for k in sorted(params))
        mac = hmac.new(self.secrets["TWILIO_AUTH_TOKEN"].encode(), signed.encode(), hashlib.sha1).digest()
        return base64.b64encode(mac).decode()

    @property
    def signed_url(self) -> str:  # the public URL Twilio called (ASSISTANT_PUBLIC_URL + path)
        return self.secrets["ASSISTANT_PUBLIC_URL"].rstrip("/") + "/webhooks/twilio/webhook"

    def send(
        self, sender: str, text: str, *, message_id: str | None = None, signature: str | None = None
    ) -> int:
        form = fixture("twilio_whatsapp.json")
        sid = message_id or "SM" + uuid.uuid4().hex
        form.update(
            From=sender,
            WaId=sender.removeprefix("whatsapp:+"),
            Body=text,
            MessageSid=sid,
            SmsSid=sid,
            SmsMessageSid=sid,
        )
        form["To"] = "whatsapp:" + self.secrets["TWILIO_WHATSAPP_NUMBER"]
        form["AccountSid"] = self.secrets["TWILIO_ACCOUNT_SID"]
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": self.sign(form) if signature is None else signature,
        }
        status, _ = post(self.webhook, urllib.parse.urlencode(form).encode(), headers)
        return status

    def press(self, sender: str, value: str, *, message_id: str | None = None) -> int:
        return self.send(sender, value, message_id=message_id)  # the customer types the number


class SlackPlatform(Platform):
    name = "slack"

    def new_sender(self) -> str:
        return "U" + uuid.uuid4().hex[:10].upper()

    def dm(self, sender: str) -> str:
        return "D" + sender[1:]

    def addresses(self, sender: str) -> set[str]:
        return {sender, self.dm(sender)}

    def signed_headers(
        self, body: bytes, kind: str, *, stamp: int | None = None, secret: str | None = None
    ) -> dict:
        stamp = int(time.time()) if stamp is None else stamp
        key = (self.secrets["SLACK_SIGNING_SECRET"] if secret is None else secret).encode()
        digest = hmac.new(key, f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
        return {
            "Content-Type": kind,
            "X-Slack-Request-Timestamp": str(stamp),
            "X-Slack-Signature": f"v0={digest}",
        }

    def post_event(self, event: dict[str, Any], **sign: Any) -> tuple[int, bytes]:
        body = json.dumps(event).encode()
        return post(self.webhook, body, self.signed_headers(body, "application/json", **sign))

    def event(self, sender: str, text: str, message_id: str | None = None) -> dict[str, Any]:
        event = fixture("slack_message_im.json")
        event["event_id"] = message_id or "Ev" + uuid.uuid4().hex[:10].upper()
        event["event"].update(user=sender, text=text, channel=self.dm(sender))
        event["event"]["client_msg_id"] = str(uuid.uuid4())
        return event

    def send(
        self,
        sender: str,
        text: str,
        *,
        message_id: str | None = None,
        stamp: int | None = None,
        retry: int = 0,
    ) -> int:
        body = json.dumps(self.event(sender, text, message_id)).encode()
        headers = self.signed_headers(body, "application/json", stamp=stamp)
        if retry:
            headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
        status, _ = post(self.webhook, body, headers)
        return status

    def press(self, sender: str, value: str, *, message_id: str | None = None) -> int:
        payload = fixture("slack_block_actions.json")
        payload["user"]["id"] = sender
        payload["channel"]["id"] = payload["container"]["channel_id"] = self.dm(sender)
        payload["actions"][0]["value"] = value
        payload["actions"][0]["action_ts"] = message_id or f"{time.time():.6f}"
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        status, _ = post(self.webhook, body, self.signed_headers(body, "application/x-www-form-urlencoded"))
        return status


class MessengerPlatform(Platform):
    name = "facebook"

    def new_sender(self) -> str:
        return str(6_700_000_000_000_000 + uuid.uuid4().int % 10**15)

    def signed(self, body: bytes, *, secret: str | None = None, header: str = "X-Hub-Signature-256") -> dict:
        key = (self.secrets["FACEBOOK_APP_SECRET"] if secret is None else secret).encode()
        algorithm = hashlib.sha256 if header.endswith("256") else hashlib.sha1
        prefix = "sha256" if header.endswith("256") else "sha1"
        digest = hmac.new(key, body, algorithm).hexdigest()
        return {"Content-Type": "application/json", header: f"{prefix}={digest}"}

    def _post(self, event: dict[str, Any], **sign: Any) -> int:
        body = json.dumps(event).encode()
        status, _ = post(self.webhook, body, self.signed(body, **sign))
        return status

    def send(self, sender: str, text: str, *, message_id: str | None = None, **sign: Any) -> int:
        event = fixture("facebook_message.json")
        item = event["entry"][0]["messaging"][0]
        item["sender"]["id"] = sender
        item["message"] = {"mid": message_id or "m_" + uuid.uuid4().hex, "text": text}
        return self._post(event, **sign)

    def press(self, sender: str, value: str, *, message_id: str | None = None) -> int:
        event = fixture("facebook_quick_reply.json")
        item = event["entry"][0]["messaging"][0]
        item["sender"]["id"] = sender
        item["message"]["mid"] = message_id or "m_" + uuid.uuid4().hex
        item["message"]["quick_reply"]["payload"] = value
        return self._post(event)

    def postback(self, sender: str, value: str) -> int:
        event = copy.deepcopy(fixture("facebook_postback.json"))
        item = event["entry"][0]["messaging"][0]
        item["sender"]["id"] = sender
        item["postback"]["mid"] = "m_" + uuid.uuid4().hex
        item["postback"]["payload"] = value
        return self._post(event)


PLATFORMS = {p.name: p for p in (TelegramPlatform, TwilioPlatform, SlackPlatform, MessengerPlatform)}
