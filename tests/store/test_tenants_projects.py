"""Store: tenants, tokens, projects and secrets — tenant scoping, conflicts, cascades, secrets per event.

Runs against SQLite always, and against PostgreSQL too when ``SHERA_TEST_DATABASE_URL`` names a server
(each test gets a fresh database there).
"""

from __future__ import annotations

import pytest

from shera.model.records import Role
from shera.store import projects, runs, secrets, stats, tenants, tokens
from shera.store.db import Database
from shera.store.errors import Conflict, NotFound
from shera.store.runs import NewRun


def new_project(db: Database, tenant_id: str, name: str = "app") -> str:
    return projects.create_project(
        db, tenant_id, name=name, forge="github", clone_url="https://x.test/a.git", webhook_secret="s"
    ).id


def test_tenants_are_unique_by_name_and_found_by_id_or_name(db: Database) -> None:
    acme = tenants.create_tenant(db, "acme")
    with pytest.raises(Conflict):
        tenants.create_tenant(db, "acme")
    assert tenants.find_tenant(db, "acme") == acme
    assert tenants.find_tenant(db, acme.id) == acme
    assert tenants.find_tenant(db, "globex") is None
    assert acme.created_at.tzinfo is not None


def test_tokens_revocation_and_idempotent_bootstrap(db: Database) -> None:
    acme = tenants.create_tenant(db, "acme")
    info = tokens.create_token(
        db, tenant_id=acme.id, name="ci", role=Role.DEVELOPER, token_hash=tokens.hash_token("t")
    )
    principal = tokens.principal_for(db, tokens.hash_token("t"))
    assert principal is not None and principal.tenant_id == acme.id and principal.role is Role.DEVELOPER
    assert not principal.platform_admin

    with pytest.raises(NotFound):
        tokens.revoke_token(db, info.id, "another-tenant")
    tokens.revoke_token(db, info.id, acme.id)
    assert tokens.principal_for(db, tokens.hash_token("t")) is None

    digest = tokens.hash_token("boot")
    assert tokens.ensure_token(db, tenant_id=None, name="bootstrap", role=Role.ADMIN, token_hash=digest)
    assert not tokens.ensure_token(db, tenant_id=None, name="bootstrap", role=Role.ADMIN, token_hash=digest)
    admin = tokens.principal_for(db, digest)
    assert admin is not None and admin.platform_admin and admin.tenant_id is None


def test_projects_are_scoped_to_their_tenant(db: Database) -> None:
    acme, globex = tenants.create_tenant(db, "acme"), tenants.create_tenant(db, "globex")
    project_id = new_project(db, acme.id)
    with pytest.raises(Conflict):
        new_project(db, acme.id)
    new_project(db, globex.id)  # the same name in another tenant is fine

    assert projects.get_project(db, project_id, globex.id) is None
    assert projects.get_project(db, project_id, None) is not None
    assert [p.name for p in projects.list_projects(db, globex.id)] == ["app"]
    with pytest.raises(NotFound):
        projects.update_project(db, project_id, globex.id, default_branch="x")
    with pytest.raises(NotFound):
        projects.delete_project(db, project_id, globex.id)
    updated = projects.update_project(db, project_id, acme.id, default_branch="dev", trusted=True)
    assert updated.default_branch == "dev" and updated.trusted
    with pytest.raises(ValueError, match="next_run_number"):
        projects.update_project(db, project_id, acme.id, next_run_number=1)


def test_renaming_onto_a_taken_name_is_a_conflict(db: Database) -> None:
    acme = tenants.create_tenant(db, "acme")
    new_project(db, acme.id, "one")
    two = new_project(db, acme.id, "two")
    with pytest.raises(Conflict):
        projects.update_project(db, two, acme.id, name="one")


def test_deleting_a_project_removes_its_runs_and_secrets(db: Database) -> None:
    acme = tenants.create_tenant(db, "acme")
    project_id = new_project(db, acme.id)
    project = projects.get_project(db, project_id, acme.id)
    assert project is not None
    run = runs.insert_run(
        db, project, NewRun(event="push", ref="refs/heads/main", branch="main", sha="a" * 40)
    )
    secrets.put_secret(db, project_id, acme.id, "k", "v", [])
    assert stats.runs_by_status(db) == {"queued": 1}

    projects.delete_project(db, project_id, acme.id)

    assert runs.get_run(db, run.id, None) is None
    assert secrets.secrets_for(db, project_id, "push") == []
    assert stats.runs_by_status(db) == {}


def test_secrets_are_scoped_and_filtered_by_event(db: Database) -> None:
    acme, globex = tenants.create_tenant(db, "acme"), tenants.create_tenant(db, "globex")
    project_id = new_project(db, acme.id)
    _, created = secrets.put_secret(db, project_id, acme.id, "deploy", "v1", ["push", "tag"])
    info, created_again = secrets.put_secret(db, project_id, acme.id, "deploy", "v2", ["push", "tag"])
    secrets.put_secret(db, project_id, acme.id, "all", "v3", [])

    assert created and not created_again and info.events == ("push", "tag")
    assert [(s.name, s.value) for s in secrets.secrets_for(db, project_id, "push")] == [
        ("all", "v3"),
        ("deploy", "v2"),
    ]
    assert [s.name for s in secrets.secrets_for(db, project_id, "pull_request")] == ["all"]
    with pytest.raises(NotFound):
        secrets.put_secret(db, project_id, globex.id, "x", "y", [])
    with pytest.raises(NotFound):
        secrets.list_secrets(db, project_id, globex.id)
    with pytest.raises(NotFound):
        secrets.delete_secret(db, project_id, globex.id, "deploy")
    secrets.delete_secret(db, project_id, acme.id, "deploy")
    assert [s.name for s in secrets.list_secrets(db, project_id, acme.id)] == ["all"]


def test_ping_answers(db: Database) -> None:
    stats.ping(db)
