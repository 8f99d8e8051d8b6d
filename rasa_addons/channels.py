"""Rasa's socket.io channel with limits at the door (:mod:`rasa_addons.limits`): a message that
is far too large, carries oversized metadata, or comes faster than a person types (per
conversation, per client address) is answered politely and never reaches NLU.

credentials.yml names it ``rasa_addons.channels.GuardedSocketIOInput`` with the usual socket.io
settings, plus ``limits:`` and the two ``texts:`` customers may see.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from assistant.limits import BUSY, TOO_LARGE, LimitSettings, MessageLimiter

logger = logging.getLogger(__name__)

DEFAULT_TEXTS = {
    BUSY: "You're sending messages faster than I can read them. Please wait a moment and try again.",
    TOO_LARGE: "That message is too long for me to read. Could you say it in a few sentences?",
}


def _hashed(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]


class GuardedSocketIOInput(SocketIOInput):
    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GuardedSocketIOInput:
        credentials = dict(credentials or {})
        limits = LimitSettings.from_credentials(credentials.pop("limits", None))
        texts = {**DEFAULT_TEXTS, **(credentials.pop("texts", None) or {})}
        channel = super().from_credentials(credentials)
        assert isinstance(channel, GuardedSocketIOInput)
        channel.limiter = MessageLimiter(limits)
        channel.texts = texts
        channel.addresses = OrderedDict()
        return channel

    limiter: MessageLimiter
    texts: dict[str, str]
    addresses: OrderedDict[str, str]  # session id -> the client address that asked for it

    def _remember(self, session_id: str, address: str) -> None:
        self.addresses[session_id] = address
        self.addresses.move_to_end(session_id)
        while len(self.addresses) > self.limiter.settings.tracked_keys:
            self.addresses.popitem(last=False)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def guarded(message: UserMessage) -> None:
            sender = str(message.sender_id or "")
            refusal = self.limiter.check(
                sender, self.addresses.get(sender, ""), message.text, message.metadata
            )
            if refusal is None:
                await on_new_message(message)
                return
            logger.warning("message refused before NLU (%s), conversation %s", refusal, _hashed(sender))
            await message.output_channel.send_text_message(sender, self.texts[refusal])

        blueprint = super().blueprint(guarded)
        namespace = self.namespace or "/"
        handlers = self.sio.handlers[namespace]
        asked = handlers["session_request"]

        async def session_request(sid: str, data: dict[str, Any] | None) -> None:
            data = data if isinstance(data, dict) else {}
            await asked(sid, data)  # sets data["session_id"] when the client had none
            environ = self.sio.get_environ(sid, namespace) or {}
            if data.get("session_id"):
                self._remember(str(data["session_id"]), str(environ.get("REMOTE_ADDR") or ""))

        handlers["session_request"] = session_request
        return blueprint
