"""One engine per database URL per process, and the unit of work around it.

    with unit_of_work() as session:          # one per action or request
        appointments = AppointmentRepository(session)
        ...                                  # committed once on success,
                                             # rolled back on any exception

``url=None`` everywhere means ``settings.database_url`` (env ``DATABASE_URL``).
Engines are created on first use, never at import time.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Optional

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import get_settings

# How long a SQLite writer waits for another one before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class _Database:
    engine: Engine
    sessions: sessionmaker


_databases: Dict[str, _Database] = {}
_databases_lock = threading.Lock()


def database_url(url: Optional[str] = None) -> str:
    return url or get_settings().database_url


def get_engine(url: Optional[str] = None) -> Engine:
    return _database(url).engine


def session_factory(url: Optional[str] = None) -> sessionmaker:
    """Sessions keep their objects readable after commit (expire_on_commit=False),
    so an action can still format the appointment it has just booked."""
    return _database(url).sessions


@contextmanager
def unit_of_work(url: Optional[str] = None) -> Iterator[Session]:
    """A session in one transaction: committed once when the block succeeds,
    rolled back when it raises. Repositories never commit by themselves."""
    with session_factory(url).begin() as session:
        yield session


def dispose_engine(url: Optional[str] = None) -> None:
    """Close the pooled connections of one database and forget its engine
    (tests dropping their database; a process that forked)."""
    with _databases_lock:
        database = _databases.pop(database_url(url), None)
    if database is not None:
        database.engine.dispose()


def _database(url: Optional[str]) -> _Database:
    url = database_url(url)
    with _databases_lock:
        database = _databases.get(url)
        if database is None:
            engine = _create_engine(make_url(url))
            database = _Database(
                engine, sessionmaker(bind=engine, future=True, expire_on_commit=False)
            )
            _databases[url] = database
        return database


def _create_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _create_sqlite_engine(url)
    # A pooled connection the server closed (restart, idle timeout) is
    # replaced before use instead of failing the customer's request.
    return create_engine(url, future=True, pool_pre_ping=True)


def _create_sqlite_engine(url: URL) -> Engine:
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    event.listen(engine, "connect", _configure_sqlite_connection)
    return engine


def _configure_sqlite_connection(dbapi_connection, _connection_record) -> None:
    """SQLite leaves foreign keys off and fails at once on a locked database
    unless told otherwise, per connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()
