"""Steps layer: ``uses: build`` — build an image with buildah, tag it and push it (the ``with:`` model)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shera.steps.base import StepKindModel
from shera.steps.fields import (
    EnvName,
    Flag,
    LabelKey,
    RelPath,
    Repository,
    ScalarStr,
    TagTemplate,
    invalid,
)

SecretId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")]


class BuildSecret(BaseModel):
    """A build secret: the project secret ``from_secret`` mounted for ``RUN --mount=type=secret,id=ID``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: SecretId = Field(description="Secret id the Containerfile mounts.")
    from_secret: str = Field(min_length=1, description="Project secret that holds the value.")


class BuildCache(BaseModel):
    """Layer cache: ``--layers`` is always on; ``registry`` also pushes and pulls cache layers there."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    registry: Repository | None = Field(
        default=None,
        description="Repository for --cache-from/--cache-to (e.g. registry:5000/team/app-cache).",
    )


class BuildWith(StepKindModel):
    """``with:`` of ``uses: build``.

    ``tags`` are templates over ``CI_*`` variables; each must match the OCI tag grammar once its placeholders
    are filled. ``context`` and ``containerfile`` are workspace-relative and may not climb out with ``..``
    (symlinks are checked again at run time, against the real workspace).
    """

    KIND = "build"

    context: RelPath = Field(default=".", description="Build context, relative to the workspace.")
    containerfile: RelPath | None = Field(
        default=None,
        description="Containerfile path relative to the workspace; default Containerfile, then Dockerfile "
        "in the context.",
    )
    target: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Multi-stage target to build."
    )
    build_args: dict[EnvName, ScalarStr] = Field(
        default_factory=dict, description="--build-arg NAME=VALUE pairs (values may use CI_* placeholders)."
    )
    secrets: list[SecretId | BuildSecret] = Field(
        default_factory=list,
        description="Build secrets (buildah --secret); a name is both the secret id and the project secret. "
        "They never reach a layer or the image history.",
    )
    repository: Repository | None = Field(
        default=None,
        description="Image repository to tag and push, [host[:port]/]path; default: the project's repository "
        "in the platform registry.",
    )
    tags: list[TagTemplate] | None = Field(
        default=None,
        min_length=1,
        description="Tag templates (e.g. ${CI_COMMIT_SHA:0:8}); default: short sha, branch slug, semver of a "
        "git tag (with major and major.minor), latest on the default branch.",
    )
    push: Flag = Field(default=True, description="Push the tags to the registry after the build.")
    cache: BuildCache = Field(default_factory=BuildCache, description="Layer cache settings.")
    labels: dict[LabelKey, ScalarStr] = Field(
        default_factory=dict,
        description="Extra image labels (the OCI revision/source/created labels are set).",
    )

    @field_validator("secrets")
    @classmethod
    def _secret_ids(cls, value: list[str | BuildSecret]) -> list[str | BuildSecret]:
        seen: set[str] = set()
        for item in value:
            name = item if isinstance(item, str) else item.id
            if name in seen:
                raise invalid("duplicate", "build secret id {name!r} is given twice", name=name)
            seen.add(name)
        return value
