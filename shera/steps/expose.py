"""Steps layer: ``uses: expose`` — publish an app through the platform's load balancer (``with:``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shera.steps.base import StepKindModel
from shera.steps.fields import AbsPath, Flag, Hostname, Port, Slug, UrlPath


class TlsFiles(BaseModel):
    """Certificate and key files on the balancer's machine."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    cert: AbsPath = Field(description="Absolute path of the PEM certificate (chain).")
    key: AbsPath = Field(description="Absolute path of the PEM private key.")


class ExposeWith(StepKindModel):
    """``with:`` of ``uses: expose``.

    Every value here reaches an nginx or haproxy config, so each is held to a strict grammar: slugs and host
    labels (RFC 1123), a path of plain URL characters starting with ``/``, a port in 1..65535.
    """

    KIND = "expose"

    app: Slug = Field(description="Application to expose (a strict slug).")
    environment: Slug | None = Field(
        default=None, description="Environment whose instances serve; default per branch."
    )
    zone: Literal["public", "internal"] = Field(
        default="public", description="Which balancer: the public edge or the internal one."
    )
    host: Hostname | None = Field(default=None, description="Virtual host; default <app>.<tenant>.<domain>.")
    path: UrlPath = Field(default="/", description="URL path prefix routed to the app.")
    port: Port | None = Field(
        default=None, description="Container port to route to; default: the app's only deployed port."
    )
    tls: Flag | TlsFiles = Field(
        default=False,
        description="true: the platform certificate; {cert, key}: these files; false: plain HTTP.",
    )
