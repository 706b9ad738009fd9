"""CLI layer: ``shera images ls|tags|prune|retention`` — the image center, through the API.

Connection options are those of the other client commands (``--url``/``--token``, ``SHERA_URL``/
``SHERA_TOKEN`` or the saved login). ``prune`` without ``--project`` prunes every project of the caller's
tenant; ``--dry-run`` only reports what would go.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import quote

import typer

from shera.cli import images_import
from shera.cli.client import Client, ClientError, connected, print_table

UrlOpt = Annotated[str | None, typer.Option("--url", help="API URL (default: SHERA_URL or the saved login).")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="API token (default: SHERA_TOKEN or saved).")]
FormatOpt = Annotated[str, typer.Option("--format", help="text or json.")]

images_app = typer.Typer(
    help="The image center: repositories, tags, retention and pruning.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    images_import.register(images_app)
    app.add_typer(images_app, name="images")


@contextmanager
def _client(url: str | None, token: str | None, fmt: str = "text") -> Iterator[Client]:
    if fmt not in ("text", "json"):
        typer.echo(f"shera: --format must be text or json, not {fmt!r}", err=True)
        raise typer.Exit(2)
    with connected(url, token) as client:
        yield client


def _table(title: str, columns: list[str], rows: list[dict[str, Any]]) -> None:
    print_table(rows, columns, title)


def _human(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(size)


@images_app.command("ls")
def list_images(
    query: Annotated[str | None, typer.Option("--query", "-q", help="Substring of the name.")] = None,
    fmt: FormatOpt = "text",
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Repositories your tenant pushed images to."""
    with _client(url, token, fmt) as client:
        data = client.request("GET", "/api/v1/images", params={"q": query} if query else None)["data"]
    if fmt == "json":
        typer.echo(json.dumps(data, indent=2))
        return
    _table("images", ["repository", "tags", "last_pushed_at", "registry_host"], data)


@images_app.command("tags")
def list_tags(
    repository: Annotated[str, typer.Argument(help="Repository, e.g. team/app.")],
    fmt: FormatOpt = "text",
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Tags of a repository, newest first, with the commit, branch and run that built each."""
    with _client(url, token, fmt) as client:
        data = client.request("GET", f"/api/v1/images/{quote(repository, safe='/')}/tags")["data"]
    if fmt == "json":
        typer.echo(json.dumps(data, indent=2))
        return
    rows = [
        {**t, "sha": (t["sha"] or "")[:8], "size": _human(t["size"]), "digest": t["digest"][:19]}
        for t in data
    ]
    _table(repository, ["tag", "digest", "size", "created", "branch", "sha", "run_id"], rows)


def _project_ids(client: Client, project: str | None) -> list[tuple[str, str]]:
    items = client.request("GET", "/api/v1/projects")["data"]
    chosen = [(str(p["id"]), str(p["name"])) for p in items if project in (None, p["id"], p["name"])]
    if project is not None and not chosen:
        raise ClientError(f"no project {project!r} (see `shera projects`)", 404)
    return chosen


@images_app.command("prune")
def prune(
    project: Annotated[
        str | None, typer.Option("--project", help="Project name or id (default: all).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would be pruned.")] = False,
    fmt: FormatOpt = "text",
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Apply the retention policy now: old tags pruned, their manifests deleted from the registry."""
    results: list[dict[str, Any]] = []
    with _client(url, token, fmt) as client:
        for project_id, name in _project_ids(client, project):
            path = f"/api/v1/projects/{project_id}/images/prune"
            reply = client.request("POST", path, params={"dry_run": "1" if dry_run else "0"})
            results.append({"project": name, "project_id": project_id, **reply})
    if fmt == "json":
        typer.echo(json.dumps(results, indent=2))
    else:
        verb = "would prune" if dry_run else "pruned"
        for result in results:
            tags = ", ".join(f"{t['repository']}:{t['tag']}" for t in result["removed"]) or "nothing"
            typer.echo(f"{result['project']}: {verb} {tags}")
            for error in result["errors"]:
                typer.echo(f"{result['project']}: registry delete failed: {error}", err=True)
    if any(result["errors"] for result in results):
        raise typer.Exit(1)


@images_app.command("retention")
def retention(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    keep: Annotated[int | None, typer.Option("--keep", min=1, help="Set: images kept per branch.")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Show (or with ``--keep``, set) how many images per branch a project keeps."""
    with _client(url, token) as client:
        project_id = _project_ids(client, project)[0][0]
        path = f"/api/v1/projects/{project_id}/retention"
        if keep is None:
            policy = client.request("GET", path)
        else:
            policy = client.request("PUT", path, json={"keep_per_branch": keep})
    typer.echo(f"{project}: keeps the newest {policy['keep_per_branch']} images per branch")
