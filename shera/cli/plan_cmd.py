"""CLI layer: ``shera plan PATH --event ...``; prints the plan Woodpecker would make for an event.

The plan is what remains after workflow and step ``when`` filtering, matrix expansion and DAG staging.
``--format json`` prints ``Plan.as_dict()`` (``{"workflows": [{"name", "matrix", "skipped", "depends_on",
"stages": [[step, ...]], "skipped_steps", ...}]}``); text prints a tree. Exit codes: 0 planned; 1 when the
pipeline has errors (printed as ``shera lint`` prints them: to stdout, summary on stderr); 2 on usage
errors.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

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
from shera.model.plan import Plan, StepPlan, WorkflowPlan
from shera.model.problems import Problem
from shera.pipeline.loader import load_path
from shera.pipeline.planner import build_plan
from shera.plugins import Registry


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"


def plan_command(
    path: Annotated[Path, typer.Argument(help="A pipeline file, or a repository folder.")],
    *,
    event: EventOpt = "push",
    branch: BranchOpt = None,
    tag: TagOpt = None,
    changed: ChangedOpt = None,
    message: MessageOpt = "",
    commit: CommitOpt = None,
    repo: RepoOpt = None,
    cron: CronOpt = None,
    deploy_to: DeployToOpt = None,
    output: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.TEXT,
) -> None:
    """Show which workflows and steps would run for an event, stage by stage."""
    the_event = build_event(
        event, branch=branch, tag=tag, changed=changed, message=message, commit=commit, repo=repo,
        cron=cron, deploy_to=deploy_to,
    )  # fmt: skip
    if not path.exists():
        typer.echo(f"shera plan: no such file or directory: {path}", err=True)
        raise typer.Exit(2)
    try:
        spec = load_path(path, registry=Registry.from_entry_points())
        plan = build_plan(spec, the_event)
    except PipelineError as exc:
        _print_problems([_from_cwd(problem, path) for problem in exc.problems], output)
        raise typer.Exit(1) from None
    except ConfigError as exc:
        typer.echo(f"shera plan: {exc}", err=True)
        raise typer.Exit(2) from None
    if output is Format.JSON:
        typer.echo(json.dumps(plan.as_dict(), indent=2))
    else:
        typer.echo(render_text(plan))


def _print_problems(problems: list[Problem], output: Format) -> None:
    if output is Format.JSON:
        typer.echo(json.dumps([problem.as_dict() for problem in problems], indent=2))
    else:
        for problem in problems:
            typer.echo(str(problem))
    errors = sum(problem.is_error for problem in problems)
    typer.echo(f"{errors} error(s), {len(problems) - errors} warning(s): nothing planned", err=True)


def _from_cwd(problem: Problem, path: Path) -> Problem:
    """Problems of a folder name files relative to it; make them usable from the current directory."""
    if not path.is_dir() or not problem.file or os.path.isabs(problem.file):
        return problem
    return replace(problem, file=os.path.normpath(os.path.join(path, problem.file)))


def render_text(plan: Plan) -> str:
    """A readable tree: workflows, their services, numbered stages with each step's kind and image."""
    if not plan.workflows:
        return "no workflows"
    return "\n".join(line for workflow in plan.workflows for line in _workflow_lines(workflow))


def _workflow_lines(workflow: WorkflowPlan) -> list[str]:
    title = f"workflow {workflow.name}"
    if workflow.matrix:
        title += " [" + ", ".join(f"{axis}={value}" for axis, value in workflow.matrix.items()) + "]"
    if workflow.depends_on:
        title += f" (after {', '.join(workflow.depends_on)})"
    if workflow.skipped:
        lines = [f"{title}: skipped"]
        if workflow.skipped_steps:
            lines.append(f"  skipped steps: {', '.join(workflow.skipped_steps)}")
        return lines
    lines = [title]
    for service in workflow.services:
        lines.append(f"  service {_step_text(service)}")
    for number, stage in enumerate(workflow.stages, start=1):
        lines.append(f"  stage {number}: " + "; ".join(_step_text(step) for step in stage))
    if workflow.skipped_steps:
        lines.append(f"  skipped: {', '.join(workflow.skipped_steps)}")
    return lines


def _step_text(step: StepPlan) -> str:
    details = [str(step.kind)]
    if step.image:
        details.append(step.image)
    if step.uses:
        details.append(f"uses {step.uses}")
    if step.detach:
        details.append("detached")
    if step.failure_ignore:
        details.append("failure ignored")
    if step.run_on != frozenset({"success"}):
        details.append("on " + "|".join(sorted(step.run_on)))
    return f"{step.name} ({', '.join(details)})"


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("plan")(plan_command)
