"""API layer: She-Ra's errors as HTTP answers — one table for the app's handlers and the webhook fast path.

NotFound 404, Conflict 409, store errors 500 (details only in the server log), other permanent errors (bad
input) 422, temporary errors (database or git remote down) 503; the error's message is the ``detail``.
"""

from __future__ import annotations

import logging

from shera.errors import PermanentError, TemporaryError
from shera.store.db import StoreError
from shera.store.errors import Conflict, NotFound

log = logging.getLogger(__name__)

STATUSES: tuple[tuple[type[Exception], int, bool], ...] = (
    (NotFound, 404, False),
    (Conflict, 409, False),
    (StoreError, 500, True),
    (PermanentError, 422, False),
    (TemporaryError, 503, False),
)
"""(error type, status, hide the message) — the first matching row wins."""


def answer(exc: Exception, status_code: int, *, hide: bool) -> tuple[int, dict[str, str]]:
    """(status, body) for ``exc``; a hidden message is logged instead of shown."""
    if hide:
        log.error("request failed: %s", exc)
    return status_code, {"detail": "internal error (see the server log)" if hide else str(exc)}


def mapped(exc: Exception) -> tuple[int, dict[str, str]] | None:
    """The answer for one of She-Ra's errors; None for anything else (a bug: the server's 500)."""
    for exc_type, status_code, hide in STATUSES:
        if isinstance(exc, exc_type):
            return answer(exc, status_code, hide=hide)
    return None
