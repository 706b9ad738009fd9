"""Test support: migrated databases — SQLite in the test's tmp_path always, and PostgreSQL (a fresh schema
of the server named by ``SHERA_TEST_DATABASE_URL``, dropped after) when that variable is set.

Fixtures: ``db`` (a fresh database per test, PostgreSQL only listed when configured), ``pg_url`` (one
migrated schema for the session) and ``database`` (SQLite, or the session's PostgreSQL schema, skipped when
unset: tests using it create uniquely named rows).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shera.store.db import Database

PG_ENV = "SHERA_TEST_DATABASE_URL"
BACKENDS = ["sqlite", *(["postgresql"] if os.environ.get(PG_ENV) else [])]


def sqlite_database(directory: Path) -> Database:
    """A migrated SQLite database in ``directory / "shera.db"`` (the caller disposes of it)."""
    database = Database(f"sqlite:///{directory / 'shera.db'}")
    database.migrate()
    return database


@contextmanager
def pg_schema(base: str, prefix: str = "shera_test") -> Iterator[str]:
    """A fresh, empty schema on the server of ``base``: yields a URL whose search_path is that schema;
    the schema is dropped (with everything in it) on exit."""
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh migrated database for this test: SQLite, and a new PostgreSQL schema when configured."""
    if request.param == "sqlite":
        database = sqlite_database(tmp_path)
        yield database
        database.dispose()
        return
    base = os.environ[PG_ENV]
    with pg_schema(base) as url:
        database = Database(url)
        try:
            database.migrate()
            yield database
        finally:
            database.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh schema of the test PostgreSQL server for this session (dropped after), migrated once."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    with pg_schema(base, "shera_runs") as url:
        migrated = Database(url)
        migrated.migrate()
        migrated.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database: SQLite in tmp_path, and the PostgreSQL schema of the session when configured."""
    if request.param == "sqlite":
        db = sqlite_database(tmp_path)
    else:
        db = Database(request.getfixturevalue("pg_url"))
    yield db
    db.dispose()
