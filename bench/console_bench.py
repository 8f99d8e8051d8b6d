"""The agent console's staff API under load: ``make bench-console`` (``bench/console_bench.py``) prints JSON.

The web app served on a local port (one process, as ``assistant web`` runs it) over a real
SQLite file: 1,000 handoffs with 20-turn transcripts (50 still queued, tags on some), then the
calls the console makes, each timed many times over HTTP with keep-alive: the queue poll, one
handoff, the live transcript, a review filter, a CSV export, claim + close, and a sign-in
(scrypt). Rasa is replaced by a stub that answers at once, so the figures are the web app's own.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from assistant.benchout import report
from assistant.handoff.store import HandoffStore
from assistant.rasa_client import RasaClient
from assistant.settings import Settings
from assistant.staff.store import StaffStore

PASSWORD = "bench password 123"
PORT = 18099


class InstantRasa(RasaClient):
    def __init__(self) -> None:
        super().__init__("http://rasa.invalid", "")

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        return {"events": [], "paused": True} if path.endswith("/tracker") else {}


def _turns(i: int) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    for t in range(10):
        turns.append(
            {
                "role": "user",
                "text": f"question {i}.{t} about my card",
                "intent": "ask_question",
                "confidence": 0.8,
            }
        )
        turns.append({"role": "bot", "text": "An answer " * 20, "article_id": "card_arrival", "score": 0.7})
    return turns


def seed(store: HandoffStore, count: int, queued: int) -> list[int]:
    ids = []
    for i in range(count):
        record = store.create(
            f"conv-{i}",
            reason=("customer_request", "tree_unresolved", "understanding_failed")[i % 3],
            stage="troubleshooting",
            transcript=_turns(i),
            slots={"tree_id": "card_declined", "stage": "troubleshooting"},
            summary="Customer said: a question.",
            priority=i % 3,
        )
        ids.append(record.id)
        if i >= queued:
            store.claim(record.id, "sam", "Sam")
            store.finish(record.id, status="closed", outcome="resolved", tags=["cards"] if i % 4 == 0 else [])
    return ids


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
    }


async def _time(call: Any, repeat: int) -> dict[str, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        resp = await call()
        samples.append((time.perf_counter() - started) * 1000)
        if resp.status_code >= 400:
            raise RuntimeError(f"benchmark call failed: HTTP {resp.status_code} {resp.text[:200]}")
    return _stats(samples)


async def run(count: int, queued: int, repeat: int) -> dict[str, Any]:
    from assistant.web.app import create_app
    from assistant.web.auth import COOKIE

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        store, staff = HandoffStore(url), StaffStore(url)
        started = time.perf_counter()
        ids = seed(store, count, queued)
        seeded_s = time.perf_counter() - started
        staff.add_user("lee", PASSWORD, role="lead", name="Lee")
        sign_in = []
        for _ in range(5):
            t0 = time.perf_counter()
            user = staff.authenticate("lee", PASSWORD)
            sign_in.append((time.perf_counter() - t0) * 1000)
        assert user is not None
        session = staff.start_session(user)
        app = create_app(Settings(), store, InstantRasa(), staff=staff, name="console_bench")
        server = await app.create_server(host="127.0.0.1", port=PORT, return_asyncio_server=True)
        assert server is not None
        await server.startup()
        base = f"http://127.0.0.1:{PORT}"
        client = httpx.AsyncClient(base_url=base, cookies={COOKIE: session.token}, timeout=30)
        post = {"X-CSRF-Token": session.csrf}

        async def get(path: str) -> Any:
            return await client.get(path)

        queue_left = iter(ids[:queued])

        async def claim_and_close() -> Any:
            handoff = next(queue_left)
            await client.post(f"/api/handoffs/{handoff}/claim", json={}, headers=post)
            return await client.post(
                f"/api/handoffs/{handoff}/close", json={"outcome": "resolved"}, headers=post
            )

        results = {
            "handoffs": count,
            "queued": queued,
            "seed_seconds": round(seeded_s, 1),
            "sign_in_scrypt": _stats(sign_in),
            "health_baseline": await _time(lambda: get("/api/health"), repeat),
            "queue_poll": await _time(lambda: get("/api/queue"), repeat),
            "one_handoff": await _time(lambda: get(f"/api/handoffs/{ids[0]}"), repeat),
            "live_transcript": await _time(lambda: get(f"/api/handoffs/{ids[0]}/live"), repeat),
            "review_filter_tag": await _time(
                lambda: get("/api/handoffs?tag=cards&outcome=resolved"), max(5, repeat // 5)
            ),
            "export_csv_all": await _time(lambda: get("/api/handoffs/export.csv"), 5),
            "claim_then_close": await _time(claim_and_close, min(queued, repeat)),
        }
        await client.aclose()
        await server.close()
        store.dispose()
        staff.dispose()
        return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handoffs", type=int, default=1000)
    parser.add_argument("--queued", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    report(asyncio.run(run(args.handoffs, args.queued, args.repeat)), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
