"""Rasa's socket.io channel, made safe for the public internet.

- **A secret per conversation** (:mod:`assistant.chat_session`): ``session_request`` is answered
  with ``session_credential`` ``{session_id, credential}`` and then Rasa's usual
  ``session_confirm``. Joining a conversation again needs its credential; without it (or with
  a credential issued for another signed-in customer) the client gets a new conversation. A
  socket writes only into the conversation it joined: the ``session_id`` a message names is
  not trusted.
- **Limits at the door** (:mod:`assistant.limits`): a message that is far too large, carries
  oversized metadata, or comes faster than a person types (per conversation, per client
  address) is answered politely and never reaches NLU.
- **Origins**: only the public origin and the embedding origins in the allowlist may connect
  (``ASSISTANT_PUBLIC_URL``, ``ASSISTANT_EMBED_ORIGINS``).
- **In line, not timed out** (:mod:`rasa_addons.admission`): a few turns run at once; past that,
  messages wait their turn and a customer whose wait is noticeable is told their place in line.
- **Several Rasa processes**: with ``ASSISTANT_REDIS_URL`` set, a reply (or a person's message
  from the console) reaches the customer's socket whichever process it was made in.
- **Quiet logs**: a websocket that closes is not an error (Sanic logged "Invalid response type
  None" for each one).

:class:`SteadyRestInput` is Rasa's REST channel whose turns run to the end, recorded and
answered, even when the client stops waiting (Rasa's own cancels the turn with the request).

credentials.yml names it ``rasa_addons.channels.GuardedSocketIOInput`` with the usual socket.io
settings, plus ``limits:`` and the ``texts:`` customers may see. Secrets come from the
environment (``ASSISTANT_SESSION_SECRET``, ``ASSISTANT_IDENTITY_SECRET``), never from the file.
Conversation ids and credentials are never logged; a short hash stands in for the id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from socketio import AsyncRedisManager, AsyncServer

from assistant import chat_session, handoff_spool
from assistant.identity import TOKEN_KEY, IdentityError, verify
from assistant.limits import BUSY, TOO_LARGE, LimitSettings, MessageLimiter
from assistant.settings import parse_origins
from rasa_addons.admission import Admission, AdmissionSettings, ServerBusy

logger = logging.getLogger(__name__)

UNAVAILABLE, UNAVAILABLE_PERSON = "unavailable", "unavailable_person"
IN_LINE, FULL = "in_line", "full"
DEFAULT_TEXTS = {
    IN_LINE: "Lots of customers are talking to me right now: you're number {position} in line."
    " I'll answer in about {seconds} seconds.",
    FULL: "Sorry, I'm too busy to take your message right now. Please send it again in a minute.",
    BUSY: "You're sending messages faster than I can read them. Please wait a moment and try again.",
    TOO_LARGE: "That message is too long for me to read. Could you say it in a few sentences?",
    UNAVAILABLE: "Sorry, something went wrong on my side. Please try again in a moment"
    " (reference {reference}).",
    UNAVAILABLE_PERSON: "Sorry, something went wrong on my side. I've noted that you'd like a person"
    " (reference {reference}).",
}
DEFAULT_ACTION_TIMEOUT = 10  # seconds Rasa waits for the action server (Rasa's own default: 300)
PERSON_INTENTS = ("request_human",)


class CountingOutput(SocketIOOutput):
    """Rasa's socket.io output, counting what it delivered in this turn."""

    def __init__(self, sio: AsyncServer, bot_message_evt: str) -> None:
        super().__init__(sio, bot_message_evt)
        self.sent = 0

    async def _send_message(self, socket_id: str, response: Any) -> None:
        self.sent += 1
        await super()._send_message(socket_id, response)


_admission: Admission | None = None


def process_admission(settings: AdmissionSettings | None = None) -> Admission:
    """The one line of this Rasa process, shared by its channels (the first settings given win)."""
    global _admission
    if _admission is None:
        _admission = Admission(settings)
    return _admission


def quiet_websocket_close(sio: AsyncServer) -> None:
    """engine.io's Sanic route returns nothing once a websocket closes, and Sanic 21.12 logs
    "Invalid response type None" for it unless the handler is marked as a websocket one."""
    original = sio.eio.handle_request

    async def handle_request(*args: Any, **kwargs: Any) -> Any:
        return await original(*args, **kwargs)

    handle_request.is_websocket = True  # type: ignore[attr-defined]
    sio.eio.handle_request = handle_request  # type: ignore[method-assign]


_validated_once = False


def validate_action_results_cheaply() -> None:
    """Rasa 3.6 checks every action server response with ``jsonschema.validate``, which first
    checks the schema itself against its meta-schema, every time: about 40% of a Rasa turn's CPU
    under load (profiled with the load benchmark). Check the schema once, keep the validator,
    and validate each response with it: the same check, the same errors."""
    global _validated_once
    if _validated_once:
        return
    from jsonschema import ValidationError
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    kind = validator_for(schema)
    kind.check_schema(schema)
    validator = kind(schema)
    original = RemoteAction._validate_action_result

    def validate(self: RemoteAction, result: dict[str, Any]) -> bool:
        try:
            validator.validate(result)
        except ValidationError:
            return bool(original(self, result))  # Rasa's own call, for its message
        return True

    RemoteAction._validate_action_result = validate  # type: ignore[method-assign]
    _validated_once = True


CLOSED_GRACE = 30.0  # seconds a closed socket's conversation is remembered, for its last message


class PatientServer(AsyncServer):
    """python-socketio drops an event that arrives together with its socket's close: a customer
    who sends a message and closes the tab at once lost it. Here such an event (one of
    ``late_events``) still reaches its handler, for a socket closed in the last CLOSED_GRACE
    seconds (``recently_closed``: engine.io sid -> socket.io sid, kept by the channel)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.late_events: set[str] = set()
        self.recently_closed: dict[str, str] = {}

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: Any, data: Any) -> Any:
        ns = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, ns)
        closed = sid is None or not self.manager.is_connected(sid, ns)
        late = self.recently_closed.get(eio_sid) if closed else None
        if late is not None and isinstance(data, list) and data and data[0] in self.late_events:
            self.start_background_task(self._trigger_event, data[0], ns, late, *data[1:])
            return None
        return await super()._handle_event(eio_sid, namespace, id, data)


_last_frame_kept = False


def deliver_the_last_frame() -> None:
    """Sanic 21.12's websocket ``recv`` loses a message that arrives together with the close: it
    waits on the message and on the close at once and, when both are there, may take the close
    and drop the message, and once closed it reads nothing more, even a message already
    assembled. A customer who sent a message and closed the tab at once lost it (seen under
    load in ``make bench-faults``). Here a received message always comes first; then, as before,
    the close ends the loop."""
    global _last_frame_kept
    if _last_frame_kept:
        return
    from sanic.exceptions import ServerError, WebsocketClosed
    from sanic.server.websockets import impl

    async def recv(self: Any, timeout: float | None = None) -> Any:
        # Sanic's own recv, except that a message already received wins over the close: Sanic
        # raced the two (asyncio.wait on both, then took either) and dropped the message.
        if self.recv_lock.locked():
            raise ServerError("cannot call recv while another task is already waiting for the next message")
        await self.recv_lock.acquire()
        try:
            if self.assembler.message_complete.is_set():
                return await self.assembler.get(0)
            if self.connection.state is impl.CLOSED:
                raise WebsocketClosed("Cannot receive from websocket interface after it is closed.")
            self.recv_cancel = asyncio.Future()
            getter = asyncio.ensure_future(self.assembler.get(timeout))
            done, _ = await asyncio.wait((self.recv_cancel, getter), return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                return getter.result()
            getter.cancel()
            raise asyncio.CancelledError()
        finally:
            if self.recv_cancel is not None and not self.recv_cancel.done():
                self.recv_cancel.cancel()
            self.recv_cancel = None
            self.recv_lock.release()

    impl.WebsocketImplProtocol.recv = recv
    _last_frame_kept = True


def _is_ping(task: asyncio.Task[Any]) -> bool:
    return getattr(task.get_coro(), "__qualname__", "").endswith("schedule_ping.<locals>.send_ping")


def set_action_timeout(seconds: int) -> None:
    """Rasa 3.6 reads its action-server time-out from a module constant (5 minutes): a hung
    action server would hold the customer that long. Cut it to ``seconds``."""
    import rasa.core.actions.action as rasa_action
    import rasa.utils.endpoints as rasa_endpoints

    rasa_action.DEFAULT_REQUEST_TIMEOUT = seconds
    rasa_endpoints.DEFAULT_REQUEST_TIMEOUT = seconds


LOOPBACK = ("127.0.0.1", "::1")


def allowed_origins(environ: dict[str, str] | None = None) -> list[str]:
    """The public origin and the embedding allowlist (:func:`assistant.settings.parse_origins`)."""
    environ = dict(os.environ if environ is None else environ)
    public = (environ.get("ASSISTANT_PUBLIC_URL") or "").strip()
    return list(parse_origins(" ".join([public, environ.get("ASSISTANT_EMBED_ORIGINS") or ""])))


def client_address(environ: dict[str, Any]) -> str:
    """The customer's address: the gateway's ``X-Forwarded-For`` when the peer is the gateway on
    this machine (Rasa listens on an internal address only), else the peer itself."""
    peer = str(environ.get("REMOTE_ADDR") or "")
    forwarded = str(environ.get("HTTP_X_FORWARDED_FOR") or "")
    if forwarded and peer in LOOPBACK:
        return forwarded.split(",")[-1].strip()[:64]
    return peer


class Degrading:
    """What a channel does with a turn that answered nothing (the action server down or hung,
    the tracker store failing): never leave the customer talking to silence."""

    texts: dict[str, str]
    spool: Path | None
    person_intents: tuple[str, ...]
    app: Any  # Rasa's Sanic app, for the tracker store (set when the server starts)

    def configure_degrading(self, credentials: dict[str, Any]) -> None:
        """Take ``texts`` and ``person_intents`` out of the channel's credentials; the spool
        from ``ASSISTANT_HANDOFF_SPOOL``."""
        self.texts = {**DEFAULT_TEXTS, **(credentials.pop("texts", None) or {})}
        self.person_intents = tuple(credentials.pop("person_intents", PERSON_INTENTS))
        spool = os.environ.get("ASSISTANT_HANDOFF_SPOOL")
        self.spool = Path(spool) if spool else None
        self.app = None

    async def _tracker(self, sender: str) -> Any:
        agent = getattr(getattr(self.app, "ctx", None), "agent", None)
        if agent is None or agent.tracker_store is None:
            return None
        try:
            return await agent.tracker_store.retrieve(sender)
        except Exception:
            logger.exception("the tracker of %s could not be read", chat_session.log_ref(sender))
            return None

    async def degrade(self, sender: str, text: str, output: OutputChannel) -> None:
        """A turn that answered nothing: never leave the customer talking to silence. A paused
        conversation (a person has it) is quiet on purpose; otherwise the customer gets an
        apology with a reference, and a request for a person is kept until it is recorded."""
        tracker = await self._tracker(sender)
        if tracker is not None and tracker.is_paused():
            return
        intent = ((tracker.latest_message.intent or {}).get("name") if tracker is not None else None) or ""
        wants_person = intent in self.person_intents
        reference = chat_session.log_ref(sender)
        if wants_person and self.spool is not None:
            events = (
                [e.as_dict() for e in list(tracker.events)[-handoff_spool.KEEP_EVENTS :]]
                if tracker is not None
                else []
            )
            record = {
                "conversation_id": sender,
                "text": text[:1000],
                "reference": reference,
                "events": events,
            }
            try:
                handoff_spool.append(self.spool, record)
            except OSError:
                logger.exception("the request for a person in %s could not be kept", reference)
                wants_person = False
        kept = ", request for a person kept" if wants_person else ""
        logger.error("no answer in %s (intent %s): apology sent%s", reference, intent or "-", kept)
        key = UNAVAILABLE_PERSON if wants_person else UNAVAILABLE
        await output.send_text_message(sender, self.texts[key].format(reference=reference))


class GuardedSocketIOInput(Degrading, SocketIOInput):
    limiter: MessageLimiter
    texts: dict[str, str]
    session_secret: str
    identity_secret: str
    origins: list[str]

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GuardedSocketIOInput:
        credentials = dict(credentials or {})
        limits = LimitSettings.from_credentials(credentials.pop("limits", None))
        degrading = Degrading()
        degrading.configure_degrading(credentials)
        max_age = int(credentials.pop("credential_max_age", chat_session.DEFAULT_MAX_AGE))
        timeout = int(credentials.pop("action_timeout_seconds", DEFAULT_ACTION_TIMEOUT))
        admission = process_admission(AdmissionSettings.from_mapping(credentials.pop("admission", None)))
        channel = super().from_credentials(credentials)
        assert isinstance(channel, GuardedSocketIOInput)
        channel.configure(
            limiter=MessageLimiter(limits),
            texts=degrading.texts,
            session_secret=os.environ.get("ASSISTANT_SESSION_SECRET", ""),
            identity_secret=os.environ.get("ASSISTANT_IDENTITY_SECRET", ""),
            origins=allowed_origins(),
            max_age=max_age,
            spool=degrading.spool,
            person_intents=degrading.person_intents,
            admission=admission,
            redis_url=os.environ.get("ASSISTANT_REDIS_URL", ""),
        )
        if timeout < 1:
            raise ValueError("action_timeout_seconds must be at least 1")
        set_action_timeout(timeout)
        validate_action_results_cheaply()
        deliver_the_last_frame()
        return channel

    def configure(
        self,
        *,
        limiter: MessageLimiter,
        texts: dict[str, str],
        session_secret: str,
        identity_secret: str,
        origins: list[str],
        max_age: int = chat_session.DEFAULT_MAX_AGE,
        spool: Path | None = None,
        person_intents: tuple[str, ...] = PERSON_INTENTS,
        admission: Admission | None = None,
        redis_url: str = "",
    ) -> None:
        if not session_secret:
            raise ValueError("ASSISTANT_SESSION_SECRET is not set: the chat channel cannot issue credentials")
        self.limiter, self.texts = limiter, texts
        self.session_secret, self.identity_secret = session_secret, identity_secret
        self.origins, self.max_age = origins, max_age
        self.spool, self.person_intents = spool, person_intents
        self.admission = admission or Admission()
        self.redis_url = redis_url
        self.app = None  # set when the server starts
        self.session_persistence = True  # a conversation outlives its socket: reconnects rejoin it

    # ------------------------------------------------------------------ sessions

    def customer_of(self, data: dict[str, Any]) -> str | None:
        """Who the host page says is signed in (a signature check only: expiry is for the
        actions to judge, message by message; here it decides which conversation to open)."""
        token = data.get(TOKEN_KEY)
        if not token or not self.identity_secret:
            return None
        try:
            return verify(self.identity_secret, token, check_expiry=False).customer_id
        except IdentityError:
            return None

    def grant(self, data: dict[str, Any]) -> tuple[chat_session.Issued, str]:
        """The conversation this ``session_request`` may join: the one it names when its
        credential is good and issued for the same customer, else a new one. Second value: why
        a new one was given ('' when the named one was granted)."""
        customer = self.customer_of(data)
        named, credential = data.get("session_id"), data.get("credential")
        if isinstance(named, str) and named:
            try:
                tag = chat_session.verify(self.session_secret, named, credential, max_age=self.max_age)
            except chat_session.CredentialError as exc:
                reason = str(exc)
            else:
                if tag == chat_session.subject_tag(customer):
                    return chat_session.Issued(named, str(credential)), ""
                reason = "signed in or out since"
        else:
            reason = ""
        return chat_session.new_session(self.session_secret, customer), reason or "new"

    # ------------------------------------------------------------------ blueprint

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        # Origins the browser may connect from; an empty allowlist means same origin only.
        # With Redis, an emit to a conversation's room reaches its socket in any Rasa process.
        manager = AsyncRedisManager(self.redis_url, channel="kestrel-socketio") if self.redis_url else None
        sio = PatientServer(
            async_mode="sanic", cors_allowed_origins=self.origins or None, client_manager=manager
        )
        sio.late_events = {self.user_message_evt}
        quiet_websocket_close(sio)
        webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio
        namespace = self.namespace or "/"

        @webhook.listener("after_server_start")
        async def keep_app(app: Any, _loop: Any) -> None:
            self.app = app

        @webhook.listener("before_server_stop")
        async def stop_pings(_app: Any, _loop: Any) -> None:
            # engine.io leaves each socket's 25 s ping timer running after the socket closes;
            # a restart would log "Task was destroyed but it is pending!" for every one.
            pings = [t for t in asyncio.all_tasks() if _is_ping(t)]
            for task in pings:
                task.cancel()
            await asyncio.gather(*pings, return_exceptions=True)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> response.HTTPResponse:
            return response.json({"status": "ok"})

        # Each socket's conversation and address, kept CLOSED_GRACE seconds after it closes: a
        # message that arrived with the close (sent, then the tab closed) is still answered.
        peers: dict[str, dict[str, Any]] = {}

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any] | None = None) -> bool:
            peers[sid] = {"address": client_address(environ)}
            eio_sid = sio.manager.eio_sid_from_sid(sid, namespace)
            if eio_sid:
                peers[sid]["eio_sid"] = eio_sid
            return True

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: str) -> None:
            peer = peers.get(sid)
            if peer is None:
                return
            eio_sid = peer.get("eio_sid")
            if eio_sid:
                sio.recently_closed[eio_sid] = sid

            def forget() -> None:
                peers.pop(sid, None)
                if eio_sid:
                    sio.recently_closed.pop(eio_sid, None)

            asyncio.get_running_loop().call_later(CLOSED_GRACE, forget)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any) -> None:
            data = data if isinstance(data, dict) else {}
            granted, why = self.grant(data)
            session = peers.setdefault(sid, {"address": ""})
            previous = session.get("conversation")
            if previous and previous != granted.session_id:
                sio.leave_room(sid, previous, namespace=namespace)
            session["conversation"] = granted.session_id
            sio.enter_room(sid, granted.session_id, namespace=namespace)
            if why and why != "new":
                logger.warning(
                    "%s not joined (%s): a new one was given",
                    chat_session.log_ref(data.get("session_id")),
                    why,
                )
            await sio.emit(
                "session_credential",
                {"session_id": granted.session_id, "credential": granted.credential},
                room=sid,
                namespace=namespace,
            )
            await sio.emit("session_confirm", granted.session_id, room=sid, namespace=namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any) -> None:
            session = peers.get(sid) or {}
            sender = session.get("conversation")
            if not sender or not isinstance(data, dict):
                return  # no session_request yet: nothing to write into (the widget always asks)
            output = CountingOutput(sio, self.bot_message_evt)
            metadata = data.get(self.metadata_key) or {}
            if isinstance(metadata, str) and len(metadata) <= self.limiter.settings.max_metadata_bytes:
                with contextlib.suppress(ValueError):
                    metadata = json.loads(metadata)
            text = data.get("message", "")
            refusal = self.limiter.check(sender, session.get("address", ""), text, metadata)
            if refusal is None and not isinstance(metadata, dict):
                refusal = TOO_LARGE  # metadata is an object or nothing: anything else is not ours
            if refusal is not None:
                logger.warning("message refused before NLU (%s), %s", refusal, chat_session.log_ref(sender))
                await output.send_text_message(sender, self.texts[refusal])
                return
            notice = SocketIOOutput(sio, self.bot_message_evt)  # not counted: it is no answer

            async def tell_place(position: int, seconds: int) -> None:
                line = self.texts[IN_LINE].format(position=position, seconds=seconds)
                await notice.send_text_message(sender, line)

            try:
                async with self.admission.turn(tell_place):
                    await on_new_message(
                        UserMessage(text, output, sender, input_channel=self.name(), metadata=metadata)
                    )
            except ServerBusy:
                logger.error("line full: message refused in %s", chat_session.log_ref(sender))
                await output.send_text_message(sender, self.texts[FULL])
                return
            except Exception:
                logger.exception("the turn failed in %s", chat_session.log_ref(sender))
            if output.sent == 0:
                await self.degrade(sender, text, output)

        return webhook


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("a REST turn failed", exc_info=task.exception())


class SteadyRestInput(Degrading, RestInput):
    """Rasa's REST channel (``/webhooks/rest/webhook``), with three changes: a turn runs to its
    end even when the client stops waiting (it is recorded in the tracker and answered; Rasa's
    own channel cancels it halfway, so the customer's message was lost); turns wait in the
    process's line (:func:`process_admission`) instead of all running at once; and a turn that
    answered nothing gets the apology the socket.io channel gives (:class:`Degrading`)."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> SteadyRestInput:
        credentials = dict(credentials or {})
        channel = cls()
        channel.configure_degrading(credentials)
        if credentials:
            raise ValueError(f"unknown settings for the REST channel: {sorted(credentials)}")
        validate_action_results_cheaply()
        return channel

    def __init__(self) -> None:
        super().__init__()
        self.configure_degrading({})

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        admission = process_admission()
        running: set[asyncio.Task[Any]] = set()

        async def turn(message: UserMessage) -> None:
            try:
                async with admission.turn():
                    await on_new_message(message)
            except ServerBusy:
                await message.output_channel.send_text_message(message.sender_id, self.texts[FULL])
                return
            except Exception:
                logger.exception("the turn failed in %s", chat_session.log_ref(message.sender_id))
            output = message.output_channel
            if isinstance(output, CollectingOutputChannel) and not output.messages:
                await self.degrade(message.sender_id, message.text or "", output)

        async def steady(message: UserMessage) -> None:
            task = asyncio.ensure_future(turn(message))
            running.add(task)  # a strong reference until it is done
            task.add_done_callback(running.discard)
            task.add_done_callback(_log_failure)
            await asyncio.shield(task)  # a cancelled request leaves the turn running

        webhook = super().blueprint(steady)

        @webhook.listener("after_server_start")
        async def keep_app(app: Any, _loop: Any) -> None:
            self.app = app

        return webhook
