"""Steps layer: the runner of ``uses: deploy`` — rolls the run's image out through the deploy service.

Defaults: ``image`` is the image an earlier ``uses: build`` step of the workflow pushed (``ctx.artifacts``;
pinned by its digest), else ``with.image``; neither is a located error. ``environment`` is the event's
deployment target for ``deployment`` events, ``production`` for the default branch, else the branch as a
slug. ``target`` defaults to ``podman``. Deploys from pipelines are automatic: a quarantined commit is
skipped (step ``skipped``, said in the log) unless the run was triggered with the parameter ``force=true``.

The service comes from ``opener(ctx)`` (default: ``open_local(ctx.data_dir)`` for project ``local``, i.e.
``shera exec --data-dir``; else the server's database from the settings, with the project's tenant).
Step result: ``success`` when the release went live, ``failure`` when it failed or was rolled back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from shera.deploy.service import DeployOutcome, DeployRequest, DeployService
from shera.deploy.spec import branch_environment
from shera.errors import ConfigError, SheraError
from shera.executors.base import StepResult
from shera.model.event import EventKind
from shera.model.status import Status
from shera.settings import load_settings
from shera.steps.deploy import DeployWith
from shera.steps.deploy_spec import build_spec, resolve_secrets, secret_names
from shera.steps.deploy_wiring import LOCAL_PROJECT, LOCAL_TENANT, open_local, open_service
from shera.steps.runner import KindContext, KindResult
from shera.store import projects
from shera.store.db import Database

Opener = Callable[[KindContext], tuple[DeployService, str]]
"""The deploy service for a step and the tenant it deploys for."""
DEFAULT_TARGET = "podman"
_TRUE = ("1", "true", "yes", "on")


def where(ctx: KindContext) -> str:
    step = ctx.step
    return f"{step.file}:{step.line}: step {step.name!r}" if step.file else f"step {step.name!r}"


def invalid_with(ctx: KindContext, exc: ValidationError) -> str:
    """Every problem of a ``with:`` mapping, located (``with.health.http.port: …``)."""
    lines = [
        f"{where(ctx)}: with.{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
        for error in exc.errors()
    ]
    return "\n".join(lines)


def environment_for(ctx: KindContext) -> str:
    event = ctx.event
    if event.kind is EventKind.DEPLOYMENT and event.deploy_target:
        return branch_environment(event.deploy_target, "")
    return branch_environment(event.branch, event.default_branch)


def choose_image(image: str | None, artifacts: Mapping[str, Mapping[str, Any]]) -> tuple[str, str | None]:
    """``(image, digest)``: ``with.image`` (with the digest a build step reported for it), else the one
    image ref a build step of this workflow pushed."""
    built = [
        (step, dict(item))
        for step, produced in artifacts.items()
        for item in produced.get("images", []) or []
    ]
    if image:
        for _step, item in built:
            if item.get("ref") == image:
                return image, item.get("digest")
        return image, image.partition("@")[2] or None
    if not built:
        raise ConfigError(
            "with.image is not set and no earlier step of this workflow built an image (uses: build)"
        )
    steps = sorted({step for step, _ in built})
    if len(steps) > 1:
        raise ConfigError(
            f"with.image is not set and several steps built images ({', '.join(steps)}); "
            "set with.image to the one to deploy"
        )
    return str(built[0][1]["ref"]), built[0][1].get("digest")


class ServiceOpener:
    """The default ``Opener``: one service per data directory, built on first use (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._services: dict[tuple[str, str], DeployService] = {}

    def __call__(self, ctx: KindContext) -> tuple[DeployService, str]:
        if ctx.data_dir is None:
            raise ConfigError(
                "deploying needs a data directory for releases and the deploy repository "
                "(shera exec --data-dir DIR)"
            )
        local = ctx.project == LOCAL_PROJECT
        key = (str(ctx.data_dir), "local" if local else "server")
        with self._lock:
            service = self._services.get(key)
            if service is None:
                if local:
                    service = open_local(ctx.data_dir)
                else:
                    settings = load_settings(data_dir=ctx.data_dir)
                    service = open_service(settings, Database(settings.effective_database_url))
                self._services[key] = service
        if local:
            return service, LOCAL_TENANT
        project = projects.get_project(service.db, ctx.project, None)
        if project is None:
            raise ConfigError(f"project {ctx.project!r} does not exist")
        return service, project.tenant_id


def result_of(outcome: DeployOutcome) -> StepResult:
    if outcome.status == "live":
        return StepResult(Status.SUCCESS, 0)
    if outcome.status == "skipped":
        return StepResult(Status.SKIPPED, 0)
    return StepResult(Status.FAILURE, 1, error=outcome.message)


def artifacts_of(outcome: DeployOutcome) -> dict[str, Any]:
    release = outcome.restored or outcome.release
    data: dict[str, Any] = {"status": outcome.status, "message": outcome.message}
    if outcome.release is not None:
        data["revision"] = outcome.release.revision
    if release is not None:
        data.update(
            app=release.app,
            environment=release.environment,
            image=release.image,
            digest=release.digest,
            commit=release.deploy_commit,
            endpoints=[f"http://{e['host']}:{e['port']}" for e in release.endpoints if e.get("ready", True)],
        )
    if outcome.restored is not None:
        data["restored"] = {"revision": outcome.restored.revision, "of": outcome.restored.rollback_of}
    if outcome.push_errors:
        data["push_errors"] = list(outcome.push_errors)
    return {"deploy": data}


class DeployRunner:
    """``uses: deploy``; see the module docstring. Safe to call concurrently."""

    kind = "deploy"

    def __init__(self, opener: Opener | None = None) -> None:
        self._open = opener or ServiceOpener()

    def run(self, ctx: KindContext) -> KindResult:
        place = where(ctx)
        try:
            with_ = DeployWith.model_validate(dict(ctx.step.with_))
        except ValidationError as exc:
            return KindResult(StepResult(Status.FAILURE, 1, error=invalid_with(ctx, exc)))
        try:
            image, digest = choose_image(with_.image, ctx.artifacts)
            names = secret_names(with_)
            secret_env = resolve_secrets(names, ctx.secrets, where="with")
            service, tenant = self._open(ctx)
            spec = build_spec(
                with_,
                tenant=tenant,
                environment=with_.environment or environment_for(ctx),
                image=image,
                digest=digest,
                sha=ctx.event.commit,
                run_id=ctx.run_id,
                secret_env=secret_env,
            )
            request = DeployRequest(
                spec=spec,
                target=with_.target or DEFAULT_TARGET,
                project_id=None if ctx.project == LOCAL_PROJECT else ctx.project,
                secrets=names,
                rollback=with_.rollback,
                sync=with_.sync,
                automatic=True,
                force=str(ctx.event.params.get("force", "")).lower() in _TRUE,
            )
            outcome = service.deploy(request, out=ctx.out, cancel=ctx.cancel)
        except SheraError as exc:
            return KindResult(StepResult(Status.FAILURE, 1, error=f"{place}: {exc}"))
        return KindResult(result_of(outcome), artifacts_of(outcome))
