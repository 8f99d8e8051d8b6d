"""One way to open a SQL database from a URL: SQLite by default, PostgreSQL or others by URL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, MetaData, create_engine
from sqlalchemy.orm import Session, sessionmaker


def open_database(url: str, metadata: MetaData) -> tuple[Engine, sessionmaker[Session]]:
    """An engine and a session factory for ``url``, with ``metadata``'s tables created.

    A SQLite file's folder is created first, so ``sqlite:///var/x.db`` works on a fresh clone."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    metadata.create_all(engine)
    return engine, sessionmaker(engine, expire_on_commit=False)
