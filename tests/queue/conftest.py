"""Fixtures of the queue tests (see ``tests.runs.support``)."""

from tests.runs.support import redis_server

__all__ = ["redis_server"]
