"""Steps layer: ``uses: volume`` — a Ceph persistent volume, shared (RWX) by default (the ``with:`` model)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shera.steps.base import StepKindModel
from shera.steps.fields import Flag, Quantity, Slug

StorageClass = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")]


class VolumeWith(StepKindModel):
    """``with:`` of ``uses: volume``: ensure a volume exists (idempotent; an existing volume is never shrunk).

    ``shared: true`` asks for ReadWriteMany on the platform's CephFS storage class, so every replica of a
    multi-instance service can mount it; ``shared: false`` is ReadWriteOnce.
    """

    KIND = "volume"

    name: Slug = Field(description="Volume name (a strict slug; it names the claim).")
    size: Quantity = Field(default="1Gi", description="Requested size, e.g. 10Gi.")
    shared: Flag = Field(
        default=True, description="ReadWriteMany (CephFS) when true, ReadWriteOnce when false."
    )
    storage_class: StorageClass | None = Field(
        default=None,
        description="Storage class; default: the platform's CephFS class (shared) or its default.",
    )
    app: Slug | None = Field(
        default=None, description="Application the volume belongs to (for labels and quotas)."
    )
    environment: Slug | None = Field(default=None, description="Environment the volume belongs to.")
