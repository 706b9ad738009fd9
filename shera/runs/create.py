"""Runs layer: ``create`` — a run from a webhook (durably, with its delivery) or from a manual trigger.

The webhook path answers 2xx only after ``create_from_hook`` returned: by then the delivery, the queued run
and its outbox row are committed together, so a crash or a Redis outage cannot lose an accepted push. The
outbox relay sends the run id to the queue afterwards (``queue.relay``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from shera.errors import ConfigError
from shera.forges.base import Hook
from shera.model.event import Event, EventKind
from shera.model.records import ProjectRecord, RunRecord
from shera.runs.eventdata import event_to_data
from shera.store import deliveries
from shera.store import runs as run_store
from shera.store.db import Database
from shera.store.runs import NewRun

_SHA = re.compile(r"^[0-9a-f]{7,64}$")


@dataclass(frozen=True, slots=True)
class CreateOutcome:
    """``created``: a new run ``run_id``; ``duplicate``: the delivery or push already made run ``run_id``;
    ``ignored``: nothing to run (``reason`` says why), nothing stored."""

    status: Literal["created", "duplicate", "ignored"]
    run_id: str | None
    reason: str = ""


def create_from_hook(db: Database, project: ProjectRecord, forge: str, hook: Hook) -> CreateOutcome:
    """Store the delivery and its queued run in one transaction, or say why not.

    Pings, ignored events, branch deletions and all-zero shas are ``ignored`` and store nothing. A repeated
    delivery id, or a push already seen (same project, ref and sha), is a ``duplicate`` of the first run,
    also when the copies arrive concurrently. With ``project.cancel_superseded``, a push kills the older
    unfinished push runs of its branch (reason ``superseded``; a running one is stopped by its worker).
    """
    if hook.kind != "event" or hook.event is None:
        return CreateOutcome("ignored", None, hook.reason or hook.kind)
    event = hook.event
    if not event.commit.strip("0"):
        return CreateOutcome("ignored", None, "no commit (all-zero sha: a deleted branch or tag)")
    ref = event.effective_ref
    new = _new_run(event, dedupe_key=f"{project.id}:{ref}:{event.commit}")
    recorded = deliveries.record_delivery(
        db,
        project,
        forge=forge,
        delivery_id=hook.delivery_id,
        event=str(event.kind),
        new=new,
        supersede=project.cancel_superseded,
    )
    return CreateOutcome("created" if recorded.created else "duplicate", recorded.run_id)


def create_manual(
    db: Database, project: ProjectRecord, *, sha: str, branch: str | None, params: dict[str, Any], actor: str
) -> RunRecord:
    """A queued ``manual`` run of ``sha`` (on ``branch``, default the project's); ``params`` become
    pipeline variables. ``ConfigError`` for a malformed sha; ``NotFound`` when the project is gone."""
    sha = sha.strip().lower()
    if not _SHA.match(sha):
        raise ConfigError(f"{sha!r} is not a commit sha (7 to 64 hex digits)")
    branch = branch or project.default_branch
    event = Event(
        kind=EventKind.MANUAL,
        branch=branch,
        ref=f"refs/heads/{branch}",
        commit=sha,
        author=actor,
        repo=repo_name(project.clone_url),
        repo_url=project.clone_url,
        default_branch=project.default_branch,
        params={str(key): str(value) for key, value in params.items()},
    )
    return run_store.insert_run(db, project, _new_run(event, params=params))


def _new_run(event: Event, *, dedupe_key: str | None = None, params: dict[str, Any] | None = None) -> NewRun:
    return NewRun(
        event=str(event.kind),
        ref=event.effective_ref,
        branch=None if event.kind is EventKind.TAG else event.branch,
        sha=event.commit,
        message=event.message,
        author=event.author,
        from_fork=event.from_fork,
        event_data=event_to_data(event),
        params=dict(params or {}),
        dedupe_key=dedupe_key,
    )


def repo_name(clone_url: str) -> str:
    """``owner/name`` from a clone URL (``https://host/owner/name.git``, ``git@host:owner/name.git``)."""
    path = clone_url.rstrip("/").removesuffix(".git")
    path = path.split("://", 1)[-1]
    path = path.split(":", 1)[-1] if "@" in path.split("/", 1)[0] else path.split("/", 1)[-1]
    parts = [part for part in path.split("/") if part]
    return "/".join(parts[-2:]) if parts else "local/repo"
