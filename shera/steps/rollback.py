"""Steps layer: ``uses: rollback`` — serve an earlier release of an app again (the ``with:`` model)."""

from __future__ import annotations

from pydantic import Field

from shera.steps.base import StepKindModel
from shera.steps.fields import Slug


class RollbackWith(StepKindModel):
    """``with:`` of ``uses: rollback``: ``to`` is a release revision; without it, the previous live one.

    A rollback is recorded as a new release and a new commit in the deploy repository, like a deploy.
    """

    KIND = "rollback"

    app: Slug = Field(description="Application name (a strict slug).")
    environment: Slug | None = Field(
        default=None, description="Environment; default per branch (production for the default branch)."
    )
    to: int | None = Field(
        default=None,
        ge=1,
        description="Release revision to restore; default: the release before the live one.",
    )
