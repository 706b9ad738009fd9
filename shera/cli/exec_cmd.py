"""CLI layer: ``shera exec``, which runs a pipeline on this machine and reports it (no server needed)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from shera.cli.event_options import (
    BranchOpt,
    ChangedOpt,
    CommitOpt,
    CronOpt,
    DeployToOpt,
    EventOpt,
    MessageOpt,
    RepoOpt,
    TagOpt,
    build_event,
)
from shera.errors import ConfigError, PipelineError
from shera.executors.base import Executor
from shera.model.event import Event
from shera.model.plan import Plan, StepPlan, WorkflowPlan
from shera.model.status import Status
from shera.pipeline.loader import load_path
from shera.pipeline.planner import build_plan
from shera.pipeline.variables import ci_variables, platform_variables
from shera.plugins import EXECUTORS, Registry
from shera.runtime.console import ConsoleReporter
from shera.runtime.engine import run_plan
from shera.runtime.environment import VariablesProvider
from shera.runtime.masking import MIN_SECRET_LENGTH
from shera.runtime.results import RunResult
from shera.settings import Settings, load_settings
from shera.steps.runner import RUNNERS, StepRunner

EXIT_CODES = {Status.SUCCESS: 0, Status.FAILURE: 1, Status.KILLED: 130}

HELP = """Run the pipeline at PATH (a pipeline file, or a repository directory read in the lookup order
.shera.yml, .shera/, .woodpecker/, .woodpecker.yml, .drone.yml) on this machine.

The repository (PATH, or the directory holding the file) is copied into each workflow's workspace by the
clone step. Exit code: 0 success, 1 failure (also lint errors), 2 usage error, 130 cancelled (Ctrl-C).

The default executor is podman, as Woodpecker's default is docker: steps run in their images.
--executor local runs each step's commands as a local shell process group and ignores `image`."""

ExecutorOpt = Annotated[
    str, typer.Option("--executor", help="Where steps run: podman (default) or local (host shell, no image).")
]
SecretOpt = Annotated[
    list[str] | None,
    typer.Option("--secret", help="A secret as NAME=VALUE (repeat). Its value is masked in all output."),
]
EnvOpt = Annotated[
    list[str] | None,
    typer.Option("--env", help="An environment variable as NAME=VALUE (repeat); wins over all."),
]
SummaryOpt = Annotated[
    Path | None, typer.Option("--summary-json", help="Write the run summary as JSON to this file.")
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="State directory: releases, deploy repository, images (default: SHERA_DATA_DIR)."
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", min=0.001, help="Default per-step timeout in seconds (a step's own wins)."),
]


def pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    """``NAME=VALUE`` flags as a dict; ``typer.BadParameter`` (exit 2) for anything else."""
    out: dict[str, str] = {}
    for value in values or []:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{value!r} is not NAME=VALUE", param_hint=flag)
        out[name.strip()] = rest
    return out


def variables_for(event: Event) -> VariablesProvider:
    """The ``CI_*`` variables provider the runtime needs, bound to ``event``."""

    def provide(workflow: WorkflowPlan, step: StepPlan, workspace: str) -> dict[str, str]:
        return ci_variables(
            event, workflow=workflow.name, matrix=workflow.matrix, step=step.name, workspace=workspace
        )

    return provide


def source_of(path: Path) -> Path:
    """The repository a pipeline path belongs to (the directory itself, or the file's repository)."""
    if path.is_dir():
        return path
    folder = path.resolve().parent
    return folder.parent if folder.name in (".woodpecker", ".shera") else folder


def executor_class(name: str) -> type[Executor]:
    try:
        cls: type[Executor] = Registry.from_entry_points([EXECUTORS]).get(EXECUTORS, name)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="--executor") from exc
    return cls


def runner_registry() -> Registry:
    """The registry the ``shera.runners`` step-kind runners are found in (tests register by hand)."""
    return Registry.from_entry_points([RUNNERS])


def load_runners(settings: Settings, registry: Registry) -> dict[str, StepRunner]:
    """Every registered step-kind runner, built with ``cls.from_settings(settings)`` when the class offers
    it, else ``cls()``; a runner that cannot be loaded is a ``ConfigError``."""
    runners: dict[str, StepRunner] = {}
    for name in registry.names(RUNNERS):
        cls = registry.get(RUNNERS, name)
        factory = getattr(cls, "from_settings", None)
        runners[name] = factory(settings) if callable(factory) else cls()
    return runners


def load(path: Path, event: Event, env: dict[str, str], err: Console) -> Plan:
    """The plan to run; prints every located problem and exits 1 when the pipeline has errors."""
    spec = load_path(path)
    for problem in spec.problems:
        err.print(str(problem), markup=False, highlight=False)
    try:
        return build_plan(spec, event, env=env)
    except PipelineError as exc:
        shown = {str(p) for p in spec.problems}
        for problem in exc.problems:
            if str(problem) not in shown:
                err.print(str(problem), markup=False, highlight=False)
        if not exc.problems:
            err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None


def execute(
    plan: Plan,
    event: Event,
    *,
    source: Path,
    executor: type[Executor],
    secrets: dict[str, str],
    env: dict[str, str],
    timeout: float | None,
    runners: dict[str, StepRunner] | None = None,
    data_dir: Path | None = None,
) -> RunResult:
    runnable = [wf for wf in plan.workflows if not wf.skipped]
    reporter = ConsoleReporter(multi_workflow=len(runnable) > 1)
    with tempfile.TemporaryDirectory(prefix="shera-exec-") as work, reporter:
        for workflow in plan.workflows:
            if workflow.skipped:
                reporter.console.print(
                    f"workflow {workflow.name}: skipped (its when did not match)", markup=False
                )
        result = run_plan(
            plan,
            executor_factory=lambda _wf: executor(),
            event=event,
            secrets=secrets,
            env=env,
            source_dir=source,
            work_dir=Path(work),
            reporter=reporter,
            step_timeout=timeout,
            variables=variables_for(event),
            runners=runners,
            data_dir=data_dir,
        )
    reporter.print_summary(result)  # after the live view stopped
    return result


def exec_command(
    path: Annotated[Path, typer.Argument(help="A pipeline file or a repository directory.", exists=True)],
    executor: ExecutorOpt = "podman",
    event: EventOpt = "push",
    branch: BranchOpt = None,
    tag: TagOpt = None,
    changed: ChangedOpt = None,
    message: MessageOpt = "",
    commit: CommitOpt = None,
    repo: RepoOpt = None,
    cron: CronOpt = None,
    deploy_to: DeployToOpt = None,
    secret: SecretOpt = None,
    env: EnvOpt = None,
    summary_json: SummaryOpt = None,
    timeout: TimeoutOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    err = Console(stderr=True, soft_wrap=True, highlight=False)
    ev = build_event(
        event,
        branch=branch,
        tag=tag,
        changed=changed,
        message=message,
        commit=commit,
        repo=repo,
        cron=cron,
        deploy_to=deploy_to,
    )
    secrets, overrides = pairs(secret, "--secret"), pairs(env, "--env")
    cls = executor_class(executor)
    try:
        settings = load_settings(data_dir=data_dir)
        runners = load_runners(settings, runner_registry())
    except ConfigError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    for name, value in secrets.items():
        if 0 < len(value) < MIN_SECRET_LENGTH:
            err.print(
                f"warning: secret {name!r} is shorter than {MIN_SECRET_LENGTH} characters and is not masked"
            )
    try:
        platform = platform_variables(registry=settings.registry)
        plan = load(path, ev, {**platform, **overrides}, err)
        source = source_of(path)
        result = execute(
            plan,
            ev,
            source=source,
            executor=cls,
            secrets=secrets,
            env={**platform, **overrides},
            timeout=timeout,
            runners=runners,
            data_dir=settings.data_dir,
        )
    except KeyboardInterrupt:
        err.print("cancelled")
        raise typer.Exit(EXIT_CODES[Status.KILLED]) from None
    if summary_json is not None:
        try:
            summary_json.write_text(json.dumps(result.summary(), indent=2) + "\n")
        except OSError as exc:
            err.print(f"error: cannot write {summary_json}: {exc}", markup=False)
            raise typer.Exit(1) from None
    sys.stdout.flush()
    raise typer.Exit(EXIT_CODES.get(result.status, 1))


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("exec", help=HELP)(exec_command)
