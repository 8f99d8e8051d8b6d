"""Parts failing under customers: ``make bench-faults`` prints one JSON object.

Starts its own stack (as ``make run`` does, supervisor included: a process that dies is started
again with back-off) on its own ports with its own databases in a temporary folder. Then, one
fault after another, a few customers talk to it over socket.io through the gateway as the
widget does (a customer whose connection drops connects again every ``RETRY`` seconds and sends
what they typed once it is back, as the widget's outbox does):

- ``action_server_killed``: the action server is killed; customers ask questions and one asks
  for a person while it is down.
- ``rasa_killed``: Rasa is killed; customers keep typing.
- ``web_app_killed``: the web app (history, queue, console) is killed; customers keep chatting.
- ``database_locked``: the assistant's database is locked for ``LOCK_SECONDS`` (an exclusive
  SQLite transaction); customers ask questions and one asks for a person.
- ``client_gone_mid_turn``: customers send a message and disconnect before the answer, then
  come back and read their conversation's history.

For each: what every customer received (an answer, an apology, nothing), the time to the first
reply, the time until the failed part was healthy again (nobody restarts anything by hand),
whether the request for a person was recorded (once), and what was lost (a message sent but not
in the tracker, or a message that never got any reply). Targets are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

DEFAULT_PORTS = (29005, 29055, 29081, 29080)  # rasa, actions, web, public: apart from all others
CUSTOMERS = 4
RETRY = 3.0  # seconds: the widget tries a dropped connection again this often
ANSWER_TIMEOUT = 240.0  # seconds a simulated customer keeps trying (Rasa takes a while to start)
LOCK_SECONDS = 30.0
QUESTION = "how do I activate my new card?"
PERSON = "i want to talk to a human"


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


class Faults:
    def __init__(self, var: Path, ports: tuple[int, int, int, int]):
        from assistant.benchout import bench_stack

        public = ports[3]
        self.stack = bench_stack(var, ports)
        self.public = f"http://127.0.0.1:{public}"
        self.next_address = 0

    def address(self) -> str:
        self.next_address += 1
        return f"127.0.9.{self.next_address % 250 + 2}"

    def service(self, name: str) -> Any:
        return next(s for s in self.stack.services if s.name == name)

    def kill(self, name: str) -> float:
        service = self.service(name)
        os.killpg(service.process.pid, signal.SIGKILL)
        service.process.wait()
        return time.monotonic()

    async def recovered(self, name: str, since: float) -> float | None:
        service = self.service(name)
        deadline = since + 300
        while time.monotonic() < deadline:
            if healthy(service.health_url):
                return round(time.monotonic() - since, 1)
            await asyncio.sleep(0.5)
        return None

    # -- a customer as the widget behaves
    async def customer(self, text: str, granted: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send ``text`` (connecting again every RETRY s until it can), and wait for the reply."""
        from hostile_bench import SocketIO

        started = time.monotonic()
        attempts = 0
        while time.monotonic() - started < ANSWER_TIMEOUT:
            attempts += 1
            client = SocketIO(self.public, self.stack.public_url, self.address())
            try:
                await client.connect(10)
                await client.emit("session_request", dict(granted or {}))
                granted = dict(await client.wait_for("session_credential", 10))
                await client.wait_for("session_confirm", 10)
                await client.emit("user_uttered", {"message": text, "metadata": {}})
                reply = await client.wait_for("bot_uttered", ANSWER_TIMEOUT - (time.monotonic() - started))
                return {
                    "granted": granted,
                    "reply": str((reply or {}).get("text", ""))[:160],
                    "seconds": round(time.monotonic() - started, 1),
                    "attempts": attempts,
                }
            except Exception:
                await asyncio.sleep(RETRY)
            finally:
                await client.close()
        return {"granted": granted, "reply": None, "seconds": None, "attempts": attempts}

    async def tracker(self, sender: str) -> list[dict[str, Any]]:
        import httpx

        url = f"http://127.0.0.1:{self.stack.rasa_port}/conversations/{sender}/tracker"
        async with httpx.AsyncClient(timeout=30) as http:
            for _ in range(60):
                try:
                    resp = await http.get(url, params={"token": self.stack.rasa_token})
                    if resp.status_code == 200:
                        return list(resp.json().get("events", []))
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(2)
        return []

    async def handoffs(self, sender: str) -> int:
        """Handoffs recorded for the conversation; -1 when the staff API does not answer."""
        import httpx

        async with httpx.AsyncClient(timeout=30) as http:
            try:
                resp = await http.get(
                    f"{self.public}/api/handoffs",
                    params={"conversation_id": sender},
                    headers={"Authorization": f"Bearer {self.stack.api_token}"},
                )
            except httpx.HTTPError:
                return -1
            return len(resp.json().get("handoffs", [])) if resp.status_code == 200 else -1

    async def outcome(
        self, texts: list[str], results: list[dict[str, Any]], person: int | None
    ) -> dict[str, Any]:
        lost = 0
        for text, result in zip(texts, results, strict=True):
            sender = (result.get("granted") or {}).get("session_id")
            events = await self.tracker(sender) if sender else []
            recorded = any(e.get("event") == "user" and e.get("text") == text for e in events)
            lost += 0 if recorded and result["reply"] else 1
        out: dict[str, Any] = {
            "customers": [
                {"said": t, "received": r["reply"], "seconds_to_reply": r["seconds"], "tries": r["attempts"]}
                for t, r in zip(texts, results, strict=True)
            ],
            "every_message_answered": all(r["reply"] for r in results),
            "lost": lost,
        }
        if person is not None:
            sender = (results[person].get("granted") or {}).get("session_id")
            count = 0
            for _ in range(30):  # the spool is drained every few seconds; the web app may be restarting
                count = await self.handoffs(sender) if sender else 0
                if count > 0:
                    break
                await asyncio.sleep(2)
            out["handoffs_recorded"] = count
        return out

    async def crowd(self, person: bool = True) -> tuple[list[str], list[dict[str, Any]], int | None]:
        texts = [QUESTION] * (CUSTOMERS - 1) + ([PERSON] if person else [QUESTION])
        results = await asyncio.gather(*(self.customer(t) for t in texts))
        return texts, list(results), (len(texts) - 1 if person else None)

    # -- the faults
    async def process_killed(self, name: str) -> dict[str, Any]:
        since = self.kill(name)
        texts, results, person = await self.crowd()
        out = await self.outcome(texts, results, person)
        out["recovered_seconds"] = await self.recovered(name, since)
        return out

    async def database_locked(self) -> dict[str, Any]:
        locked, release = threading.Event(), threading.Event()

        def hold() -> None:
            assert self.stack.var_dir is not None
            db = sqlite3.connect(self.stack.var_dir / "assistant.db", timeout=30, isolation_level=None)
            db.execute("BEGIN EXCLUSIVE")
            locked.set()
            release.wait(LOCK_SECONDS)
            db.execute("ROLLBACK")
            db.close()

        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        locked.wait(30)
        texts, results, person = await self.crowd()
        await asyncio.get_running_loop().run_in_executor(None, holder.join)
        out = await self.outcome(texts, results, person)
        out["lock_seconds"] = LOCK_SECONDS
        # the customers started as the lock was taken: a reply sooner than it lasted came during it
        out["replied_while_locked"] = sum(
            1 for r in results if r["seconds"] is not None and r["seconds"] < LOCK_SECONDS
        )
        return out

    async def client_gone_mid_turn(self) -> dict[str, Any]:
        from hostile_bench import SocketIO

        from assistant.chat_session import HEADER

        async def one() -> dict[str, Any]:
            client = SocketIO(self.public, self.stack.public_url, self.address())
            await client.connect(10)
            granted = await client.new_conversation(10)
            await client.emit("user_uttered", {"message": QUESTION, "metadata": {}})
            await client.close()  # gone before the answer
            import httpx

            started = time.monotonic()
            async with httpx.AsyncClient(timeout=30) as http:
                while time.monotonic() - started < 60:
                    await asyncio.sleep(1)
                    resp = await http.get(
                        f"{self.public}/chat/history/{granted['session_id']}",
                        headers={HEADER: granted["credential"]},
                    )
                    messages = resp.json().get("messages", []) if resp.status_code == 200 else []
                    bot = [m for m in messages if m.get("role") != "user"]
                    if bot:
                        reply = str(bot[0].get("text", ""))[:160]
                        seconds = round(time.monotonic() - started, 1)
                        return {"granted": granted, "reply": reply, "seconds": seconds, "attempts": 1}
            return {"granted": granted, "reply": None, "seconds": None, "attempts": 1}

        results = list(await asyncio.gather(*(one() for _ in range(CUSTOMERS))))
        return await self.outcome([QUESTION] * CUSTOMERS, results, None)


async def run(faults: Faults) -> dict[str, Any]:
    out: dict[str, Any] = {}
    plan = [
        ("action_server_killed", lambda: faults.process_killed("actions")),
        ("rasa_killed", lambda: faults.process_killed("rasa")),
        ("web_app_killed", lambda: faults.process_killed("web")),
        ("database_locked", faults.database_locked),
        ("client_gone_mid_turn", faults.client_gone_mid_turn),
    ]
    for name, fault in plan:
        print(f"[bench] {name}…", file=sys.stderr, flush=True)
        out[name] = await fault()
        for service in faults.stack.services:  # all well again before the next fault
            while not healthy(service.health_url):
                await asyncio.sleep(1)
    return out


def targets(results: dict[str, Any]) -> dict[str, Any]:
    return {
        "every_message_answered": all(r["every_message_answered"] for r in results.values()),
        "nothing_lost": all(r["lost"] == 0 for r in results.values()),
        "requests_for_a_person_recorded_once": all(
            r.get("handoffs_recorded", 1) == 1 for r in results.values()
        ),
        "recovered_without_a_person": all(
            r.get("recovered_seconds", 0) is not None for r in results.values()
        ),
    }


def main(argv: list[str] | None = None) -> int:
    from assistant.benchout import add_ports_argument, ready_or_explain, report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    add_ports_argument(parser, DEFAULT_PORTS)
    args = parser.parse_args(argv)
    ports = args.ports
    if not ready_or_explain(ROOT):
        return 1

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    started = time.perf_counter()
    stopping = threading.Event()
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        faults = Faults(Path(tmp), ports)
        try:
            faults.stack.start(timeout=900, quiet=True)
            faults.stack.supervise(stopping)  # as make run does
            result = asyncio.run(run(faults))
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        finally:
            stopping.set()
            faults.stack.stop()
    from conversations_bench import provenance

    summary = {
        "benchmark": "faults",
        "faults": result,
        "targets": targets(result),
        "settings": {
            "customers_per_fault": CUSTOMERS,
            "retry_seconds": RETRY,
            "lock_seconds": LOCK_SECONDS,
            "question": QUESTION,
            "request_for_a_person": PERSON,
        },
        "provenance": provenance(),
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    report(summary, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
