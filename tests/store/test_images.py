"""Store: the image center — tag upserts, tenant-scoped repositories and tags, retention policies and the
prune plan (newest N images per branch, protected digests, digests shared with kept tags).

Runs against SQLite always, and against PostgreSQL too when ``SHERA_TEST_DATABASE_URL`` names a server.
"""

from __future__ import annotations

import time

import pytest

from shera.model.records import ImageRecord
from shera.store import images, projects, tenants
from shera.store.db import Database
from shera.store.errors import NotFound

HOST = "registry.test:5000"


def _project(db: Database, tenant_id: str, name: str = "app") -> str:
    return projects.create_project(
        db, tenant_id, name=name, forge="github", clone_url="https://x.test/a.git", webhook_secret="s"
    ).id


def digest(n: int) -> str:
    return "sha256:" + f"{n:064x}"


def push(
    db: Database,
    tenant_id: str,
    project_id: str | None,
    tag: str,
    n: int,
    *,
    repository: str = "acme/app",
    branch: str | None = "main",
) -> ImageRecord:
    """Record tag → digest(n), built from commit n on ``branch``; pushes are a few ms apart so the
    order of calls is the order of push times."""
    time.sleep(0.003)
    return images.record_image(
        db,
        tenant_id=tenant_id,
        project_id=project_id,
        registry_host=HOST,
        repository=repository,
        tag=tag,
        digest=digest(n),
        size=1000 + n,
        run_id=f"run{n}",
        step="image",
        sha=f"{n:040x}",
        branch=branch,
    )


def test_pushing_a_tag_again_moves_it(db: Database) -> None:
    acme = tenants.create_tenant(db, "acme").id
    globex = tenants.create_tenant(db, "globex").id
    project = _project(db, acme)

    first = push(db, acme, project, "latest", 1)
    moved = push(db, acme, project, "latest", 2)
    theirs = push(db, globex, None, "latest", 3)  # same repository name in another tenant: its own row

    assert moved.id == first.id and moved.digest == digest(2) and moved.run_id == "run2"
    assert moved.created_at > first.created_at
    assert [t.digest for t in images.list_tags(db, acme, "acme/app")] == [digest(2)]
    assert [t.digest for t in images.list_tags(db, globex, "acme/app")] == [digest(3)]
    assert theirs.id != first.id and theirs.ref == f"{HOST}/acme/app:latest"


def test_repositories_and_tags_are_scoped_to_the_tenant(db: Database) -> None:
    acme = tenants.create_tenant(db, "acme").id
    globex = tenants.create_tenant(db, "globex").id
    project = _project(db, acme)
    push(db, acme, project, "v1", 1)
    push(db, acme, project, "v2", 2, branch="dev")
    push(db, acme, project, "v1", 3, repository="acme/App_worker")
    push(db, globex, None, "v1", 4, repository="globex/secret-app")

    listed = images.list_repositories(db, acme)
    tags = images.list_tags(db, acme, "acme/app")

    assert [(r.repository, r.tags) for r in listed] == [("acme/App_worker", 1), ("acme/app", 2)]
    assert listed[1].registry_host == HOST and listed[1].project_id == project
    assert [r.repository for r in images.list_repositories(db, acme, "WORKER")] == ["acme/App_worker"]
    assert images.list_repositories(db, acme, "%") == []  # LIKE wildcards are literal
    assert [r.repository for r in images.list_repositories(db, acme, "p_w")] == ["acme/App_worker"]
    assert images.list_repositories(db, acme, "secret") == []
    assert [(t.tag, t.sha, t.branch, t.run_id, t.size) for t in tags] == [
        ("v2", f"{2:040x}", "dev", "run2", 1002),
        ("v1", f"{1:040x}", "main", "run1", 1001),
    ]
    with pytest.raises(NotFound):
        images.list_tags(db, acme, "globex/secret-app")


def test_retention_policy_defaults_and_is_tenant_scoped(db: Database) -> None:
    acme = tenants.create_tenant(db, "acme").id
    globex = tenants.create_tenant(db, "globex").id
    project = _project(db, acme)

    default = images.get_retention(db, project, acme)
    changed = images.set_retention(db, project, acme, 3)

    assert default.keep_per_branch == images.DEFAULT_KEEP_PER_BRANCH and default.updated_at is None
    assert changed.keep_per_branch == 3 and images.get_retention(db, project, acme) == changed
    with pytest.raises(NotFound):
        images.get_retention(db, project, globex)
    with pytest.raises(NotFound):
        images.set_retention(db, project, globex, 1)
    assert images.get_retention(db, project, acme).keep_per_branch == 3


def test_retention_keeps_the_newest_images_per_branch_and_protected_digests(db: Database) -> None:
    acme = tenants.create_tenant(db, "acme").id
    project = _project(db, acme)
    # main: builds 1..4, each tagged with its sha; "main" and "latest" moved along to build 4.
    for n in (1, 2, 3, 4):
        push(db, acme, project, f"sha{n}", n)
        push(db, acme, project, "main", n)
    push(db, acme, project, "latest", 4)
    # dev: builds 5, 6. A tag build (no branch): 7.
    push(db, acme, project, "sha5", 5, branch="dev")
    push(db, acme, project, "sha6", 6, branch="dev")
    push(db, acme, project, "v1.0.0", 7, branch=None)

    plan = images.plan_prune(db, project, acme, keep_per_branch=2, protected=frozenset({digest(1)}))

    assert sorted(i.tag for i in plan.remove) == ["sha2"]  # sha1 is live (protected); 3, 4 are newest
    assert plan.delete == ((HOST, "acme/app", digest(2)),)
    assert {i.tag for i in plan.keep} == {"sha1", "sha3", "sha4", "main", "latest", "sha5", "sha6", "v1.0.0"}
    one = images.plan_prune(db, project, acme, keep_per_branch=1)
    assert sorted(i.tag for i in one.remove) == ["sha1", "sha2", "sha3", "sha5"]


def test_a_digest_still_tagged_elsewhere_is_not_deleted_from_the_registry(db: Database) -> None:
    acme = tenants.create_tenant(db, "acme").id
    project = _project(db, acme)
    push(db, acme, project, "feature-x", 1, branch="feature-x")  # the same image as main's build 1
    push(db, acme, project, "feature-y", 2, branch="feature-x")
    push(db, acme, project, "main", 1)

    plan = images.plan_prune(db, project, acme, keep_per_branch=1)

    assert [i.tag for i in plan.remove] == ["feature-x"]
    assert plan.delete == ()  # "main" keeps digest 1 in the registry
    assert images.digest_in_use(db, HOST, "acme/app", digest(1), excluding=[plan.remove[0].id])


def test_mark_deleted_hides_rows_but_not_ones_pushed_again_since(db: Database) -> None:
    acme = tenants.create_tenant(db, "acme").id
    project = _project(db, acme)
    push(db, acme, project, "old", 1)
    push(db, acme, project, "again", 2)
    push(db, acme, project, "new", 3)
    plan = images.plan_prune(db, project, acme, keep_per_branch=1)
    assert sorted(i.tag for i in plan.remove) == ["again", "old"]
    push(db, acme, project, "again", 2)  # an identical rebuild re-pushed the tag after the plan

    marked = images.mark_deleted(db, plan.remove)

    assert marked == 1
    assert [t.tag for t in images.list_tags(db, acme, "acme/app")] == ["again", "new"]
    assert [(t.project_id, t.keep_per_branch) for t in images.retention_targets_any(db)] == [
        (project, images.DEFAULT_KEEP_PER_BRANCH)
    ]
    push(db, acme, project, "old", 1)  # pushing a pruned tag again makes it live again
    assert {t.tag for t in images.list_tags(db, acme, "acme/app")} == {"old", "again", "new"}


def test_plan_prune_of_another_tenants_project_is_not_found(db: Database) -> None:
    acme = tenants.create_tenant(db, "acme").id
    globex = tenants.create_tenant(db, "globex").id
    project = _project(db, acme)
    push(db, acme, project, "v1", 1)
    with pytest.raises(NotFound):
        images.plan_prune(db, project, globex, keep_per_branch=1)
