"""One way to open a SQL database from a URL: SQLite by default, PostgreSQL or others by URL."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from sqlalchemy import Connection, Engine, MetaData, create_engine, inspect, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker


def utc_now() -> dt.datetime:
    """The default for every timestamp column: timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """A stored timestamp as timezone-aware UTC (SQLite hands them back naive)."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


SCHEMA_LOCK = 0x6B657374  # "kest": the advisory lock taken while tables are created on PostgreSQL


def open_database(url: str, metadata: MetaData) -> tuple[Engine, sessionmaker[Session]]:
    """An engine and a session factory for ``url``, with ``metadata``'s tables created.

    A SQLite file's folder is created first, so ``sqlite:///var/x.db`` works on a fresh clone."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        share_sqlite_file(engine)
    if engine.dialect.name == "postgresql":
        # Several processes (web app, action servers) open the same database at start-up: on
        # PostgreSQL two CREATE TABLEs at once collide in its catalogue, so they take turns.
        with engine.begin() as connection:
            take_turns(connection, SCHEMA_LOCK)
            metadata.create_all(connection)
            add_missing_columns(connection, metadata)
        return engine, sessionmaker(engine, expire_on_commit=False)
    for attempt in range(3):
        try:
            metadata.create_all(engine)
            add_missing_columns(engine, metadata)
            break
        except (OperationalError, ProgrammingError):
            # another process (the web app, the action server) created the same table just now
            if attempt == 2:
                raise
            time.sleep(0.2 * (attempt + 1))
    return engine, sessionmaker(engine, expire_on_commit=False)


def take_turns(connection: Connection | Session, key: int) -> None:
    """On PostgreSQL, wait until no other process's transaction holds ``key`` and hold it until
    this transaction ends (an advisory lock), so work such as creating tables or seeding the
    demo runs once at a time across processes. SQLite's single writer already does this."""
    bind = connection.get_bind() if isinstance(connection, Session) else connection
    if bind.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def share_sqlite_file(engine: Engine) -> None:
    """Write-ahead logging for a SQLite file the web app and the action server share: a reader
    never waits for a writer (a locked database still answers questions and history), and
    writers take turns. The mode is kept in the file."""
    for attempt in range(3):
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            return
        except OperationalError:  # locked by another process just now: it will be set next time
            time.sleep(0.2 * (attempt + 1))


def add_missing_columns(engine: Engine | Connection, metadata: MetaData) -> list[str]:
    """Forward-only migration: columns added to a model since the database was created are
    added to its table, with their default, so an existing var/*.db keeps working."""
    added: list[str] = []
    inspector = inspect(engine)
    for table in metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            arg = getattr(column.default, "arg", None)
            default = None if arg is None or callable(arg) else arg
            literal = ""
            if isinstance(default, str):
                literal = " DEFAULT '" + default.replace("'", "''") + "'"
            elif isinstance(default, (int, float)):
                literal = f" DEFAULT {default}"
            alter = text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}{literal}')
            if isinstance(engine, Connection):  # inside the caller's transaction
                engine.execute(alter)
            else:
                with engine.begin() as conn:
                    conn.execute(alter)
            added.append(f"{table.name}.{column.name}")
    return added
