"""Model layer: the forge-neutral event that triggers a pipeline (what `when:` filters look at)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class EventKind(StrEnum):
    PUSH = "push"
    PULL_REQUEST = "pull_request"
    PULL_REQUEST_CLOSED = "pull_request_closed"
    PULL_REQUEST_METADATA = "pull_request_metadata"
    TAG = "tag"
    RELEASE = "release"
    DEPLOYMENT = "deployment"
    CRON = "cron"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class Event:
    """What happened in the repository.

    ``branch`` is the pushed branch, or the target branch of a pull request. ``changed_files`` is ``None``
    when the forge did not say (path filters then match, as Woodpecker does). ``repo`` is ``owner/name``.
    ``from_fork`` marks an untrusted pull request: it never receives secrets.
    """

    kind: EventKind = EventKind.PUSH
    branch: str = "main"
    tag: str | None = None
    ref: str = ""
    commit: str = "0" * 40
    message: str = ""
    author: str = ""
    changed_files: tuple[str, ...] | None = None
    repo: str = "local/repo"
    repo_url: str = ""
    default_branch: str = "main"
    source_branch: str | None = None
    pull_request: int | None = None
    from_fork: bool = False
    cron: str | None = None
    deploy_target: str | None = None
    platform: str = "linux/amd64"
    instance: str = "localhost"
    number: int = 1
    params: dict[str, str] = field(default_factory=dict)

    @property
    def effective_ref(self) -> str:
        """The git ref of the event: explicit, else derived from tag or branch."""
        if self.ref:
            return self.ref
        if self.kind is EventKind.TAG and self.tag:
            return f"refs/tags/{self.tag}"
        if self.kind in (EventKind.PULL_REQUEST, EventKind.PULL_REQUEST_CLOSED) and self.pull_request:
            return f"refs/pull/{self.pull_request}/head"
        return f"refs/heads/{self.branch}"
