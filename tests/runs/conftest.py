"""Fixtures of the runs-core tests (see ``tests.runs.support``)."""

from tests.runs.support import database, pg_url, redis_server

__all__ = ["database", "pg_url", "redis_server"]
