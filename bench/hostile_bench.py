"""Hostile input at the public entry: ``make bench-hostile`` prints one JSON object.

Starts its own stack (gateway, web app, Rasa, action server, as :class:`assistant.stack.Stack`
does for ``make run``) on its own ports with its own databases in a temporary folder, then:

1. **before**: the reply time of a normal question, over the public socket.io entry through the
   gateway (time to the first ``bot_uttered``; median of ``SAMPLES``, each in a new
   conversation) and over Rasa's internal REST webhook (time to the whole answer), for
   comparison; then the resident memory of each service (RSS summed over its process group,
   read from /proc);
2. sends ``SENDS`` hostile messages of about 60 KB on each public entry, through the gateway's
   port only: socket.io ``user_uttered`` with 60 KB of text, with a 60 KB "/intent{...}"
   message, and with 60 KB of metadata; ``POST /chat/feedback`` with a 60 KB JSON body;
   ``GET /chat/history/<60 KB id>``; ``POST /console/login`` with a 60 KB form; and JSON nested
   ``NESTING`` levels deep to ``/chat/feedback``. Every socket.io frame stays under Rasa's
   64 KiB frame limit and every body under the gateway's 64k body limit: what is measured is
   how the limits behind them answer. Each entry comes from its own loopback address
   (127.0.0.x), so one entry's per-address rate-limit window does not decide the next one's
   outcomes. Each answer is counted: HTTP status, or for socket.io whether a polite refusal
   came back, another reply, none, or the connection was closed (with its close code);
3. **after**: the same memory and reply time; then stops the stack.

The ``target`` section says whether memory stayed put (every service within
``MEMORY_SLACK_MB`` and no process died) and whether replies stayed as fast (median after at
most ``REPLY_FACTOR`` x before + ``REPLY_SLACK_MS``). Targets are reported, never asserted.

The pure parts (RSS from /proc, the summary) are checked by ``tests/test_hostile_bench.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# rasa, actions, web, public: never make run's (5005...), the tests' (15005...) nor
# bench-conversations' (25005, 25055, 28080)
DEFAULT_PORTS = (26005, 26055, 28181, 28180)
PAYLOAD_BYTES = 60_000  # "60 KB": with its framing still under Rasa's 64 KiB frame limit
NESTING = 10_000
SENDS = 100
SAMPLES = 5
QUESTION = "how do I freeze my card?"
MEMORY_SLACK_MB = 50.0
REPLY_FACTOR, REPLY_SLACK_MS = 1.5, 100.0
REPLY_TIMEOUT = 60.0  # seconds for a normal question's first reply
REFUSAL_TIMEOUT = 10.0  # seconds for an answer to a hostile message (a refusal takes milliseconds)
SILENT_TIMEOUT = 1.0  # ... once SILENT_AFTER in a row on one entry got none: the rest are not waited for
SILENT_AFTER = 3
SESSION_TIMEOUT = 15.0  # seconds for session_request's answer
SESSION_RETRY_TIMEOUT = 3.0  # ... once one went unanswered
QUIET = 1.0  # seconds without a message: the bot has finished its turn
SERVICES = ("gateway", "web", "rasa", "actions")
MB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
SOCKET_ENTRIES = ("socketio_text", "socketio_intent", "socketio_metadata")
HTTP_ENTRIES = ("feedback_json", "history_long_id", "console_login_form", "feedback_nested_json")
DEFINITIONS = {
    "memory_mb": "resident set size (VmRSS) summed over the service's process group, in MiB"
    " (pages shared between a group's processes count once per process)",
    "reply_ms.socketio": "a new connection and conversation's question over socket.io through the gateway:"
    " ms from user_uttered to the first bot_uttered (median of the samples; None: no reply)",
    "reply_ms.rest": "the same question over Rasa's internal REST webhook: ms to the whole answer (median)",
    "outcomes.refused_politely": "the channel's 'too long' text came back",
    "outcomes.refused_busy": "the channel's 'too fast' text came back",
    "outcomes.answered": "another bot reply came back (the message reached the assistant)",
    "outcomes.no_reply": f"nothing within {REFUSAL_TIMEOUT:.0f} s ({SILENT_TIMEOUT:.0f} s once"
    f" {SILENT_AFTER} in a row got nothing), connection still open",
    "session_granted": "socket.io session_request was answered with session_credential (on every"
    " connection the entry opened); without it the channel's replies have no room to go to",
    "outcomes.closed_<code>": "the websocket was closed (1009: frame too big; 1006: closed without a"
    " close frame); the next message opens a new connection",
    "outcomes.<status>": "the HTTP status the gateway or the web app answered",
    "outcomes.error_<name>": "the request failed without an HTTP answer",
}


# ---- the pure parts ---------------------------------------------------------------------------------
def process_group(pid: int, proc: Path = Path("/proc")) -> int | None:
    """The process group of ``pid`` (from /proc/<pid>/stat), None when it is gone."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[2])


def rss_bytes(pid: int, proc: Path = Path("/proc")) -> int:
    """Resident memory of one process (/proc/<pid>/statm, second field), 0 when it is gone."""
    try:
        return int((proc / str(pid) / "statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def group_rss(pgid: int, proc: Path = Path("/proc")) -> tuple[int, int]:
    """(resident bytes summed over every process of group ``pgid``, how many processes)."""
    total = count = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if process_group(pid, proc) == pgid:
            total += rss_bytes(pid, proc)
            count += 1
    return total, count


def median_ms(samples: list[float | None]) -> float | None:
    done = [s for s in samples if s is not None]
    return round(statistics.median(done), 1) if done else None


def summarise(
    entries: dict[str, dict[str, Any]],
    memory_before: dict[str, dict[str, Any]],
    memory_after: dict[str, dict[str, Any]],
    replies_before: dict[str, list[float | None]],
    replies_after: dict[str, list[float | None]],
) -> dict[str, Any]:
    """The report from what was gathered: ``memory_*`` maps a service to
    ``{"rss_mb", "processes", "alive", "pid"}``, ``replies_*`` a path ("socketio", "rest") to its samples
    in ms (None for a sample that got no reply)."""
    services = list(dict.fromkeys([*memory_before, *memory_after]))
    before_mb = {s: (memory_before.get(s) or {}).get("rss_mb") for s in services}
    after_mb = {s: (memory_after.get(s) or {}).get("rss_mb") for s in services}
    delta_mb = {
        s: round(after_mb[s] - before_mb[s], 1) if None not in (after_mb[s], before_mb[s]) else None
        for s in services
    }

    def gone(service: str) -> bool:
        before, after = memory_before.get(service) or {}, memory_after.get(service) or {}
        return (
            not after.get("alive", False)
            or after.get("processes", 0) < before.get("processes", 0)  # a child of its group
            or after.get("pid") != before.get("pid")  # started again by someone
        )

    died = [s for s in services if gone(s)]
    grown = [s for s in services if delta_mb[s] is None or delta_mb[s] > MEMORY_SLACK_MB]
    paths = list(dict.fromkeys([*replies_before, *replies_after]))
    before_ms = {p: median_ms(replies_before.get(p) or []) for p in paths}
    after_ms = {p: median_ms(replies_after.get(p) or []) for p in paths}
    delta_ms = {
        p: round(after_ms[p] - before_ms[p], 1) if None not in (after_ms[p], before_ms[p]) else None
        for p in paths
    }

    def reply_check(path: str) -> dict[str, Any]:
        before, after = before_ms.get(path), after_ms.get(path)
        limit = round(REPLY_FACTOR * before + REPLY_SLACK_MS, 1) if before is not None else None
        met = before is not None and after is not None and limit is not None and after <= limit
        return {"before_ms": before, "after_ms": after, "limit_ms": limit, "met": met}

    public = reply_check("socketio")
    return {
        "entries": entries,
        "sent_total": sum(int(e.get("sent", 0)) for e in entries.values()),
        "memory_before_mb": before_mb,
        "memory_after_mb": after_mb,
        "memory_delta_mb": delta_mb,
        "processes_before": {s: (memory_before.get(s) or {}).get("processes") for s in services},
        "processes_after": {s: (memory_after.get(s) or {}).get("processes") for s in services},
        "reply_ms_before": before_ms,
        "reply_ms_after": after_ms,
        "reply_ms_delta": delta_ms,
        "reply_samples_ms": {"before": replies_before, "after": replies_after},
        "target": {
            "memory_unchanged": {
                "rule": f"every service's RSS grows by at most {MEMORY_SLACK_MB:.0f} MB and no process dies",
                "met": not grown and not died,
                "grown": grown,
                "died": died,
            },
            "reply_time_unchanged": {
                "rule": f"socket.io median after <= {REPLY_FACTOR} x before + {REPLY_SLACK_MS:.0f} ms",
                **public,
                "rest_for_comparison": reply_check("rest"),
            },
        },
    }


def csrf_token(page: str) -> str:
    """The sign-in form's token in a console sign-in page ('' when there is none)."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    return found.group(1) if found else ""


def frame(event: str, data: Any) -> str:
    """A Socket.IO v5 event in an Engine.IO v4 message packet: ``42["event", data]``."""
    return "42" + json.dumps([event, data], separators=(",", ":"))


def hostile_socket_payloads(size: int = PAYLOAD_BYTES) -> dict[str, dict[str, Any]]:
    """The ``user_uttered`` data for each socket.io entry."""
    words = "please help me with my account "
    text = (words * (size // len(words) + 1))[:size]
    return {
        "socketio_text": {"message": text, "metadata": {}},
        "socketio_intent": {"message": '/greet{"name":"' + "x" * size + '"}', "metadata": {}},
        "socketio_metadata": {"message": "hello", "metadata": {"note": "m" * size}},
    }


def nested_json(levels: int = NESTING) -> str:
    return "[" * levels + "]" * levels


# ---- socket.io over one websocket (Engine.IO v4 / Socket.IO v5, the minimum) ------------------------
class SocketIO:
    """A websocket-only socket.io client: connect, events in, events out, pings answered."""

    def __init__(self, url: str, origin: str, local_address: str | None = None):
        self.url = url.replace("http://", "ws://", 1).rstrip("/") + "/socket.io/?EIO=4&transport=websocket"
        self.origin, self.local_address = origin, local_address
        self.ws: Any = None

    async def connect(self, timeout: float = 30.0) -> None:
        from websockets.asyncio.client import connect

        extra = {"local_addr": (self.local_address, 0)} if self.local_address else {}
        self.ws = await connect(self.url, origin=self.origin, open_timeout=timeout, **extra)  # type: ignore[arg-type]
        opened = await asyncio.wait_for(self.ws.recv(), timeout)
        if not str(opened).startswith("0"):
            raise ConnectionError(f"no Engine.IO open packet: {str(opened)[:80]!r}")
        await self.ws.send("40")
        while True:
            packet = str(await asyncio.wait_for(self.ws.recv(), timeout))
            if packet.startswith("40"):
                return
            if packet.startswith("44"):
                raise ConnectionError(f"socket.io connect refused: {packet[:200]}")
            await self._control(packet)

    async def _control(self, packet: str) -> None:
        if packet == "2":  # the server's ping
            await self.ws.send("3")

    async def emit(self, event: str, data: Any) -> None:
        await self.ws.send(frame(event, data))

    async def event(self, timeout: float) -> tuple[str, Any]:
        """The next event (name, first argument); TimeoutError when none comes in time."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            packet = str(await asyncio.wait_for(self.ws.recv(), left))
            if packet.startswith("42"):
                body = json.loads(packet[2:])
                return str(body[0]), body[1] if len(body) > 1 else None
            await self._control(packet)

    async def wait_for(self, name: str, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            event, data = await self.event(max(0.0, deadline - time.monotonic()))
            if event == name:
                return data

    async def new_conversation(self, timeout: float = SESSION_TIMEOUT) -> dict[str, Any]:
        await self.emit("session_request", {})
        granted = await self.wait_for("session_credential", timeout)
        await self.wait_for("session_confirm", timeout)
        return dict(granted)

    async def drain(self, quiet: float = QUIET, most: float = 15.0) -> int:
        """Read what is left of the bot's turn: until ``quiet`` seconds pass without a message."""
        seen, deadline = 0, time.monotonic() + most
        while time.monotonic() < deadline:
            try:
                await self.event(quiet)
            except TimeoutError:
                break
            seen += 1
        return seen

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
            self.ws = None


def close_code(exc: BaseException) -> int:
    received = getattr(exc, "rcvd", None)
    return int(received.code) if received is not None else 1006


# ---- the live part ----------------------------------------------------------------------------------
class Live:
    def __init__(self, var: Path, ports: tuple[int, int, int, int]):
        from assistant.benchout import bench_stack

        public = ports[3]
        self.stack = bench_stack(var, ports)
        self.public = f"http://127.0.0.1:{public}"
        self.origin = self.stack.public_url
        self.texts = refusal_texts()
        self.session_unanswered = 0  # session_request without session_credential, over the run
        self.session_wait = SESSION_TIMEOUT

    # -- memory
    def memory(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for service in self.stack.services:
            assert service.process is not None
            rss, count = group_rss(service.process.pid)  # its own group: start_new_session
            found[service.name] = {
                "rss_mb": round(rss / MB, 1),
                "processes": count,
                "alive": service.process.poll() is None,
                "pid": service.process.pid,  # not supervised here: a process that dies stays dead
            }
        return {name: found[name] for name in SERVICES if name in found}

    async def open_conversation(self, client: SocketIO) -> bool:
        """session_request for a new conversation: True when session_credential came back. When
        it does not, the channel may still have opened the conversation: messages are sent anyway,
        and later requests are waited for a shorter while."""
        try:
            await client.new_conversation(self.session_wait)
        except TimeoutError:
            self.session_unanswered += 1
            self.session_wait = SESSION_RETRY_TIMEOUT
            return False
        return True

    # -- normal questions
    async def socket_reply_ms(self, client: SocketIO) -> float | None:
        await self.open_conversation(client)
        started = time.perf_counter()
        await client.emit("user_uttered", {"message": QUESTION, "metadata": {}})
        try:
            await client.wait_for("bot_uttered", REPLY_TIMEOUT)
        except TimeoutError:
            return None
        took = (time.perf_counter() - started) * 1000
        await client.drain()
        return round(took, 1)

    async def rest_reply_ms(self, http: Any) -> float | None:
        url = f"http://127.0.0.1:{self.stack.rasa_port}/webhooks/rest/webhook"
        body = {"sender": f"bench-hostile-{uuid.uuid4().hex[:12]}", "message": QUESTION}
        started = time.perf_counter()
        try:
            resp = await http.post(url, json=body, timeout=REPLY_TIMEOUT)
        except Exception:
            return None
        took = (time.perf_counter() - started) * 1000
        return round(took, 1) if resp.status_code == 200 and resp.json() else None

    async def replies(self, samples: int) -> dict[str, list[float | None]]:
        import httpx

        out: dict[str, list[float | None]] = {"socketio": [], "rest": []}
        for _ in range(samples):  # a new connection and conversation each: no state carried over
            client = SocketIO(self.public, self.origin)
            try:
                await client.connect()
                out["socketio"].append(await self.socket_reply_ms(client))
            except Exception as exc:  # a broken entry is a result: no reply
                print(f"[bench] socket.io reply: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                out["socketio"].append(None)
            finally:
                await client.close()
        async with httpx.AsyncClient() as http:
            for _ in range(samples):
                out["rest"].append(await self.rest_reply_ms(http))
        return out

    # -- hostile traffic
    async def hostile_socket(self, data: dict[str, Any], address: str) -> dict[str, Any]:
        from websockets.exceptions import ConnectionClosed

        outcomes: Counter[str] = Counter()
        client: SocketIO | None = None
        sent = silent = 0
        granted = True
        for _ in range(SENDS):
            try:
                if client is None:
                    client = SocketIO(self.public, self.origin, address)
                    await client.connect()
                    granted = await self.open_conversation(client) and granted
                await client.emit("user_uttered", data)
                sent += 1
                try:
                    reply = await client.wait_for(
                        "bot_uttered", SILENT_TIMEOUT if silent >= SILENT_AFTER else REFUSAL_TIMEOUT
                    )
                except TimeoutError:
                    outcomes["no_reply"] += 1
                    silent += 1
                    continue
                silent = 0
                text = str(reply.get("text") or "") if isinstance(reply, dict) else str(reply)
                outcomes[self.texts.get(text, "answered")] += 1
                if text not in self.texts:
                    await client.drain()
            except Exception as exc:
                if isinstance(exc, ConnectionClosed):
                    outcomes[f"closed_{close_code(exc)}"] += 1
                else:
                    outcomes[f"error_{type(exc).__name__}"] += 1
                if client is not None:
                    await client.close()
                client = None
        if client is not None:
            await client.close()
        return {"sent": sent, "session_granted": granted, "outcomes": dict(sorted(outcomes.items()))}

    def credential(self) -> tuple[str, str]:
        """A conversation id and its credential, as the channel issues them to every visitor (made
        here with the stack's session secret, so the HTTP entries do not depend on socket.io)."""
        from assistant.chat_session import new_session

        issued = new_session(self.stack.session_secret)
        return issued.session_id, issued.credential

    async def hostile_http(
        self,
        address: str,
        send: Callable[[Any], Awaitable[Any]],
        prepare: Callable[[Any], Awaitable[None]] | None = None,
    ) -> dict[str, Any]:
        import httpx

        outcomes: Counter[str] = Counter()
        transport = httpx.AsyncHTTPTransport(local_address=address)
        async with httpx.AsyncClient(transport=transport, timeout=60.0) as http:
            if prepare is not None:
                await prepare(http)
            for _ in range(SENDS):
                try:
                    resp = await send(http)
                    outcomes[str(resp.status_code)] += 1
                except Exception as exc:
                    outcomes[f"error_{type(exc).__name__}"] += 1
        return {"sent": SENDS, "outcomes": dict(sorted(outcomes.items()))}

    async def hostile(self) -> dict[str, dict[str, Any]]:
        from assistant.chat_session import HEADER

        entries: dict[str, dict[str, Any]] = {}
        addresses = iter(f"127.0.0.{n}" for n in range(11, 40))
        for name, data in hostile_socket_payloads().items():
            entries[name] = await self.hostile_socket(data, next(addresses))
            print(f"[bench] {name}: {entries[name]['outcomes']}", file=sys.stderr, flush=True)
        sid, cred = self.credential()
        json_headers = {"Content-Type": "application/json", HEADER: cred, "Origin": self.origin}
        big_feedback = json.dumps({"session_id": sid, "article_id": "a" * PAYLOAD_BYTES, "helpful": True})
        head = json.dumps({"session_id": sid, "article_id": "card-freeze", "helpful": True})[:-1]
        nested = f'{head}, "x": {nested_json()}}}'
        long_id = "h" * PAYLOAD_BYTES
        base = self.public

        async def feedback(http: Any) -> Any:
            return await http.post(f"{base}/chat/feedback", content=big_feedback, headers=json_headers)

        async def history(http: Any) -> Any:
            return await http.get(f"{base}/chat/history/{long_id}", headers={HEADER: cred})

        csrf: dict[str, str] = {}

        async def login_page(http: Any) -> None:
            csrf["token"] = csrf_token((await http.get(f"{base}/console/login")).text)

        async def login(http: Any) -> Any:
            # as a script would: each refused sign-in page carries a new form token (and cookie)
            form = {"csrf": csrf.get("token", ""), "username": "u" * PAYLOAD_BYTES, "password": "p"}
            resp = await http.post(f"{base}/console/login", data=form, headers={"Origin": self.origin})
            csrf["token"] = csrf_token(resp.text) or csrf.get("token", "")
            return resp

        async def deep(http: Any) -> Any:
            return await http.post(f"{base}/chat/feedback", content=nested, headers=json_headers)

        sends = ((feedback, None), (history, None), (login, login_page), (deep, None))
        for name, (send, prepare) in zip(HTTP_ENTRIES, sends, strict=True):
            entries[name] = await self.hostile_http(next(addresses), send, prepare)
            print(f"[bench] {name}: {entries[name]['outcomes']}", file=sys.stderr, flush=True)
        return entries


def refusal_texts(credentials: Path = ROOT / "credentials.yml") -> dict[str, str]:
    """The channel's refusal texts (credentials.yml, else its defaults) -> the outcome they mean."""
    import yaml

    texts = {
        "too_large": "That message is too long for me to read. Could you say it in a few sentences?",
        "busy": "You're sending messages faster than I can read them. Please wait a moment and try again.",
    }
    with contextlib.suppress(OSError, AttributeError, TypeError):
        raw = yaml.safe_load(credentials.read_text(encoding="utf-8")) or {}
        channel = raw.get("rasa_addons.channels.GuardedSocketIOInput") or {}
        texts.update({k: str(v) for k, v in (channel.get("texts") or {}).items() if k in texts})
    return {texts["too_large"]: "refused_politely", texts["busy"]: "refused_busy"}


async def run(live: Live) -> dict[str, Any]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    print("[bench] warming up", file=sys.stderr, flush=True)
    await live.replies(1)  # the first answer loads models and fills caches: not measured
    replies_before = await live.replies(SAMPLES)
    await asyncio.sleep(2)
    memory_before = live.memory()
    print(f"[bench] before: {replies_before} {memory_before}", file=sys.stderr, flush=True)
    hostile_started = time.perf_counter()
    entries = await live.hostile()
    timings["hostile_seconds"] = round(time.perf_counter() - hostile_started, 1)
    await asyncio.sleep(2)
    memory_after = live.memory()
    replies_after = await live.replies(SAMPLES)
    memory_end = live.memory()
    print(f"[bench] after: {replies_after} {memory_after}", file=sys.stderr, flush=True)
    timings["measured_seconds"] = round(time.perf_counter() - started, 1)
    result = summarise(entries, memory_before, memory_after, replies_before, replies_after)
    result["memory_end_mb"] = {s: m["rss_mb"] for s, m in memory_end.items()}
    result["socketio_session_requests_unanswered"] = live.session_unanswered
    result["timings"] = timings
    return result


def main(argv: list[str] | None = None) -> int:
    from assistant.benchout import add_ports_argument, ready_or_explain, report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    add_ports_argument(parser, DEFAULT_PORTS)
    parser.add_argument("--var", type=Path, help="keep the stack's databases and logs in this new folder")
    args = parser.parse_args(argv)
    ports = args.ports
    if not ready_or_explain(ROOT):
        return 1
    if args.var is not None and args.var.exists() and any(args.var.iterdir()):
        parser.error(f"--var {args.var} is not empty")

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        live = Live((args.var or Path(tmp)).resolve(), ports)
        try:
            live.stack.start(timeout=900, quiet=True)
            startup = time.perf_counter() - started
            result = asyncio.run(run(live))
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        finally:
            live.stack.stop()
    sys.path.insert(0, str(ROOT / "bench"))
    from conversations_bench import provenance

    summary = {
        "benchmark": "hostile",
        **result,
        "settings": {
            "ports": dict(zip(("rasa", "actions", "web", "public"), ports, strict=True)),
            "sends_per_entry": SENDS,
            "payload_bytes": PAYLOAD_BYTES,
            "nesting_levels": NESTING,
            "largest_socketio_frame_bytes": max(
                len(frame("user_uttered", d).encode()) for d in hostile_socket_payloads().values()
            ),
            "rasa_max_frame_bytes": 64 * 1024,
            "gateway_max_body": "64k",
            "samples": SAMPLES,
            "question": QUESTION,
            "addresses": "each hostile entry from its own loopback address (127.0.0.11 and up)",
            "feedback_credential": "a good credential for a conversation of its own (every visitor has one)",
        },
        "definitions": DEFINITIONS,
        "provenance": provenance(),
        "startup_seconds": round(startup, 1),
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    report(summary, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
