"""Queue layer: image retention — prune a project's images by its policy, on demand or periodically.

``prune_project`` plans from the store (``store.images.plan_prune``: the newest ``keep_per_branch`` images
of each branch are kept, and every ``protected`` digest — live releases), deletes each planned manifest
from its registry by digest, then marks the pruned rows deleted. A manifest is deleted only when no kept
row shares its digest (checked again just before the delete, since a push may have re-tagged it); a row
whose registry delete failed stays live so the next pass retries it. Deleting a manifest that is already
gone counts as done. Idempotent: several processes may run the periodic job.

Registry credentials are the project's secrets ``REGISTRY_USERNAME``/``REGISTRY_PASSWORD`` (as a push run
receives them); registries named in ``SHERA_INSECURE_REGISTRIES`` are reached over plain HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from shera.build.registry import Credentials, RegistryClient
from shera.errors import SheraError
from shera.model.records import ImageRecord
from shera.settings import Settings
from shera.store import images
from shera.store.db import Database
from shera.store.secrets import secrets_for

log = logging.getLogger(__name__)

#: Names of the project secrets holding registry credentials (names, not values).
USERNAME_SECRET = "REGISTRY_USERNAME"  # noqa: S105
PASSWORD_SECRET = "REGISTRY_PASSWORD"  # noqa: S105
CREDENTIAL_EVENTS = ("push", "tag", "manual")

#: ``clients(registry_host, credentials)`` → a client of that registry (tests pass their own).
ClientFactory = Callable[[str, Credentials | None], RegistryClient]
#: ``protected_for(project_id)`` → digests that must never be pruned (live releases).
ProtectedFor = Callable[[str], frozenset[str]]


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What one prune did (or, with ``dry_run``, would do): rows pruned, manifests deleted as
    ``host/repository@digest``, and one message per registry delete that failed (those rows stay)."""

    project_id: str
    dry_run: bool
    keep_per_branch: int
    removed: tuple[ImageRecord, ...]
    deleted: tuple[str, ...]
    errors: tuple[str, ...] = ()


def registry_credentials(db: Database, project_id: str) -> Credentials | None:
    """The project's registry credentials from its secrets, or ``None`` when it has none."""
    for event in CREDENTIAL_EVENTS:
        found = {s.name: s.value for s in secrets_for(db, project_id, event)}
        if USERNAME_SECRET in found and PASSWORD_SECRET in found:
            return Credentials(found[USERNAME_SECRET], found[PASSWORD_SECRET])
    return None


def default_clients(settings: Settings) -> ClientFactory:
    insecure = settings.insecure_registry_set

    def make(host: str, credentials: Credentials | None) -> RegistryClient:
        return RegistryClient.for_host(host, insecure=insecure, auth=credentials)

    return make


def prune_project(
    db: Database,
    settings: Settings,
    project_id: str,
    tenant_id: str,
    *,
    dry_run: bool = False,
    protected: frozenset[str] = frozenset(),
    clients: ClientFactory | None = None,
) -> PruneResult:
    """Apply the project's retention policy now; ``NotFound`` for another tenant's project."""
    policy = images.get_retention(db, project_id, tenant_id)
    plan = images.plan_prune(
        db, project_id, tenant_id, keep_per_branch=policy.keep_per_branch, protected=protected
    )
    names = tuple(f"{host}/{repo}@{digest}" for host, repo, digest in plan.delete)
    if dry_run or not plan.remove:
        return PruneResult(project_id, dry_run, policy.keep_per_branch, plan.remove, names)

    make = clients or default_clients(settings)
    credentials = registry_credentials(db, project_id) if plan.delete else None
    removed_ids = [image.id for image in plan.remove]
    opened: dict[str, RegistryClient] = {}
    deleted: list[str] = []
    errors: list[str] = []
    failed: set[tuple[str, str, str]] = set()
    try:
        for host, repository, digest in plan.delete:
            name = f"{host}/{repository}@{digest}"
            if images.digest_in_use(db, host, repository, digest, excluding=removed_ids):
                continue  # re-tagged by a push since the plan: the registry keeps it
            try:
                client = opened.get(host)
                if client is None:
                    client = opened[host] = make(host, credentials)
                client.delete(repository, digest)
                deleted.append(name)
            except SheraError as exc:
                failed.add((host, repository, digest))
                errors.append(f"{name}: {exc}")
    finally:
        for client in opened.values():
            client.close()
    pruned = [i for i in plan.remove if (i.registry_host, i.repository, i.digest) not in failed]
    images.mark_deleted(db, pruned)
    return PruneResult(
        project_id, False, policy.keep_per_branch, tuple(pruned), tuple(deleted), tuple(errors)
    )


def apply_retention(
    db: Database,
    settings: Settings,
    *,
    protected_for: ProtectedFor | None = None,
    clients: ClientFactory | None = None,
) -> list[PruneResult]:
    """One pass of the periodic job over every project with live images; one project's failure is
    logged and does not stop the others."""
    results: list[PruneResult] = []
    for target in images.retention_targets_any(db):
        protected = protected_for(target.project_id) if protected_for else frozenset()
        try:
            result = prune_project(
                db, settings, target.project_id, target.tenant_id, protected=protected, clients=clients
            )
        except SheraError as exc:
            log.warning("retention of project %s failed: %s", target.project_id, exc)
            continue
        for error in result.errors:
            log.warning("retention of project %s: %s", target.project_id, error)
        if result.removed:
            log.info(
                "retention pruned %d tags (%d manifests) of project %s",
                len(result.removed),
                len(result.deleted),
                target.project_id,
            )
        results.append(result)
    return results
