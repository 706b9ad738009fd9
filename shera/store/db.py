"""Store layer: engines, sessions and migrations for SQLite (embedded) and PostgreSQL (production).

``Database(url)`` is the handle every store function takes. ``db.transaction()`` yields a session inside one
transaction (commit on success, rollback on exception). SQLite runs in WAL mode with a busy timeout so the
API and workers of one machine can share it; PostgreSQL uses a connection pool with pre-ping.
Database exceptions never leave the store: they become ``StoreUnavailable`` (temporary) or ``StoreError``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from shera.errors import PermanentError, TemporaryError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_READ_ONLY = "shera_read_only"
_BUSY_TIMEOUT_MS = 30000
_SQLITE_POOL = 48
_BEGIN_POLL = (0.0002, 0.004)  # first and longest pause (s) between tries of BEGIN IMMEDIATE


class StoreError(PermanentError):
    """The database refused an operation (constraint, schema, bad URL)."""


class StoreUnavailable(TemporaryError):
    """The database did not answer or was locked; the same call may succeed later."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE (see _sqlite_begin) instead of pysqlite's
    # deferred BEGIN: a deferred transaction that reads and then writes can fail at once with "database is
    # locked" when another connection wrote meanwhile, without waiting on the busy timeout.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Reads (``Database.read``) take a deferred BEGIN: in WAL mode that is a snapshot needing no lock.
    if connection.get_execution_options().get(_READ_ONLY, False):
        connection.exec_driver_sql("BEGIN")
        return
    _begin_immediate(connection.connection.dbapi_connection)


def _begin_immediate(raw: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, polling briefly while another process holds the write lock.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, ... ms between tries, so a writer that meets
    another process's short transaction (the worker's, a few ms) often sleeps far longer than the lock is
    held: that was the webhook's p99. Here the pause starts at 0.2 ms and doubles up to 4 ms, within the
    same overall timeout; statements inside the transaction keep SQLite's busy timeout.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    pause, longest = _BEGIN_POLL
    raw.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() + pause > deadline:
                    raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
            time.sleep(pause)
            pause = min(pause * 2, longest)
    finally:
        raw.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")


def normalize_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs (SQLAlchemy's default driver is psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Database:
    """One database: an engine and a session factory. Thread-safe; share one per process."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        try:
            if self.url.startswith("sqlite"):
                path = self.url.split("///", 1)[-1]
                if path and path != ":memory:":
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                # Enough pooled connections for every thread of the API's threadpool (40): past the pool
                # size, each transaction opened a new connection (file open, WAL, pragmas) and closed it.
                self.engine: Engine = create_engine(
                    self.url,
                    connect_args={"check_same_thread": False, "timeout": 30},
                    pool_size=_SQLITE_POOL,
                    max_overflow=_SQLITE_POOL,
                )
                event.listen(self.engine, "connect", _sqlite_pragmas)
                event.listen(self.engine, "begin", _sqlite_begin)
            else:
                self.engine = create_engine(self.url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        except (SQLAlchemyError, ValueError) as exc:
            raise StoreError(f"cannot use database {self.safe_url}: {exc}") from exc
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            self.engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False
        )
        # SQLite has one writer at a time. Threads of this process queue on this lock (no sleeping), so only
        # other processes ever meet SQLite's busy handler with its back-off sleeps.
        self._writer = threading.RLock() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def safe_url(self) -> str:
        """The URL without its password, for messages."""
        head, sep, tail = self.url.partition("@")
        if not sep or "://" not in head:
            return self.url
        scheme, _, userinfo = head.partition("://")
        return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{tail}"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on any exception."""
        if self._writer is not None:
            with self._writer:
                yield from self._transaction()
        else:
            yield from self._transaction()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads only, in one transaction (a consistent snapshot).

        On SQLite it neither takes nor waits for the write lock (a deferred transaction: in WAL mode readers
        and the one writer do not block each other), so the hot read paths (webhook project look-up, lease
        checks, log polling) do not queue behind writes of this or another process. Do not write in it:
        a write would try to upgrade the snapshot and can fail at once with "database is locked".
        On PostgreSQL it is the same as ``transaction``.
        """
        yield from self._transaction(self._read_sessions)

    def _transaction(self, sessions: sessionmaker[Session] | None = None) -> Iterator[Session]:
        session = (sessions or self._sessions)()
        try:
            with session.begin():
                yield session
        except OperationalError as exc:
            raise StoreUnavailable(f"database {self.safe_url} is unavailable: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"database error: {exc}") from exc
        finally:
            session.close()

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection_url"] = self.url
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except OperationalError as exc:
            raise StoreUnavailable(f"database {self.safe_url} is unavailable: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot migrate {self.safe_url}: {exc}") from exc

    def dispose(self) -> None:
        self.engine.dispose()
