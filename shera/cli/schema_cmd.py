"""CLI layer: ``shera schema`` prints the JSON Schema of the pipeline file (see pipelines/schema.json)."""

from __future__ import annotations

import sys

import typer

from shera.errors import SheraError
from shera.pipeline.schema import schema_text
from shera.plugins import STEP_KINDS, Registry


def schema() -> None:
    """Print the JSON Schema (draft 2020-12) of a pipeline file, including every registered step kind.

    Regenerate the committed copy with: shera schema > pipelines/schema.json
    """
    try:
        text = schema_text(Registry.from_entry_points((STEP_KINDS,)))
    except SheraError as exc:
        typer.echo(f"shera schema: {exc}", err=True)
        raise typer.Exit(2) from exc
    sys.stdout.write(text)


def register(app: typer.Typer) -> None:
    """Add the ``schema`` command to ``app``."""
    app.command("schema")(schema)
