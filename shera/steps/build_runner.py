"""Steps layer: the runner of ``uses: build`` — build with buildah, tag, push, report the pushed digests.

One call of ``BuildRunner.run``:

1. validates ``with:`` (``BuildWith``) and resolves ``context`` and ``containerfile`` inside the workspace
   after symlinks (``../``, absolute paths and symlinks leading out are refused, naming the field and the
   step's position; nothing is built);
2. chooses the tags (``shera.build.tags``) and the repository (``with.repository``, else
   ``<registry>/<repository_path>``; the registry is ``SHERA_REGISTRY``; pushing without either fails);
3. under the project's image-store lock (``shera.build.store``): writes the build secrets and a registry
   auth file (``REGISTRY_USERNAME``/``REGISTRY_PASSWORD`` project secrets) as 0600 files in a private
   directory deleted afterwards, builds with ``--layers`` and the OCI labels, pushes each tag with retries;
4. returns ``artifacts = {"images": [{"ref": "host/repo:tag", "digest": "sha256:..."}]}`` (images pushed
   before a failure are listed too; without ``push`` the digest is ``None`` and ``image_id`` is given).

Failures are results (``failure``, exit code 1, ``error`` says why and the log ends with it); cancel and
timeout give ``killed`` (137). Safe to call concurrently: each call uses its own files, and builds of one
project take turns on its store.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shera.build.buildah import Buildah
from shera.build.errors import BuildInterrupted, UnsafePath
from shera.build.store import ImageStore, write_private
from shera.build.tags import default_tags, image_tags, repository_component
from shera.errors import ConfigError, SheraError
from shera.executors.base import KILLED_EXIT_CODE, StepResult
from shera.model.status import Status
from shera.settings import Settings, default_data_dir
from shera.steps.build import BuildWith
from shera.steps.runner import KindContext, KindResult

CONTAINERFILES = ("Containerfile", "Dockerfile")
# Names of the project secrets holding registry credentials (names, not values).
USERNAME_SECRET = "REGISTRY_USERNAME"  # noqa: S105
PASSWORD_SECRET = "REGISTRY_PASSWORD"  # noqa: S105
OCI = "org.opencontainers.image"


@dataclass(frozen=True, slots=True)
class Resolved:
    """What one build needs, decided before anything runs."""

    context: Path
    containerfile: Path
    repository: str
    tags: list[str]
    secrets: dict[str, str]
    labels: dict[str, str]
    skipped_tags: list[str] = field(default_factory=list)


def _where(ctx: KindContext) -> str:
    step = ctx.step
    place = (
        f"{step.file}:{step.line}: " if step.file and step.line else (f"{step.file}: " if step.file else "")
    )
    return f"{place}step {step.name!r}"


def resolve_inside(root: Path, relative: str, field_name: str) -> Path:
    """``root/relative`` with every symlink resolved; ``UnsafePath`` when that is not inside ``root``."""
    if Path(relative).is_absolute():
        raise UnsafePath(
            field_name, f"with.{field_name} {relative!r} is an absolute path; give a workspace path"
        )
    base = root.resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base):
        raise UnsafePath(field_name, f"with.{field_name} {relative!r} resolves outside the workspace")
    return path


def registry_host(repository: str) -> str | None:
    """The registry host of ``repository`` when its first component names one (has ``.`` or ``:``, or is
    ``localhost``), as container tools decide it."""
    first, sep, _rest = repository.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def oci_labels(ctx: KindContext, now: datetime) -> dict[str, str]:
    """The OCI annotations of an image built for ``ctx.event``."""
    event = ctx.event
    labels = {
        f"{OCI}.revision": event.commit,
        f"{OCI}.created": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        f"{OCI}.version": event.tag or event.commit[:8],
    }
    source = event.repo_url or ctx.env.get("CI_REPO_URL", "")
    if source:
        labels[f"{OCI}.source"] = source
    return labels


def auth_file_json(hosts: Iterable[str], username: str, password: str) -> str:
    """A containers auth file (``auth.json``) giving ``username``/``password`` for each of ``hosts``."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {host: {"auth": token} for host in sorted(set(hosts))}})


class BuildRunner:
    """The ``build`` step kind. ``registry`` (``host:port[/prefix]``) is the default push target;
    ``insecure`` registries are reached over plain HTTP; ``repository_path`` is the default repository
    below the registry (``<tenant>/<project>``; default ``local/<repository name>``)."""

    kind = "build"

    def __init__(
        self,
        *,
        registry: str | None = None,
        insecure: Iterable[str] = (),
        repository_path: str | None = None,
        push_retries: int = 3,
        backoff: float = 1.0,
    ) -> None:
        self.registry = registry.rstrip("/") if registry else None
        self.insecure = frozenset(insecure)
        self.repository_path = repository_path
        self.push_retries = push_retries
        self.backoff = backoff

    @classmethod
    def from_settings(cls, settings: Settings, *, repository_path: str | None = None) -> BuildRunner:
        """A runner using ``settings.registry`` and ``settings.insecure_registries``."""
        return cls(
            registry=settings.registry,
            insecure=settings.insecure_registry_set,
            repository_path=repository_path,
        )

    def run(self, ctx: KindContext) -> KindResult:
        images: list[dict[str, Any]] = []
        try:
            self._build(ctx, images)
        except BuildInterrupted as exc:
            ctx.out(f"{exc}\n".encode())
            return KindResult(StepResult(Status.KILLED, KILLED_EXIT_CODE, error=str(exc)), {"images": images})
        except SheraError as exc:
            message = f"{_where(ctx)}: {exc}"
            ctx.out(f"error: {message}\n".encode())
            return KindResult(StepResult(Status.FAILURE, 1, error=message), {"images": images})
        return KindResult(StepResult(Status.SUCCESS, 0), {"images": images})

    def _settings(self, ctx: KindContext) -> tuple[BuildWith, Resolved]:
        try:
            with_ = BuildWith.model_validate(dict(ctx.step.with_))
        except ValidationError as exc:
            problems = "; ".join(
                f"with.{'.'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"] else e["msg"]
                for e in exc.errors()
            )
            raise ConfigError(f"invalid build settings: {problems}") from None
        context = resolve_inside(ctx.source_dir, with_.context, "context")
        if not context.is_dir():
            raise UnsafePath("context", f"with.context {with_.context!r} is not a directory of the workspace")
        containerfile = self._containerfile(ctx.source_dir, context, with_)
        repository = self._repository(ctx, with_)
        if with_.tags is not None:
            tags, skipped = image_tags(with_.tags)
        else:
            event = ctx.event
            tags, skipped = (
                default_tags(
                    sha=event.commit,
                    branch=event.branch,
                    git_tag=event.tag,
                    default_branch=event.default_branch,
                    pull_request=event.pull_request,
                ),
                [],
            )
        if not tags:
            raise ConfigError("no usable tag: every tag template came out empty")
        secrets: dict[str, str] = {}
        for item in with_.secrets:
            secret_id, source = (item, item) if isinstance(item, str) else (item.id, item.from_secret)
            if source not in ctx.secrets:
                raise ConfigError(f"build secret {secret_id!r} needs the secret {source!r}, which is not set")
            secrets[secret_id] = ctx.secrets[source]
        labels = {**oci_labels(ctx, datetime.now(UTC)), **with_.labels}
        return with_, Resolved(context, containerfile, repository, tags, secrets, labels, skipped)

    @staticmethod
    def _containerfile(root: Path, context: Path, with_: BuildWith) -> Path:
        if with_.containerfile is not None:
            path = resolve_inside(root, with_.containerfile, "containerfile")
            if not path.is_file():
                raise UnsafePath("containerfile", f"with.containerfile {with_.containerfile!r} is not a file")
            return path
        relative_context = context.relative_to(root.resolve())
        for name in CONTAINERFILES:
            candidate = str(relative_context / name)
            if (context / name).is_symlink() or (context / name).exists():
                path = resolve_inside(root, candidate, "containerfile")
                if path.is_file():
                    return path
        raise UnsafePath(
            "containerfile",
            f"no Containerfile or Dockerfile in the context {with_.context!r}; set with.containerfile",
        )

    def _repository(self, ctx: KindContext, with_: BuildWith) -> str:
        if with_.repository:
            if registry_host(with_.repository):
                return with_.repository
            if self.registry:
                return f"{self.registry}/{with_.repository}"
            if with_.push:
                raise ConfigError(
                    f"with.repository {with_.repository!r} names no registry and SHERA_REGISTRY is not set"
                )
            return f"localhost/{with_.repository}"
        path = self.repository_path or f"local/{repository_component(ctx.event.repo.rsplit('/', 1)[-1])}"
        if self.registry:
            return f"{self.registry}/{path}"
        if with_.push:
            raise ConfigError(
                "with.repository is not set and there is no default registry (set SHERA_REGISTRY)"
            )
        return f"localhost/{path}"

    def _build(self, ctx: KindContext, images: list[dict[str, Any]]) -> None:
        with_, plan = self._settings(ctx)
        deadline = None if ctx.timeout is None else time.monotonic() + ctx.timeout

        def remaining() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        store = ImageStore(ctx.data_dir or default_data_dir(), ctx.project)
        buildah = Buildah(store.env(self.insecure), insecure=self.insecure)
        refs = [f"{plan.repository}:{tag}" for tag in plan.tags]
        for template in plan.skipped_tags:
            ctx.out(f"tag template {template!r} is empty here; skipped\n".encode())
        ctx.out(f"building {plan.containerfile.name} in {with_.context!r} as {', '.join(refs)}\n".encode())
        with store.locked(ctx.cancel, remaining()), store.private_dir("build-") as tmp:
            secret_files = {
                secret_id: write_private(tmp, f"secret-{n}", value)
                for n, (secret_id, value) in enumerate(plan.secrets.items())
            }
            authfile = self._authfile(ctx, tmp, plan.repository, with_.cache.registry)
            built = buildah.build(
                plan.context,
                plan.containerfile,
                tags=refs,
                iidfile=tmp / "iid",
                target=with_.target,
                build_args=with_.build_args,
                secrets=secret_files,
                labels=plan.labels,
                cache_from=with_.cache.registry,
                cache_to=with_.cache.registry if with_.push else None,
                authfile=authfile,
                out=ctx.out,
                cancel=ctx.cancel,
                timeout=remaining(),
            )
            if not with_.push:
                images.extend({"ref": ref, "digest": None, "image_id": built.image_id} for ref in refs)
                return
            for n, ref in enumerate(refs):
                ctx.out(f"pushing {ref}\n".encode())
                digest = buildah.push(
                    built.image_id,
                    ref,
                    digestfile=tmp / f"digest-{n}",
                    out=ctx.out,
                    retries=self.push_retries,
                    backoff=self.backoff,
                    authfile=authfile,
                    cancel=ctx.cancel,
                    timeout=remaining(),
                )
                images.append({"ref": ref, "digest": digest})
                ctx.out(f"pushed {ref}@{digest}\n".encode())

    @staticmethod
    def _authfile(ctx: KindContext, tmp: Path, repository: str, cache: str | None) -> Path | None:
        """A private auth file when the ``REGISTRY_USERNAME``/``REGISTRY_PASSWORD`` secrets are set."""
        username, password = ctx.secrets.get(USERNAME_SECRET), ctx.secrets.get(PASSWORD_SECRET)
        if not username or not password:
            return None
        hosts = [host for host in (registry_host(repository), registry_host(cache or "")) if host]
        if not hosts:
            return None
        return write_private(tmp, "auth.json", auth_file_json(hosts, username, password))
