"""Several Rasa instances on the production profile: ``make bench-scale`` prints one JSON object.

In one run, on the machine's PostgreSQL, Redis and RabbitMQ (throw-away databases, queue and
exchange of its own, Redis database 9), it starts the production stack twice, with 1 and then
with 2 Rasa instances (two action servers both times), behind the gateway, and for each:

- 200 simulated customers over socket.io through the gateway, as the widget talks (the same
  five-turn script and 10-20 s typing pauses as ``make bench-load``): turns per second and the
  time to the answer (p50 / p95 / p99), errors, time-outs, messages lost (read back from the
  tracker);
- how long after the last answer the analytics store has every event (the RabbitMQ queue empty).

Then, on the 2-instance stack:

- **events per second from the broker into the analytics store**: a burst of Rasa events
  published to the stack's exchange, timed until the web app's consumer has taken them all;
- **an article edit live on every action server**: an article's file changed, timed until both
  action servers answer from the new index build (their ``GET /kb``).

And with Rasa's own Python, Rasa's ``RedisLockStore`` against ours (``AtomicRedisLockStore``):
two processes asking for tickets of the same conversations at the same moment; duplicated
tickets are the race of rasa#9213 (two messages of one conversation run at once).

The machine has 2 cores: a second Rasa instance cannot make the turns faster, it can only show
what running two costs (the ratio reports the overhead, not a speed-up). The simulated customers
run on the same machine. Targets are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

DEFAULT_PORTS = (29005, 29055, 29281, 29280)  # rasa (+1), actions (+1), web, public
ACTIONS_PORT = 29054
CUSTOMERS = 200
BURST_EVENTS = 20_000
PG_SERVER = os.environ.get("ASSISTANT_BENCH_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("ASSISTANT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
RABBITMQ_URL = os.environ.get("ASSISTANT_BENCH_RABBITMQ_URL", "amqp://guest@127.0.0.1:5672/")


def production_stack(var: Path, ports: tuple[int, int, int, int], run: str, rasa_processes: int) -> Any:
    import shutil

    from assistant import production
    from assistant.benchout import bench_stack

    content = var / "content"  # the articles and index as copies: the edit never touches data/
    if not content.exists():
        shutil.copytree(ROOT / "data" / "kb", content / "kb")
        shutil.copytree(ROOT / "kb_index", content / "kb_index", symlinks=True)
    settings = {
        **production.throwaway(run, server=PG_SERVER, redis_url=REDIS_URL, rabbitmq_url=RABBITMQ_URL),
        "rasa_processes": rasa_processes,
        "actions_port": ACTIONS_PORT,
        "kb_source": content / "kb",
        "kb_index": content / "kb_index",
    }
    return bench_stack(var / f"rasa-{rasa_processes}", ports, **settings)


def discard(stack: Any) -> None:
    from assistant import production

    production.discard(
        {
            "db_url": stack.database_url,
            "tracker_url": stack.tracker_url,
            "backoffice_url": stack.bank_url,
            "rabbitmq_url": stack.rabbitmq_url,
            "broker_exchange": stack.broker_exchange,
            "broker_queue": stack.broker_queue,
        }
    )


def queue_depth(stack: Any) -> int:
    from assistant.production import broker_channel

    with broker_channel(stack.rabbitmq_url) as channel:
        declared = channel.queue_declare(stack.broker_queue, durable=True, passive=True)
        return int(declared.method.message_count)


def stored(stack: Any) -> int:
    """Events in the analytics store."""
    from sqlalchemy import create_engine, text

    engine = create_engine(stack.database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("select count(*) from insight_events")).scalar() or 0)
    finally:
        engine.dispose()


def wait_stored(stack: Any, timeout: float = 600.0, settle: float = 3.0) -> float | None:
    """Seconds until the analytics store holds every event: the queue has none ready and the
    store's count has stopped growing (a batch the consumer took but has not yet stored is not
    in the queue's count); the time of the last growth. None: not in time."""
    started = time.monotonic()
    last, grew = stored(stack), started
    while time.monotonic() - started < timeout:
        now_count = stored(stack)
        if now_count != last:
            last, grew = now_count, time.monotonic()
        elif queue_depth(stack) == 0 and time.monotonic() - grew >= settle:
            return round(grew - started, 2)
        time.sleep(0.1)
    return None


def customers_step(stack: Any) -> dict[str, Any]:
    import load_bench

    class ScaleLoad(load_bench.Load):
        def __init__(self, running: Any) -> None:  # the stack is ours, not bench-load's
            self.stack = running
            self.public = f"http://127.0.0.1:{running.public_port}"
            self.in_line_prefix = load_bench.in_line_prefix()
            self.next_address = 0

    load = ScaleLoad(stack)
    step = load_bench.Step(f"typing-{CUSTOMERS}", "socketio", CUSTOMERS, (10, 20))

    async def go() -> dict[str, Any]:
        await load.run_step(step)
        caught_up = await asyncio.to_thread(wait_stored, stack)  # from the last customer's end
        summary = load_bench.summarise_step(step, await load.lost(step))
        summary["analytics_caught_up_seconds"] = caught_up
        return summary

    return asyncio.run(go())


def burst(stack: Any, count: int = BURST_EVENTS) -> dict[str, Any]:
    """Rasa-shaped events (conversations of a greeting, a question, an answer) published to the
    stack's exchange as Rasa's Pika broker publishes them; timed until the consumer has them."""
    import pika

    from assistant.insights.source import pika_parameters

    events: list[dict[str, Any]] = []
    now = time.time()
    n = 0
    while len(events) < count:
        sender, t = f"bench-scale-{n}", now + n * 0.01
        events += [
            {"event": "action", "name": "action_session_start", "sender_id": sender, "timestamp": t},
            {"event": "session_started", "sender_id": sender, "timestamp": t},
            {"event": "user", "text": "where is my card", "sender_id": sender, "timestamp": t + 1,
             "parse_data": {"intent": {"name": "ask_question", "confidence": 0.9}},
             "metadata": {"traffic": "test"}},
            {"event": "action", "name": "action_kb_answer", "sender_id": sender, "timestamp": t + 1.1},
            {"event": "bot", "text": "Cards arrive in 3-5 working days.", "sender_id": sender,
             "timestamp": t + 1.2},
        ]  # fmt: skip
        n += 1
    events = events[:count]
    connection = pika.BlockingConnection(pika_parameters(stack.rabbitmq_url))
    channel = connection.channel()
    started = time.monotonic()
    for event in events:
        channel.basic_publish(stack.broker_exchange, "", json.dumps(event).encode())
    published = time.monotonic() - started
    connection.close()
    drained = wait_stored(stack)
    total = published + drained if drained is not None else 0.0
    return {
        "events": count,
        "conversations": n,
        "publish_seconds": round(published, 2),
        "seconds_until_stored": round(total, 2) if drained is not None else None,
        "events_per_second": round(count / total, 1) if drained is not None else None,
    }


def article_edit(stack: Any, http: Any, timeout: float = 180.0) -> dict[str, Any]:
    def builds() -> list[str]:
        out = []
        for port in stack.action_ports:
            with http.urlopen(f"http://127.0.0.1:{port}/kb", timeout=10) as resp:
                out.append(json.loads(resp.read())["build"])
        return out

    before = builds()
    article = sorted(stack.kb_source.rglob("*.md"))[0]
    article.write_text(article.read_text(encoding="utf-8") + "\nChecked by the scale benchmark.\n")
    started = time.monotonic()
    seen: dict[int, float] = {}
    while time.monotonic() - started < timeout and len(seen) < len(before):
        for port, (old, new) in zip(stack.action_ports, zip(before, builds(), strict=True), strict=True):
            if new != old and port not in seen:
                seen[port] = round(time.monotonic() - started, 2)
        time.sleep(0.1)
    return {
        "article": article.name,
        "live_seconds_per_action_server": {str(p): s for p, s in seen.items()},
        "live_on_every_server_seconds": max(seen.values()) if len(seen) == len(before) else None,
        "same_build_everywhere": len(set(builds())) == 1,
    }


LOCK_RACE = r"""
import json, multiprocessing as mp, sys, time
from rasa.core.lock_store import RedisLockStore
from rasa_addons.lock_store import AtomicRedisLockStore

def worker(kind, db, prefix, conversations, start_at, out):
    cls = {"rasa": RedisLockStore, "ours": AtomicRedisLockStore}[kind]
    store = cls(host="127.0.0.1", port=6379, db=db, key_prefix=prefix)
    tickets = []
    for i in range(conversations):
        while time.time() < start_at + i * 0.01:  # both processes reach each conversation together
            pass
        tickets.append(store.issue_ticket(f"c{i}"))
    out.put(tickets)

if __name__ == "__main__":
    kind, db, conversations = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    prefix = f"race-{kind}-{time.time_ns()}:"
    out = mp.Queue()
    start_at = time.time() + 2
    args = (kind, db, prefix, conversations, start_at, out)
    procs = [mp.Process(target=worker, args=args) for _ in range(2)]
    for p in procs: p.start()
    a, b = out.get(), out.get()
    for p in procs: p.join()
    duplicated = sum(1 for x, y in zip(a, b) if x == y)
    print(json.dumps({"conversations": conversations, "duplicated_tickets": duplicated}))
"""


def lock_race(conversations: int = 300) -> dict[str, Any]:
    from urllib.parse import urlsplit

    db = int(urlsplit(REDIS_URL).path.strip("/") or 0)
    python = ROOT / ".venv-rasa" / "bin" / "python"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false"}
    out: dict[str, Any] = {}
    for kind in ("rasa", "ours"):
        done = subprocess.run(
            [str(python), "-c", LOCK_RACE, kind, str(db), str(conversations)],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
        )  # fmt: skip
        if done.returncode != 0:
            out[kind] = {"error": done.stderr.strip().splitlines()[-1:]}
            continue
        out[kind] = json.loads(done.stdout.strip().splitlines()[-1])
    out["what"] = (
        "two processes issue a ticket for the same conversation at the same moment; a duplicated"
        " ticket lets both messages run at once (rasa#9213)"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    import urllib.request

    from assistant.benchout import add_ports_argument, ready_or_explain, report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    add_ports_argument(parser, DEFAULT_PORTS)
    parser.add_argument("--customers", type=int, default=CUSTOMERS)
    args = parser.parse_args(argv)
    if not ready_or_explain(ROOT):
        return 1

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    random.seed(14)
    globals()["CUSTOMERS"] = args.customers
    started = time.perf_counter()
    result: dict[str, Any] = {"benchmark": "scale", "instances": {}}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        var = Path(tmp).resolve()
        for instances in (1, 2):
            run = secrets.token_hex(4)
            stack = production_stack(var, args.ports, run, instances)
            try:
                print(f"[bench] {instances} Rasa instance(s): starting…", file=sys.stderr, flush=True)
                stack.start(timeout=900, quiet=True)
                print(f"[bench] {CUSTOMERS} customers…", file=sys.stderr, flush=True)
                result["instances"][str(instances)] = customers_step(stack)
                if instances == 2:
                    print("[bench] broker burst and article edit…", file=sys.stderr, flush=True)
                    result["broker_into_analytics"] = burst(stack)
                    result["article_edit"] = article_edit(stack, urllib.request)
            except KeyboardInterrupt:
                print("interrupted", file=sys.stderr)
                return 130
            finally:
                stack.stop()
                discard(stack)
    print("[bench] lock race…", file=sys.stderr, flush=True)
    result["lock_race"] = lock_race()
    one, two = (result["instances"].get(k, {}) for k in ("1", "2"))
    tps1, tps2 = one.get("turns_per_second"), two.get("turns_per_second")
    p95_1 = (one.get("answer_seconds") or {}).get("p95")
    p95_2 = (two.get("answer_seconds") or {}).get("p95")
    result["two_over_one"] = {
        "turns_per_second": round(tps2 / tps1, 3) if tps1 and tps2 else None,
        "p95_answer_seconds": round(p95_2 / p95_1, 3) if p95_1 and p95_2 else None,
        "note": "2 cores: the customers' pace sets the turns per second; the ratio shows the cost of"
        " a second instance (memory, Redis, lock hand-offs), not a speed-up",
    }
    from conversations_bench import provenance

    result["settings"] = {
        "customers": CUSTOMERS,
        "gap_seconds": [10, 20],
        "action_servers": 2,
        "ports": dict(zip(("rasa", "actions", "web", "public"), args.ports, strict=True)),
        "cores": os.cpu_count(),
        "services": "PostgreSQL, Redis and RabbitMQ on this machine",
    }
    result["provenance"] = provenance()
    result["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    report(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
