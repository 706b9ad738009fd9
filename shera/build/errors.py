"""Adapters layer (build): the errors of building and pushing images, placed in She-Ra's exception tree.

::

    PermanentError
    ├── BuildFailed          buildah is missing, or ``buildah build`` exited non-zero
    ├── UnsafePath           ``context``/``containerfile`` resolve outside the workspace (carries ``field``)
    ├── PushRejected         the registry refused the push (auth, bad name): retrying will not help
    └── BuildInterrupted     cancelled or out of time (``reason``: "cancelled" | "timeout")
    BackendUnavailable
    └── RegistryUnavailable  the registry could not be reached or answered 5xx, after the retry budget
"""

from __future__ import annotations

from shera.errors import BackendUnavailable, PermanentError


class BuildFailed(PermanentError):
    """The image could not be built."""


class UnsafePath(PermanentError):
    """A path of ``with:`` escapes the workspace; ``field`` names it (``context`` or ``containerfile``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class PushRejected(PermanentError):
    """The registry refused the push for a reason retrying cannot fix."""


class BuildInterrupted(PermanentError):
    """The build or push was stopped: ``reason`` is ``cancelled`` or ``timeout``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class RegistryUnavailable(BackendUnavailable):
    """The registry did not answer (connection error, 5xx) within the retry budget."""
