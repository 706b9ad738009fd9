"""CLI layer: the HTTP client of the She-Ra API used by ``shera login|projects|trigger|runs|logs|cancel``.

Where to connect: ``--url``/``--token`` options, else ``SHERA_URL``/``SHERA_TOKEN``, else the file written by
``shera login`` (``$XDG_CONFIG_HOME/shera/client.json``, mode 0600). HTTP errors become ``ClientError`` with
the server's message; nothing here prints a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from shera.errors import ConfigError, SheraError


class ClientError(SheraError):
    """The API answered with an error, or could not be reached."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "shera" / "client.json"


def save_login(url: str, token: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": url.rstrip("/"), "token": token}, handle)
    return path


@dataclass(frozen=True)
class Target:
    url: str
    token: str


def resolve_target(url: str | None, token: str | None) -> Target:
    """The API to talk to, from options, environment or the saved login; ``ConfigError`` when unknown."""
    saved: dict[str, str] = {}
    path = config_path()
    if path.is_file():
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}; run `shera login` again") from exc
    final_url = url or os.environ.get("SHERA_URL") or saved.get("url")
    final_token = token or os.environ.get("SHERA_TOKEN") or saved.get("token")
    if not final_url or not final_token:
        raise ConfigError(
            "not logged in: run `shera login --url URL --token TOKEN` (or set SHERA_URL/SHERA_TOKEN)"
        )
    return Target(final_url.rstrip("/"), final_token)


class Client:
    """A thin synchronous client; every method returns decoded JSON or raises ``ClientError``."""

    def __init__(self, target: Target, timeout: float = 30.0) -> None:
        self.target = target
        self._http = httpx.Client(
            base_url=target.url, headers={"Authorization": f"Bearer {target.token}"}, timeout=timeout
        )

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach {self.target.url}: {exc}") from exc
        if response.status_code >= 400:
            raise ClientError(_error_text(response), response.status_code)
        if not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    def stream_lines(self, path: str) -> Iterator[str]:
        """Lines of a streaming response (SSE), as they arrive."""
        try:
            with self._http.stream("GET", path, timeout=None) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ClientError(_error_text(response), response.status_code)
                yield from response.iter_lines()
        except httpx.HTTPError as exc:
            raise ClientError(f"stream from {self.target.url} broke: {exc}") from exc


def _error_text(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    if not isinstance(detail, str):
        detail = json.dumps(detail)
    return f"{response.status_code}: {detail}"


@contextmanager
def connected(url: str | None, token: str | None) -> Iterator[Client]:
    """A client for a CLI command: exit 2 when not logged in, exit 1 with the server's message on errors."""
    try:
        client = Client(resolve_target(url, token))
    except SheraError as exc:
        typer.echo(f"shera: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        yield client
    except SheraError as exc:
        typer.echo(f"shera: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        client.close()


def print_table(rows: list[dict[str, Any]], columns: list[str], title: str) -> None:
    """``rows`` as a table of ``columns`` (missing values empty)."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row[c]) for c in columns))
    Console(width=160).print(table)
