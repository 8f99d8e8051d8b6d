"""A busy morning: ``make bench-load`` prints one JSON object.

Starts its own stack (as ``make run`` does: gateway, web app, Rasa, action server) on its own
ports with its own databases in a temporary folder, so simulated customers never reach the real
analytics or reorder the top tasks. Then, step by step, simulated customers talk to it over
socket.io through the gateway, as the widget does (a websocket, ``session_request``, then
``user_uttered``), each from its own loopback address (127.0.x.y) as real customers come from
their own; a few steps go over Rasa's internal REST webhook for comparison.

Each customer has a five-turn conversation: a greeting, a knowledge-base question, the start of
the product-comparison form, an answer to its first question (a form step), and another
question. Before each message (the first too) it waits as a person would: 10-20 s in the
"typing" steps (50, 100, 200, 400 customers), 1-3 s in the "ceiling" steps that look for the
most customers served at p95 <= 1 s. Customers arrive spread over ``RAMP`` seconds.

Measured per step: turns per second, the time to the answer (p50 / p95 / p99, in all and per
kind of turn), errors, time-outs (no answer within ``TURN_TIMEOUT``), lost messages (read back
from the tracker: a message sent but not recorded, or answered in the tracker but never
delivered to the customer), "you're in line" notices, connect times (websocket open to
``session_confirm``), and the memory (RSS) of every process before and after the run.

``--rasa-processes 2 --redis-url redis://127.0.0.1:6379/0`` runs two Rasa processes (both cores)
behind the gateway, sharing Redis's lock store. Targets are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import secrets
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

# rasa (and rasa + 1 ...), actions, web, public: apart from make run's, the tests' and the other
# benchmarks' ports
DEFAULT_PORTS = (27005, 27055, 28281, 28280)
RAMP = 10.0  # seconds over which a step's customers arrive
TURN_TIMEOUT = 30.0  # seconds a customer waits for an answer, as the widget's user might
CONNECT_TIMEOUT = 30.0
QUIET = 0.4  # seconds without a message after an answer: the bot's turn is over
LINGER = 5.0  # seconds a customer stays connected after everyone is done, for late answers
TYPING_STEPS = (50, 100, 200, 400)
CEILING_STEPS = (10, 25, 50, 75, 100)
REST_STEPS = (25, 50)
TARGET_CUSTOMERS, TARGET_P95 = 200, 1.0
BASELINE = {"customers_at_p95_1s": 25, "turns_per_second": 10.0, "measured": "issue 13, one Rasa process"}

GREETINGS = ["hi", "hello there", "good morning", "hey"]
QUESTIONS = [
    "how long does a transfer abroad take",
    "what fees do you charge for cash machines",
    "my card payment was declined, why",
    "can I change the pin on my card",
    "how do I close my account",
    "is there a limit on how much I can send",
    "what happens if I lose my phone",
    "do you charge for exchanging currency at weekends",
]
FORM_START = "can you help me pick the right account"
FORM_STEP = "mostly for spending abroad"
SCRIPT = [
    ("greeting", GREETINGS),
    ("kb", QUESTIONS),
    ("form", [FORM_START]),
    ("form", [FORM_STEP]),
    ("kb", QUESTIONS),
]


def percentile(samples: list[float], q: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    k = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))  # nearest rank
    return round(ordered[k], 3)


def cpu_seconds(pid: int, proc: Path = Path("/proc")) -> float:
    """CPU time (user + system) of one process, 0 when it is gone."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def group_cpu(pgid: int, proc: Path = Path("/proc")) -> float:
    from hostile_bench import process_group

    return sum(
        cpu_seconds(int(e.name), proc)
        for e in proc.iterdir()
        if e.name.isdigit() and process_group(int(e.name), proc) == pgid
    )


def latency(samples: list[float]) -> dict[str, Any]:
    return {
        "n": len(samples),
        "p50": percentile(samples, 50),
        "p95": percentile(samples, 95),
        "p99": percentile(samples, 99),
    }


@dataclass
class Customer:
    sender: str = ""
    sent: list[str] = field(default_factory=list)
    answered: int = 0  # messages that got an answer on the customer's side
    turns: list[tuple[str, float]] = field(default_factory=list)  # (kind, seconds to answer)
    timeouts: int = 0
    errors: list[str] = field(default_factory=list)
    connect_seconds: float | None = None
    in_line: int = 0
    bot_messages: int = 0  # every bot message delivered to this customer (notices aside)
    first_sent: float | None = None  # monotonic time of the first message sent
    last_answer: float | None = None  # ... and of the last answer received


@dataclass
class Step:
    name: str
    channel: str
    customers: int
    gap: tuple[float, float]
    results: list[Customer] = field(default_factory=list)
    seconds: float = 0.0
    scripts_left: int = 0
    scripts_done: asyncio.Event = field(default_factory=asyncio.Event)
    cpu: dict[str, float] = field(default_factory=dict)  # share of one core per process, over the step


def summarise_step(step: Step, lost: dict[str, int]) -> dict[str, Any]:
    turns = [t for c in step.results for _, t in c.turns]
    kinds = sorted({k for c in step.results for k, _ in c.turns})
    connects = [c.connect_seconds for c in step.results if c.connect_seconds is not None]
    errors = [e for c in step.results for e in c.errors]
    starts = [c.first_sent for c in step.results if c.first_sent is not None]
    ends = [c.last_answer for c in step.results if c.last_answer is not None]
    busy = (max(ends) - min(starts)) if starts and ends else 0.0
    summary = {
        "channel": step.channel,
        "customers": step.customers,
        "gap_seconds": list(step.gap),
        "seconds": round(step.seconds, 1),
        "turns": len(turns),
        "turns_per_second": round(len(turns) / step.seconds, 2) if step.seconds else None,
        # the same over the busy window only (first message sent to last answer received)
        "busy_turns_per_second": round(len(turns) / busy, 2) if busy > 0 else None,
        "answer_seconds": latency(turns),
        "by_kind": {k: latency([t for c in step.results for kk, t in c.turns if kk == k]) for k in kinds},
        "timeouts": sum(c.timeouts for c in step.results),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "lost": lost,
        "in_line_notices": sum(c.in_line for c in step.results),
        "connect_seconds": latency(connects) if step.channel == "socketio" else None,
        "cpu_cores": step.cpu,
    }
    p95 = summary["answer_seconds"]["p95"]
    summary["meets_p95_1s"] = bool(
        p95 is not None and p95 <= TARGET_P95 and not summary["timeouts"] and not summary["errors"]
    )
    return summary


class Load:
    def __init__(self, var: Path, ports: tuple[int, int, int, int], processes: int, redis_url: str):
        from assistant.benchout import bench_stack

        public = ports[3]
        self.stack = bench_stack(var, ports, rasa_processes=processes, redis_url=redis_url)
        self.public = f"http://127.0.0.1:{public}"
        self.in_line_prefix = in_line_prefix()
        self.next_address = 0

    def address(self) -> str:
        n = self.next_address
        self.next_address += 1
        return f"127.0.{(n // 250) % 250 + 1}.{n % 250 + 2}"

    def memory(self) -> dict[str, Any]:
        from hostile_bench import MB, group_rss

        found = {}
        for service in self.stack.services:
            assert service.process is not None
            rss, _ = group_rss(service.process.pid)
            found[service.name] = {"rss_mb": round(rss / MB, 1), "alive": service.process.poll() is None}
        return found

    # -- one customer over socket.io
    async def socket_customer(self, step: Step, delay: float) -> Customer:
        from hostile_bench import SocketIO

        customer = Customer()
        await asyncio.sleep(delay)
        client = SocketIO(self.public, self.stack.public_url, self.address())
        started = time.monotonic()
        try:
            await client.connect(CONNECT_TIMEOUT)
            granted = await client.new_conversation(CONNECT_TIMEOUT)
            customer.sender = str(granted["session_id"])
            customer.connect_seconds = time.monotonic() - started
            await client.drain(0.2, 1.0)
            await asyncio.sleep(random.uniform(*step.gap))  # a person reads, then types
            for kind, choices in SCRIPT:
                text = random.choice(choices)
                customer.sent.append(text)
                sent_at = time.monotonic()
                await client.emit("user_uttered", {"message": text, "metadata": {}})
                customer.first_sent = customer.first_sent or sent_at
                answered_at = await self._answer(client, customer)
                if answered_at is not None:
                    customer.answered += 1
                    customer.turns.append((kind, answered_at - sent_at))
                    customer.last_answer = answered_at
                else:
                    customer.timeouts += 1
                await asyncio.sleep(random.uniform(*step.gap))
        except Exception as exc:  # a broken conversation is a result, not a crash
            customer.errors.append(f"{type(exc).__name__}: {str(exc)[:80]}")
        finally:
            self.script_done(step)
        try:  # stay connected until everyone is done: a late answer still counts as delivered
            await self._linger(client, customer, step)
        finally:
            await client.close()
        return customer

    def script_done(self, step: Step) -> None:
        step.scripts_left -= 1
        if step.scripts_left <= 0:
            step.scripts_done.set()

    async def _linger(self, client: Any, customer: Customer, step: Step) -> None:
        with contextlib.suppress(Exception):
            while not step.scripts_done.is_set():
                with contextlib.suppress(TimeoutError):
                    event, data = await client.event(1.0)
                    self._count(event, data, customer)
            await client.drain(LINGER, LINGER)

    async def _answer(self, client: Any, customer: Customer) -> float | None:
        """When the first answer came (a "you're in line" notice is no answer), or None."""
        deadline = time.monotonic() + TURN_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                event, data = await client.event(left)
            except TimeoutError:
                return None
            if not self._count(event, data, customer):
                continue
            answered_at = time.monotonic()
            while True:  # the rest of the turn (buttons, a second bubble)
                try:
                    event, data = await client.event(QUIET)
                except TimeoutError:
                    return answered_at
                self._count(event, data, customer)

    def _count(self, event: str, data: Any, customer: Customer) -> bool:
        """Count a bot message; True when it is one (a "you're in line" notice is not)."""
        if event != "bot_uttered":
            return False
        if str((data or {}).get("text", "")).startswith(self.in_line_prefix):
            customer.in_line += 1
            return False
        customer.bot_messages += 1
        return True

    # -- one customer over REST
    async def rest_customer(self, step: Step, delay: float, http: Any) -> Customer:
        customer = Customer(sender=f"bench-load-{secrets.token_hex(8)}")
        await asyncio.sleep(delay + random.uniform(*step.gap))
        url = f"http://127.0.0.1:{self.stack.rasa_port}/webhooks/rest/webhook"
        for kind, choices in SCRIPT:
            text = random.choice(choices)
            customer.sent.append(text)
            sent_at = time.monotonic()
            try:
                body = {"sender": customer.sender, "message": text}
                resp = await http.post(url, json=body, timeout=TURN_TIMEOUT)
                customer.first_sent = customer.first_sent or sent_at
                if resp.status_code == 200 and resp.json():
                    customer.answered += 1
                    customer.bot_messages += len(resp.json())
                    customer.last_answer = time.monotonic()
                    customer.turns.append((kind, customer.last_answer - sent_at))
                else:
                    customer.errors.append(f"HTTP {resp.status_code}")
            except Exception as exc:
                if "Timeout" in type(exc).__name__:
                    customer.timeouts += 1
                else:
                    customer.errors.append(f"{type(exc).__name__}: {str(exc)[:80]}")
            await asyncio.sleep(random.uniform(*step.gap))
        self.script_done(step)
        return customer

    def cpu(self) -> dict[str, float]:
        found = {s.name: group_cpu(s.process.pid) for s in self.stack.services if s.process is not None}
        found["simulated customers"] = cpu_seconds(os.getpid())
        return found

    async def run_step(self, step: Step) -> None:
        import httpx

        cpu_before = self.cpu()
        delays = [RAMP * i / max(1, step.customers) for i in range(step.customers)]
        step.scripts_left = step.customers
        started = time.monotonic()
        limits = httpx.Limits(max_connections=step.customers + 10, max_keepalive_connections=step.customers)
        async with httpx.AsyncClient(limits=limits) as http:
            if step.channel == "socketio":
                jobs = [self.socket_customer(step, d) for d in delays]
            else:
                jobs = [self.rest_customer(step, d, http) for d in delays]
            step.results = list(await asyncio.gather(*jobs))
        step.seconds = time.monotonic() - started
        used = self.cpu()
        step.cpu = {n: round((t - cpu_before.get(n, 0.0)) / step.seconds, 2) for n, t in used.items()}

    async def lost(self, step: Step) -> dict[str, int]:
        """Read every conversation back from the tracker, once the backlog is worked off (the
        counts stop changing): a message sent but not recorded, or a bot message recorded but
        never delivered to the customer."""
        import httpx

        previous: tuple[int, int] | None = None
        async with httpx.AsyncClient(timeout=30) as http:
            for _ in range(12):
                not_recorded = undelivered = 0
                for customer in step.results:
                    if not customer.sender:
                        continue
                    url = f"http://127.0.0.1:{self.stack.rasa_port}/conversations/{customer.sender}/tracker"
                    resp = await http.get(url, params={"token": self.stack.rasa_token})
                    events = resp.json().get("events", []) if resp.status_code == 200 else []
                    not_recorded += max(0, len(customer.sent) - sum(1 for e in events if typed(e)))
                    bots = sum(1 for e in events if e.get("event") == "bot")
                    undelivered += max(0, bots - customer.bot_messages)
                if (not_recorded, undelivered) == previous or not not_recorded:
                    break
                previous = (not_recorded, undelivered)
                await asyncio.sleep(5)
        return {"sent_not_recorded": not_recorded, "bot_messages_not_delivered": undelivered}


def typed(event: dict[str, Any]) -> bool:
    return event.get("event") == "user" and not str(event.get("text", "")).startswith("/")


def next_user(events: list[dict[str, Any]], i: int) -> int:
    for j in range(i + 1, len(events)):
        if events[j].get("event") == "user":
            return j
    return len(events)


def in_line_prefix() -> str:
    import yaml

    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
    texts = credentials["rasa_addons.channels.GuardedSocketIOInput"].get("texts", {})
    return str(texts.get("in_line", "Lots of customers")).split("{")[0][:30]


def steps(quick: bool) -> list[Step]:
    if quick:
        return [Step("typing-20", "socketio", 20, (10, 20)), Step("ceiling-10", "socketio", 10, (1, 3))]
    out = [Step(f"typing-{n}", "socketio", n, (10, 20)) for n in TYPING_STEPS]
    out += [Step(f"ceiling-{n}", "socketio", n, (1, 3)) for n in CEILING_STEPS]
    out += [Step(f"rest-ceiling-{n}", "rest", n, (1, 3)) for n in REST_STEPS]
    return out


async def run(load: Load, plan: list[Step]) -> dict[str, Any]:
    before = load.memory()
    out: dict[str, Any] = {}
    for step in plan:
        print(f"[bench] {step.name}…", file=sys.stderr, flush=True)
        await load.run_step(step)
        out[step.name] = summarise_step(step, await load.lost(step))
        figures = json.dumps(out[step.name]["answer_seconds"])
        print(f"[bench] {step.name}: {figures}", file=sys.stderr, flush=True)
        await asyncio.sleep(2)
    return {"steps": out, "memory_mb": {"before": before, "after": load.memory()}}


def log_problems(stack: Any) -> dict[str, Any]:
    """Lines at ERROR (or worse) in each process's log over the whole run, with a few examples:
    a busy morning should log real problems only (no line per closed websocket)."""
    import re

    found: dict[str, Any] = {}
    for service in stack.services:
        if service.log_path is None or not service.log_path.exists():
            continue
        lines = service.log_path.read_text(errors="replace").splitlines()
        bad = [line for line in lines if re.search(r"\b(ERROR|CRITICAL|Traceback)\b", line)]
        found[service.name] = {
            "error_lines": len(bad),
            "invalid_response_type_none": sum("Invalid response type None" in line for line in lines),
            "examples": sorted({line[-160:] for line in bad})[:3],
        }
    return found


def targets(steps_out: dict[str, Any]) -> dict[str, Any]:
    typing = steps_out.get(f"typing-{TARGET_CUSTOMERS}")
    ceiling = [s for name, s in steps_out.items() if name.startswith("ceiling-") and s["meets_p95_1s"]]
    best = max(ceiling, key=lambda s: s["customers"], default=None)
    lost_any = sum(sum(s["lost"].values()) for s in steps_out.values())
    return {
        f"{TARGET_CUSTOMERS}_typing_customers": {
            "errors": typing["errors"] if typing else None,
            "timeouts": typing["timeouts"] if typing else None,
            "p95_seconds": typing["answer_seconds"]["p95"] if typing else None,
            "met": bool(typing and typing["meets_p95_1s"] and not sum(typing["lost"].values())),
        },
        "ceiling": {
            "customers_at_p95_1s": best["customers"] if best else 0,
            "turns_per_second": best["turns_per_second"] if best else None,
            "baseline": BASELINE,
            "raised": bool(best and best["customers"] > BASELINE["customers_at_p95_1s"]),
        },
        "nothing_lost": lost_any == 0,
    }


def main(argv: list[str] | None = None) -> int:
    from assistant.benchout import add_ports_argument, ready_or_explain, report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    add_ports_argument(parser, DEFAULT_PORTS)
    parser.add_argument("--rasa-processes", type=int, default=1)
    parser.add_argument("--redis-url", default=os.environ.get("ASSISTANT_REDIS_URL", ""))
    parser.add_argument("--quick", action="store_true", help="two small steps, to check the benchmark itself")
    parser.add_argument("--only", help="comma-separated step names to run (e.g. typing-200,ceiling-50)")
    parser.add_argument("--var", type=Path, help="keep the stack's databases and logs in this new folder")
    args = parser.parse_args(argv)
    ports = args.ports
    if not ready_or_explain(ROOT):
        return 1
    if args.var is not None and args.var.exists() and any(args.var.iterdir()):
        parser.error(f"--var {args.var} is not empty")
    plan = steps(args.quick)
    if args.only:
        wanted = set(args.only.split(","))
        plan = [s for s in plan if s.name in wanted]

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    random.seed(13)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        load = Load((args.var or Path(tmp)).resolve(), ports, args.rasa_processes, args.redis_url)
        try:
            load.stack.start(timeout=900, quiet=True)
            startup = time.perf_counter() - started
            result = asyncio.run(run(load, plan))
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        finally:
            load.stack.stop()
        result["logs"] = log_problems(load.stack)
    from conversations_bench import provenance

    summary = {
        "benchmark": "load",
        "rasa_processes": args.rasa_processes,
        "lock_store": "redis" if args.redis_url else "in-memory",
        **result,
        "targets": targets(result["steps"]),
        "settings": {
            "ports": dict(zip(("rasa", "actions", "web", "public"), ports, strict=True)),
            "ramp_seconds": RAMP,
            "turn_timeout_seconds": TURN_TIMEOUT,
            "script": [kind for kind, _ in SCRIPT],
            "cores": os.cpu_count(),
            "client": "the simulated customers run on the same machine (they take CPU too)",
        },
        "provenance": provenance(),
        "startup_seconds": round(startup, 1),
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    report(summary, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
