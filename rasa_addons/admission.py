"""Admission control for one Rasa process: a fixed number of turns run at once, the rest wait
in line in arrival order.

Rasa's turn is mostly CPU on one event loop. Letting every message in at once does not make it
faster: all turns crawl together, every customer waits longer, clients time out and their work
is thrown away, and throughput falls. Here at most ``capacity`` turns run; a message beyond that
waits its turn (first come, first served), and when its wait is likely to be noticeable the
customer is told where they are in line and about how long it will be.

Nothing here knows Rasa: :meth:`Admission.turn` is an async context manager around any work.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

Notify = Callable[[int, int], Awaitable[None]]  # (position in line, estimated seconds)


@dataclass(frozen=True)
class AdmissionSettings:
    capacity: int = 4  # turns running at once in this process
    max_waiting: int = 2000  # beyond this, a message is refused (ServerBusy), not queued
    tell_after_seconds: float = 2.0  # tell the customer they are in line when the wait is likely longer
    initial_turn_seconds: float = 0.15  # the estimate before any turn was measured

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError("admission capacity must be at least 1")
        if self.max_waiting < 0:
            raise ValueError("admission max_waiting must not be negative")
        if self.tell_after_seconds < 0 or self.initial_turn_seconds <= 0:
            raise ValueError("admission times must be positive")

    @classmethod
    def from_mapping(cls, values: dict[str, object] | None) -> AdmissionSettings:
        values = dict(values or {})
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown admission settings: {sorted(unknown)}")
        return cls(**values)  # type: ignore[arg-type]


class ServerBusy(RuntimeError):
    """The line is full: the message is not queued."""


class Admission:
    def __init__(self, settings: AdmissionSettings | None = None) -> None:
        self.settings = settings or AdmissionSettings()
        self.running = 0
        self._line: deque[asyncio.Future[None]] = deque()
        self._turn_seconds = self.settings.initial_turn_seconds  # moving average of a turn
        self.admitted = 0
        self.queued = 0
        self.refused = 0

    @property
    def waiting(self) -> int:
        return sum(1 for f in self._line if not f.done())

    def estimate(self, position: int) -> int:
        """Seconds until a message at ``position`` in line (1 = next) starts, rounded up."""
        return max(1, math.ceil(position * self._turn_seconds / self.settings.capacity))

    @contextlib.asynccontextmanager
    async def turn(self, notify: Notify | None = None) -> AsyncIterator[None]:
        await self._enter(notify)
        started = time.monotonic()
        try:
            yield
        finally:
            elapsed = time.monotonic() - started
            self._turn_seconds = 0.8 * self._turn_seconds + 0.2 * elapsed
            self._leave()

    async def _enter(self, notify: Notify | None) -> None:
        self.admitted += 1
        if self.running < self.settings.capacity and not self.waiting:
            self.running += 1
            return
        if self.waiting >= self.settings.max_waiting:
            self.refused += 1
            raise ServerBusy(f"{self.waiting} messages already waiting")
        self.queued += 1
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._line.append(ticket)
        position = self.waiting
        seconds = self.estimate(position)
        if notify is not None and seconds >= self.settings.tell_after_seconds:
            with contextlib.suppress(Exception):  # telling is a courtesy; the place in line is kept
                await notify(position, seconds)
        try:
            await ticket  # the slot is handed over by _leave: self.running already counts it
        except asyncio.CancelledError:
            if ticket.done() and not ticket.cancelled():
                self._leave()  # handed a slot just as it was cancelled: pass it on
            raise

    def _leave(self) -> None:
        while self._line:
            ticket = self._line.popleft()
            if not ticket.done():
                ticket.set_result(None)  # the slot goes to the next in line
                return
        self.running -= 1
