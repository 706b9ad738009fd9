"""Test support: push a minimal OCI image (a config blob, one layer blob, a manifest) with plain httpx.

The distribution API checks digests and sizes, not layer contents, but the layer is a real gzipped tar
anyway. Different ``payload`` or ``created`` values give different manifest digests; the same values
give the same digest (as an identical rebuild would).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@dataclass(frozen=True)
class Pushed:
    digest: str  # the registry's Docker-Content-Digest of the manifest
    size: int  # config + layer bytes
    created: str


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer(payload: bytes) -> tuple[bytes, bytes]:
    """(gzipped tar, uncompressed tar) holding one file ``/app.txt``."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("app.txt")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    plain = raw.getvalue()
    return gzip.compress(plain, mtime=0), plain


def _upload(http: httpx.Client, repository: str, blob: bytes) -> None:
    started = http.post(f"/v2/{repository}/blobs/uploads/")
    assert started.status_code == 202, started.text
    location = httpx.URL(started.headers["Location"])  # keeps the registry's own _state parameter
    done = http.put(
        location.copy_merge_params({"digest": _digest(blob)}),
        content=blob,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert done.status_code == 201, done.text


def push_image(
    http: httpx.Client,
    repository: str,
    tags: list[str],
    *,
    payload: bytes = b"hello",
    created: str = "2026-01-02T03:04:05.123456789Z",
) -> Pushed:
    """Push one image under every tag of ``tags`` through ``http`` (a client with the registry's base URL
    and any auth it needs)."""
    layer, plain = _layer(payload)
    config = json.dumps(
        {
            "created": created,
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [_digest(plain)]},
        }
    ).encode()
    _upload(http, repository, config)
    _upload(http, repository, layer)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": _digest(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    digest = ""
    for tag in tags:
        put = http.put(
            f"/v2/{repository}/manifests/{tag}", content=manifest, headers={"Content-Type": OCI_MANIFEST}
        )
        assert put.status_code == 201, put.text
        digest = put.headers["Docker-Content-Digest"]
    return Pushed(digest=digest, size=len(config) + len(layer), created=created)
