"""Limits at the public chat entry, before any NLU: message and metadata size, and messages per
minute per conversation and per client address (sliding windows, bounded memory).

Pure Python: :mod:`rasa_addons.channels` applies it to socket.io (in Rasa's process, run from
the project root), the web app to its public routes.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TOO_LARGE = "too_large"
BUSY = "busy"


@dataclass(frozen=True)
class LimitSettings:
    max_message_chars: int = 5000  # the NLU guard cuts at 1,000; far beyond that is refused here
    max_metadata_bytes: int = 8192  # the host page's metadata, as JSON
    per_conversation_per_minute: int = 20
    per_address_per_minute: int = 120
    tracked_keys: int = 50_000  # conversations and addresses remembered at once (oldest dropped)

    def __post_init__(self) -> None:
        for name in ("max_message_chars", "max_metadata_bytes", "tracked_keys"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("per_conversation_per_minute", "per_address_per_minute"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be 0 (no limit) or more")

    @classmethod
    def from_credentials(cls, raw: dict[str, Any] | None) -> LimitSettings:
        raw = dict(raw or {})
        unknown = sorted(set(raw) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown limit settings: {', '.join(unknown)}")
        return cls(**{k: int(v) for k, v in raw.items()})


class Window:
    """Events per key over the last ``seconds``; at most ``keys`` keys are remembered."""

    def __init__(self, limit: int, seconds: float, keys: int, clock: Callable[[], float]):
        self.limit, self.seconds, self.keys, self.clock = limit, seconds, keys, clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, key: str) -> bool:
        if not self.limit or not key:
            return True
        now = self.clock()
        times = self._seen.pop(key, None) or deque()
        while times and now - times[0] >= self.seconds:
            times.popleft()
        allowed = len(times) < self.limit
        if allowed:
            times.append(now)
        self._seen[key] = times  # most recent last
        while len(self._seen) > self.keys:
            self._seen.popitem(last=False)
        return allowed


class MessageLimiter:
    def __init__(self, settings: LimitSettings, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.conversations = Window(settings.per_conversation_per_minute, 60.0, settings.tracked_keys, clock)
        self.addresses = Window(settings.per_address_per_minute, 60.0, settings.tracked_keys, clock)

    def check(self, conversation: str, address: str, text: Any, metadata: Any) -> str | None:
        """None when the message may go on; else why not (``too_large`` or ``busy``)."""
        if not isinstance(text, str) or len(text) > self.settings.max_message_chars:
            return TOO_LARGE
        try:
            size = len(json.dumps(metadata or {}, separators=(",", ":")).encode())
        except (TypeError, ValueError):
            return TOO_LARGE
        if size > self.settings.max_metadata_bytes:
            return TOO_LARGE
        # the address first: a flood from one place is refused before it costs any conversation
        if not self.addresses.allow(address) or not self.conversations.allow(conversation):
            return BUSY
        return None
