"""API layer: the image center — the tenant's repositories and tags, retention policies, and pruning.

Everything is scoped to the caller's tenant: another tenant's repository or project answers 404 like one
that does not exist. Repository names contain ``/``, so the tags route takes the rest of the path
(``/api/v1/images/team/app/tags``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from shera.api.deps import DbDep, MaintainerDep, SettingsDep, ViewerDep
from shera.api.schemas import Strict, Timestamp
from shera.model.records import ImageRecord, RetentionRecord
from shera.queue.retention import prune_project
from shera.store import images

router = APIRouter(tags=["images"])


class RepositoryPublic(BaseModel):
    repository: str
    registry_host: str
    project_id: str | None
    tags: int = Field(description="Live (not pruned) tags")
    last_pushed_at: Timestamp


class RepositoriesPublic(BaseModel):
    data: list[RepositoryPublic]
    count: int


class ImageTagPublic(BaseModel):
    tag: str
    ref: str = Field(description="registry_host/repository:tag")
    digest: str
    size: int | None = Field(description="Bytes of config and layers, when known")
    created: Timestamp = Field(description="When She-Ra pushed this tag")
    project_id: str | None
    run_id: str | None
    step: str | None
    sha: str | None = Field(description="The commit that was built")
    branch: str | None


class ImageTagsPublic(BaseModel):
    repository: str
    data: list[ImageTagPublic]
    count: int


class RetentionPut(Strict):
    keep_per_branch: Annotated[int, Field(ge=1, le=10_000, description="Images kept per branch")]


class RetentionPublic(BaseModel):
    project_id: str
    keep_per_branch: int
    is_default: bool
    updated_at: Timestamp | None


class PrunedTag(BaseModel):
    repository: str
    tag: str
    digest: str
    branch: str | None
    sha: str | None


class PrunePublic(BaseModel):
    dry_run: bool
    keep_per_branch: int
    removed: list[PrunedTag] = Field(description="Tags pruned (dry run: that would be)")
    deleted: list[str] = Field(description="Manifests deleted from registries, host/repository@digest")
    errors: list[str] = Field(description="Registry deletes that failed; their tags stay for the next pass")


def _tag(record: ImageRecord) -> ImageTagPublic:
    return ImageTagPublic(
        tag=record.tag,
        ref=record.ref,
        digest=record.digest,
        size=record.size,
        created=record.created_at,
        project_id=record.project_id,
        run_id=record.run_id,
        step=record.step,
        sha=record.sha,
        branch=record.branch,
    )


def _retention(record: RetentionRecord) -> RetentionPublic:
    return RetentionPublic(
        project_id=record.project_id,
        keep_per_branch=record.keep_per_branch,
        is_default=record.updated_at is None,
        updated_at=record.updated_at,
    )


@router.get("/api/v1/images")
def list_repositories(
    db: DbDep,
    principal: ViewerDep,
    q: Annotated[str | None, Query(max_length=255, description="Substring of the repository name")] = None,
) -> RepositoriesPublic:
    """Repositories the caller's tenant pushed to (with live tags), by name."""
    data = [
        RepositoryPublic(
            repository=item.repository,
            registry_host=item.registry_host,
            project_id=item.project_id,
            tags=item.tags,
            last_pushed_at=item.last_pushed_at,
        )
        for item in images.list_repositories(db, principal.tenant_id, q)
    ]
    return RepositoriesPublic(data=data, count=len(data))


@router.get("/api/v1/images/{repo:path}/tags")
def list_tags(repo: str, db: DbDep, principal: ViewerDep) -> ImageTagsPublic:
    """Live tags of one repository, newest first, with the run, commit and branch that built each."""
    data = [_tag(record) for record in images.list_tags(db, principal.tenant_id, repo)]
    return ImageTagsPublic(repository=repo, data=data, count=len(data))


@router.get("/api/v1/projects/{project_id}/retention")
def get_retention(project_id: str, db: DbDep, principal: ViewerDep) -> RetentionPublic:
    return _retention(images.get_retention(db, project_id, principal.tenant_id))


@router.put("/api/v1/projects/{project_id}/retention")
def put_retention(
    project_id: str, body: RetentionPut, db: DbDep, principal: MaintainerDep
) -> RetentionPublic:
    """Keep the newest ``keep_per_branch`` images of each branch; live releases are always kept."""
    return _retention(images.set_retention(db, project_id, principal.tenant_id, body.keep_per_branch))


@router.post("/api/v1/projects/{project_id}/images/prune")
def prune(
    project_id: str,
    db: DbDep,
    settings: SettingsDep,
    principal: MaintainerDep,
    dry_run: Annotated[bool, Query(description="Only report what would be pruned")] = False,
) -> PrunePublic:
    """Apply the project's retention policy now: registry manifests deleted by digest, tags marked pruned."""
    result = prune_project(db, settings, project_id, principal.tenant_id, dry_run=dry_run)
    return PrunePublic(
        dry_run=result.dry_run,
        keep_per_branch=result.keep_per_branch,
        removed=[
            PrunedTag(repository=i.repository, tag=i.tag, digest=i.digest, branch=i.branch, sha=i.sha)
            for i in result.removed
        ],
        deleted=list(result.deleted),
        errors=list(result.errors),
    )
