"""Pipeline layer: the built-in ``CI_*`` variables of a run, as Woodpecker defines them (pure, no I/O).

They serve twice: as the variables ``${...}`` substitution sees while planning, and as the environment every
step receives at run time (the runtime adds the step's name and workspace).

As in Woodpecker, a variable whose value would be empty is left out (``CI_COMMIT_TAG`` exists only for tag
and release events, ``CI_COMMIT_PULL_REQUEST`` only for pull requests), matrix values are added and win over
built-ins, and the ``DRONE_*`` aliases Woodpecker sets for Drone plugins are included. ``CI=woodpecker`` keeps
scripts that test for Woodpecker working; ``SHERA=true`` tells She-Ra apart. Timestamps and ``CI_PREV_*`` are
not set: a plan is a pure function of its event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from shera.model.event import Event, EventKind

MAX_CHANGED_FILES = 500
"""Above this many changed files ``CI_PIPELINE_FILES`` is left undefined, as in Woodpecker."""

PULL_REQUEST_EVENTS = frozenset(
    {EventKind.PULL_REQUEST, EventKind.PULL_REQUEST_CLOSED, EventKind.PULL_REQUEST_METADATA}
)

_DRONE_ALIASES: tuple[tuple[str, str], ...] = (
    ("CI_COMMIT_BRANCH", "DRONE_BRANCH"),
    ("CI_COMMIT_PULL_REQUEST", "DRONE_PULL_REQUEST"),
    ("CI_COMMIT_TAG", "DRONE_TAG"),
    ("CI_COMMIT_SOURCE_BRANCH", "DRONE_SOURCE_BRANCH"),
    ("CI_COMMIT_TARGET_BRANCH", "DRONE_TARGET_BRANCH"),
    ("CI_PIPELINE_NUMBER", "DRONE_BUILD_NUMBER"),
    ("CI_PIPELINE_PARENT", "DRONE_BUILD_PARENT"),
    ("CI_PIPELINE_EVENT", "DRONE_BUILD_EVENT"),
    ("CI_COMMIT_SHA", "DRONE_COMMIT"),
    ("CI_COMMIT_SHA", "DRONE_COMMIT_SHA"),
    ("CI_COMMIT_REF", "DRONE_COMMIT_REF"),
    ("CI_COMMIT_BRANCH", "DRONE_COMMIT_BRANCH"),
    ("CI_COMMIT_MESSAGE", "DRONE_COMMIT_MESSAGE"),
    ("CI_COMMIT_AUTHOR", "DRONE_COMMIT_AUTHOR"),
    ("CI_COMMIT_AUTHOR", "DRONE_COMMIT_AUTHOR_NAME"),
    ("CI_REPO", "DRONE_REPO"),
    ("CI_REPO_OWNER", "DRONE_REPO_OWNER"),
    ("CI_REPO_NAME", "DRONE_REPO_NAME"),
    ("CI_REPO_URL", "DRONE_REPO_LINK"),
    ("CI_REPO_DEFAULT_BRANCH", "DRONE_REPO_BRANCH"),
    ("CI_REPO_CLONE_URL", "DRONE_REMOTE_URL"),
    ("CI_REPO_CLONE_URL", "DRONE_GIT_HTTP_URL"),
    ("CI_SYSTEM_HOST", "DRONE_SYSTEM_HOST"),
    ("CI_STEP_NAME", "DRONE_STEP_NAME"),
    ("CI_PIPELINE_DEPLOY_TARGET", "DRONE_DEPLOY_TO"),
)


def ci_variables(
    event: Event,
    *,
    workflow: str = "",
    matrix: Mapping[str, str] | None = None,
    step: str = "",
    workspace: str = "",
) -> dict[str, str]:
    """Every built-in variable for ``event`` (and a workflow, matrix row, step and workspace when given).

    Values of ``event.params`` (manual pipeline variables) are added without overriding built-ins.
    """
    owner, _, name = event.repo.rpartition("/")
    ref = event.effective_ref
    out: dict[str, str] = {}

    def put(key: str, value: str | None) -> None:
        if value:
            out[key] = value

    put("CI", "woodpecker")
    put("SHERA", "true")
    put("CI_SYSTEM_NAME", "woodpecker")
    put("CI_SYSTEM_HOST", event.instance)
    put("CI_SYSTEM_PLATFORM", event.platform)
    put("CI_REPO", event.repo)
    put("CI_REPO_OWNER", owner)
    put("CI_REPO_NAME", name)
    put("CI_REPO_URL", event.repo_url)
    put("CI_REPO_CLONE_URL", event.repo_url)
    put("CI_REPO_DEFAULT_BRANCH", event.default_branch)
    put("CI_PIPELINE_NUMBER", str(event.number))
    put("CI_PIPELINE_PARENT", "0")
    put("CI_PIPELINE_EVENT", str(event.kind))
    put("CI_PIPELINE_CRON", event.cron if event.kind is EventKind.CRON else None)
    put("CI_PIPELINE_DEPLOY_TARGET", event.deploy_target)
    put("CI_WORKFLOW_NAME", workflow)
    put("CI_STEP_NAME", step)
    put("CI_WORKSPACE", workspace)
    put("CI_COMMIT_SHA", event.commit)
    put("CI_COMMIT_REF", ref)
    put("CI_COMMIT_BRANCH", event.branch)
    put("CI_COMMIT_MESSAGE", event.message)
    put("CI_COMMIT_AUTHOR", event.author)
    if event.kind in (EventKind.TAG, EventKind.RELEASE) or ref.startswith("refs/tags/"):
        put("CI_COMMIT_TAG", event.tag or ref.removeprefix("refs/tags/"))
    if event.kind in PULL_REQUEST_EVENTS:
        source = event.source_branch or ""
        put("CI_COMMIT_SOURCE_BRANCH", source)
        put("CI_COMMIT_TARGET_BRANCH", event.branch)
        put("CI_COMMIT_REFSPEC", f"{source}:{event.branch}" if source else None)
        put("CI_COMMIT_PULL_REQUEST", str(event.pull_request) if event.pull_request is not None else None)
    files = event.changed_files or ()
    if len(files) <= MAX_CHANGED_FILES:
        out["CI_PIPELINE_FILES"] = json.dumps(list(files), separators=(",", ":"))
    for woodpecker, drone in _DRONE_ALIASES:
        if woodpecker in out:
            out[drone] = out[woodpecker]
    out["DRONE_BUILD_STATUS"] = "success"
    if "CI_COMMIT_PULL_REQUEST" not in out:
        out["PULLREQUEST_DRONE_PULL_REQUEST"] = "0"
    for key, value in event.params.items():
        out.setdefault(key, value)
    out.update(matrix or {})
    return out


def platform_variables(*, registry: str | None) -> dict[str, str]:
    """Variables the platform adds to every run, as GitLab CI users know them: ``CI_REGISTRY`` is the registry
    images are pushed to (``SHERA_REGISTRY``), e.g. for ``BASE_IMAGE: ${CI_REGISTRY}/library/python:3.12``."""
    return {"CI_REGISTRY": registry} if registry else {}
