"""CLI layer: ``shera init --template NAME DIR`` scaffolds an app repository; ``--list`` lists the templates.

Exit codes: 0 done, 1 the scaffold was refused (DIR is not empty and ``--force`` was not given, or DIR is a
file or a symlink; or writing failed), 2 usage errors (no template, unknown template, no DIR). Refusals
are decided before anything is written. The files written go to stdout, one per line, then the next steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shera.steps.templates import ScaffoldRefused, Template, TemplateCatalog, UnknownTemplate


def _next_steps(template: Template, dest: Path) -> str:
    return "\n".join(
        [
            "",
            "Next steps:",
            f"  cd {dest}",
            f'  git init && git add -A && git commit -m "{template.name} from the She-Ra template"',
            "  shera lint .                                         # check the pipeline (.shera.yml)",
            "  shera exec --executor local --event pull_request .   # run its tests here",
            "  push it to a forge repository connected to a She-Ra project; pushes build and push the image,",
            "  pushes of the default branch deploy it.",
            "Rename `app:` in .shera.yml, and point BASE_IMAGE at your registry's mirror (see README.md).",
        ]
    )


def _list(catalog: TemplateCatalog) -> None:
    templates = catalog.templates()
    if not templates:
        typer.echo(f"shera init: no templates under {catalog.root}", err=True)
        raise typer.Exit(1)
    width = max(len(template.name) for template in templates)
    for template in templates:
        typer.echo(f"{template.name:<{width}}  {template.description}")


def init_command(
    directory: Annotated[
        Path | None, typer.Argument(help="Directory of the new app repository (created when missing).")
    ] = None,
    template: Annotated[
        str | None, typer.Option("--template", "-t", help="Template name (see --list).")
    ] = None,
    list_templates: Annotated[bool, typer.Option("--list", help="List the templates and exit.")] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Write into a non-empty DIR (overwrites the template's files only)."),
    ] = False,
) -> None:
    """Scaffold an app repository from a template: Containerfile, .shera.yml, README.md and the app source."""
    catalog = TemplateCatalog()
    if list_templates:
        _list(catalog)
        return
    if template is None or directory is None:
        missing = "--template NAME" if template is None else "DIR"
        typer.echo(f"shera init: {missing} is required (shera init --template NAME DIR; --list)", err=True)
        raise typer.Exit(2)
    try:
        chosen = catalog.get(template)
        written = catalog.scaffold(template, directory, force=force)
    except UnknownTemplate as exc:
        typer.echo(f"shera init: {exc}", err=True)
        raise typer.Exit(2) from exc
    except (ScaffoldRefused, OSError) as exc:
        typer.echo(f"shera init: {exc}", err=True)
        raise typer.Exit(1) from exc
    for file in written:
        typer.echo(f"  {directory / file}")
    typer.echo(f"Created {template} app in {directory} ({len(written)} files).")
    typer.echo(_next_steps(chosen, directory))


def register(app: typer.Typer) -> None:
    """Add the ``init`` command to ``app``."""
    app.command("init")(init_command)
