"""Steps layer: ``uses: deploy`` — roll an image out to Kubernetes or podman (the ``with:`` model)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from shera.steps.base import EnvValue, StepKindModel
from shera.steps.fields import (
    AbsPath,
    Delay,
    Duration,
    EnvName,
    Flag,
    ImageRef,
    LabelKey,
    Port,
    Quantity,
    ScalarStr,
    Slug,
    invalid,
    located,
)

TARGETS = ("kubernetes", "podman")
Surge = Annotated[int, Field(ge=0)] | Annotated[str, Field(pattern=r"^[0-9]{1,3}%$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class HttpCheck(_Strict):
    path: str = Field(default="/", pattern=r"^/\S*$", description="Request path; 2xx/3xx is healthy.")
    port: Port = Field(description="Container port to probe; must be one of `ports`.")


class TcpCheck(_Strict):
    port: Port = Field(description="Container port that must accept a connection; must be one of `ports`.")


class ExecCheck(_Strict):
    command: list[str] = Field(min_length=1, description="argv run in the container; exit 0 is healthy.")


class Health(_Strict):
    """Exactly one of ``http``, ``tcp``, ``exec``, with timing."""

    http: HttpCheck | None = Field(default=None, description="HTTP GET probe.")
    tcp: TcpCheck | None = Field(default=None, description="TCP connect probe.")
    exec: ExecCheck | None = Field(default=None, description="Command probe.")
    initial_delay: Delay = Field(default=0.0, description="Wait before the first probe (seconds or '5s').")
    timeout: Duration = Field(default=2.0, description="Timeout of one probe (seconds or '2s').")
    interval: Duration = Field(default=2.0, description="Time between probes (seconds or '2s').")

    @model_validator(mode="after")
    def _one_probe(self) -> Health:
        given = [name for name in ("http", "tcp", "exec") if getattr(self, name) is not None]
        if len(given) != 1:
            raise invalid(
                "health", "health needs exactly one of http, tcp, exec; got {given}", given=given or "none"
            )
        return self

    @property
    def port(self) -> int | None:
        probe = self.http or self.tcp
        return probe.port if probe else None


class Strategy(_Strict):
    """``rolling`` (new instances healthy before old ones stop) or ``recreate``; a bare string is accepted."""

    type: Literal["rolling", "recreate"] = Field(default="rolling", description="Rollout strategy.")
    max_surge: Surge = Field(default=1, description="rolling: instances above `replicas` during a rollout.")
    max_unavailable: Surge = Field(
        default=0, description="rolling: instances that may be down during a rollout."
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"type": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _progress(self) -> Strategy:
        if self.type == "recreate" and (
            "max_surge" in self.model_fields_set or "max_unavailable" in self.model_fields_set
        ):
            raise invalid("strategy", "max_surge and max_unavailable apply to the rolling strategy only")
        if self.max_surge in (0, "0%") and self.max_unavailable in (0, "0%"):
            raise invalid(
                "strategy", "max_surge and max_unavailable cannot both be 0: the rollout could not progress"
            )
        return self

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> Any:
        schema = handler.resolve_ref_schema(handler(core_schema))
        body = dict(schema)
        schema.clear()
        schema["anyOf"] = [{"enum": ["rolling", "recreate"], "type": "string"}, body]
        return schema


class Resources(_Strict):
    requests: dict[Literal["cpu", "memory"], Quantity] = Field(
        default_factory=dict, description="Guaranteed cpu (e.g. 250m) and memory (e.g. 256Mi)."
    )
    limits: dict[Literal["cpu", "memory"], Quantity] = Field(
        default_factory=dict, description="Upper bounds of cpu and memory."
    )


class Volume(_Strict):
    """A persistent volume; ``shared: true`` is ReadWriteMany on the platform's CephFS storage class."""

    name: Slug = Field(description="Volume name (a strict slug; it names the claim).")
    mount: AbsPath = Field(description="Absolute mount path inside the container.")
    size: Quantity = Field(default="1Gi", description="Requested size, e.g. 1Gi.")
    shared: Flag = Field(default=False, description="ReadWriteMany, needed when replicas > 1.")


class SecretRef(_Strict):
    source: str = Field(min_length=1, description="Project secret name.")
    target: EnvName = Field(description="Environment variable that receives it.")


class DeployWith(StepKindModel):
    """``with:`` of ``uses: deploy``.

    Cross-field rules: ``replicas > 1`` needs every volume ``shared: true`` (the error names the volume), and
    a health probe's port must be one of ``ports``.
    """

    KIND = "deploy"

    target: Literal["kubernetes", "podman"] | None = Field(
        default=None, description="Where to deploy; default: the project's target (podman when embedded)."
    )
    app: Slug = Field(description="Application name (a strict slug).")
    environment: Slug | None = Field(
        default=None, description="Environment; default per branch (production for the default branch)."
    )
    image: ImageRef | None = Field(
        default=None, description="Image to run; default: the image this run built."
    )
    replicas: int = Field(default=1, ge=1, description="Number of instances.")
    ports: list[Port] = Field(default_factory=list, description="Container ports the app listens on.")
    env: dict[EnvName, EnvValue] = Field(
        default_factory=dict, description="Environment variables; a value may be {from_secret: NAME}."
    )
    secrets: list[EnvName | SecretRef] = Field(
        default_factory=list, description="Project secrets as env vars: NAME, or {source, target}."
    )
    resources: Resources = Field(default_factory=Resources, description="cpu/memory requests and limits.")
    volumes: list[Volume] = Field(default_factory=list, description="Persistent volumes.")
    health: Health | None = Field(default=None, description="Health check: http, tcp or exec.")
    strategy: Strategy = Field(default_factory=Strategy, description="rolling (default) or recreate.")
    node_selector: dict[LabelKey, ScalarStr] = Field(
        default_factory=dict, description="Run only on machines with these labels."
    )
    deadline: Duration = Field(default=120.0, description="Rollout deadline (seconds, or '120s'/'2m').")
    rollback: Literal["auto", "manual"] = Field(
        default="auto", description="auto: re-apply the previous release when the rollout fails."
    )
    sync: Literal["auto", "manual"] = Field(
        default="manual", description="auto: a reconciler restores the recorded state when it drifts."
    )

    @field_validator("ports")
    @classmethod
    def _unique_ports(cls, value: list[int]) -> list[int]:
        dupes = sorted({port for port in value if value.count(port) > 1})
        if dupes:
            raise invalid("duplicate", "ports {dupes} are listed more than once", dupes=dupes)
        return value

    @field_validator("volumes")
    @classmethod
    def _volumes(cls, value: list[Volume], info: ValidationInfo) -> list[Volume]:
        for key in ("name", "mount"):
            seen = [getattr(volume, key) for volume in value]
            dupes = sorted({item for item in seen if seen.count(item) > 1})
            if dupes:
                raise invalid("duplicate", "volume {key} {dupes} used more than once", key=key, dupes=dupes)
        replicas = info.data.get("replicas", 1)
        errors = [
            (
                (index, "shared"),
                invalid(
                    "volume_not_shared",
                    "volume {name!r} is not shared but replicas is {replicas}: only one instance could mount "
                    "it; set shared: true (ReadWriteMany) or replicas: 1",
                    name=volume.name,
                    replicas=replicas,
                ),
                volume.shared,
            )
            for index, volume in enumerate(value)
            if replicas > 1 and not volume.shared
        ]
        if errors:
            raise located(cls.__name__, errors)
        return value

    @field_validator("health")
    @classmethod
    def _health_port(cls, value: Health | None, info: ValidationInfo) -> Health | None:
        ports = info.data.get("ports")
        if value is None or ports is None:
            return value
        probe = "http" if value.http else "tcp"
        if value.port is not None and value.port not in ports:
            error = invalid(
                "health_port", "health port {port} is not one of ports {ports}", port=value.port, ports=ports
            )
            raise located(cls.__name__, [((probe, "port"), error, value.port)])
        return value
