"""The production profile over the machine's real PostgreSQL, Redis and RabbitMQ, with two Rasa
instances and two action servers behind the gateway (``pytest --profile production``, which
``make test`` runs): a Rasa instance killed mid-form loses nothing, an action server that is
down is routed around, the analytics store fills from RabbitMQ, an article edit goes live on
every action server, and what must stay internal stays internal.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.parse

import pytest

from tests.integration.conftest import query, texts
from tests.integration.test_stages import new_sender, signed_in

pytestmark = [pytest.mark.integration, pytest.mark.profile("production")]


def _kill(stack, name: str) -> None:
    service = next(s for s in stack.services if s.name == name)
    assert service.process is not None and service.process.poll() is None, f"{name} is not running"
    os.killpg(service.process.pid, signal.SIGKILL)
    service.process.wait(timeout=30)


def _wait_up(stack, name: str, timeout: float = 300.0) -> None:
    import urllib.request

    service = next(s for s in stack.services if s.name == name)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(service.health_url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    pytest.fail(f"{name} did not come back within {timeout:.0f} s")


def _transfers(stack, customer: str) -> list[tuple]:
    return query(
        stack,
        "select payee_id, amount_minor from transfers where customer_id = :c order by created_at",
        {"c": customer},
        db="bank",
    )


def test_the_stores_are_postgres_redis_and_rabbitmq(stack):
    assert stack.rasa_processes == 2 and stack.action_processes == 2
    endpoints = (stack.var_dir / "endpoints.yml").read_text()
    assert 'dialect: "postgresql"' in endpoints and "type: pika" in endpoints
    assert "AtomicRedisLockStore" in endpoints and f":{stack.actions_port}/webhook" in endpoints
    assert "password: ${" in endpoints  # only references: the secrets stay in the environment
    assert stack.database_url.startswith("postgresql+psycopg://")


def test_rasa_killed_mid_form_the_other_instance_completes_it(stack, say, tracker):
    sender, meta = new_sender(), signed_in(stack)
    first, second = stack.rasa_ports
    before = _transfers(stack, "cust-ava")
    messages = say(sender, "make a transfer", meta, port=first)
    assert "Who would you like to send money to?" in texts(messages)
    messages = say(sender, "Sam", meta, port=first)
    assert "How much" in texts(messages)

    _kill(stack, "rasa")  # the instance holding the conversation dies between two messages
    messages = say(sender, "13.57", meta, port=second)  # the other one carries on
    assert "Send £13.57 to Sam Carter" in texts(messages)
    messages = say(sender, "yes please", meta, port=second)
    assert _transfers(stack, "cust-ava")[len(before) :] == [("cust-ava-payee1", 1357)]
    users = [e["text"] for e in tracker(sender, port=second)["events"] if e.get("event") == "user"]
    assert users == ["make a transfer", "Sam", "13.57", "yes please"]  # nothing lost, in order
    _wait_up(stack, "rasa")  # the supervisor starts it again


def test_an_action_server_that_is_down_is_routed_around(stack, say):
    _kill(stack, "actions-2")
    try:
        for port in stack.rasa_ports * 3:  # both instances, several calls: each reaches actions
            messages = say(new_sender(), "how do I top up with a card?", port=port)
            assert messages and "something went wrong" not in texts(messages).lower()
    finally:
        _wait_up(stack, "actions-2")


def test_events_reach_the_analytics_store_through_rabbitmq(stack, say):
    sender = new_sender()
    say(sender, "how do I top up with a card?", port=stack.rasa_ports[1])
    deadline = time.monotonic() + 60
    rows: list[tuple] = []
    while time.monotonic() < deadline and not rows:
        rows = query(
            stack,
            "select source, kind from insight_events where sender_id = :s",
            {"s": sender},
        )
        time.sleep(0.5)
    assert rows, "no event of the conversation reached the analytics store"
    assert {source for source, _ in rows} == {"rabbitmq"}
    assert "question" in {kind for _, kind in rows} or len(rows) >= 3


def test_an_article_edit_goes_live_on_every_action_server(stack, http):
    def builds() -> list[str]:
        out = []
        for port in stack.action_ports:
            status, body = http.call("GET", f"http://127.0.0.1:{port}/kb")
            assert status == 200, body
            out.append(body["build"])
        return out

    before = builds()
    assert len(set(before)) == 1 and before[0]  # both answer from the same build
    article = next(stack.kb_source.rglob("*.md"))
    article.write_text(article.read_text() + "\nEdited for the production test.\n")
    deadline = time.monotonic() + 120
    now = before
    while time.monotonic() < deadline:
        now = builds()
        if len(set(now)) == 1 and now[0] != before[0]:
            break
        time.sleep(0.5)
    assert len(set(now)) == 1 and now[0] != before[0], f"builds before {before}, now {now}"


def test_the_tracker_has_the_index_its_reads_use(stack):
    from sqlalchemy import create_engine, text

    url = urllib.parse.urlsplit(stack.tracker_url)
    engine = create_engine(urllib.parse.urlunsplit(("postgresql+psycopg", url.netloc, url.path, "", "")))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("select indexname, indexdef from pg_indexes where tablename = 'events'")
            )
            indexes = {name: definition for name, definition in rows}
    finally:
        engine.dispose()
    assert '(sender_id, "timestamp")' in indexes.get("ix_events_sender_id_timestamp", ""), indexes


def test_rasa_and_the_action_servers_stay_internal(stack, http):
    public = f"http://127.0.0.1:{stack.public_port}"
    for path in ("/webhook", "/conversations/x/tracker", "/webhooks/rest/webhook", "/model/parse", "/kb"):
        status, _ = http.call(
            "POST" if "webhook" in path else "GET", public + path, body={} if "webhook" in path else None
        )
        assert status == 404, path
    status, body = http.call("GET", f"http://127.0.0.1:{stack.actions_port}/kb")
    assert status == 404  # the internal listener passes on /webhook and nothing else
    assert json.dumps(body or "").find("build") < 0


def test_a_long_conversation_still_reaches_the_action_servers(stack, http):
    """Rasa sends the whole session and the domain with each action call: hundreds of KB in a
    long conversation, far above the public door's 64 KB (the internal listener allows it)."""
    events = [{"event": "user", "text": "a long story " * 40, "timestamp": i} for i in range(600)]
    body = {"next_action": "no_such_action", "sender_id": "long", "tracker": {"events": events}}
    assert len(json.dumps(body)) > 300_000
    status, answer = http.call("POST", f"http://127.0.0.1:{stack.actions_port}/webhook", body)
    assert status != 413 and status < 500, (status, str(answer)[:200])  # the action server read it
