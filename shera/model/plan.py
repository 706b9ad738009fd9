"""Model layer: the compiled, executable Plan (executors see only this, never YAML or the spec)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class StepKind(StrEnum):
    """How a step runs.

    ``commands``: a shell script in ``image`` (or on the host for the local executor); ``plugin``: the image's
    own entrypoint, configured by ``PLUGIN_*`` variables; ``service``: a long-running container reachable by
    name; ``clone``: fills the workspace with the commit; ``uses``: a She-Ra step kind run by the runtime.
    """

    COMMANDS = "commands"
    PLUGIN = "plugin"
    SERVICE = "service"
    CLONE = "clone"
    USES = "uses"


@dataclass(frozen=True, slots=True)
class StepPlan:
    """One executable step, with every value already resolved except secrets.

    ``environment`` holds literal values (``settings`` already turned into ``PLUGIN_*``, matrix values
    substituted). ``secrets`` maps an environment variable name to the secret name whose value the runtime
    injects. ``run_on`` is the set of workflow states (``success``, ``failure``) in which the step starts.
    """

    name: str
    kind: StepKind
    image: str | None = None
    commands: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    failure_ignore: bool = False
    detach: bool = False
    run_on: frozenset[str] = frozenset({"success"})
    timeout_s: float | None = None
    depends_on: tuple[str, ...] = ()
    directory: str | None = None
    privileged: bool = False
    ports: tuple[int, ...] = ()
    uses: str | None = None
    with_: Mapping[str, Any] = field(default_factory=dict)
    file: str = ""
    line: int = 0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": str(self.kind)}
        if self.image is not None:
            out["image"] = self.image
        if self.commands:
            out["commands"] = list(self.commands)
        if self.entrypoint is not None:
            out["entrypoint"] = list(self.entrypoint)
        if self.environment:
            out["environment"] = dict(self.environment)
        if self.secrets:
            out["secrets"] = dict(self.secrets)
        if self.depends_on:
            out["depends_on"] = list(self.depends_on)
        if self.failure_ignore:
            out["failure"] = "ignore"
        if self.detach:
            out["detach"] = True
        if self.run_on != frozenset({"success"}):
            out["run_on"] = sorted(self.run_on)
        if self.uses:
            out["uses"] = self.uses
            out["with"] = dict(self.with_)
        return out


@dataclass(frozen=True, slots=True)
class Workspace:
    """Where the workspace is in containers: ``base`` is the mounted volume, ``path`` the working dir."""

    base: str = "/woodpecker"
    path: str = "src"

    @property
    def directory(self) -> str:
        return f"{self.base.rstrip('/')}/{self.path}".rstrip("/") if self.path else self.base


@dataclass(frozen=True, slots=True)
class WorkflowPlan:
    """One workflow (one file, or one matrix row of it) as stages of steps.

    Stages run in order; the steps of one stage run concurrently. ``services`` start before the first stage
    and are stopped after the last. ``skipped`` workflows did not match their ``when``; they keep their
    steps in ``skipped_steps`` for display. ``run_on`` is the set of states of the workflows it depends on in
    which it still starts (``failure`` only when its ``when: status`` asks for it).
    """

    name: str
    stages: tuple[tuple[StepPlan, ...], ...] = ()
    services: tuple[StepPlan, ...] = ()
    matrix: Mapping[str, str] = field(default_factory=dict)
    skipped: bool = False
    depends_on: tuple[str, ...] = ()
    run_on: frozenset[str] = frozenset({"success"})
    skipped_steps: tuple[str, ...] = ()
    workspace: Workspace = field(default_factory=Workspace)
    environment: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    file: str = ""

    @property
    def steps(self) -> tuple[StepPlan, ...]:
        return tuple(step for stage in self.stages for step in stage)

    @property
    def label(self) -> str:
        """The name shown to people: matrix rows of one workflow differ by their axis values."""
        if not self.matrix:
            return self.name
        return f"{self.name}[{','.join(f'{k}={v}' for k, v in self.matrix.items())}]"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "matrix": dict(self.matrix),
            "skipped": self.skipped,
            "depends_on": list(self.depends_on),
            "stages": [[step.as_dict() for step in stage] for stage in self.stages],
            "skipped_steps": list(self.skipped_steps),
            "services": [service.as_dict() for service in self.services],
            "file": self.file,
        }


@dataclass(frozen=True, slots=True)
class Plan:
    """Every workflow of one pipeline run, in the order they were declared (dependencies resolved later)."""

    workflows: tuple[WorkflowPlan, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"workflows": [workflow.as_dict() for workflow in self.workflows]}
