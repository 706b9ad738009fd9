"""Deploy layer: the ``sync: auto`` reconciler — re-apply the recorded state of live releases that drifted.

``reconcile_once`` is one pass (the lead's worker loop calls it every few seconds or minutes). It looks at
every live release whose deploy step said ``sync: auto``, compares the deploy repository with the target's
live objects and re-applies the recorded manifests when they differ. One pair's failure does not stop the
pass: it is reported in the result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shera.deploy.service import DeployService
from shera.errors import SheraError
from shera.store import releases as store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reconciled:
    tenant_id: str
    app: str
    environment: str
    action: str
    """``in-sync``, ``reapplied``, ``reapply-failed: <why>`` or ``error: <why>``."""


def reconcile_once(service: DeployService, *, tenant_id: str | None = None) -> list[Reconciled]:
    """One reconciliation pass over the live ``sync: auto`` releases (of ``tenant_id``, or of everyone)."""
    done: list[Reconciled] = []
    for release in store.current_releases(service.db, tenant_id):
        options = dict(release.spec.get("options", {}))
        if release.status != store.LIVE or options.get("sync") != "auto":
            continue
        key = (release.tenant_id, release.app, release.environment)
        try:
            if not service.diff(*key):
                done.append(Reconciled(*key, "in-sync"))
                continue
            status = service.reapply(release)
        except SheraError as exc:
            log.warning("reconcile %s/%s: %s", release.app, release.environment, exc)
            done.append(Reconciled(*key, f"error: {exc}"))
            continue
        if status.state == "available":
            log.info("reconcile %s/%s: drift repaired", release.app, release.environment)
            done.append(Reconciled(*key, "reapplied"))
        else:
            done.append(Reconciled(*key, f"reapply-failed: {status.message}"))
    return done
