"""CLI layer: ``shera lint PATH...``; prints every problem of each pipeline file or repository folder.

Exit codes: 0 when no path has an error (warnings allowed), 1 when any has one, 2 on usage errors (a path
that does not exist, an unknown format). Problems go to stdout (text: one ``file:line:col: severity:
message [kind] (hint: ...)`` per line; json: a list of objects); the summary line goes to stderr.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from shera.model.problems import Problem
from shera.pipeline.loader import load_path
from shera.plugins import Registry


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"


def lint_command(
    paths: Annotated[list[Path], typer.Argument(help="Pipeline files or repository folders.")],
    output: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.TEXT,
) -> None:
    """Check pipeline files (a file, or a repository folder using the lookup order) and list every problem."""
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        typer.echo(f"shera lint: no such file or directory: {', '.join(missing)}", err=True)
        raise typer.Exit(2)
    registry = Registry.from_entry_points()
    problems: list[Problem] = []
    for path in paths:
        spec = load_path(path, registry=registry)
        problems.extend(_from_cwd(problem, path) for problem in spec.problems)
    if output is Format.JSON:
        typer.echo(json.dumps([problem.as_dict() for problem in problems], indent=2))
    else:
        for problem in problems:
            typer.echo(str(problem))
    errors = sum(problem.is_error for problem in problems)
    warnings = len(problems) - errors
    typer.echo(f"{errors} error(s), {warnings} warning(s) in {len(paths)} path(s)", err=True)
    raise typer.Exit(1 if errors else 0)


def _from_cwd(problem: Problem, path: Path) -> Problem:
    """Problems of a folder name files relative to it; make them usable from the current directory."""
    if not path.is_dir() or os.path.isabs(problem.file):
        return problem
    return replace(problem, file=os.path.normpath(os.path.join(path, problem.file)))


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("lint")(lint_command)
