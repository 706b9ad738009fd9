"""Model layer: the states of runs, workflows and steps."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Lifecycle of a run, workflow or step.

    ``queued -> running -> success | failure | killed``; ``skipped`` for work that never started because
    its conditions did not match or what it depended on failed; ``pending_approval`` for a run held by an
    ``approve`` step.
    """

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILURE = "failure"
    KILLED = "killed"
    SKIPPED = "skipped"
    PENDING_APPROVAL = "pending_approval"

    @property
    def finished(self) -> bool:
        return self in _FINISHED


_FINISHED = frozenset({Status.SUCCESS, Status.FAILURE, Status.KILLED, Status.SKIPPED})
