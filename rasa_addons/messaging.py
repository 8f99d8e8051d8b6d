"""The messaging apps: Telegram, WhatsApp (through Twilio), Slack and Facebook Messenger.

Rasa 3.6's connectors, subclassed where they fall short:

- **Switched on by the environment** (:mod:`assistant.channels.config`): the stack appends a
  section per channel whose variables are set to ``var/credentials.yml``; the tokens and secrets
  are read here from the environment, never from a file. A half-configured channel stops Rasa
  at start-up with the missing variables named.
- **The webhook is verified before anything else**: Telegram's secret token header, Twilio's
  ``X-Twilio-Signature`` (computed on the public URL the platform called,
  ``ASSISTANT_PUBLIC_URL`` + path: Rasa sits behind the gateway), Slack's signing secret within
  5 minutes, Messenger's ``X-Hub-Signature-256``. A request that fails is refused (401/403) and
  never runs a turn.
- **Acknowledged at once, answered once**: the platform gets its 200 straight away and the turn
  runs in the background (Slack retries a slow reply, rasa#3882); a retry of a message already
  seen (by ``update_id``, ``MessageSid``, ``event_id``, ``mid``) is dropped: in Redis
  (``SET NX EX``) when ``ASSISTANT_REDIS_URL`` is set, so it holds across Rasa processes, else in
  this process.
- **The widget's limits** (:mod:`assistant.limits`, ``limits:`` and ``texts:`` of
  credentials.yml), its line in front of the turns (:mod:`rasa_addons.admission`), and its
  apology when a turn answers nothing (:class:`rasa_addons.channels.Degrading`).
- **Every message rendered natively** by :mod:`assistant.channels.render` (one function per app,
  within its limits); button answers come back as short references resolved against the
  buttons the bot offered, read from the tracker store (so any Rasa process can resolve them);
  on WhatsApp (and Messenger lists too long for buttons) the customer answers with the number or
  the words of an option.
- **Handoff**: ``get_output_channel()`` returns an output that reaches the conversation's
  sender without a live request, so the console's messages (Rasa's ``execute`` with
  ``output_channel=latest``) arrive in the customer's app, marked as from a person.
- **Account linking** (:mod:`assistant.channels.linking`): ``/start <code>`` or ``link <code>``
  binds the sender to a customer; each later message carries a fresh signed
  ``customer_token``, so the actions verify it as they do the widget's.

Logs name a conversation by a short hash, never its id, a token or a secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any, ClassVar

from aiogram import Bot
from aiogram.bot.api import TelegramAPIServer
from fbmessenger import MessengerClient
from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.facebook import FacebookInput, MessengerBot
from rasa.core.channels.slack import SlackBot, SlackInput
from rasa.core.channels.telegram import TelegramInput, TelegramOutput
from rasa.core.channels.twilio import TwilioInput, TwilioOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.web.async_client import AsyncWebClient
from twilio.request_validator import RequestValidator

from assistant import chat_session
from assistant.channels import addresses, config, dedup, linking, render
from assistant.channels.words import ChannelWords, load_words
from assistant.identity import TOKEN_KEY
from assistant.limits import LimitSettings, MessageLimiter
from rasa_addons.admission import ServerBusy
from rasa_addons.channels import FULL, IN_LINE, Degrading, process_admission, validate_action_results_cheaply

logger = logging.getLogger(__name__)
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)  # it logs every request's body

SLACK_WINDOW = 5 * 60  # seconds a Slack signature's timestamp may be off
GREETING = "/greet"  # what Telegram's bare /start means


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"


# ============================================================================= output


class MessagingOutput(OutputChannel):
    """Every message through :mod:`assistant.channels.render`, counted (a turn that delivered
    nothing gets the apology). Subclasses deliver one rendered item."""

    platform: ClassVar[str] = ""
    words: ChannelWords
    sent: int = 0

    def setup_output(self, words: ChannelWords) -> None:
        self.words = words
        self.sent = 0

    async def deliver(self, recipient_id: str, item: Any) -> None:
        raise NotImplementedError

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        for item in render.RENDERERS[self.platform](message, self.words):
            await self.deliver(recipient_id, item)
            self.sent += 1

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_response(recipient_id, {"text": text, "buttons": buttons})

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_response(recipient_id, {"text": text, "quick_replies": quick_replies})

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"custom": json_message})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"image": image})

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:  # type: ignore[override]
        logger.info("an attachment is not shown on %s", self.platform)

    async def send_elements(self, recipient_id: str, elements: Any, **kwargs: Any) -> None:
        logger.info("elements are not shown on %s", self.platform)


class KestrelTelegramOutput(MessagingOutput, TelegramOutput):
    """Rasa's Telegram output (an aiogram ``Bot``) on a configurable API server, sharing one HTTP
    session per channel, sending HTML parts and inline keyboards of short references."""

    platform = "telegram"

    def __init__(self, channel: TelegramChannel) -> None:
        Bot.__init__(self, channel.access_token, server=channel.server)
        self.channel = channel
        self.setup_output(channel.words)

    @property
    def session(self) -> Any:  # one aiohttp session for the channel, not one per turn
        return self.channel.http_session()

    async def deliver(self, recipient_id: str, item: Any) -> None:
        data = {"chat_id": recipient_id, **item}
        if "reply_markup" in data:
            data["reply_markup"] = json.dumps(data["reply_markup"], separators=(",", ":"))
        data["disable_web_page_preview"] = "true"
        await self.request("sendMessage", data)

    async def answer_button(self, callback_id: str) -> None:
        try:
            await self.request("answerCallbackQuery", {"callback_query_id": callback_id})
        except Exception as exc:
            logger.warning("answerCallbackQuery failed (%s)", _short(exc))


class KestrelTwilioOutput(MessagingOutput, TwilioOutput):
    """Rasa's Twilio output (a twilio ``Client``) on a configurable API base; the client's
    blocking calls run in a worker thread, off the event loop."""

    platform = "twilio"

    def __init__(self, channel: WhatsAppChannel) -> None:
        TwilioOutput.__init__(self, channel.account_sid, channel.auth_token, channel.twilio_number)
        if channel.api_url:
            self.api.base_url = channel.api_url
        self.setup_output(channel.words)

    def sender_for(self, recipient_id: str) -> str:
        number = str(self.twilio_number or "")
        if recipient_id.startswith("whatsapp:") and not number.startswith("whatsapp:"):
            return "whatsapp:" + number
        return number

    async def deliver(self, recipient_id: str, item: Any) -> None:
        to = addresses.twilio_address(recipient_id)  # the conversation id back to the address
        await asyncio.to_thread(self.messages.create, to=to, from_=self.sender_for(to), body=str(item))


class KestrelSlackOutput(MessagingOutput, SlackBot):
    """Rasa's Slack output with blocks, on a configurable API base."""

    platform = "slack"

    def __init__(self, channel: SlackChannel, slack_channel: str | None = None, thread_id: str | None = None):
        SlackBot.__init__(self, channel.slack_token, slack_channel, thread_id)
        self.client = AsyncWebClient(channel.slack_token, base_url=channel.api_url or AsyncWebClient.BASE_URL)
        self.setup_output(channel.words)

    async def deliver(self, recipient_id: str, item: Any) -> None:
        await self._post_message(channel=self.slack_channel or recipient_id, **item)


class KestrelMessengerOutput(MessagingOutput, MessengerBot):
    """Rasa's Messenger output; fbmessenger's blocking client runs in a worker thread."""

    platform = "facebook"

    def __init__(self, channel: MessengerChannel) -> None:
        MessengerBot.__init__(self, channel.client())
        self.setup_output(channel.words)

    async def deliver(self, recipient_id: str, item: Any) -> None:
        reply = await asyncio.to_thread(self.messenger_client.send, item, recipient_id, "RESPONSE")
        if isinstance(reply, dict) and reply.get("error"):
            raise RuntimeError(f"Messenger refused a message: {str(reply['error'])[:200]}")


# ============================================================================= retries


class SeenInRedis:
    """Message ids in Redis (``SET NX EX``): a retry reaching another Rasa process is known there."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.redis: Any = None
        self.fallback = dedup.SeenInProcess()

    async def first(self, channel: str, message_id: str) -> bool:
        if not message_id:
            return True
        try:
            if self.redis is None:
                from redis.asyncio import Redis

                self.redis = Redis.from_url(self.url)
            stored = await self.redis.set(dedup.key(channel, message_id), "1", nx=True, ex=dedup.SEEN_TTL)
            return bool(stored)
        except Exception as exc:  # Redis down: this process still answers a retry once
            logger.warning("message ids kept in this process only (%s)", _short(exc))
            return self.fallback.first(channel, message_id)


class SeenHere:
    def __init__(self) -> None:
        self.store = dedup.SeenInProcess()

    async def first(self, channel: str, message_id: str) -> bool:
        return self.store.first(channel, message_id)


# ============================================================================= input


class MessagingInput(Degrading):
    """What the four channels share: limits, retries, linking, button answers, the turn."""

    typed_options: ClassVar[bool] = False  # numbered options answered by number or words
    words: ChannelWords
    limiter: MessageLimiter
    identity_secret: str
    public_url: str

    def configure_messaging(self, credentials: dict[str, Any] | None, environ: Mapping[str, str]) -> None:
        credentials = dict(credentials or {})
        spec = config.BY_NAME[self.name()]  # type: ignore[attr-defined]
        if not config.check(spec, environ):
            raise config.ChannelConfigError(f"the {spec.name} channel needs {', '.join(spec.required)}")
        self.limiter = MessageLimiter(LimitSettings.from_credentials(credentials.pop("limits", None)))
        self.configure_degrading(credentials)  # texts, person_intents
        if credentials:
            raise ValueError(f"unknown settings for the {spec.name} channel: {sorted(credentials)}")
        self.words = load_words()
        self.identity_secret = environ.get("ASSISTANT_IDENTITY_SECRET", "")
        if not self.identity_secret:
            raise config.ChannelConfigError(
                "ASSISTANT_IDENTITY_SECRET is not set: linked accounts cannot work"
            )
        self.public_url = (environ.get("ASSISTANT_PUBLIC_URL") or "http://localhost:8080").rstrip("/")
        self.db_url = environ.get("ASSISTANT_DB_URL") or "sqlite:///var/assistant.db"
        redis_url = environ.get("ASSISTANT_REDIS_URL", "")
        self.seen: SeenInRedis | SeenHere = SeenInRedis(redis_url) if redis_url else SeenHere()
        self._links: linking.LinkStore | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last: dict[str, asyncio.Task[Any]] = {}  # each sender's latest message, in turn
        self.admission = process_admission()
        validate_action_results_cheaply()

    # ------------------------------------------------------------------ helpers

    def links(self) -> linking.LinkStore:
        if self._links is None:
            self._links = linking.LinkStore(self.db_url)
        return self._links

    def spawn(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)  # a strong reference until it is done
        task.add_done_callback(self._tasks.discard)
        return task

    def linkable(self, sender: str) -> bool:
        """Whether this sender may link and use an account (the platform vouches for who it is)."""
        return True

    async def events(self, sender: str) -> list[dict[str, Any]]:
        tracker = await self._tracker(sender)
        return [e.as_dict() for e in tracker.events] if tracker is not None else []

    def webhook_blueprint(self, platform: str) -> Blueprint:
        """The channel's blueprint with what every platform's has: the app kept for the tracker
        store, and ``GET /`` answering ok (as Rasa's connectors do)."""
        blueprint = Blueprint(f"kestrel_{platform}", __name__)

        @blueprint.listener("after_server_start")
        async def keep(app: Any, _loop: Any) -> None:
            self.app = app

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        return blueprint

    async def say(self, output: MessagingOutput, sender: str, text: str) -> None:
        try:
            await output.send_text_message(sender, text)
        except Exception as exc:
            logger.error("a reply could not be sent to %s (%s)", chat_session.log_ref(sender), _short(exc))

    # ------------------------------------------------------------------ one message

    async def accept(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        output: MessagingOutput,
        *,
        sender: str,
        message_id: str,
        text: str | None = None,
        ref: str | None = None,
        private: bool = True,
    ) -> bool:
        """A verified message: False when it is a retry already taken, else True with its turn
        started in the background (the platform is answered at once). A sender's messages are
        taken one after the other, in the order they came (the gateway sends every webhook to
        one process while it is up). ``private``: only the customer reads the chat (not a Slack
        channel); elsewhere no account is linked or used."""
        if not await self.seen.first(self.name(), message_id):  # type: ignore[attr-defined]
            logger.info("a retry of a message already taken in %s: dropped", chat_session.log_ref(sender))
            return False
        before = self._last.get(sender)
        work = self.take(on_new_message, output, sender=sender, text=text, ref=ref, private=private)

        async def in_turn() -> None:
            if before is not None:
                await asyncio.wait([before])  # its failure is its own: logged by take()
            await work

        task = self._last[sender] = self.spawn(in_turn())

        def forget(done: asyncio.Task[Any]) -> None:
            if self._last.get(sender) is done:
                del self._last[sender]

        task.add_done_callback(forget)
        return True

    async def take(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        output: MessagingOutput,
        *,
        sender: str,
        text: str | None,
        ref: str | None,
        private: bool = True,
    ) -> None:
        try:
            await self._take(on_new_message, output, sender=sender, text=text, ref=ref, private=private)
        except Exception:
            logger.exception("a message could not be taken in %s", chat_session.log_ref(sender))

    async def _take(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        output: MessagingOutput,
        *,
        sender: str,
        text: str | None,
        ref: str | None,
        private: bool = True,
    ) -> None:
        channel = self.name()  # type: ignore[attr-defined]
        private = private and self.linkable(sender)
        if text is None and ref is None:
            await self.say(output, sender, self.words.text("unsupported"))
            return
        metadata: dict[str, Any] = {"channel": channel}
        refusal = self.limiter.check(sender, "", text if text is not None else "", metadata)
        if refusal is not None:
            logger.warning("message refused before NLU (%s), %s", refusal, chat_session.log_ref(sender))
            await self.say(output, sender, self.texts[refusal])
            return
        if ref is not None:
            payload = render.resolve_ref(ref, await self.events(sender))
            if payload is None:
                logger.info("a button no longer offered in %s: ignored", chat_session.log_ref(sender))
                return
            text = payload
        assert text is not None
        asked = linking.command(text, dict(self.words.commands)) if ref is None else None
        if asked is not None:
            if not private:
                await self.say(output, sender, self.words.text("private_only"))
                return
            await self.link(output, sender, *asked)
            return
        if ref is None and self.typed_options:
            payload = render.resolve_typed(text, await self.events(sender))
            text = payload or text
        link = await asyncio.to_thread(self.links().linked, channel, sender) if private else None
        if link is not None:
            metadata[TOKEN_KEY] = linking.chat_token(self.identity_secret, link)
        await self.run_turn(
            on_new_message, UserMessage(text, output, sender, input_channel=channel, metadata=metadata)
        )

    async def link(self, output: MessagingOutput, sender: str, what: str, code: str) -> None:
        channel = self.name()  # type: ignore[attr-defined]
        store = self.links()
        if what == "unlink":
            gone = await asyncio.to_thread(store.unbind, channel, sender)
            logger.info("unlink in %s: %s", chat_session.log_ref(sender), "done" if gone else "not linked")
            await self.say(output, sender, self.words.text("unlinked" if gone else "not_linked"))
            return
        if await asyncio.to_thread(store.linked, channel, sender) is not None:
            # never replaced silently: a code someone else sent could move this chat to their
            # account; the customer unlinks first (the code stays unused)
            logger.warning("a link code sent in a chat linked already, %s", chat_session.log_ref(sender))
            await self.say(output, sender, self.words.text("already_linked"))
            return
        link = await asyncio.to_thread(store.take_code, code) if code else None
        if link is None:
            logger.warning("a link code refused in %s", chat_session.log_ref(sender))
            await self.say(output, sender, self.words.text("link_refused"))
            return
        await asyncio.to_thread(store.bind, channel, sender, link)
        logger.info("account linked in %s", chat_session.log_ref(sender))
        name = str(link.claims.get("name") or "").strip()
        await self.say(output, sender, self.words.text("linked", name=f", {name}" if name else ""))

    async def run_turn(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]], message: UserMessage
    ) -> None:
        output = message.output_channel
        assert isinstance(output, MessagingOutput)
        sender = str(message.sender_id)
        notice = self.get_output_channel()  # type: ignore[attr-defined]

        async def tell_place(position: int, seconds: int) -> None:
            await self.say(notice, sender, self.texts[IN_LINE].format(position=position, seconds=seconds))

        try:
            async with self.admission.turn(tell_place):
                await on_new_message(message)
        except ServerBusy:
            logger.error("line full: message refused in %s", chat_session.log_ref(sender))
            await self.say(output, sender, self.texts[FULL])
            return
        except Exception:
            logger.exception("the turn failed in %s", chat_session.log_ref(sender))
        if output.sent == 0:
            try:
                await self.degrade(sender, message.text or "", output)
            except Exception as exc:
                logger.error("no apology could be sent to %s (%s)", chat_session.log_ref(sender), _short(exc))


def _refused(status: int, why: str) -> HTTPResponse:
    logger.warning("webhook refused (%s): %s", status, why)
    return response.text(HTTPStatus(status).phrase, status=status)


# ----------------------------------------------------------------------------- Telegram


def private_chat(chat: Any, sender: Any) -> int | str | None:
    """The chat id of a one-to-one chat with the person who wrote (Telegram's private chats have
    the user's own id); None for groups, supergroups and channels."""
    if not isinstance(chat, dict) or chat.get("type") != "private" or chat.get("id") is None:
        return None
    if isinstance(sender, dict) and sender.get("id") is not None and sender.get("id") != chat.get("id"):
        return None
    return chat["id"]


class TelegramChannel(MessagingInput, TelegramInput):
    """``/webhooks/telegram/webhook``: updates from Telegram, which sends the secret given to
    ``setWebhook`` (``TELEGRAM_WEBHOOK_SECRET``) in ``X-Telegram-Bot-Api-Secret-Token``."""

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TelegramChannel:
        environ = os.environ
        channel = cls(
            environ.get("TELEGRAM_BOT_TOKEN", ""),
            environ.get("TELEGRAM_BOT_NAME", ""),
            None,
            debug_mode=False,
        )
        channel.configure_messaging(credentials, environ)
        channel.secret = environ.get("TELEGRAM_WEBHOOK_SECRET", "")
        base = environ.get("TELEGRAM_API_URL") or "https://api.telegram.org"
        channel.server = TelegramAPIServer.from_base(base)
        channel._session = None
        return channel

    secret: str
    server: TelegramAPIServer
    _session: Any

    def http_session(self) -> Any:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        return self._session

    def get_output_channel(self) -> KestrelTelegramOutput:  # never sets the webhook (Rasa's did, blocking)
        return KestrelTelegramOutput(self)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = self.webhook_blueprint("telegram")

        @webhook.listener("before_server_stop")
        async def close(_app: Any, _loop: Any) -> None:
            if self._session is not None:
                await self._session.close()

        @webhook.route("/webhook", methods=["POST"])
        async def message(request: Request) -> HTTPResponse:
            given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
            if not hmac.compare_digest(given.encode(), self.secret.encode()):
                return _refused(401, "telegram secret token missing or wrong")
            try:
                update = json.loads(request.body or b"{}")
            except ValueError:
                return _refused(400, "telegram update is not JSON")
            if not isinstance(update, dict):
                return _refused(400, "telegram update is not an object")
            output = self.get_output_channel()
            update_id = str(update.get("update_id", ""))
            callback = update.get("callback_query")
            if isinstance(callback, dict):
                chat = private_chat((callback.get("message") or {}).get("chat"), callback.get("from"))
                if chat is None:  # a group's buttons: no one customer pressed them
                    return response.json({"ok": True})
                sender = str(chat)
                if await self.accept(
                    on_new_message,
                    output,
                    sender=sender,
                    message_id=update_id,
                    ref=str(callback.get("data") or ""),
                ):
                    self.spawn(output.answer_button(str(callback.get("id") or "")))
                return response.json({"ok": True})
            msg = update.get("message")
            if not isinstance(msg, dict) or (msg.get("from") or {}).get("is_bot"):
                return response.json({"ok": True})  # edits, channel posts, bots: nothing to answer
            chat = private_chat(msg.get("chat"), msg.get("from"))
            if chat is None:  # groups and channels: one chat, many people, never one customer
                return response.json({"ok": True})
            text = msg.get("text")
            if isinstance(text, str) and text.strip().casefold() in (
                "/start",
                f"/start@{self.verify}".casefold(),
            ):
                text = GREETING
            await self.accept(
                on_new_message,
                output,
                sender=str(chat),
                message_id=update_id,
                text=text if isinstance(text, str) else None,
            )
            return response.json({"ok": True})

        return webhook


# ----------------------------------------------------------------------------- WhatsApp (Twilio)


class WhatsAppChannel(MessagingInput, TwilioInput):
    """``/webhooks/twilio/webhook``: WhatsApp (or SMS) messages from Twilio, signed with the
    account's auth token over the public URL it called."""

    typed_options = True

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WhatsAppChannel:
        environ = os.environ
        channel = cls(
            environ.get("TWILIO_ACCOUNT_SID", ""),
            environ.get("TWILIO_AUTH_TOKEN", ""),
            environ.get("TWILIO_WHATSAPP_NUMBER", ""),
            debug_mode=False,
        )
        channel.configure_messaging(credentials, environ)
        channel.api_url = (environ.get("TWILIO_API_URL") or "").rstrip("/")
        channel.validator = RequestValidator(channel.auth_token)
        return channel

    api_url: str
    validator: RequestValidator

    def get_output_channel(self) -> KestrelTwilioOutput:
        return KestrelTwilioOutput(self)

    def linkable(self, sender: str) -> bool:
        # WhatsApp vouches for its sender; an SMS sender's number can be forged
        return sender.startswith("whatsapp-")

    def public_url_of(self, request: Request) -> str:
        query = f"?{request.query_string}" if request.query_string else ""
        return f"{self.public_url}{request.path}{query}"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = self.webhook_blueprint("twilio")

        @webhook.route("/webhook", methods=["POST"])
        async def message(request: Request) -> HTTPResponse:
            form = {key: values[0] for key, values in (request.form or {}).items() if values}
            signature = request.headers.get("X-Twilio-Signature", "")
            if not signature or not self.validator.validate(self.public_url_of(request), form, signature):
                return _refused(403, "twilio signature missing or wrong")
            sender = addresses.twilio_conversation(form.get("From", ""))
            if not sender:
                return _refused(400, "twilio message without a sender")
            body = form.get("Body", "")
            # no text: a picture, a voice note, a location; "¡": an @ some SMS carriers corrupt
            text = body.replace("¡", "@") if body.strip() else None
            await self.accept(
                on_new_message,
                self.get_output_channel(),
                sender=sender,
                message_id=form.get("MessageSid", ""),
                text=text,
            )
            return response.text(
                '<?xml version="1.0" encoding="UTF-8"?><Response></Response>', content_type="text/xml"
            )

        return webhook


# ----------------------------------------------------------------------------- Slack


class SlackChannel(MessagingInput, SlackInput):
    """``/webhooks/slack/webhook``: the Events API (direct messages, mentions) and interactive
    components (buttons, selects), signed with the app's signing secret."""

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> SlackChannel:
        environ = os.environ
        channel = cls(
            environ.get("SLACK_BOT_TOKEN", ""),
            slack_signing_secret=environ.get("SLACK_SIGNING_SECRET", "") or "-",
        )
        channel.configure_messaging(credentials, environ)
        channel.api_url = environ.get("SLACK_API_URL") or ""
        if channel.api_url and not channel.api_url.endswith("/"):
            channel.api_url += "/"
        return channel

    api_url: str

    def get_output_channel(
        self, channel: str | None = None, thread_id: str | None = None
    ) -> KestrelSlackOutput:
        return KestrelSlackOutput(self, channel, thread_id)

    def authentic(self, request: Request, now: float | None = None) -> bool:
        stamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not stamp.isdigit() or not signature:
            return False
        if abs((now or time.time()) - int(stamp)) > SLACK_WINDOW:
            return False  # an old request replayed
        base = f"v0:{stamp}:".encode() + (request.body or b"")
        digest = hmac.new(self.slack_signing_secret.encode(), base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(f"v0={digest}", signature)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = self.webhook_blueprint("slack")
        no_retry = {"X-Slack-No-Retry": "1"}

        @webhook.route("/webhook", methods=["POST"])
        async def message(request: Request) -> HTTPResponse:
            if not self.authentic(request):
                return _refused(401, "slack signature missing, wrong or too old")
            kind = (request.headers.get("content-type") or "").split(";")[0].strip()
            if kind == "application/x-www-form-urlencoded":
                return await interactive(request)
            try:
                body = json.loads(request.body or b"{}")
            except ValueError:
                return _refused(400, "slack event is not JSON")
            if not isinstance(body, dict):
                return _refused(400, "slack event is not an object")
            if body.get("type") == "url_verification":
                return response.json({"challenge": str(body.get("challenge", ""))})
            event = body.get("event") or {}
            if not isinstance(event, dict) or body.get("type") != "event_callback":
                return response.text("", headers=no_retry)
            direct = event.get("type") == "message" and event.get("channel_type") == "im"
            mention = event.get("type") == "app_mention"
            human = not event.get("bot_id") and not event.get("subtype") and event.get("user")
            if not ((direct or mention) and human and isinstance(event.get("text"), str)):
                return response.text("", headers=no_retry)
            users = [a.get("user_id") for a in body.get("authorizations") or [] if isinstance(a, dict)]
            text = self._sanitize_user_message(event["text"], [u for u in users if u])
            await self.accept(
                on_new_message,
                self.get_output_channel(event.get("channel")),
                sender=str(event["user"]),
                message_id=str(body.get("event_id", "")),
                text=text,
                private=direct,  # a mention in a channel is read by everyone in it
            )
            return response.text("", headers=no_retry)

        async def interactive(request: Request) -> HTTPResponse:
            try:
                payload = json.loads((request.form or {}).get("payload", "") or "{}")
            except ValueError:
                return _refused(400, "slack interaction is not JSON")
            actions = payload.get("actions") if isinstance(payload, dict) else None
            user = ((payload or {}).get("user") or {}).get("id") if isinstance(payload, dict) else None
            if not actions or not user or not isinstance(actions[0], dict):
                return response.text("")
            action = actions[0]
            ref = action.get("value") or (action.get("selected_option") or {}).get("value")
            if not ref:
                return response.text("")
            channel = (payload.get("channel") or {}).get("id")
            await self.accept(
                on_new_message,
                self.get_output_channel(channel),
                sender=str(user),
                message_id=f"{action.get('action_ts', '')}:{user}:{action.get('action_id', '')}",
                ref=str(ref),
                private=str(channel or "").startswith("D"),  # a direct message's channel
            )
            return response.text("")

        return webhook


# ----------------------------------------------------------------------------- Messenger


class MessengerChannel(MessagingInput, FacebookInput):
    """``/webhooks/facebook/webhook``: Messenger's subscription check (GET, the verify token)
    and its events (POST, ``X-Hub-Signature-256``: HMAC-SHA256 of the body with the app
    secret; Rasa 3.6 checked only the SHA-1 header)."""

    typed_options = True  # lists too long for buttons are numbered

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> MessengerChannel:
        environ = os.environ
        channel = cls(
            environ.get("FACEBOOK_VERIFY_TOKEN", ""),
            environ.get("FACEBOOK_APP_SECRET", ""),
            environ.get("FACEBOOK_PAGE_ACCESS_TOKEN", ""),
        )
        channel.configure_messaging(credentials, environ)
        channel.api_url = (environ.get("FACEBOOK_API_URL") or "").rstrip("/")
        channel._client = None
        return channel

    api_url: str
    _client: MessengerClient | None

    def client(self) -> MessengerClient:
        if self._client is None:
            client = MessengerClient(self.fb_access_token, app_secret=self.fb_secret)
            if self.api_url:
                client.graph_url = self.api_url
            self._client = client
        return self._client

    def get_output_channel(self) -> KestrelMessengerOutput:
        return KestrelMessengerOutput(self)

    def signed(self, request: Request) -> bool:
        given = request.headers.get("X-Hub-Signature-256", "")
        if not given.startswith("sha256="):
            return False
        digest = hmac.new(self.fb_secret.encode(), request.body or b"", hashlib.sha256).hexdigest()
        return hmac.compare_digest(f"sha256={digest}", given)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = self.webhook_blueprint("facebook")

        @webhook.route("/webhook", methods=["GET"])
        async def verification(request: Request) -> HTTPResponse:
            given = request.args.get("hub.verify_token", "")
            if request.args.get("hub.mode") != "subscribe" or not hmac.compare_digest(
                given.encode(), self.fb_verify.encode()
            ):
                return _refused(403, "messenger verify token wrong")
            return response.text(request.args.get("hub.challenge", ""))

        @webhook.route("/webhook", methods=["POST"])
        async def events(request: Request) -> HTTPResponse:
            if not self.signed(request):
                return _refused(403, "messenger signature (X-Hub-Signature-256) missing or wrong")
            try:
                body = json.loads(request.body or b"{}")
            except ValueError:
                return _refused(400, "messenger event is not JSON")
            if not isinstance(body, dict) or body.get("object") != "page":
                return response.text("EVENT_RECEIVED")
            for entry in body.get("entry") or []:
                for event in (entry or {}).get("messaging") or []:
                    if isinstance(event, dict):
                        await one(event)
            return response.text("EVENT_RECEIVED")

        async def one(event: dict[str, Any]) -> None:
            sender = str((event.get("sender") or {}).get("id") or "")
            if not sender:
                return
            output = self.get_output_channel()
            message, postback = event.get("message"), event.get("postback")
            if isinstance(message, dict):
                if message.get("is_echo"):
                    return  # the page's own message, sent back to it
                mid = str(message.get("mid") or "")
                quick = (message.get("quick_reply") or {}).get("payload")
                if quick:
                    await self.accept(on_new_message, output, sender=sender, message_id=mid, ref=str(quick))
                    return
                text = message.get("text")
                await self.accept(
                    on_new_message,
                    output,
                    sender=sender,
                    message_id=mid,
                    text=text if isinstance(text, str) and text.strip() else None,
                )
            elif isinstance(postback, dict) and postback.get("payload"):
                mid = str(postback.get("mid") or f"postback:{event.get('timestamp', '')}")
                await self.accept(
                    on_new_message, output, sender=sender, message_id=mid, ref=str(postback["payload"])
                )

        return webhook
