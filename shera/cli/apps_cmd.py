"""CLI layer: ``shera apps | history | rollback | scale | diff | app delete`` — deployed apps and releases.

Each command talks to the API (``--url``/``--token``, ``SHERA_URL``/``SHERA_TOKEN`` or the saved login), or,
with ``--data-dir D``, works on D directly without a server: D's SQLite database, deploy repository and
target state, as tenant ``local`` (what ``shera exec --data-dir D`` deployed). Both modes print the same
JSON (the API's shapes). ``shera diff`` exits 1 when the live state drifted from the deploy repository.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer

from shera.cli.client import Client, ClientError, print_table, resolve_target
from shera.deploy.service import DeployService
from shera.errors import ConfigError, SheraError
from shera.steps.deploy_wiring import LOCAL_TENANT, open_local
from shera.store import releases

UrlOpt = Annotated[str | None, typer.Option("--url", help="API URL (default: SHERA_URL or the saved login).")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="API token (default: SHERA_TOKEN or saved).")]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Work on this data directory without a server.")
]
FormatOpt = Annotated[str, typer.Option("--format", help="text or json.")]
EnvOpt = Annotated[str, typer.Option("--env", "-e", help="Environment, e.g. production.")]
AppArg = Annotated[str, typer.Argument(help="Application name.")]
LocalOpener = Callable[[Path], DeployService]


class Backend(Protocol):
    def apps(self) -> list[dict[str, Any]]: ...
    def history(self, app: str, env: str) -> list[dict[str, Any]]: ...
    def rollback(self, app: str, env: str, to: int | None) -> dict[str, Any]: ...
    def scale(self, app: str, env: str, replicas: int) -> dict[str, Any]: ...
    def delete(self, app: str, env: str) -> None: ...
    def diff(self, app: str, env: str) -> list[str]: ...


def _pair(app: str, env: str) -> str:
    return f"/api/v1/apps/{app}/environments/{env}"


class ApiBackend:
    def __init__(self, client: Client) -> None:
        self.client = client

    def apps(self) -> list[dict[str, Any]]:
        return list(self.client.request("GET", "/api/v1/apps")["data"])

    def history(self, app: str, env: str) -> list[dict[str, Any]]:
        return list(self.client.request("GET", _pair(app, env) + "/releases", params={"limit": 1000})["data"])

    def rollback(self, app: str, env: str, to: int | None) -> dict[str, Any]:
        return dict(self.client.request("POST", _pair(app, env) + "/rollback", json={"revision": to}))

    def scale(self, app: str, env: str, replicas: int) -> dict[str, Any]:
        return dict(self.client.request("POST", _pair(app, env) + "/scale", json={"replicas": replicas}))

    def delete(self, app: str, env: str) -> None:
        self.client.request("DELETE", _pair(app, env))

    def diff(self, app: str, env: str) -> list[str]:
        return list(self.client.request("GET", _pair(app, env) + "/diff")["lines"])


class LocalBackend:
    """The same answers from a data directory (tenant ``local``).

    The presenters of ``shera.api.routes.apps`` are imported inside the methods: at module level they load
    FastAPI into every ``shera`` process, e.g. +18 MB resident in the worker child of ``shera up``.
    """

    def __init__(self, service: DeployService) -> None:
        self.service = service

    def apps(self) -> list[dict[str, Any]]:
        from shera.api.routes.apps import release_public

        out = []
        for record in releases.current_releases(self.service.db, LOCAL_TENANT):
            row = release_public(record).model_dump(mode="json")
            row.update(app=record.app, environment=record.environment, health=self.service.health(record))
            out.append(row)
        return out

    def history(self, app: str, env: str) -> list[dict[str, Any]]:
        from shera.api.routes.apps import release_public

        records = releases.list_releases(self.service.db, LOCAL_TENANT, app, env, limit=1000)
        if not records:
            raise ConfigError(f"no app {app!r} in environment {env!r} under this data directory")
        return [release_public(r).model_dump(mode="json") for r in records]

    def rollback(self, app: str, env: str, to: int | None) -> dict[str, Any]:
        from shera.api.routes.apps import outcome_public

        outcome = self.service.rollback(LOCAL_TENANT, app, env, to=to, out=_echo)
        return outcome_public(outcome).model_dump(mode="json")

    def scale(self, app: str, env: str, replicas: int) -> dict[str, Any]:
        from shera.api.routes.apps import release_public

        return release_public(self.service.scale(LOCAL_TENANT, app, env, replicas)).model_dump(mode="json")

    def delete(self, app: str, env: str) -> None:
        self.service.delete(LOCAL_TENANT, app, env)

    def diff(self, app: str, env: str) -> list[str]:
        return self.service.diff(LOCAL_TENANT, app, env)


def _echo(data: bytes) -> None:
    typer.echo(data.decode(errors="replace"), nl=False, err=True)


@contextmanager
def _backend(
    url: str | None, token: str | None, data_dir: Path | None, opener: LocalOpener
) -> Iterator[Backend]:
    client: Client | None = None
    try:
        if data_dir is not None:
            yield LocalBackend(opener(data_dir))
        else:
            client = Client(resolve_target(url, token))
            yield ApiBackend(client)
    except ConfigError as exc:
        typer.echo(f"shera: {exc}", err=True)
        raise typer.Exit(2) from exc
    except (ClientError, SheraError) as exc:
        typer.echo(f"shera: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        if client is not None:
            client.close()


def _table(rows: list[dict[str, Any]], columns: list[str], title: str) -> None:
    print_table(rows, columns, title)


def _urls(row: dict[str, Any]) -> str:
    return " ".join(e["url"] for e in row.get("endpoints", []) if e.get("ready", True))


def register(app: typer.Typer, *, opener: LocalOpener = open_local) -> None:
    """Add the commands to ``app``; ``opener`` opens a data directory's deploy service (tests inject one)."""
    app_group = typer.Typer(help="Manage one deployed app.", no_args_is_help=True)
    app.add_typer(app_group, name="app")

    @app.command("apps")
    def apps(
        fmt: FormatOpt = "text", url: UrlOpt = None, token: TokenOpt = None, data_dir: DataDirOpt = None
    ) -> None:
        """What runs where: app, environment, revision, status and endpoint URLs."""
        with _backend(url, token, data_dir, opener) as backend:
            rows = backend.apps()
        if fmt == "json":
            typer.echo(json.dumps(rows, indent=2))
            return
        for row in rows:
            row["endpoints_urls"] = _urls(row)
        columns = ["app", "environment", "revision", "status", "health", "endpoints_urls"]
        _table(rows, columns, "apps")

    @app.command("history")
    def history(
        name: AppArg,
        env: EnvOpt,
        fmt: FormatOpt = "text",
        url: UrlOpt = None,
        token: TokenOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Every release of APP in ENV, newest first, with its deploy-repository commit."""
        with _backend(url, token, data_dir, opener) as backend:
            rows = backend.history(name, env)
        if fmt == "json":
            typer.echo(json.dumps(rows, indent=2))
            return
        for row in rows:  # the text table shows short forms; --format json has the full values
            row["image"] = str(row.get("image") or "").rsplit("/", 1)[-1]
            row["digest"] = str(row.get("digest") or "")[:19]
            row["sha"] = str(row.get("sha") or "")[:8]
            row["commit"] = str(row.get("commit") or "")[:8]
            row["reason"] = str(row.get("reason") or "")[:60]
        columns = ["revision", "status", "image", "digest", "sha", "commit", "rollback_of", "reason"]
        _table(rows, columns, f"{name} in {env}")

    @app.command("rollback")
    def rollback(
        name: AppArg,
        env: EnvOpt,
        to: Annotated[
            int | None, typer.Option("--to", min=1, help="Revision (default: the previous).")
        ] = None,
        url: UrlOpt = None,
        token: TokenOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Serve an earlier release of APP in ENV again (a new release)."""
        with _backend(url, token, data_dir, opener) as backend:
            result = backend.rollback(name, env, to)
        typer.echo(result["message"])
        if result["status"] != "live":
            raise typer.Exit(1)

    @app.command("scale")
    def scale(
        name: AppArg,
        env: EnvOpt,
        replicas: Annotated[int, typer.Argument(min=0, help="Number of instances.")],
        url: UrlOpt = None,
        token: TokenOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Run REPLICAS instances of APP's live release in ENV."""
        with _backend(url, token, data_dir, opener) as backend:
            result = backend.scale(name, env, replicas)
        typer.echo(f"{name} in {env}: release {result['revision']} scaled to {result['replicas']}")

    @app.command("diff")
    def diff(
        name: AppArg, env: EnvOpt, url: UrlOpt = None, token: TokenOpt = None, data_dir: DataDirOpt = None
    ) -> None:
        """Drift between the deploy repository and the live state (exit 1 when they differ)."""
        with _backend(url, token, data_dir, opener) as backend:
            lines = backend.diff(name, env)
        if not lines:
            typer.echo(f"{name} in {env}: in sync with the deploy repository")
            return
        typer.echo("\n".join(lines))
        raise typer.Exit(1)

    @app_group.command("delete")
    def delete(
        name: AppArg, env: EnvOpt, url: UrlOpt = None, token: TokenOpt = None, data_dir: DataDirOpt = None
    ) -> None:
        """Remove APP from ENV (its release history stays)."""
        with _backend(url, token, data_dir, opener) as backend:
            backend.delete(name, env)
        typer.echo(f"{name} in {env}: deleted")
