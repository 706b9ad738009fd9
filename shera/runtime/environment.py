"""Runtime layer: the environment a step runs with (CI variables, values, secrets, overrides).

Precedence, lowest first: the ``CI_*`` variables of the event (from the injected ``VariablesProvider``), the
run-time ``CI_PIPELINE_STATUS``/``CI_PIPELINE_STARTED``/``CI_STEP_STARTED``, the workflow's environment, the
step's ``environment``, the step's secrets, then the caller's overrides (``shera exec --env``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from shera.model.plan import StepPlan, WorkflowPlan

VariablesProvider = Callable[[WorkflowPlan, StepPlan, str], Mapping[str, str]]
"""Returns the ``CI_*`` variables of a step from its workflow, itself and the workspace path it sees. The
runtime cannot import ``shera.pipeline`` (a sibling layer), so the caller injects
``shera.pipeline.variables.ci_variables`` bound to its event (see ``cli.exec_cmd``)."""


class MissingSecretError(Exception):
    """A step names a secret the run was not given; the message is for the user."""


def basic_variables(workflow: WorkflowPlan, step: StepPlan, workspace: str) -> dict[str, str]:
    """The few variables the runtime knows by itself, used when no provider is injected."""
    return {
        "CI": "woodpecker",
        "CI_WORKSPACE": workspace,
        "CI_WORKFLOW_NAME": workflow.name,
        "CI_STEP_NAME": step.name,
    }


@dataclass(frozen=True, slots=True)
class EnvironmentBuilder:
    """Builds step environments for one run; immutable, safe to share between threads."""

    variables: VariablesProvider | None
    secrets: Mapping[str, str]
    overrides: Mapping[str, str]
    started_at: float
    secrets_allowed: bool = True

    def build(self, workflow: WorkflowPlan, step: StepPlan, state: str, workspace: str) -> dict[str, str]:
        """The environment of ``step`` while its workflow is in ``state`` (success|failure); ``workspace``
        is the workspace path as the step sees it.

        Raises ``MissingSecretError`` when a secret is not given, or secrets are withheld (fork PRs).
        """
        provider = self.variables or basic_variables
        env = dict(provider(workflow, step, workspace))
        env["CI_PIPELINE_STATUS"] = state
        env["CI_PIPELINE_STARTED"] = str(int(self.started_at))
        env["CI_STEP_STARTED"] = str(int(time.time()))
        env.update(workflow.environment)
        env.update(step.environment)
        env.update(self.resolve_secrets(step))
        env.update(self.overrides)
        return env

    def resolve_secrets(self, step: StepPlan) -> dict[str, str]:
        resolved: dict[str, str] = {}
        for variable, secret in step.secrets.items():
            if not self.secrets_allowed:
                raise MissingSecretError(
                    f"step {step.name!r} needs secret {secret!r}, but secrets are not given to pull requests "
                    "from forks"
                )
            value = self.secrets.get(secret)
            if value is None:  # Woodpecker secret names are case-insensitive
                value = next((v for k, v in self.secrets.items() if k.lower() == secret.lower()), None)
            if value is None:
                raise MissingSecretError(
                    f"step {step.name!r} needs secret {secret!r} (for ${variable}), which was not given; "
                    f"pass it with --secret {secret}=VALUE"
                )
            resolved[variable] = value
        return resolved
