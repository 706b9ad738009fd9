"""Steps layer: ``uses: debug`` — a debug instance with a terminal, savable as an image (``with:``)."""

from __future__ import annotations

from pydantic import Field

from shera.steps.base import StepKindModel
from shera.steps.fields import AbsPath, Duration, Flag, ImageRef, Slug


class DebugWith(StepKindModel):
    """``with:`` of ``uses: debug``.

    Starts a debug instance of ``app`` (its live image unless ``image`` is given) with a shell reachable
    through a web terminal; it is removed after ``ttl``. With ``save_as``, the container is committed as that
    image when the session ends, so a fix made by hand can be kept and deployed.
    """

    KIND = "debug"

    app: Slug = Field(description="Application to debug (a strict slug).")
    environment: Slug | None = Field(default=None, description="Environment; default per branch.")
    image: ImageRef | None = Field(default=None, description="Image to start; default: the app's live image.")
    shell: AbsPath = Field(default="/bin/sh", description="Shell the terminal opens.")
    web_terminal: Flag = Field(
        default=True, description="Offer a web terminal (else shell access by CLI only)."
    )
    ttl: Duration = Field(default=3600.0, description="Lifetime of the debug instance (seconds, or '1h').")
    save_as: ImageRef | None = Field(
        default=None, description="Commit the container as this image (repository:tag) when the session ends."
    )
