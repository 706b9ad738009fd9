"""The one exception tree of She-Ra (bottom layer; every other layer raises these).

::

    SheraError                      base of everything She-Ra raises on purpose
    ├── PermanentError              retrying will not help (bad input, missing thing, refused)
    │   ├── ConfigError             a setting or a command-line value is wrong
    │   ├── PipelineError           a pipeline file cannot be used; carries every located problem
    │   └── ExecutorError           an executor cannot run a step as asked (missing image, no podman)
    └── TemporaryError              the same call may succeed later (a service is down, a timeout)
        └── BackendUnavailable      a backend process (podman, a registry, Redis) did not answer

Adapters translate their SDK's exceptions into these with ``raise ... from exc`` so callers decide
retries by type alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shera.model.problems import Problem


class SheraError(Exception):
    """Base of every error She-Ra raises on purpose; the message is meant for the user."""


class PermanentError(SheraError):
    """Retrying the same call cannot succeed."""


class TemporaryError(SheraError):
    """The same call may succeed later."""


class ConfigError(PermanentError):
    """A setting, flag or argument is wrong."""


class PipelineError(PermanentError):
    """A pipeline cannot be loaded or planned; ``problems`` lists every located problem."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[Problem, ...] = tuple(problems)


class ExecutorError(PermanentError):
    """An executor cannot run a step as asked."""


class BackendUnavailable(TemporaryError):
    """A backend process or service did not answer."""
