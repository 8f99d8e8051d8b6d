"""Requests for a person that could not be recorded at once, kept on disk until they are.

When the action server or the assistant's database is down, Rasa's socket.io channel still
answers the customer (an apology, a phone number and a reference) and, when they asked for a
person, appends the request here: one JSON line, appended atomically. The web app drains the
file into the handoff store every few seconds; a request that cannot be stored yet stays for
the next round. Nothing is dropped, nothing is recorded twice (one open handoff per
conversation). Pure Python, no third-party imports: it runs in Rasa's process too.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MAX_LINE_BYTES = 16 * 1024  # a conversation id, a reason and the customer's last words
SETTLE_SECONDS = 0.5  # a writer that opened the file just before it was taken finishes meanwhile


KEEP_EVENTS = 60  # the last tracker events kept with a request, for the agent's transcript


def _line(record: dict[str, Any]) -> bytes:
    """The record as one JSON line of at most MAX_LINE_BYTES: the oldest events are left out
    until it fits (a line cut short would be unreadable, and the request lost)."""
    record = {**record, "at": record.get("at", time.time())}
    events = list(record.get("events") or [])[-KEEP_EVENTS:]
    while True:
        data = json.dumps({**record, "events": events}, separators=(",", ":")).encode() + b"\n"
        if len(data) <= MAX_LINE_BYTES or not events:
            break
        events = events[len(events) // 2 + 1 :] if len(events) > 1 else []
    if len(data) > MAX_LINE_BYTES:  # still too long without events: the customer's words, shorter
        record["text"] = str(record.get("text", ""))[:1000]
        data = json.dumps({**record, "events": []}, separators=(",", ":")).encode() + b"\n"
    return data


def append(path: Path, record: dict[str, Any]) -> None:
    data = _line(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)  # one write of one line with O_APPEND: lines never interleave
    finally:
        os.close(fd)


def drain(path: Path, store: Callable[[dict[str, Any]], None], *, settle: float = SETTLE_SECONDS) -> int:
    """Hand every waiting request to ``store``; those it raises on are kept for next time.
    Returns how many were stored."""
    taken = path.with_name(f"{path.name}.{os.getpid()}.draining")
    if not taken.exists():
        try:
            os.replace(path, taken)
        except FileNotFoundError:
            return 0
        time.sleep(settle)
    stored, kept = 0, []
    for raw in taken.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(raw)
        except ValueError:
            continue  # a line cut short: nothing to act on
        if not isinstance(record, dict) or not isinstance(record.get("conversation_id"), str):
            continue
        try:
            store(record)
        except Exception:  # the database is still away: keep it for the next round
            kept.append(record)
        else:
            stored += 1
    for record in kept:
        append(path, record)
    taken.unlink()
    return stored
