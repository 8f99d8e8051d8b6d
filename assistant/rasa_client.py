"""A small client for Rasa's token-protected HTTP API (used by the web app and the CLI)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

JOINED_ACTION = "action_agent_joined"
HANDED_BACK_INTENT = "EXTERNAL_handed_back"
LONG_WAIT_INTENT = "EXTERNAL_long_wait"
AGENT_ACTION = "action_agent_message"


class RasaError(RuntimeError):
    """Rasa could not be reached or refused the call."""


class RasaClient:
    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        params = dict(kwargs.pop("params", {}) or {})
        if self.token:
            params["token"] = self.token
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.request(method, self.base_url + path, params=params, **kwargs)
        except httpx.HTTPError as exc:
            raise RasaError(f"Rasa at {self.base_url} is unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise RasaError(
                f"Rasa refused {method} {path}: HTTP {response.status_code} {response.text[:200]}"
            )
        return response.json() if response.content else None

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        return await self._request("GET", f"/conversations/{quote(conversation_id, safe='')}/tracker")

    async def append_events(self, conversation_id: str, events: list[dict[str, Any]]) -> Any:
        path = f"/conversations/{quote(conversation_id, safe='')}/tracker/events"
        return await self._request("POST", path, json=events)

    async def trigger_intent(
        self, conversation_id: str, intent: str, entities: dict[str, Any] | None = None
    ) -> Any:
        path = f"/conversations/{quote(conversation_id, safe='')}/trigger_intent"
        return await self._request(
            "POST",
            path,
            params={"output_channel": "latest"},
            json={"name": intent, "entities": entities or {}},
        )

    async def _execute(self, conversation_id: str, action: str, slots: dict[str, Any]) -> None:
        """Set ``slots``, then run ``action`` with its messages on the customer's own channel
        (it works while the bot is paused)."""
        await self.append_events(
            conversation_id,
            [{"event": "slot", "name": name, "value": value} for name, value in slots.items()],
        )
        path = f"/conversations/{quote(conversation_id, safe='')}/execute"
        await self._request("POST", path, params={"output_channel": "latest"}, json={"name": action})

    async def send_agent_message(self, conversation_id: str, text: str, agent: str) -> None:
        """A person's message, shown to the customer as from them."""
        await self._execute(conversation_id, AGENT_ACTION, {"agent_message": text, "agent_name": agent})

    async def agent_joined(self, conversation_id: str, agent: str) -> None:
        """Tell the customer a person has taken the conversation."""
        await self._execute(conversation_id, JOINED_ACTION, {"agent_name": agent})

    async def pause(self, conversation_id: str) -> None:
        """Only a person answers from now on (an agent has claimed the conversation)."""
        await self.append_events(conversation_id, [{"event": "pause"}])

    async def _wake(self, conversation_id: str, intent: str) -> None:
        # The paused bot never listened after the handoff; record that it does now, so the
        # policies see an ordinary turn (previous action: action_listen) for the next intent.
        await self.append_events(
            conversation_id, [{"event": "resume"}, {"event": "action", "name": "action_listen"}]
        )
        await self.trigger_intent(conversation_id, intent)

    async def resume(self, conversation_id: str) -> None:
        """Hand the conversation back to the bot, which tells the customer so."""
        await self._wake(conversation_id, HANDED_BACK_INTENT)

    async def notify_long_wait(self, conversation_id: str) -> None:
        """The bot apologises for the wait and offers to take a message (it stays awake so the
        customer's answer is heard; "keep waiting" pauses it again)."""
        await self._wake(conversation_id, LONG_WAIT_INTENT)
