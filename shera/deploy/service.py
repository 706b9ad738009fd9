"""Deploy layer: the deploy verbs — deploy, rollback, scale, delete, diff — over releases, targets and the
deploy repository.

Contracts:
- Verbs on one (tenant, app, environment) are serialized by a lock file per pair (threads and processes).
- ``deploy`` skips a quarantined (app, environment, sha) when ``automatic`` and not ``force``: outcome
  ``skipped``, nothing created. Otherwise it creates the release (revision = previous maximum + 1,
  ``deploying``), renders, applies and waits. Success: ``live``, the previously live release ``superseded``.
  Failure: ``failed``; with ``rollback: auto`` and a previously live release it becomes ``rolled_back`` and
  that release is restored as a new release (``rollback_of``). A failed rollout is an outcome, not an error.
- Every release, including each rollback, is one commit in the deploy repository (``record.py``) whose
  message names run, sha and digest; a rollback to N commits N's manifests again.
- Errors: ``NotFound`` (no such app, environment or revision for the tenant), ``Conflict`` (nothing to
  roll back to, a failed revision, already live), ``ConfigError`` (unknown target); others from targets.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from shera.deploy.base import DeploySpec, DeployTarget, OutputSink, RolloutStatus
from shera.deploy.drift import diff_manifests
from shera.deploy.record import Recorder, commit_message, recorded_state, release_files
from shera.deploy.spec import spec_from_json, spec_to_json
from shera.deploy.targets import Targets
from shera.errors import SheraError
from shera.model.records import ReleaseRecord
from shera.store import releases as store
from shera.store.db import Database
from shera.store.errors import Conflict, NotFound

SecretSource = Callable[[ReleaseRecord], Mapping[str, str]]
"""Secret values (env name → value) for restoring ``release`` later (rollback, reconcile, scale)."""

_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


def _quiet(_data: bytes) -> None:
    return None


@dataclass(frozen=True, slots=True)
class DeployRequest:
    """A deployment: ``spec`` (its revision is allocated here), the target's name and the step's options.
    ``secrets`` maps env names to the project secret names recorded with the release."""

    spec: DeploySpec
    target: str
    project_id: str | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)
    rollback: Literal["auto", "manual"] = "auto"
    sync: Literal["auto", "manual"] = "manual"
    automatic: bool = True
    force: bool = False


@dataclass(frozen=True, slots=True)
class DeployOutcome:
    """How a verb ended: ``live``, ``failed``, ``rolled_back`` (failed, previous release restored) or
    ``skipped`` (quarantined). ``release`` is the new release, ``restored`` the rollback release created."""

    status: Literal["live", "failed", "rolled_back", "skipped"]
    message: str
    release: ReleaseRecord | None = None
    restored: ReleaseRecord | None = None
    push_errors: tuple[str, ...] = ()


def endpoints_of(status: RolloutStatus) -> list[dict[str, object]]:
    return [
        {"host": e.host, "port": e.port, "instance": e.instance, "node": e.node, "ready": e.ready}
        for e in status.endpoints
    ]


class DeployService:
    """The deploy verbs; thread-safe. ``lock_dir`` holds the per-pair lock files."""

    def __init__(
        self,
        db: Database,
        targets: Targets,
        recorder: Recorder,
        *,
        lock_dir: Path,
        secrets: SecretSource | None = None,
    ) -> None:
        self.db = db
        self.targets = targets
        self.recorder = recorder
        self._lock_dir = lock_dir
        self._secrets = secrets or (lambda _release: {})
        self._guard = threading.Lock()
        self._threads: dict[Path, threading.Lock] = {}
        self._local = threading.local()

    # -- verbs --------------------------------------------------------------------------------------

    def deploy(
        self, request: DeployRequest, *, out: OutputSink = _quiet, cancel: threading.Event | None = None
    ) -> DeployOutcome:
        spec = request.spec
        target = self.targets.get(request.target)
        pair = f"{spec.app}/{spec.environment}"
        with self._pair_lock(spec.tenant, spec.app, spec.environment):
            self._local.push_errors = []
            quarantined = spec.sha and store.is_quarantined(
                self.db, spec.tenant, spec.app, spec.environment, spec.sha
            )
            if quarantined and request.automatic and not request.force:
                message = (
                    f"{pair}: commit {spec.sha} failed here before and is quarantined; not deploying it "
                    "automatically (a manual deploy with force overrides this)"
                )
                out(f"{message}\n".encode())
                return DeployOutcome("skipped", message)
            previous = store.live_release(self.db, spec.tenant, spec.app, spec.environment)
            options = {"rollback": request.rollback, "sync": request.sync, "target": request.target}
            record = store.create_release(
                self.db,
                store.NewRelease(
                    tenant_id=spec.tenant,
                    app=spec.app,
                    environment=spec.environment,
                    target=request.target,
                    image=spec.image,
                    project_id=request.project_id,
                    digest=spec.digest,
                    sha=spec.sha,
                    run_id=spec.run_id,
                    replicas=spec.replicas,
                    forced=bool(quarantined),
                ),
            )
            spec = replace(spec, revision=record.revision)
            out(f"{pair}: release {record.revision} of {spec.image} on {request.target}\n".encode())
            spec_json = spec_to_json(spec, secrets=request.secrets, options=options)
            record = store.update_release(self.db, record.id, spec=spec_json)
            try:
                manifests = target.render(spec)
                record = store.update_release(self.db, record.id, manifests=manifests)
                status = self._roll_out(target, spec, manifests, out, cancel)
            except SheraError as exc:
                status = RolloutStatus("failed", message=str(exc))
            if status.state == "available":
                store.supersede_live(self.db, spec.tenant, spec.app, spec.environment, keep=record.revision)
                record = self._finish(record, store.LIVE, status)
                out(f"{pair}: release {record.revision} is live\n".encode())
                return DeployOutcome(
                    "live", f"release {record.revision} is live", record, None, self._pushed()
                )
            reason = status.message or "the rollout failed"
            out(f"{pair}: release {record.revision} failed: {reason}\n".encode())
            if request.rollback == "auto" and previous is not None:
                record = self._finish(record, store.ROLLED_BACK, status, reason=reason)
                why = f"automatic rollback after release {record.revision} failed"
                restored = self._restore(target, previous, out=out, run_id=spec.run_id, reason=why)
                message = f"release {record.revision} failed ({reason}); {self._restored_text(restored)}"
                return DeployOutcome("rolled_back", message, record, restored, self._pushed())
            record = self._finish(record, store.FAILED, status, reason=reason)
            return DeployOutcome(
                "failed", f"release {record.revision} failed: {reason}", record, None, self._pushed()
            )

    def rollback(
        self,
        tenant: str,
        app: str,
        environment: str,
        *,
        to: int | None = None,
        run_id: str | None = None,
        out: OutputSink = _quiet,
    ) -> DeployOutcome:
        """Restore revision ``to`` (default: the release that served before the live one) as a new release."""
        with self._pair_lock(tenant, app, environment):
            self._local.push_errors = []
            live = store.live_release(self.db, tenant, app, environment)
            if to is None:
                if live is None:
                    self._known(tenant, app, environment)
                    raise Conflict(
                        f"{app}/{environment} has no live release to roll back from; name a revision"
                    )
                source = store.previous_good(self.db, tenant, app, environment, live.revision)
                if source is None:
                    raise Conflict(f"{app}/{environment} has no earlier release to roll back to")
            else:
                found = store.get_release(self.db, tenant, app, environment, to)
                if found is None:
                    self._known(tenant, app, environment)
                    raise NotFound(f"{app}/{environment} has no release {to}")
                if found.status in (*store.QUARANTINED, store.DEPLOYING):
                    raise Conflict(
                        f"release {to} of {app}/{environment} is {found.status}; it cannot be restored"
                    )
                if live is not None and live.revision == to:
                    raise Conflict(f"release {to} of {app}/{environment} is already live")
                source = found
            target = self.targets.get(source.target)
            restored = self._restore(target, source, out=out, run_id=run_id, reason="rollback")
            status: Literal["live", "failed"] = "live" if restored.status == store.LIVE else "failed"
            return DeployOutcome(status, self._restored_text(restored), restored, restored, self._pushed())

    def scale(self, tenant: str, app: str, environment: str, replicas: int) -> ReleaseRecord:
        """Run ``replicas`` instances of the live release; recorded on it and committed."""
        if replicas < 0:
            raise Conflict("replicas must be 0 or more")
        with self._pair_lock(tenant, app, environment):
            live = store.live_release(self.db, tenant, app, environment)
            if live is None:
                self._known(tenant, app, environment)
                raise Conflict(f"{app}/{environment} has no live release to scale")
            target = self.targets.get(live.target)
            status = target.scale(tenant, app, environment, replicas)
            data = dict(live.spec)
            data["spec"] = {**dict(data.get("spec", {})), "replicas": replicas}
            manifests = target.render(spec_from_json(data, self._secrets(live)))
            record = store.update_release(
                self.db,
                live.id,
                replicas=replicas,
                spec=data,
                manifests=manifests,
                endpoints=endpoints_of(status) if status.endpoints else None,
            )
            return self._commit(record, verb=f"scale to {replicas} replicas, release")

    def delete(self, tenant: str, app: str, environment: str) -> None:
        """Remove the app from its target and its directory from the deploy repository."""
        with self._pair_lock(tenant, app, environment):
            latest = self._known(tenant, app, environment)
            self.targets.get(latest.target).delete(tenant, app, environment)
            store.mark_deleted(self.db, tenant, app, environment)
            self.recorder.remove(app, environment, f"{app}/{environment}: deleted\n")

    def diff(self, tenant: str, app: str, environment: str) -> list[str]:
        """Drift between the deploy repository and the live state (empty: in sync); see ``drift``."""
        latest = self._known(tenant, app, environment)
        _info, recorded = recorded_state(self.recorder.files(app, environment))
        live = self.targets.get(latest.target).live(tenant, app, environment)
        return diff_manifests(recorded, live)

    def health(self, release: ReleaseRecord) -> str:
        """``healthy``, ``progressing``, ``unhealthy`` or ``unknown`` for a live release; else ``-``."""
        if release.status != store.LIVE:
            return "-"
        try:
            state = self.targets.get(release.target).status(self.spec_of(release)).state
        except SheraError:
            return "unknown"
        return {"available": "healthy", "progressing": "progressing"}.get(state, "unhealthy")

    def reapply(self, release: ReleaseRecord, *, out: OutputSink = _quiet) -> RolloutStatus:
        """Apply ``release``'s recorded manifests again and wait (the ``sync: auto`` reconciler)."""
        with self._pair_lock(release.tenant_id, release.app, release.environment):
            target = self.targets.get(release.target)
            return self._roll_out(target, self.spec_of(release), release.manifests, out, None)

    def spec_of(self, release: ReleaseRecord) -> DeploySpec:
        return spec_from_json(release.spec, self._secrets(release))

    # -- helpers ------------------------------------------------------------------------------------

    def _known(self, tenant: str, app: str, environment: str) -> ReleaseRecord:
        latest = store.latest_release(self.db, tenant, app, environment)
        if latest is None:
            raise NotFound(f"no app {app!r} in environment {environment!r}")
        return latest

    def _roll_out(
        self,
        target: DeployTarget,
        spec: DeploySpec,
        manifests: Mapping[str, object],
        out: OutputSink,
        cancel: threading.Event | None,
    ) -> RolloutStatus:
        try:
            target.apply(spec, manifests, out=out)
            return target.wait(spec, out=out, cancel=cancel)
        except SheraError as exc:
            return RolloutStatus("failed", message=str(exc))

    def _restore(
        self, target: DeployTarget, source: ReleaseRecord, *, out: OutputSink, run_id: str | None, reason: str
    ) -> ReleaseRecord:
        pair = f"{source.app}/{source.environment}"
        new = store.create_release(
            self.db,
            store.NewRelease(
                tenant_id=source.tenant_id,
                app=source.app,
                environment=source.environment,
                target=source.target,
                image=source.image,
                project_id=source.project_id,
                digest=source.digest,
                sha=source.sha,
                run_id=run_id,
                replicas=source.replicas,
                spec=source.spec,
                manifests=source.manifests,
                rollback_of=source.revision,
            ),
        )
        out(f"{pair}: {reason}: restoring release {source.revision} as release {new.revision}\n".encode())
        try:
            status = target.rollback_to(self.spec_of(source), source.manifests, out=out)
        except SheraError as exc:
            status = RolloutStatus("failed", message=str(exc))
        if status.state == "available":
            store.supersede_live(self.db, new.tenant_id, new.app, new.environment, keep=new.revision)
            return self._finish(new, store.LIVE, status, reason=reason)
        return self._finish(new, store.FAILED, status, reason=f"{reason}: {status.message or 'failed'}")

    def _finish(
        self, record: ReleaseRecord, status: str, rollout: RolloutStatus, *, reason: str | None = None
    ) -> ReleaseRecord:
        record = store.update_release(
            self.db, record.id, status=status, reason=reason, endpoints=endpoints_of(rollout)
        )
        return self._commit(record)

    def _commit(self, record: ReleaseRecord, *, verb: str = "release") -> ReleaseRecord:
        done = self.recorder.commit(
            record.app, record.environment, release_files(record), commit_message(record, verb)
        )
        if done.push_error:
            self._pushed_list().append(done.push_error)
        return store.update_release(self.db, record.id, deploy_commit=done.sha)

    def _pushed_list(self) -> list[str]:
        if not hasattr(self._local, "push_errors"):
            self._local.push_errors = []
        errors: list[str] = self._local.push_errors
        return errors

    def _pushed(self) -> tuple[str, ...]:
        return tuple(self._pushed_list())

    @staticmethod
    def _restored_text(restored: ReleaseRecord) -> str:
        if restored.status == store.LIVE:
            return f"release {restored.rollback_of} restored as release {restored.revision}"
        return f"restoring release {restored.rollback_of} failed: {restored.reason}"

    @contextmanager
    def _pair_lock(self, tenant: str, app: str, environment: str) -> Iterator[None]:
        self._lock_dir.mkdir(parents=True, exist_ok=True)
        path = self._lock_dir / _SAFE.sub("-", f"{tenant}.{app}.{environment}.lock")
        with self._guard:
            local = self._threads.setdefault(path, threading.Lock())
        with local:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)
