"""Steps layer: ``uses: approve`` — wait in ``pending_approval`` for a decision (the ``with:`` model)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shera.steps.base import StepKindModel
from shera.steps.fields import Duration

Role = Literal["admin", "maintainer", "developer", "viewer"]
UserName = Annotated[str, Field(pattern=r"^[^\s]{1,255}$")]


class ApproveWith(StepKindModel):
    """``with:`` of ``uses: approve``.

    The run waits until one allowed person approves (it continues) or declines (it fails). Allowed are the
    users in ``approvers`` and anyone holding one of ``roles``; with neither, maintainers and admins. After
    ``timeout`` the run ends as ``on_timeout`` says.
    """

    KIND = "approve"

    message: str = Field(
        default="Approval needed to continue",
        min_length=1,
        max_length=1000,
        description="Shown to approvers.",
    )
    approvers: list[UserName] = Field(default_factory=list, description="User names allowed to decide.")
    roles: list[Role] = Field(default_factory=list, description="Roles allowed to decide.")
    timeout: Duration = Field(default=86400.0, description="How long to wait (seconds, or '24h').")
    on_timeout: Literal["decline", "approve"] = Field(
        default="decline", description="Decision taken when nobody answered within the timeout."
    )
