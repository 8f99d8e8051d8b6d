"""A platform's retry of a message answered once: each platform message id is remembered.

Telegram resends an update (``update_id``) it got no 200 for, Slack an event (``event_id``) not
acknowledged within 3 seconds (rasa#3882), Messenger a message (``mid``), Twilio a message
(``MessageSid``). :class:`SeenInProcess` remembers the ids this process saw (bounded, with a
time to live); with several Rasa processes the channels use Redis instead (``SET NX EX``, in
:mod:`rasa_addons.messaging`), so a retry that lands on another process is known there too.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

SEEN_TTL = 24 * 3600  # seconds a message id is remembered (platforms retry for minutes to hours)
SEEN_KEYS = 100_000


def key(channel: str, message_id: str) -> str:
    """The id as stored: hashed, so no platform id (a phone number in some) is kept in clear."""
    digest = hashlib.sha256(f"{channel}\x00{message_id}".encode()).hexdigest()[:32]
    return f"kestrel:seen:{channel}:{digest}"


class SeenInProcess:
    def __init__(
        self, ttl: float = SEEN_TTL, keys: int = SEEN_KEYS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.keys, self.clock = ttl, keys, clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first(self, channel: str, message_id: str) -> bool:
        """True the first time ``message_id`` is seen (within the time to live), else False."""
        if not message_id:
            return True  # nothing to tell a retry by: answer it
        now = self.clock()
        name = key(channel, message_id)
        while self._seen:
            oldest, when = next(iter(self._seen.items()))
            if now - when < self.ttl and len(self._seen) < self.keys:
                break
            self._seen.pop(oldest)
        if name in self._seen:
            return False
        self._seen[name] = now
        return True
