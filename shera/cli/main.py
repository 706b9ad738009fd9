"""CLI layer: the ``shera`` entry point; wires the command modules into one typer app."""

from __future__ import annotations

import typer

from shera.cli import (
    apps_cmd,
    client_cmds,
    exec_cmd,
    expose_cmd,
    images_cmd,
    init_cmd,
    lint_cmd,
    plan_cmd,
    schema_cmd,
    server_cmd,
    webhook_cmd,
)

app = typer.Typer(
    name="shera",
    help="She-Ra: GitOps-driven CI/CD. Lint, plan and run pipelines; serve webhooks and the API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
lint_cmd.register(app)
plan_cmd.register(app)
exec_cmd.register(app)
schema_cmd.register(app)
server_cmd.register(app)
client_cmds.register(app)
webhook_cmd.register(app)
images_cmd.register(app)
init_cmd.register(app)
apps_cmd.register(app)
expose_cmd.register(app)


def main() -> None:
    app()
