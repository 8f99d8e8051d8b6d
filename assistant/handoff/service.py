"""One owner for a handoff's life once the customer is queued: where they stand in the queue and
how long they may wait, an agent claiming the conversation, replying, handing back to the bot,
closing it, and the notice to customers who have waited too long.

The web API, the widget, the command line and the actions all go through :class:`HandoffService`,
so the rules (one agent per conversation, the bot never left paused, one estimate of the wait)
live in one place. Refusals are raised as :class:`HandoffError` subclasses; callers map them to
their own terms (an HTTP status, an exit code). The service knows the conversation engine only
through :class:`ConversationControl`, the few calls it needs (``RasaClient`` provides them).

Store calls are blocking. The plain methods are for synchronous callers (the actions, the
command line, worker threads); the ``async`` operations, which also talk to Rasa, run their
store calls in a worker thread so the event loop of the web app never waits on the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from assistant.chat_session import log_ref
from assistant.handoff.store import (
    OPEN_STATUSES,
    OUTCOMES,
    QUEUE_LIMIT,
    HandoffConflict,
    HandoffError,
    HandoffNotFound,
    HandoffNotOpen,
    HandoffRecord,
    HandoffStore,
    InvalidRequest,
    NotYours,
)
from assistant.handoff.transcript import transcript_from_events
from assistant.rasa_client import RasaError

if TYPE_CHECKING:  # the settings type only: the content module pulls in the search stack
    from assistant.content import HandoffSettings

__all__ = [
    "MAX_AGENT_MESSAGE",
    "Actor",
    "ConversationControl",
    "ConversationUnreachable",
    "HandoffConflict",
    "HandoffError",
    "HandoffNotFound",
    "HandoffNotOpen",
    "HandoffService",
    "InvalidRequest",
    "NotYours",
    "QueueStanding",
    "Standing",
    "WithAgent",
]

logger = logging.getLogger(__name__)

MAX_AGENT_MESSAGE = 2000  # characters in one agent reply
T = TypeVar("T")


class ConversationUnreachable(HandoffError):
    """Rasa could not be told (the customer would not see the reply, or would stay paused); the
    handoff is left as it was so the agent can try again."""


class ConversationControl(Protocol):
    """What the service asks of the conversation engine. Each call raises ``RasaError`` when
    the engine cannot be reached or refuses."""

    async def tracker(self, conversation_id: str) -> dict[str, Any]: ...

    async def pause(self, conversation_id: str) -> None: ...

    async def agent_joined(self, conversation_id: str, agent: str) -> None: ...

    async def send_agent_message(self, conversation_id: str, text: str, agent: str) -> None: ...

    async def resume(self, conversation_id: str) -> None: ...

    async def notify_long_wait(self, conversation_id: str) -> None: ...


@dataclass(frozen=True)
class Actor:
    """Who acts on a handoff: an agent (their user name, and the name customers see), or a
    trusted tool (the API token, the command line), which may finish any agent's handoff."""

    username: str
    name: str = ""
    trusted: bool = False

    @property
    def shown_name(self) -> str:
        return self.name.strip() or self.username


@dataclass(frozen=True)
class QueueStanding:
    """A queued customer's place (1: next) and the estimated minutes until a person answers."""

    position: int
    wait_minutes: int


@dataclass(frozen=True)
class WithAgent:
    """The customer is with a person: the name they see on the replies."""

    agent: str


Standing = QueueStanding | WithAgent
UNNAMED_AGENT = "Agent"  # as the agent-message action calls a person with no name


class HandoffService:
    """The handoff life cycle over a :class:`HandoffStore`. ``settings`` gives the estimated
    wait and the long-wait notice; ``conversations`` (a ``RasaClient``) is needed only by the
    operations that tell the customer something: claim, reply, hand back, close, long waits."""

    def __init__(
        self,
        store: HandoffStore,
        settings: HandoffSettings,
        conversations: ConversationControl | None = None,
    ):
        self.store = store
        self.settings = settings
        self._conversations = conversations

    @property
    def conversations(self) -> ConversationControl:
        if self._conversations is None:
            raise RuntimeError("this HandoffService was built without a conversation client")
        return self._conversations

    # ------------------------------------------------------------------ reading (blocking)

    def get(self, handoff_id: int) -> HandoffRecord:
        record = self.store.get(handoff_id)
        if record is None:
            raise HandoffNotFound(handoff_id)
        return record

    def get_open(self, handoff_id: int) -> HandoffRecord:
        """The handoff while the customer is still waiting or with an agent."""
        record = self.get(handoff_id)
        if record.status not in OPEN_STATUSES:
            raise HandoffNotOpen(f"handoff {handoff_id} is already {record.status}")
        return record

    def estimate(self, position: int) -> QueueStanding:
        """The one estimate of the wait: each customer ahead takes ``minutes_per_customer``."""
        return QueueStanding(position, position * self.settings.minutes_per_customer)

    def place_in_queue(self, record: HandoffRecord) -> QueueStanding:
        """Where a queued handoff stands now. One an agent took a moment ago counts as next:
        the customer is about to hear from them."""
        return self.estimate(self.store.queue_position(record.id) or 1)

    def standing(self, record: HandoffRecord) -> Standing | None:
        """Queued: place and wait; claimed: who has it; otherwise nothing to wait for."""
        if record.status == "claimed":
            return WithAgent(record.agent_name or record.agent or UNNAMED_AGENT)
        if record.status == "queued":
            return self.place_in_queue(record)
        return None

    def standing_for(self, conversation_id: str) -> Standing | None:
        """Where the customer of this conversation stands, if they are waiting for a person."""
        record = self.store.open_for(conversation_id)
        return self.standing(record) if record is not None else None

    def queue(self, limit: int = QUEUE_LIMIT) -> list[tuple[HandoffRecord, QueueStanding | None]]:
        """Open handoffs in the order agents take them, each waiting one with its standing (the
        queue lists the waiting ones first, so their places are 1, 2, ...)."""
        records = self.store.queue(limit)
        return [
            (record, self.estimate(n) if record.status == "queued" else None)
            for n, record in enumerate(records, 1)
        ]

    # ------------------------------------------------------------------ the life cycle

    async def claim(self, handoff_id: int, actor: Actor) -> HandoffRecord:
        """Give the conversation to ``actor``; the bot is paused (again) so only they answer.
        The customer is told who joined the first time. Rasa being down does not undo the
        claim: the agent can still reply once it is back."""
        first = (await self._run(self.get_open, handoff_id)).status == "queued"
        record = await self._run(self.store.claim, handoff_id, actor.username, actor.shown_name)
        try:
            await self.conversations.pause(record.conversation_id)
            if first:
                await self.conversations.agent_joined(record.conversation_id, record.agent_name)
        except RasaError as exc:
            logger.warning("could not pause %s or say who joined: %s", log_ref(record.conversation_id), exc)
        return record

    async def reply(self, handoff_id: int, actor: Actor, text: object) -> HandoffRecord:
        """Deliver the agent's message in the customer's chat, as from a person. Replying to a
        queued handoff claims it; replying to another agent's is refused."""
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_AGENT_MESSAGE:
            raise InvalidRequest(f"text must be 1 to {MAX_AGENT_MESSAGE} characters")
        await self._run(self.get_open, handoff_id)
        record = await self._run(self.store.claim, handoff_id, actor.username, actor.shown_name)
        try:
            await self.conversations.send_agent_message(
                record.conversation_id, text.strip(), actor.shown_name
            )
        except RasaError as exc:
            raise ConversationUnreachable(str(exc)) from exc
        return record

    async def hand_back(self, handoff_id: int, actor: Actor, *, tags: Any = None) -> HandoffRecord:
        """Back to the bot: it says so and carries on where it stopped (a form resumes)."""
        return await self._finish(handoff_id, actor, status="resumed", outcome="handed_back", tags=tags)

    async def close(self, handoff_id: int, actor: Actor, outcome: Any, *, tags: Any = None) -> HandoffRecord:
        """Close with one of OUTCOMES. The bot is handed the conversation too: a customer is
        never left talking to a paused bot."""
        if outcome not in OUTCOMES:
            raise InvalidRequest(f"outcome must be one of {', '.join(OUTCOMES)}")
        return await self._finish(handoff_id, actor, status="closed", outcome=outcome, tags=tags)

    async def _finish(
        self, handoff_id: int, actor: Actor, *, status: str, outcome: str, tags: Any
    ) -> HandoffRecord:
        record = await self._run(self.get_open, handoff_id)
        if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
            raise InvalidRequest("tags must be a list of strings")
        if not actor.trusted and record.status == "claimed" and record.agent not in ("", actor.username):
            raise NotYours(f"handoff {handoff_id} is with {record.agent_name or record.agent}")
        transcript = await self._whole_transcript(record)
        try:
            await self.conversations.resume(record.conversation_id)
        except RasaError as exc:
            raise ConversationUnreachable(str(exc)) from exc
        return await self._run(
            lambda: self.store.finish(
                handoff_id,
                status=status,
                outcome=outcome,
                tags=tags,
                agent="" if actor.trusted else actor.username,
                transcript=transcript,
            )
        )

    async def _whole_transcript(self, record: HandoffRecord) -> list[dict[str, Any]] | None:
        """The conversation as it is now, the agent's part included, to keep for review; None
        (keep the one from handoff time) when Rasa cannot say."""
        try:
            events = (await self.conversations.tracker(record.conversation_id)).get("events") or []
        except RasaError as exc:
            logger.warning("keeping the transcript from handoff time for %s: %s", record.id, exc)
            return None
        return transcript_from_events(events) or None

    async def tell_long_waits(self, limit: int = QUEUE_LIMIT, *, minutes: int | None = None) -> int:
        """Tell each customer queued longer than ``long_wait_minutes`` (once) and offer to leave
        a message; returns how many were told. Off when ``long_wait_minutes`` is 0; ``minutes``
        given overrides it (0: everyone queued now, as a lead's "tell them now")."""
        if minutes is None:
            minutes = self.settings.long_wait_minutes
            if minutes <= 0:
                return 0
        told = 0
        for record in await self._run(self.store.waiting_too_long, minutes, limit):
            try:
                await self.conversations.notify_long_wait(record.conversation_id)
            except RasaError as exc:
                logger.warning("could not tell %s about the wait: %s", log_ref(record.conversation_id), exc)
                continue
            await self._run(self.store.mark_wait_notified, record.id)
            told += 1
        return told

    @staticmethod
    async def _run(function: Callable[..., T], *args: Any) -> T:
        """A blocking store call, in a worker thread."""
        return await asyncio.to_thread(function, *args)
