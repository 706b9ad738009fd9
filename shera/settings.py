"""Bottom layer: She-Ra's configuration, from ``SHERA_*`` environment variables or a config file.

Precedence: explicit keyword arguments > environment (``SHERA_<FIELD>``) > the TOML file named by
``SHERA_CONFIG`` (keys are the field names) > defaults. Build one ``Settings`` at process start and pass it
down; nothing reads the environment at import time.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from shera.errors import ConfigError


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/shera`` or ``~/.local/share/shera``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "shera"


class Settings(BaseSettings):
    """Every setting of the server, worker and CLI; see each field's description."""

    model_config = SettingsConfigDict(env_prefix="SHERA_", extra="ignore", frozen=True)

    data_dir: Path = Field(default_factory=default_data_dir, description="State: SQLite, mirrors, workspaces")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite under data_dir")
    redis_url: str | None = Field(None, description="Unset: `shera up` starts a private redis-server")
    queue_namespace: str = Field("shera", description="dramatiq namespace (key prefix) in Redis")
    public_url: str = Field("http://127.0.0.1:8080", description="Base URL users and forges reach the API at")
    bootstrap_token: str | None = Field(None, description="Becomes a platform-admin token on first start")
    jwt_hs256_secret: str | None = Field(None, description="Secret of portal HS256 JWTs")
    jwt_rs256_public_key: str | None = Field(None, description="PEM public key of portal-issued RS256 JWTs")
    jwt_audience: str | None = Field(None, description="Required `aud` of portal JWTs, when set")
    git_schemes: str = Field("https,ssh", description="Comma list of git URL schemes allowed for clone URLs")
    webhook_max_bytes: int = Field(25 * 1024 * 1024, description="Webhook bodies larger than this get 413")
    log_cap_bytes: int = Field(8 * 1024 * 1024, description="Per-step log cap; the rest is dropped and noted")
    lease_seconds: float = Field(30.0, description="A worker's lease on a run; renewed while it runs")
    reaper_interval: float = Field(10.0, description="How often expired leases are looked for")
    reconcile_interval: float = Field(
        30.0, description="How often queued runs missing from Redis are re-sent"
    )
    requeue_lost_runs: bool = Field(False, description="Requeue, not fail, runs of lost workers")
    worker_threads: int = Field(4, description="dramatiq worker threads per process")
    default_executor: str = Field("podman", description="Executor of projects that name none")
    registry: str | None = Field(None, description="host:port[/prefix] to push to; unset: a private one")
    insecure_registries: str = Field("", description="Comma list of host:port reached over plain HTTP")
    image_retention_interval: float = Field(3600.0, description="How often the retention policy is applied")
    default_deploy_target: str = Field("podman", description="Deploy target of `uses: deploy` naming none")
    kubeconfig: str | None = Field(None, description="kubeconfig of the kubernetes target")
    kube_context: str | None = Field(None, description="kubeconfig context of the kubernetes target")
    kube_service_type: str = Field("ClusterIP", description="Service type the kubernetes target renders")
    shared_storage_class: str = Field("cephfs", description="StorageClass of `shared: true` (RWX) volumes")
    deploy_repo: str | None = Field(None, description="Remote deploy repository; unset: data_dir/deploy.git")
    deploy_repo_username: str | None = Field(None, description="User for the remote deploy repository")
    deploy_repo_password: str | None = Field(None, description="Password or token for the deploy repository")
    sync_interval: float = Field(30.0, description="How often `sync: auto` apps are reconciled")
    expose_domain: str = Field("localhost", description="Default exposed host: <app>.<tenant>.<domain>")
    expose_listen: str | None = Field(None, description="IP:PORT of the embedded balancer (public zone)")
    expose_kube_mode: str = Field("nodeport", description="kubernetes upstreams: nodeport (one hop) or pods")

    @property
    def insecure_registry_set(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.insecure_registries.split(",") if part.strip())

    @property
    def allowed_git_schemes(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.git_schemes.split(",") if part.strip())

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'shera.db'}"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, the config file and ``overrides``; ``ConfigError`` when invalid."""
    file_values: dict[str, Any] = {}
    config = os.environ.get("SHERA_CONFIG")
    if config:
        try:
            file_values = tomllib.loads(Path(config).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read SHERA_CONFIG={config}: {exc}") from exc
    env_set = {name for name in Settings.model_fields if f"SHERA_{name.upper()}" in os.environ}
    values = {k: v for k, v in file_values.items() if k not in env_set}
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid settings: {problems}") from exc
