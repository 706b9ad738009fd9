"""CLI layer: the event flags shared by ``shera plan`` and ``shera exec``, and the ``Event`` they describe.

Use the ``Annotated`` aliases as parameter types of a typer command and pass the values to ``build_event``::

    def plan(path: Path, event: EventOpt = "push", branch: BranchOpt = None, tag: TagOpt = None,
             changed: ChangedOpt = None, message: MessageOpt = "", commit: CommitOpt = None,
             repo: RepoOpt = None, cron: CronOpt = None, deploy_to: DeployToOpt = None) -> None:
        ev = build_event(event, branch=branch, tag=tag, changed=changed, message=message,
                         commit=commit, repo=repo, cron=cron, deploy_to=deploy_to)

``build_event`` raises ``typer.BadParameter`` for a wrong value; typer turns it into a usage error (exit 2).
"""

from __future__ import annotations

import re
from typing import Annotated

import typer

from shera.model.event import Event, EventKind

EVENTS = tuple(kind.value for kind in EventKind)
_SHA = re.compile(r"[0-9a-fA-F]{4,64}")
_REPO = re.compile(r"[^/\s]+(/[^/\s]+)+")

EventOpt = Annotated[str, typer.Option("--event", help=f"Event kind: {', '.join(EVENTS)}.")]
BranchOpt = Annotated[
    str | None, typer.Option("--branch", help="Pushed branch, or the target branch of a pull request.")
]
TagOpt = Annotated[str | None, typer.Option("--tag", help="Tag name (required with --event tag).")]
ChangedOpt = Annotated[
    list[str] | None,
    typer.Option("--changed", help="A changed file, for 'when: path' (repeat the flag). Default: unknown."),
]
MessageOpt = Annotated[str, typer.Option("--message", help="Commit message (e.g. to try '[CI SKIP]').")]
CommitOpt = Annotated[str | None, typer.Option("--commit", help="Commit SHA (hex).")]
RepoOpt = Annotated[str | None, typer.Option("--repo", help="Repository as owner/name.")]
CronOpt = Annotated[str | None, typer.Option("--cron", help="Cron job name, for --event cron.")]
DeployToOpt = Annotated[
    str | None, typer.Option("--deploy-to", help="Deployment target, for --event deployment.")
]


def build_event(
    event: str = "push",
    *,
    branch: str | None = None,
    tag: str | None = None,
    changed: list[str] | None = None,
    message: str = "",
    commit: str | None = None,
    repo: str | None = None,
    cron: str | None = None,
    deploy_to: str | None = None,
) -> Event:
    """The ``Event`` the flags describe; ``typer.BadParameter`` names the flag that is wrong."""
    try:
        kind = EventKind(event)
    except ValueError:
        raise typer.BadParameter(
            f"{event!r} is not an event; use one of {', '.join(EVENTS)}", param_hint="--event"
        ) from None
    if kind in (EventKind.TAG, EventKind.RELEASE) and not tag:
        raise typer.BadParameter(f"--event {kind} needs --tag NAME", param_hint="--tag")
    if commit is not None and not _SHA.fullmatch(commit):
        raise typer.BadParameter(f"{commit!r} is not a commit SHA (hex digits)", param_hint="--commit")
    if repo is not None and not _REPO.fullmatch(repo):
        raise typer.BadParameter(f"{repo!r} is not owner/name", param_hint="--repo")
    defaults = Event()
    return Event(
        kind=kind,
        branch=branch or defaults.branch,
        tag=tag,
        commit=commit.lower() if commit else defaults.commit,
        message=message,
        changed_files=tuple(changed) if changed else None,
        repo=repo or defaults.repo,
        pull_request=1 if kind in (EventKind.PULL_REQUEST, EventKind.PULL_REQUEST_CLOSED) else None,
        cron=cron if kind is EventKind.CRON else None,
        deploy_target=deploy_to if kind is EventKind.DEPLOYMENT else None,
    )
