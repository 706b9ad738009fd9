"""CLI layer: ``shera images import ROOTFS REF``: a base image from a root file system tarball, pushed.

For platforms without access to a public registry: make a root file system with ``debootstrap``/``mmdebstrap``
(or any tarball), import it, push it to the platform's registry, and let Containerfiles name it as their base
(``ARG BASE_IMAGE=${CI_REGISTRY}/library/debian:12``). Runs locally, in She-Ra's own image store.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from shera.build.buildah import Buildah
from shera.build.store import ImageStore
from shera.errors import SheraError
from shera.settings import load_settings


def register(images_app: typer.Typer) -> None:
    images_app.command("import")(import_rootfs)


def import_rootfs(
    rootfs: Annotated[Path, typer.Argument(help="Root file system tarball (tar, tar.gz, ...).")],
    ref: Annotated[str, typer.Argument(help="Where to push: HOST:PORT/REPOSITORY:TAG.")],
    cmd: Annotated[
        list[str] | None, typer.Option("--cmd", help="Default command (repeat per argument).")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="She-Ra state directory.")] = None,
) -> None:
    """Import a root file system as an image and push it (SHERA_INSECURE_REGISTRIES are reached by HTTP)."""

    def out(chunk: bytes) -> None:
        sys.stderr.buffer.write(chunk)
        sys.stderr.flush()

    try:
        settings = load_settings(data_dir=data_dir)
        store = ImageStore(settings.data_dir, "base-images")
        insecure = settings.insecure_registry_set
        buildah = Buildah(store.env(insecure), insecure=insecure)
        with store.locked(), tempfile.TemporaryDirectory(prefix="shera-import-") as tmp:
            local = f"localhost/shera-import/{abs(hash(ref)) % 10**8}:latest"
            buildah.import_rootfs(rootfs, local, cmd=cmd or (), out=out)
            digest = buildah.push(local, ref, digestfile=Path(tmp) / "digest", out=out)
    except SheraError as exc:
        typer.echo(f"shera: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{ref}@{digest}")
