"""CLI layer: ``shera webhook replay FILE``; signs a recorded payload exactly as its forge would and POSTs it.

The file's bytes are sent unchanged (re-serializing would change the signature). ``--event`` defaults to the
event the payload looks like; ``--delivery`` to a fresh UUID (pass the same id twice to test deduplication).
Exit codes: 0 when the server answered 2xx, 1 for any other answer or when it cannot be reached, 2 on
usage errors (unreadable file, unknown forge, a URL that is not http(s), an event that cannot be guessed).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import httpx
import typer

from shera.errors import SheraError
from shera.forges.base import FORGES, Forge, load_forges
from shera.plugins import Registry

TIMEOUT_SECONDS = 30.0


def replay(
    forge: Forge, body: bytes, *, url: str, secret: str, event: str | None, delivery: str | None
) -> int:
    """Send ``body`` signed for ``forge`` to ``url``; print the answer; return the exit code."""
    if not url.startswith(("http://", "https://")):
        typer.echo(f"shera webhook replay: --url must be http(s), got {url!r}", err=True)
        return 2
    try:
        event_name = event or forge.guess_event(body)
    except SheraError as exc:
        typer.echo(f"shera webhook replay: {exc}", err=True)
        return 2
    headers = forge.sign(body, secret, event=event_name, delivery=delivery or str(uuid.uuid4()))
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        typer.echo(f"shera webhook replay: cannot reach {url}: {exc}", err=True)
        return 1
    typer.echo(f"{response.status_code} {response.reason_phrase}")
    if response.text:
        typer.echo(response.text)
    return 0 if response.is_success else 1


def register(app: typer.Typer, registry: Registry | None = None) -> None:
    """Add the ``webhook`` command group; forges come from ``registry`` (default: the entry points)."""
    webhook = typer.Typer(help="Work with forge webhooks.", no_args_is_help=True)

    @webhook.command("replay")
    def replay_command(
        file: Annotated[Path, typer.Argument(help="A recorded webhook payload (the exact body).")],
        forge: Annotated[str, typer.Option("--forge", help="github, gitlab, gitea, gogs, ...")],
        url: Annotated[str, typer.Option("--url", help="Where to POST, e.g. https://SHERA/hooks/github/ID.")],
        secret: Annotated[
            str, typer.Option("--secret", envvar="SHERA_WEBHOOK_SECRET", help="The project's webhook secret.")
        ],
        event: Annotated[
            str | None, typer.Option("--event", help="Event header value; guessed if absent.")
        ] = None,
        delivery: Annotated[
            str | None, typer.Option("--delivery", help="Delivery id; a new UUID if absent.")
        ] = None,
    ) -> None:
        """Sign a recorded payload as FORGE would and send it; print the status code and body."""
        try:
            body = file.read_bytes()
        except OSError as exc:
            typer.echo(f"shera webhook replay: cannot read {file}: {exc.strerror or exc}", err=True)
            raise typer.Exit(2) from None
        try:
            forges = load_forges(registry or Registry.from_entry_points((FORGES,)))
        except SheraError as exc:
            typer.echo(f"shera webhook replay: {exc}", err=True)
            raise typer.Exit(2) from None
        if forge not in forges:
            known = ", ".join(sorted(forges)) or "none registered"
            typer.echo(f"shera webhook replay: unknown forge {forge!r}; known: {known}", err=True)
            raise typer.Exit(2)
        code = replay(forges[forge], body, url=url, secret=secret, event=event, delivery=delivery)
        raise typer.Exit(code)

    app.add_typer(webhook, name="webhook")
