"""Store layer: errors the store raises on purpose (translated from SQLAlchemy's at this boundary)."""

from __future__ import annotations

from shera.errors import PermanentError
from shera.store.db import StoreError, StoreUnavailable

__all__ = ["Conflict", "NotFound", "StoreError", "StoreUnavailable"]


class NotFound(PermanentError):
    """No such object for this tenant (another tenant's object is reported the same way)."""


class Conflict(PermanentError):
    """The object is not in a state that allows the operation (e.g. cancelling a finished run)."""
