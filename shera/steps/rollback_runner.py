"""Steps layer: the runner of ``uses: rollback`` — serve an earlier release again through the deploy service.

``with.to`` names a revision; without it, the release that served before the live one. ``environment``
defaults as for ``uses: deploy``. The rollback is a new release and a new deploy-repository commit. Step
result: ``success`` when the restored release is live, ``failure`` otherwise (with the reason).
"""

from __future__ import annotations

from pydantic import ValidationError

from shera.errors import SheraError
from shera.executors.base import StepResult
from shera.model.status import Status
from shera.steps.deploy_runner import (
    Opener,
    ServiceOpener,
    artifacts_of,
    environment_for,
    invalid_with,
    result_of,
    where,
)
from shera.steps.rollback import RollbackWith
from shera.steps.runner import KindContext, KindResult


class RollbackRunner:
    """``uses: rollback``; safe to call concurrently."""

    kind = "rollback"

    def __init__(self, opener: Opener | None = None) -> None:
        self._open = opener or ServiceOpener()

    def run(self, ctx: KindContext) -> KindResult:
        try:
            with_ = RollbackWith.model_validate(dict(ctx.step.with_))
        except ValidationError as exc:
            return KindResult(StepResult(Status.FAILURE, 1, error=invalid_with(ctx, exc)))
        try:
            service, tenant = self._open(ctx)
            outcome = service.rollback(
                tenant,
                with_.app,
                with_.environment or environment_for(ctx),
                to=with_.to,
                run_id=ctx.run_id,
                out=ctx.out,
            )
        except SheraError as exc:
            return KindResult(StepResult(Status.FAILURE, 1, error=f"{where(ctx)}: {exc}"))
        return KindResult(result_of(outcome), artifacts_of(outcome))
