"""Start and stop the whole stack: the gateway (nginx, the one public port: 8080), and behind it
on internal addresses the web app (8081), Rasa (5005) and the action server (5055).

``make run`` runs ``python -m assistant.stack``: it starts the four processes, waits until each
answers its health check, prints the URLs and then waits. Ctrl-C (or SIGTERM) stops every
process it started, with its children, and nothing is left running. The integration tests use
the same :class:`Stack`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from assistant import gateway

ROOT = Path(__file__).resolve().parent.parent
# The largest request body or websocket frame Rasa reads. A chat message is at most 1,000
# characters (config.yml) plus a small metadata object: 64 KiB leaves room and no more.
RASA_MAX_BODY_BYTES = 64 * 1024
PRIVATE_UMASK = 0o077  # files the stack and its processes create: for this user only
DEMO_STAFF = {"agent": "Sam", "lead": "Lee", "editor": "Eddie"}  # user name (= role) -> shown name


@dataclass
class Service:
    name: str
    command: list[str]
    health_url: str
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    started_at: float = 0.0
    restarts: int = 0  # in a row: reset once it has run for STEADY_SECONDS
    restart_at: float | None = None  # when it died: the time it is due to be started again


STEADY_SECONDS = 60.0  # a process that ran this long before dying is restarted at once
MAX_BACKOFF_SECONDS = 30.0


def _free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


SECRETS_FILE = "tokens.env"
SECRETS = {  # Stack field -> (environment variable, random bytes when neither it nor var/ has one)
    "rasa_token": ("RASA_AUTH_TOKEN", 24),
    "api_token": ("ASSISTANT_API_TOKEN", 24),
    "identity_secret": ("ASSISTANT_IDENTITY_SECRET", 32),
    "session_secret": ("ASSISTANT_SESSION_SECRET", 32),
    "staff_password": ("ASSISTANT_DEMO_STAFF_PASSWORD", 12),
}


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines (as written by :meth:`Stack.save_secrets`); {} when there is none."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    pairs = (line.partition("=") for line in lines if "=" in line and not line.startswith("#"))
    return {name.strip(): value.strip() for name, _, value in pairs}


def password_of(variable: str, url: str) -> str:
    """A service's password: its variable when set, else the one in its URL, else empty."""
    return os.environ.get(variable) or urllib.parse.unquote(urllib.parse.urlsplit(url).password or "")


def share_sqlite(path: Path, *, create: str = "") -> None:
    """Write-ahead logging on a SQLite database several processes use (Rasa's tracker store):
    readers never wait for a writer, and a writer waits its turn instead of failing. The mode
    is kept in the file. ``create``: a table made now, before several processes race to."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        if create:
            db.execute(create)
            db.commit()


@dataclass
class Stack:
    root: Path = ROOT
    rasa_port: int = 5005
    action_port: int = 5055
    web_port: int = 8081  # the web app, internal: customers reach it through the gateway
    public_port: int = 8080  # the gateway: widget files, web app and socket.io on one origin
    # Where customers reach it (the widget connects here) and the address the gateway listens on.
    public_url: str = field(default_factory=lambda: os.environ.get("ASSISTANT_PUBLIC_URL", ""))
    public_host: str = field(default_factory=lambda: os.environ.get("ASSISTANT_PUBLIC_HOST", "0.0.0.0"))
    embed_origins: str = field(default_factory=lambda: os.environ.get("ASSISTANT_EMBED_ORIGINS", ""))
    # Rasa processes sharing the customers (one per core, say), on rasa_port, rasa_port + 1, ...
    # More than one needs Redis (ASSISTANT_REDIS_URL) for Rasa's lock store, so two processes
    # never work on one conversation at once, and for socket.io, so a reply made in one process
    # reaches a customer connected to another.
    rasa_processes: int = field(default_factory=lambda: int(os.environ.get("ASSISTANT_RASA_PROCESSES", "1")))
    redis_url: str = field(default_factory=lambda: os.environ.get("ASSISTANT_REDIS_URL", ""))
    # Action servers, on action_port, action_port + 1, ...; more than one are reached through
    # the gateway's internal listener on actions_port (round robin, a dead one skipped).
    action_processes: int = field(
        default_factory=lambda: int(os.environ.get("ASSISTANT_ACTION_PROCESSES", "1"))
    )
    actions_port: int = 5054
    # Where Rasa keeps conversations: SQLite in var/ unless ASSISTANT_TRACKER_URL names a
    # PostgreSQL database (postgresql://user@host:5432/kestrel_tracker; the password, if any, in
    # ASSISTANT_TRACKER_PASSWORD or the URL).
    tracker_url: str = field(default_factory=lambda: os.environ.get("ASSISTANT_TRACKER_URL", ""))
    # Rasa's events: the SQL broker into var/rasa-events.db, or RabbitMQ when set
    # (amqp://user:password@host:5672/vhost); the analytics consumer reads broker_queue.
    rabbitmq_url: str = field(default_factory=lambda: os.environ.get("ASSISTANT_RABBITMQ_URL", ""))
    broker_queue: str = field(
        default_factory=lambda: os.environ.get("ASSISTANT_BROKER_QUEUE", "kestrel_insights")
    )
    broker_exchange: str = field(
        default_factory=lambda: os.environ.get("ASSISTANT_BROKER_EXCHANGE", "kestrel-events")
    )
    # The web app's database (handoffs, staff, analytics) and the demo back office's.
    db_url: str = field(default_factory=lambda: os.environ.get("ASSISTANT_DB_URL", ""))
    backoffice_url: str = field(default_factory=lambda: os.environ.get("ASSISTANT_BACKOFFICE_URL", ""))
    # "test": every conversation this stack serves is test traffic, left out of the figures
    # (tests and benchmarks start their stacks so)
    traffic: str = field(default_factory=lambda: os.environ.get("ASSISTANT_TRAFFIC", "live"))
    # Secrets: from the environment, else the ones this var/ kept from the last run (so a restart
    # signs nobody out and keeps every conversation's credential good), else new random ones.
    rasa_token: str = ""
    api_token: str = ""
    identity_secret: str = ""
    session_secret: str = ""
    demo_sign_in: bool = field(default_factory=lambda: os.environ.get("ASSISTANT_DEMO_SIGN_IN", "1") == "1")
    # Console accounts agent / lead / editor sharing one password (set it, or one is made up).
    demo_staff: bool = field(default_factory=lambda: os.environ.get("ASSISTANT_DEMO_STAFF", "1") == "1")
    staff_password: str = ""
    var_dir: Path | None = None
    # the articles and their index (default: data/kb and kb_index/ in the project; tests run on copies)
    kb_source: Path | None = None
    kb_index: Path | None = None
    model: str = "models"
    rasa_bin: Path | None = None
    python_bin: Path | None = None
    services: list[Service] = field(default_factory=list)
    stopping: bool = False

    def __post_init__(self) -> None:
        self.var_dir = Path(self.var_dir or self.root / "var")
        saved = read_env_file(self.var_dir / SECRETS_FILE)
        for name, (variable, size) in SECRETS.items():
            if not getattr(self, name):
                setattr(
                    self, name, os.environ.get(variable) or saved.get(variable) or secrets.token_urlsafe(size)
                )
        self.rasa_bin = self.rasa_bin or self.root / ".venv-rasa" / "bin" / "rasa"
        self.python_bin = self.python_bin or self.root / ".venv" / "bin" / "python"
        self.public_url = (self.public_url or f"http://localhost:{self.public_port}").rstrip("/")
        if self.traffic not in ("live", "test"):
            raise ValueError("ASSISTANT_TRAFFIC is live or test")
        if self.rasa_processes < 1:
            raise ValueError("ASSISTANT_RASA_PROCESSES must be at least 1")
        if self.action_processes < 1:
            raise ValueError("ASSISTANT_ACTION_PROCESSES must be at least 1")
        if self.tracker_url and not self.tracker_url.startswith(("postgresql://", "postgres://")):
            raise ValueError("ASSISTANT_TRACKER_URL must be postgresql://user@host:port/database")
        if self.rabbitmq_url and not self.rabbitmq_url.startswith(("amqp://", "amqps://")):
            raise ValueError("ASSISTANT_RABBITMQ_URL must be amqp://user:password@host:port/vhost")
        if set(self.rabbitmq_password) & set("/?#%@:"):
            # Rasa's Pika broker writes the password into a URL without quoting it
            raise ValueError("the RabbitMQ password may not contain any of / ? # % @ : (Rasa cannot use it)")
        if self.rasa_processes > 1 and not self.redis_url:
            raise ValueError(
                "more than one Rasa process needs a lock store: set ASSISTANT_REDIS_URL"
                " (redis://127.0.0.1:6379/0, say)"
            )

    @property
    def rasa_ports(self) -> list[int]:
        return [self.rasa_port + i for i in range(self.rasa_processes)]

    @property
    def rabbitmq_password(self) -> str:
        """ASSISTANT_RABBITMQ_PASSWORD, else the URL's, else RabbitMQ's default (guest)."""
        if not self.rabbitmq_url:
            return ""
        return password_of("ASSISTANT_RABBITMQ_PASSWORD", self.rabbitmq_url) or "guest"

    @property
    def action_ports(self) -> list[int]:
        return [self.action_port + i for i in range(self.action_processes)]

    @property
    def action_url(self) -> str:
        """Where Rasa calls the actions: the one server, or the gateway's internal listener."""
        port = self.action_port if self.action_processes == 1 else self.actions_port
        return f"http://127.0.0.1:{port}/webhook"

    def tracker_store_config(self) -> str:
        """endpoints.yml's tracker store: Rasa's SQL store (ours streams new events to the broker
        without reading the conversation again), on SQLite in var/ or on PostgreSQL."""
        assert self.var_dir is not None
        lines = ["tracker_store:", "  type: rasa_addons.tracker_store.StreamingSQLTrackerStore"]
        if not self.tracker_url:
            lines += ['  dialect: "sqlite"', f'  db: "{self.var_dir / "rasa-tracker.db"}"']
            return "\n".join(lines) + "\n"
        url = urllib.parse.urlsplit(self.tracker_url)
        database = url.path.strip("/")
        if not url.hostname or not database:
            raise ValueError("ASSISTANT_TRACKER_URL must name a host and a database")
        lines += [
            '  dialect: "postgresql"',
            f'  url: "{url.hostname}"',
            f"  port: {url.port or 5432}",
            f'  db: "{database}"',
            f'  username: "{urllib.parse.unquote(url.username or "postgres")}"',
            "  password: ${ASSISTANT_TRACKER_PASSWORD}",  # from the environment, never in a file
        ]
        options = urllib.parse.parse_qsl(url.query)  # sslmode=verify-full, say: passed on
        if options:
            lines.append("  query:")
            lines += [f"    {key}: {json.dumps(value)}" for key, value in options]
        return "\n".join(lines) + "\n"

    def lock_store_config(self) -> str:
        """endpoints.yml's lock store: Redis when there is one (its password stays in the
        environment: Rasa reads ``${ASSISTANT_REDIS_PASSWORD}``), else Rasa's in-memory one."""
        if not self.redis_url:
            return ""
        url = urllib.parse.urlsplit(self.redis_url)
        if url.scheme not in ("redis", "rediss") or not url.hostname:
            raise ValueError(f"ASSISTANT_REDIS_URL must be redis://host:port/db, got {url.scheme}://...")
        db = url.path.strip("/") or "0"
        lines = [
            "lock_store:",
            "  type: rasa_addons.lock_store.AtomicRedisLockStore",
            f'  url: "{url.hostname}"',
            f"  port: {url.port or 6379}",
            f"  db: {int(db)}",
            "  key_prefix: kestrel",
        ]
        if url.username:
            lines.append(f'  username: "{url.username}"')
        if url.password:
            lines.append("  password: ${ASSISTANT_REDIS_PASSWORD}")
        if url.scheme == "rediss":
            lines.append("  use_ssl: true")
        return "\n".join(lines) + "\n"

    def event_broker_config(self) -> str:
        """endpoints.yml's event broker: Rasa's SQL broker into var/rasa-events.db (shared by every
        Rasa process), which the web app's analytics consumer reads (README, "Insights"); or
        Rasa's RabbitMQ (Pika) broker, publishing to a fanout exchange with our queue bound."""
        assert self.var_dir is not None
        if self.rabbitmq_url:
            url = urllib.parse.urlsplit(self.rabbitmq_url)
            if not url.hostname:
                raise ValueError("ASSISTANT_RABBITMQ_URL must name a host")
            port = url.port or (5671 if url.scheme == "amqps" else 5672)
            vhost = url.path.lstrip("/")  # still quoted, as Rasa puts it into its URL
            address = f"{url.scheme}://{url.hostname}:{port}" + (f"/{vhost}" if vhost else "")
            lines = [
                "event_broker:",
                "  type: pika",
                f'  url: "{address}"',
                f"  port: {port}",
                f'  username: "{urllib.parse.unquote(url.username or "guest")}"',
                "  password: ${ASSISTANT_RABBITMQ_PASSWORD}",
                f'  exchange_name: "{self.broker_exchange}"',
                f"  queues: [{self.broker_queue}]",
                "  raise_on_failure: false",  # a broker outage never costs a customer's turn
            ]
            return "\n".join(lines) + "\n"
        return (
            "event_broker:\n"
            "  type: rasa_addons.broker.SharedSQLEventBroker\n"
            '  dialect: "sqlite"\n'
            f'  db: "{self.var_dir / "rasa-events.db"}"\n'
        )

    @property
    def broker_url(self) -> str:
        """What the web app's analytics consumer reads: the queue on RabbitMQ (the password comes
        from ASSISTANT_RABBITMQ_PASSWORD), or the SQL broker's table."""
        assert self.var_dir is not None
        if self.rabbitmq_url:
            url = urllib.parse.urlsplit(self.rabbitmq_url)
            netloc = f"{url.username or 'guest'}@{url.hostname}:{url.port or 5672}"
            return urllib.parse.urlunsplit(
                (url.scheme, netloc, url.path or "/", f"queue={self.broker_queue}", "")
            )
        return f"sqlite:///{self.var_dir / 'rasa-events.db'}"

    @property
    def urls(self) -> dict[str, str]:
        return {
            "chat": f"{self.public_url}/",
            "api": f"{self.public_url}/api/",
            "console": f"{self.public_url}/console",
            "socket": f"{self.public_url}/socket.io/",
            "web": f"http://127.0.0.1:{self.web_port}/",  # internal addresses from here on
            "rasa": f"http://127.0.0.1:{self.rasa_port}/",
            "actions": f"http://127.0.0.1:{self.action_port}/",
        }

    def describe_stores(self) -> str:
        """Where things are kept, without passwords: for the start-up message."""

        def bare(url: str) -> str:
            parts = urllib.parse.urlsplit(url)
            if parts.scheme.startswith("sqlite"):
                return url
            return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}{parts.path}"

        tracker = bare(self.tracker_url) if self.tracker_url else "SQLite in var/"
        lock = f"Redis {bare(self.redis_url)}" if self.redis_url else "in memory"
        broker = (
            f"RabbitMQ {bare(self.rabbitmq_url)} queue {self.broker_queue}"
            if self.rabbitmq_url
            else "SQLite in var/"
        )
        return f"conversations {tracker}; locks {lock}; events {broker}; web app {bare(self.database_url)}"

    @property
    def database_url(self) -> str:
        assert self.var_dir is not None
        return self.db_url or f"sqlite:///{self.var_dir / 'assistant.db'}"

    @property
    def bank_url(self) -> str:
        assert self.var_dir is not None
        return self.backoffice_url or f"sqlite:///{self.var_dir / 'backoffice.db'}"

    def save_secrets(self) -> None:
        assert self.var_dir is not None
        path = self.var_dir / SECRETS_FILE
        path.write_text(
            "".join(f"{variable}={getattr(self, name)}\n" for name, (variable, _) in SECRETS.items()),
            encoding="utf-8",
        )
        path.chmod(0o600)

    def seed_staff(self) -> None:
        """The demo console accounts (user names agent, lead and editor)."""
        from assistant.staff.store import StaffStore

        store = StaffStore(self.database_url)
        for username, name in DEMO_STAFF.items():
            store.add_user(username, self.staff_password, role=username, name=name)
        store.dispose()

    def _services(self) -> list[Service]:
        assert self.var_dir is not None
        common = {
            "ASSISTANT_ROOT": str(self.root),
            "ASSISTANT_DB_URL": self.database_url,
            "ASSISTANT_BACKOFFICE_URL": self.bank_url,
            "ASSISTANT_IDENTITY_SECRET": self.identity_secret,
            "ASSISTANT_SESSION_SECRET": self.session_secret,
            "ASSISTANT_HANDOFF_SPOOL": str(self.var_dir / "handoff-spool.jsonl"),
            "ASSISTANT_PUBLIC_URL": self.public_url,
            "ASSISTANT_EMBED_ORIGINS": self.embed_origins,
            "RASA_AUTH_TOKEN": self.rasa_token,
            "RASA_TELEMETRY_ENABLED": "false",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        if self.kb_source is not None:
            common["ASSISTANT_KB_SOURCE"] = str(self.kb_source)
        if self.kb_index is not None:
            common["ASSISTANT_KB_INDEX"] = str(self.kb_index)
        config = gateway.render(
            gateway.GatewaySettings(
                listen=f"{self.public_host}:{self.public_port}",
                web_address=f"127.0.0.1:{self.web_port}",
                rasa_addresses=tuple(f"127.0.0.1:{port}" for port in self.rasa_ports),
                state_dir=self.var_dir / "gateway",
                action_addresses=tuple(f"127.0.0.1:{p}" for p in self.action_ports)
                if self.action_processes > 1
                else (),
                actions_listen=f"127.0.0.1:{self.actions_port}",
            )
        )
        gateway.check(config)
        endpoints = self.var_dir / "endpoints.yml"
        endpoints.write_text(
            "action_endpoint:\n"
            f'  url: "{self.action_url}"\n'
            + self.tracker_store_config()
            + self.event_broker_config()
            + self.lock_store_config(),
            encoding="utf-8",
        )
        redis = {}
        if self.redis_url:
            redis["ASSISTANT_REDIS_URL"] = self.redis_url
            redis["ASSISTANT_REDIS_PASSWORD"] = urllib.parse.urlsplit(self.redis_url).password or ""
        secrets_env = {
            "ASSISTANT_TRACKER_PASSWORD": password_of("ASSISTANT_TRACKER_PASSWORD", self.tracker_url),
            "ASSISTANT_RABBITMQ_PASSWORD": self.rabbitmq_password,
        }
        return [
            *(self._actions(i, port, common) for i, port in enumerate(self.action_ports)),
            *(
                self._rasa(i, port, common | redis | secrets_env, endpoints)
                for i, port in enumerate(self.rasa_ports)
            ),
            Service(
                "web",
                [str(self.python_bin), "-m", "assistant.cli", "web"],
                f"http://127.0.0.1:{self.web_port}/api/health",
                {
                    **common,
                    "ASSISTANT_WEB_PORT": str(self.web_port),
                    "ASSISTANT_API_TOKEN": self.api_token,
                    "ASSISTANT_DEMO_SIGN_IN": "1" if self.demo_sign_in else "0",
                    "RASA_URL": f"http://127.0.0.1:{self.rasa_port}",
                    "RASA_PUBLIC_URL": self.public_url,  # socket.io through the gateway
                    "ASSISTANT_TRUSTED_PROXIES": "1",  # the gateway sets X-Forwarded-For
                    "ASSISTANT_BROKER_URL": self.broker_url,  # the analytics consumer reads it
                    "ASSISTANT_RABBITMQ_PASSWORD": secrets_env["ASSISTANT_RABBITMQ_PASSWORD"],
                    "ASSISTANT_TRAFFIC": self.traffic,
                },
            ),
            Service(
                "gateway",
                gateway.command(config),
                f"http://127.0.0.1:{self.public_port}/api/health",
            ),
        ]

    def _actions(self, index: int, port: int, env: dict[str, str]) -> Service:
        """The ``index``-th action server ("actions", "actions-2", ...). They share the index on
        disk; the first one watches the articles and publishes rebuilt indexes, every one
        switches to a published build within a second."""
        return Service(
            "actions" if index == 0 else f"actions-{index + 1}",
            [str(self.python_bin), "-m", "actions"],
            f"http://127.0.0.1:{port}/health",
            {
                **env,
                "ASSISTANT_ACTION_PORT": str(port),
                "ASSISTANT_WATCH_ARTICLES": "1" if index == 0 else "0",
                "OMP_NUM_THREADS": "1",
            },
        )

    def credentials_file(self) -> Path:
        """var/credentials.yml: the repository's credentials.yml plus a section for each messaging
        channel switched on by its environment variables (assistant/channels/config.py; no
        secret is written: the channels read theirs from the environment). A channel with only
        some of its variables set stops here, with the missing ones named."""
        from assistant.channels.config import credentials_yaml

        assert self.var_dir is not None
        path = self.var_dir / "credentials.yml"
        base = (self.root / "credentials.yml").read_text(encoding="utf-8")
        path.write_text(base.rstrip("\n") + "\n" + credentials_yaml(os.environ), encoding="utf-8")
        return path

    def _rasa(self, index: int, port: int, env: dict[str, str], endpoints: Path) -> Service:
        """The ``index``-th Rasa process ("rasa", "rasa-2", ...), on ``port``."""
        return Service(
            "rasa" if index == 0 else f"rasa-{index + 1}",
            [
                str(self.rasa_bin),
                "run",
                "--model",
                self.model,
                "--port",
                str(port),
                "--interface",
                "127.0.0.1",
                "--enable-api",
                f"--auth-token={self.rasa_token}",  # one argument: a token may start with "-"
                "--credentials",
                str(self.credentials_file()),
                "--endpoints",
                str(endpoints),
            ],
            f"http://127.0.0.1:{port}/status?token={self.rasa_token}",
            {
                **env,
                "OMP_NUM_THREADS": "1",
                # One thread per TensorFlow pool: a turn's small matrices gain nothing from more,
                # and each Rasa process keeps to its core.
                "TF_INTER_OP_PARALLELISM_THREADS": "1",
                "TF_INTRA_OP_PARALLELISM_THREADS": "1",
                "TF_CPP_MIN_LOG_LEVEL": "2",
                # Rasa's Sanic takes these from the environment: no request body (webhooks,
                # socket.io polling) or websocket frame above this size is read at all.
                "SANIC_REQUEST_MAX_SIZE": str(RASA_MAX_BODY_BYTES),
                "SANIC_WEBSOCKET_MAX_SIZE": str(RASA_MAX_BODY_BYTES),
            },
        )

    def start(self, *, timeout: float = 300.0, quiet: bool = False) -> None:
        assert self.var_dir is not None
        # var/ holds databases, logs and tokens: readable by this user only (0700, files 0600).
        os.umask(PRIVATE_UMASK)
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.var_dir.chmod(0o700)
        ports = [*self.rasa_ports, *self.action_ports, self.web_port, self.public_port]
        if self.action_processes > 1:
            ports.append(self.actions_port)
        busy = [p for p in ports if not _free(p)]
        if busy:
            raise RuntimeError(f"port(s) {busy} already in use: is the assistant already running?")
        self.save_secrets()
        if not self.tracker_url:
            share_sqlite(self.var_dir / "rasa-tracker.db")
        if not self.rabbitmq_url:
            share_sqlite(  # Rasa's SQL event broker's own table, as it would create it
                self.var_dir / "rasa-events.db",
                create="CREATE TABLE IF NOT EXISTS events (id INTEGER NOT NULL, sender_id VARCHAR(255), "
                "data TEXT, PRIMARY KEY (id))",
            )
        from assistant import production

        production.prepare(self)  # databases that are named but missing, the broker's queue
        if self.demo_staff:
            self.seed_staff()
        self.services = self._services()
        for service in self.services:
            service.log_path = self.var_dir / f"{service.name}.log"
            self._launch(service)
            if not quiet:
                assert service.process is not None
                print(f"started {service.name} (pid {service.process.pid}), log: {service.log_path}")
        self.wait_ready(timeout)

    def _launch(self, service: Service) -> None:
        assert service.log_path is not None
        log = service.log_path.open("ab")
        service.process = subprocess.Popen(
            service.command,
            cwd=self.root,
            env={**os.environ, **service.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches its children
        )  # it inherits the private umask that start() set
        log.close()
        service.started_at = time.monotonic()
        service.restart_at = None

    def supervise_once(self, now: float | None = None) -> list[str]:
        """Start again every process that died: at once when it had run steadily, else after a
        back-off that doubles (1 s, 2 s, 4 s … 30 s). Returns what it did, one line each."""
        now = time.monotonic() if now is None else now
        done: list[str] = []
        if self.stopping:
            return done
        for service in self.services:
            process = service.process
            if process is None or process.poll() is None:
                continue
            if service.restart_at is None:
                if now - service.started_at >= STEADY_SECONDS:
                    service.restarts = 0
                delay = (
                    0.0 if service.restarts == 0 else min(MAX_BACKOFF_SECONDS, 2.0 ** (service.restarts - 1))
                )
                service.restart_at = now + delay
                with contextlib.suppress(ProcessLookupError):  # its children too
                    os.killpg(process.pid, signal.SIGKILL)
                done.append(
                    f"{service.name} exited with {process.returncode}; starting it again in {delay:.0f} s"
                    f" (log: {service.log_path})"
                )
            if now >= service.restart_at:
                service.restarts += 1
                self._launch(service)
                assert service.process is not None
                done.append(
                    f"{service.name} started again (pid {service.process.pid}, restart {service.restarts})"
                )
        return done

    def supervise(self, stopping: threading.Event, every: float = 0.5) -> threading.Thread:
        """Supervision in a background thread until ``stopping`` is set (the tests use this)."""

        def loop() -> None:
            while not stopping.wait(every):
                for line in self.supervise_once():
                    print(f"supervisor: {line}", file=sys.stderr, flush=True)

        thread = threading.Thread(target=loop, name="supervisor", daemon=True)
        thread.start()
        return thread

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = list(self.services)
        while pending:
            for service in list(pending):
                assert service.process is not None
                if service.process.poll() is not None:
                    tail = service.log_path.read_text(errors="replace")[-2000:] if service.log_path else ""
                    self.stop()
                    raise RuntimeError(f"{service.name} exited with {service.process.returncode}:\n{tail}")
                try:
                    with urllib.request.urlopen(service.health_url, timeout=2) as resp:
                        if resp.status == 200:
                            pending.remove(service)
                except (urllib.error.URLError, OSError):
                    pass
            if pending and time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"not ready after {timeout:.0f}s: {[s.name for s in pending]}")
            if pending:
                time.sleep(0.5)

    def stop(self, grace: float = 15.0) -> None:
        self.stopping = True  # the supervisor starts nothing again from here on
        running = [s for s in self.services if s.process is not None and s.process.poll() is None]
        for service in running:
            assert service.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for service in running:
            assert service.process is not None
            with contextlib.suppress(subprocess.TimeoutExpired):
                service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):  # what is left of the group, children too
                os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run the gateway, the web app, Rasa and the action server together."
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for start-up")
    parser.add_argument(
        "--production",
        action="store_true",
        help="the production profile: PostgreSQL, Redis and RabbitMQ, two Rasa instances and two"
        " action servers (docs/deployment.md)",
    )
    args = parser.parse_args(argv)
    try:
        if args.production:
            from assistant import production

            stack = Stack(**production.settings())
        else:
            stack = Stack()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # even when started in the background, where SIGINT is ignored
    try:
        stack.start(timeout=args.timeout)
        urls = stack.urls
        print(
            "\nThe assistant is running:\n"
            f"  chat page      {urls['chat']}\n"
            f"  demo sign-in   {urls['chat']}?customer=cust-ava   (also cust-ben, cust-chloe)\n"
            f"  agent console  {urls['console']}   (agent, lead or editor; password in tokens.env)\n"
            f"  staff API      {urls['api']}   (Authorization: Bearer $ASSISTANT_API_TOKEN)\n"
            f"  widget         {urls['chat']}demo   (one script tag; socket.io at {urls['socket']})\n"
            "Internal only (not through the public port):\n"
            f"  Rasa           {urls['rasa']}    (HTTP API token: $RASA_AUTH_TOKEN; REST channel for tests)\n"
            + "".join(f"                 http://127.0.0.1:{p}/\n" for p in stack.rasa_ports[1:])
            + f"  action server  {urls['actions']}\n"
            + "".join(f"                 http://127.0.0.1:{p}/\n" for p in stack.action_ports[1:])
            + f"  web app        {urls['web']}\n"
            f"Stores: {stack.describe_stores()}\n"
            f"Tokens are in {stack.var_dir}/tokens.env, kept across restarts"
            " (set the variables to choose your own).\n"
            "Press Ctrl-C to stop everything.",
            flush=True,
        )
        while True:  # a process that dies is started again (with back-off), never left dead
            for line in stack.supervise_once():
                print(f"supervisor: {line}", file=sys.stderr, flush=True)
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
