"""The production profile: the same stack on PostgreSQL, Redis and RabbitMQ, with several Rasa
instances and action servers behind the one gateway (``make run-production``).

:func:`settings` turns the environment into the stack's settings; every value has a default
that fits a machine running the three services locally, and each can point elsewhere:

- ``ASSISTANT_POSTGRES_URL`` (``postgresql://postgres@127.0.0.1:5432``): the server; the three
  databases on it default to ``kestrel`` (web app: handoffs, staff, analytics),
  ``kestrel_tracker`` (Rasa's conversations) and ``kestrel_bank`` (the demo back office), or are
  named whole by ``ASSISTANT_DB_URL``, ``ASSISTANT_TRACKER_URL`` and ``ASSISTANT_BACKOFFICE_URL``.
- ``ASSISTANT_REDIS_URL`` (``redis://127.0.0.1:6379/0``): Rasa's lock store and socket.io
  between the Rasa instances.
- ``ASSISTANT_RABBITMQ_URL`` (``amqp://guest@127.0.0.1:5672/``): Rasa's event broker, read by
  the analytics consumer.
- ``ASSISTANT_RASA_PROCESSES`` and ``ASSISTANT_ACTION_PROCESSES`` (2 each).

:func:`prepare` (called by :meth:`Stack.start`) creates a named database that does not exist
yet and declares the broker's exchange and queue, so nothing is lost between the first event
and the consumer's start. Both are idempotent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.stack import Stack

logger = logging.getLogger(__name__)

DEFAULTS = {
    "ASSISTANT_POSTGRES_URL": "postgresql://postgres@127.0.0.1:5432",
    "ASSISTANT_REDIS_URL": "redis://127.0.0.1:6379/0",
    "ASSISTANT_RABBITMQ_URL": "amqp://guest@127.0.0.1:5672/",
    "ASSISTANT_RASA_PROCESSES": "2",
    "ASSISTANT_ACTION_PROCESSES": "2",
}
DATABASES = {"db_url": "kestrel", "tracker_url": "kestrel_tracker", "backoffice_url": "kestrel_bank"}
VARIABLES = {
    "db_url": "ASSISTANT_DB_URL",
    "tracker_url": "ASSISTANT_TRACKER_URL",
    "backoffice_url": "ASSISTANT_BACKOFFICE_URL",
}


def database_url(server: str, name: str, *, driver: str = "psycopg") -> str:
    """The URL of database ``name`` on the PostgreSQL ``server`` (postgresql://user@host:port)."""
    parts = urllib.parse.urlsplit(server)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        shown = f"{parts.scheme}://{parts.hostname or ''}"  # never the password
        raise ValueError(f"ASSISTANT_POSTGRES_URL must be postgresql://user@host:port, got {shown}...")
    scheme = "postgresql+psycopg" if driver == "psycopg" else "postgresql"
    return urllib.parse.urlunsplit((scheme, parts.netloc, f"/{name}", parts.query, ""))


def settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The Stack's keyword arguments for the production profile."""
    env = {**DEFAULTS, **{k: v for k, v in (os.environ if environ is None else environ).items() if v}}
    server = env["ASSISTANT_POSTGRES_URL"]
    out: dict[str, Any] = {}
    for key, name in DATABASES.items():
        # the web app and the back office use psycopg 3 (.venv); Rasa uses psycopg2 (its own venv)
        given = env.get(VARIABLES[key])
        out[key] = given or database_url(
            server, name, driver="psycopg2" if key == "tracker_url" else "psycopg"
        )
    for key, variable in (
        ("redis_url", "ASSISTANT_REDIS_URL"),
        ("rabbitmq_url", "ASSISTANT_RABBITMQ_URL"),
    ):
        out[key] = env[variable]
    for key, variable in (
        ("rasa_processes", "ASSISTANT_RASA_PROCESSES"),
        ("action_processes", "ASSISTANT_ACTION_PROCESSES"),
    ):
        try:
            out[key] = int(env[variable])
        except ValueError as exc:
            raise ValueError(f"{variable} must be a whole number, got {env[variable]!r}") from exc
    return out


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgresql", "postgres:"))


@contextlib.contextmanager
def _server(url: str) -> Iterator[tuple[Any, str]]:
    """(a connection to the server's ``postgres`` database, outside any transaction; the name of
    the database ``url`` names)."""
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = urllib.parse.unquote(parts.path.strip("/"))
    if not name:
        raise ValueError(f"no database named in {parts.scheme}://{parts.hostname}")
    maintenance = urllib.parse.urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as connection:
        yield connection, name


@contextlib.contextmanager
def broker_channel(url: str) -> Iterator[Any]:
    """A pika channel on the RabbitMQ ``url`` names, closed afterwards."""
    import pika

    from assistant.insights.source import pika_parameters

    connection = pika.BlockingConnection(pika_parameters(url))
    try:
        yield connection.channel()
    finally:
        connection.close()


def create_database(url: str) -> bool:
    """Create the database ``url`` names when it does not exist (connecting to the server's
    ``postgres`` database); True when it was created."""
    import psycopg
    from psycopg import sql

    with _server(url) as (connection, name):
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return False
        try:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:  # another start created it a moment ago
            return False
    logger.info("created database %s", name)
    return True


def declare_queue(url: str, exchange: str, queue: str) -> None:
    """The broker's exchange (fanout, as Rasa declares it) and our durable queue bound to it."""
    with broker_channel(url) as channel:
        channel.exchange_declare(exchange, exchange_type="fanout")
        channel.queue_declare(queue, durable=True)
        channel.queue_bind(queue, exchange)


def prepare(stack: Stack) -> None:
    for url in (stack.database_url, stack.tracker_url, stack.bank_url):
        if url and _is_postgres(url):
            create_database(url)
    if stack.rabbitmq_url:
        declare_queue(stack.rabbitmq_url, stack.broker_exchange, stack.broker_queue)


def drop_database(url: str) -> None:
    """Drop the database ``url`` names, closing its connections (the tests' throw-away ones)."""
    from psycopg import sql

    with _server(url) as (connection, name):
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def delete_queue(url: str, exchange: str, queue: str) -> None:
    """Remove the broker's queue and exchange (the tests' throw-away ones)."""
    with broker_channel(url) as channel:
        channel.queue_delete(queue)
        channel.exchange_delete(exchange)


def throwaway(run: str, *, server: str, redis_url: str, rabbitmq_url: str) -> dict[str, Any]:
    """The production profile's settings on databases, a queue and an exchange named for one
    ``run`` (the tests and benchmarks make their own and :func:`discard` them after)."""
    env = {
        "ASSISTANT_POSTGRES_URL": server,
        "ASSISTANT_REDIS_URL": redis_url,
        "ASSISTANT_RABBITMQ_URL": rabbitmq_url,
        **{
            VARIABLES[key]: database_url(
                server, f"{name}_{run}", driver="psycopg2" if key == "tracker_url" else "psycopg"
            )
            for key, name in DATABASES.items()
        },
    }
    return {
        **settings(env),
        "broker_queue": f"kestrel_insights_{run}",
        "broker_exchange": f"kestrel-events-{run}",
    }


def discard(made: Mapping[str, Any]) -> None:
    """Drop what :func:`throwaway` named: its databases, queue and exchange."""
    for key in DATABASES:
        drop_database(made[key])
    delete_queue(made["rabbitmq_url"], made["broker_exchange"], made["broker_queue"])
