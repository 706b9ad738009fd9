"""Every recorded corpus payload parses into the right Hook and Event for its forge and event header."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import NamedTuple

import pytest

from shera.forges.base import Forge
from shera.forges.gitea import Gitea
from shera.forges.github import GitHub
from shera.forges.gitlab import GitLab
from shera.model.event import EventKind
from tests.support.corpus import need_corpus

FORGES: dict[str, Forge] = {"github": GitHub(), "gitlab": GitLab(), "gitea": Gitea()}
PUSH, TAG, PR, PR_CLOSED = (
    EventKind.PUSH,
    EventKind.TAG,
    EventKind.PULL_REQUEST,
    EventKind.PULL_REQUEST_CLOSED,
)


class Want(NamedTuple):
    """Expected result; for "ignored"/"ping" only ``kind`` and ``reason`` (a substring) matter."""

    kind: str
    event: EventKind | None = None
    branch: str = ""
    tag: str | None = None
    commit: str = ""
    pull_request: int | None = None
    from_fork: bool = False
    changed: int | None = None
    reason: str = ""


def ignored(reason: str) -> Want:
    return Want("ignored", reason=reason)


EXPECTED: dict[tuple[str, str], Want] = {
    ("github", "create__1.json"): ignored("unsupported event 'create'"),
    ("github", "create__2.json"): ignored("unsupported event 'create'"),
    ("github", "create__3.json"): ignored("unsupported event 'create'"),
    ("github", "create__4.json"): ignored("unsupported event 'create'"),
    ("github", "create__5.json"): ignored("unsupported event 'create'"),
    ("github", "delete__1.json"): ignored("unsupported event 'delete'"),
    ("github", "delete__2.json"): ignored("unsupported event 'delete'"),
    ("github", "deployment__1.json"): ignored("unsupported event 'deployment'"),
    ("github", "release__1.json"): ignored("unsupported event 'release'"),
    ("github", "ping__1.json"): Want("ping"),
    ("github", "ping__2.json"): Want("ping"),
    ("github", "ping__3.json"): Want("ping"),
    ("github", "ping__4.json"): Want("ping"),
    ("github", "pull_request__1.json"): Want("event", PR, "master", None, "ec26c3e57ca3", 2),
    ("github", "pull_request__2.json"): Want("event", PR, "master", None, "ec26c3e57ca3", 2),
    ("github", "pull_request__5.json"): Want("event", PR, "master", None, "ec26c3e57ca3", 2),
    ("github", "pull_request__12.json"): Want("event", PR, "bradrydzewski-patch-1", None, "d2b75aa7797e", 1),
    ("github", "pull_request__14.json"): Want(
        "event", PR_CLOSED, "bradrydzewski-patch-1", None, "d2b75aa7797e", 1
    ),
    ("github", "pull_request__7.json"): ignored("'ready_for_review'"),
    ("github", "pull_request__8.json"): ignored("'converted_to_draft'"),
    # Woodpecker's fixture has no head/base repository: cannot tell, so it is treated as a fork.
    ("github", "pull_request__9.json"): Want("event", PR, "main", None, "0d1a26e67d8f", 1, from_fork=True),
    ("github", "push__10.json"): Want("event", PUSH, "main", None, "f7220f1f7532", changed=17),
    ("github", "push__11.json"): Want("event", TAG, "main", "the-tag-v1", "67012991d6c6"),
    ("github", "push__12.json"): Want("event", PUSH, "master", None, "199eddf46df5", changed=1),
    ("github", "push__13.json"): Want("event", TAG, "master", "v0.0.1", "d2b75aa7797e"),
    ("github", "push__14.json"): ignored("tag deleted"),
    ("github", "push__16.json"): ignored("branch deleted"),
    ("github", "push__2.json"): ignored("tag deleted"),
    ("github", "push__3.json"): Want("event", PUSH, "master", None, "6113728f27ae", changed=1),
    ("github", "push__4.json"): Want("event", PUSH, "master", None, "6113728f27ae", changed=1),
    ("github", "push__5.json"): ignored("tag deleted"),
    ("github", "push__6.json"): ignored("tag deleted"),
    ("github", "push__7.json"): Want("event", TAG, "master", "simple-tag", "6113728f27ae"),
    ("gitlab", "merge_request__1.json"): Want("event", PR, "master", None, "da1560886d4f", 1),
    ("gitlab", "merge_request__3.json"): Want("event", PR, "main", None, "c136499ec574", 3),
    ("gitlab", "merge_request__4.json"): Want("event", PR_CLOSED, "main", None, "3e4db3586b65", 4),
    ("gitlab", "merge_request__5.json"): Want("event", PR_CLOSED, "main", None, "3e4db3586b65", 4),
    ("gitlab", "merge_request__6.json"): Want("event", PR, "main", None, "36b5813240a9", 1),
    ("gitlab", "merge_request__8.json"): Want("event", PR, "master", None, "c4c79227ed61", 1),
    ("gitlab", "merge_request__9.json"): Want("event", PR_CLOSED, "master", None, "c4c79227ed61", 1),
    ("gitlab", "merge_request__10.json"): Want("event", PR_CLOSED, "master", None, "c4c79227ed61", 1),
    ("gitlab", "pipeline__1.json"): ignored("unsupported event 'Pipeline Hook'"),
    ("gitlab", "release__2.json"): ignored("unsupported event 'Release Hook'"),
    # 4 commits pushed, 2 listed: the file list is incomplete, so unknown.
    ("gitlab", "push__1.json"): Want("event", PUSH, "master", None, "da1560886d4f", changed=None),
    ("gitlab", "push__2.json"): Want("event", PUSH, "main", None, "16862e368d8a", changed=1),
    ("gitlab", "push__6.json"): Want("event", PUSH, "feature", None, "c4c79227ed61", changed=1),
    ("gitlab", "push__7.json"): ignored("branch deleted"),
    ("gitlab", "tag_push__1.json"): Want("event", TAG, "master", "v1.0.0", "82b3d5ae55f7"),
    # An annotated tag: "after" is the tag object, checkout_sha the commit.
    ("gitlab", "tag_push__2.json"): Want("event", TAG, "develop", "v22", "16862e368d8a"),
    ("gitlab", "tag_push__3.json"): Want("event", TAG, "master", "v1.0.0", "2adc9465c4ed"),
    ("gitlab", "tag_push__4.json"): ignored("tag deleted"),
    ("gitea", "create__1.json"): Want("event", TAG, "main", "v1.0.0", "ef98532add3b"),
    ("gitea", "create__2.json"): Want("event", TAG, "main", "v1.0.0", "ef98532add3b"),
    ("gitea", "create__3.json"): Want("event", TAG, "master", "v1.0.0", "599d25c67b05"),
    ("gitea", "create__4.json"): ignored("branch created"),
    ("gitea", "delete__1.json"): ignored("tag deleted"),
    ("gitea", "delete__2.json"): ignored("branch deleted"),
    # Woodpecker's fixtures omit head/base repository ids: cannot tell, so treated as forks.
    ("gitea", "pull_request__1.json"): Want("event", PR, "main", None, "0d1a26e67d8f", 1, from_fork=True),
    ("gitea", "pull_request__6.json"): Want("event", PR, "main", None, "0d1a26e67d8f", 1, from_fork=True),
    ("gitea", "pull_request__2.json"): Want("event", PR, "main", None, "788ed8d02d3b", 2),
    ("gitea", "pull_request__3.json"): Want("event", PR_CLOSED, "main", None, "d555a5dd07f4", 1),
    ("gitea", "pull_request__7.json"): Want("event", PR, "master", None, "2eba238e3360", 1),
    ("gitea", "pull_request__9.json"): Want("event", PR_CLOSED, "master", None, "2eba238e3360", 1),
    ("gitea", "pull_request__10.json"): Want("event", PR_CLOSED, "master", None, "2eba238e3360", 1),
    ("gitea", "push__1.json"): Want("event", PUSH, "main", None, "ef98532add3b", changed=2),
    ("gitea", "push__2.json"): Want("event", PUSH, "fdsafdsa", None, "28c3613ae626", changed=None),
    ("gitea", "push__4.json"): Want("event", PUSH, "main", None, "ef98532add3b", changed=2),
    ("gitea", "push__5.json"): Want("event", PUSH, "master", None, "4522cbcefc20", changed=1),
    # The 2017 docs sample lists commits without added/modified/removed: unknown.
    ("gitea", "push__6.json"): Want("event", PUSH, "develop", None, "bffeb7422404", changed=None),
}


def corpus_rows() -> list[tuple[str, str, str, str]]:
    root = need_corpus() / "webhooks"
    rows = []
    for forge in FORGES:
        with (root / forge / "SOURCES.tsv").open(newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                name, value = row["event_header"].split(": ", 1)
                rows.append((forge, row["file"], name, value))
    return rows


def test_every_corpus_payload_has_an_expectation() -> None:
    # Given the corpus as recorded / Then no payload escapes the table below (new files must be added).
    assert {(forge, file) for forge, file, _, _ in corpus_rows()} == set(EXPECTED)


@pytest.mark.parametrize(("forge", "file"), sorted(EXPECTED))
def test_corpus_payload_parses_into_the_right_hook(forge: str, file: str) -> None:
    rows = {(row[0], row[1]): row for row in corpus_rows()}
    _, _, header_name, header_value = rows[(forge, file)]
    path: Path = need_corpus() / "webhooks" / forge / file
    body = path.read_bytes()
    data = json.loads(body)
    want = EXPECTED[(forge, file)]

    hook = FORGES[forge].parse({header_name: header_value}, body)

    assert hook.kind == want.kind
    assert hook.delivery_id.startswith("sha256:")  # no delivery header given: derived from the body
    assert want.reason in hook.reason
    if want.kind != "event":
        assert hook.event is None
        return
    event = hook.event
    assert event is not None
    assert (event.kind, event.branch, event.tag) == (want.event, want.branch, want.tag)
    assert event.commit.startswith(want.commit) and len(event.commit) == 40
    assert (event.pull_request, event.from_fork) == (want.pull_request, want.from_fork)
    assert (None if event.changed_files is None else len(event.changed_files)) == want.changed
    assert event.repo.count("/") >= 1 and event.repo_url.endswith(".git")
    if want.event in (PR, PR_CLOSED):
        assert event.ref in (
            f"refs/pull/{want.pull_request}/head",
            f"refs/merge-requests/{want.pull_request}/head",
        )
        assert event.source_branch
    elif want.event is TAG:
        assert event.ref == f"refs/tags/{want.tag}"
    else:
        assert event.ref == f"refs/heads/{want.branch}" == data["ref"]


def test_guess_event_names_the_recorded_header_for_every_corpus_payload() -> None:
    # The replay command relies on this when --event is not given.
    for forge, file, _, value in corpus_rows():
        body = (need_corpus() / "webhooks" / forge / file).read_bytes()
        assert FORGES[forge].guess_event(body) == value, (forge, file)
