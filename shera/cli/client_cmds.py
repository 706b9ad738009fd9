"""CLI layer: API client commands: login, projects, trigger, runs, logs, cancel."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from shera.cli.client import Client, ClientError, connected, print_table, save_login

UrlOpt = Annotated[str | None, typer.Option("--url", help="API URL (default: SHERA_URL or the saved login).")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="API token (default: SHERA_TOKEN or saved).")]
FormatOpt = Annotated[str, typer.Option("--format", help="text or json.")]


def register(app: typer.Typer) -> None:
    app.command("login")(login)
    app.command("projects")(projects)
    app.command("trigger")(trigger)
    app.command("runs")(runs)
    app.command("logs")(logs)
    app.command("cancel")(cancel)


def _print(data: Any, fmt: str, columns: list[str], title: str) -> None:
    if fmt == "json":
        typer.echo(json.dumps(data, indent=2))
        return
    print_table(data, columns, title)


def _project_id(client: Client, project: str) -> str:
    """``project`` as given when it is an id, else the id of the caller's project with that name."""
    items = client.request("GET", "/api/v1/projects")["data"]
    for item in items:
        if project in (item["id"], item["name"]):
            return str(item["id"])
    raise ClientError(f"no project {project!r} (see `shera projects`)", 404)


def login(
    url: Annotated[str, typer.Option("--url", help="API URL, e.g. http://127.0.0.1:8080")],
    token: Annotated[str, typer.Option("--token", help="API token", prompt=True, hide_input=True)],
) -> None:
    """Check the token against the API and save URL and token for the other commands."""
    with connected(url, token) as client:
        client.request("GET", "/api/v1/projects")
    path = save_login(url, token)
    typer.echo(f"logged in to {url} (saved in {path})")


def projects(url: UrlOpt = None, token: TokenOpt = None, fmt: FormatOpt = "text") -> None:
    """List the projects of your tenant."""
    with connected(url, token) as client:
        items = client.request("GET", "/api/v1/projects")["data"]
    _print(items, fmt, ["id", "name", "forge", "default_branch", "executor", "clone_url"], "projects")


def trigger(
    project: Annotated[str, typer.Argument(help="Project id or name.")],
    branch: Annotated[
        str | None, typer.Option("--branch", help="Branch to run (default: the project's).")
    ] = None,
    sha: Annotated[str | None, typer.Option("--sha", help="Exact commit to run.")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="K=V pipeline parameter (repeat).")
    ] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Start a manual run."""
    params: dict[str, str] = {}
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            typer.echo(f"shera: --param wants K=V, not {item!r}", err=True)
            raise typer.Exit(2)
        params[key] = value
    body: dict[str, Any] = {"params": params}
    if sha:
        body["sha"] = sha
    if branch:
        body["branch"] = branch
    with connected(url, token) as client:
        run = client.request("POST", f"/api/v1/projects/{_project_id(client, project)}/runs", json=body)
    typer.echo(f"run {run['id']} {run['status']} ({run.get('ref', '')} {str(run.get('sha', ''))[:12]})")


def runs(
    project: Annotated[str, typer.Argument(help="Project id or name.")],
    status: Annotated[str | None, typer.Option("--status", help="Only runs in this status.")] = None,
    branch: Annotated[str | None, typer.Option("--branch", help="Only runs of this branch.")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    fmt: FormatOpt = "text",
) -> None:
    """List a project's runs, newest first."""
    query = {k: v for k, v in {"status": status, "branch": branch}.items() if v}
    with connected(url, token) as client:
        data = client.request("GET", f"/api/v1/projects/{_project_id(client, project)}/runs", params=query)
    items = data["data"]
    _print(items, fmt, ["id", "number", "status", "event", "ref", "sha", "created_at"], "runs")


def logs(
    run: Annotated[str, typer.Argument(help="Run id.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Stream until the run ends.")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Print a run's logs (each line prefixed by its step); -f streams them live."""
    with connected(url, token) as client:
        if not follow:
            typer.echo(client.request("GET", f"/api/v1/runs/{run}/logs"), nl=False)
            return
        for data in _sse_data(client.stream_lines(f"/api/v1/runs/{run}/logs?follow=1")):
            typer.echo(data, nl=False)


def _sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The payload of each SSE ``data:`` event (multi-line data joined); stops at ``event: end``."""
    event, data = "message", []
    for line in lines:
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line == "":
            if event == "end":
                return
            if data:
                yield "\n".join(data)
            event, data = "message", []


def cancel(
    run: Annotated[str, typer.Argument(help="Run id.")], url: UrlOpt = None, token: TokenOpt = None
) -> None:
    """Cancel a queued or running run."""
    with connected(url, token) as client:
        result = client.request("POST", f"/api/v1/runs/{run}/cancel")
    typer.echo(f"run {result['id']} {result['status']}")
