"""Steps layer: a validated ``uses: deploy`` ``with:`` plus the run's context → the ``DeploySpec`` to run.

Pure functions. Secret values come from the caller (the run's secrets); a secret the step names but the run
lacks is an error naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from shera.deploy.base import DeploySpec, HealthCheck, Strategy, Volume
from shera.deploy.spec import pin
from shera.errors import ConfigError
from shera.steps.base import FromSecret
from shera.steps.deploy import DeployWith, Health


def secret_names(with_: DeployWith) -> dict[str, str]:
    """Environment variable → project secret name, from ``secrets:`` and ``env: {X: {from_secret}}``."""
    names: dict[str, str] = {}
    for item in with_.secrets:
        if isinstance(item, str):
            names[item] = item
        else:
            names[item.target] = item.source
    for key, value in with_.env.items():
        if isinstance(value, FromSecret):
            names[key] = value.from_secret
    return names


def resolve_secrets(names: Mapping[str, str], values: Mapping[str, str], *, where: str) -> dict[str, str]:
    """``names`` (env → secret) with their values; ``ConfigError`` naming every missing secret."""
    missing = sorted({secret for secret in names.values() if secret not in values})
    if missing:
        raise ConfigError(f"{where}: secret(s) {', '.join(missing)} not available to this run")
    return {env: values[secret] for env, secret in names.items()}


def _health(health: Health | None) -> HealthCheck | None:
    if health is None:
        return None
    probe = HealthCheck(
        "tcp",
        initial_delay_s=health.initial_delay,
        timeout_s=health.timeout,
        interval_s=health.interval,
    )
    if health.http is not None:
        return replace(probe, kind="http", port=health.http.port, path=health.http.path)
    if health.tcp is not None:
        return replace(probe, port=health.tcp.port)
    command = tuple(health.exec.command) if health.exec is not None else ()
    return replace(probe, kind="exec", command=command)


def build_spec(
    with_: DeployWith,
    *,
    tenant: str,
    environment: str,
    image: str,
    digest: str | None,
    sha: str | None,
    run_id: str | None,
    secret_env: Mapping[str, str],
    revision: int = 0,
    shared_storage_class: str = "cephfs",
) -> DeploySpec:
    """The spec to roll out; ``revision`` is set by the deploy service when it allocates one.

    ``image`` is pinned by ``digest`` when known (``repo@sha256:…``, dropping a tag)."""
    plain_env = {key: value for key, value in with_.env.items() if isinstance(value, str)}
    return DeploySpec(
        tenant=tenant,
        app=with_.app,
        environment=environment,
        revision=revision,
        image=pin(image, digest),
        digest=digest,
        sha=sha,
        run_id=run_id,
        replicas=with_.replicas,
        ports=tuple(with_.ports),
        env=plain_env,
        secret_env=dict(secret_env),
        resources=with_.resources.model_dump(exclude_defaults=True),
        health=_health(with_.health),
        strategy=Strategy(
            kind=with_.strategy.type,
            max_surge=with_.strategy.max_surge,
            max_unavailable=with_.strategy.max_unavailable,
        ),
        volumes=tuple(Volume(v.name, v.mount, v.size, v.shared) for v in with_.volumes),
        node_selector=dict(with_.node_selector),
        deadline_s=with_.deadline,
        shared_storage_class=shared_storage_class,
    )
