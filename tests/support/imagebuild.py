"""Test support: image builds in a per-test She-Ra data dir, a busybox ``FROM scratch`` context, and the
registry's own view of a pushed tag (``Docker-Content-Digest``).

``build_data_dir`` (fixture) is a fresh data dir whose image stores are torn down afterwards
(``buildah rm --all``, then whatever is still mounted under it is unmounted, then it is deleted). It skips
when buildah or busybox-static is missing, failing instead when ``CI`` is set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

BUSYBOX_BINARY = Path("/bin/busybox")
BUSYBOX_CONTAINERFILE = (
    'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
)
MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


class Log:
    """An output sink that keeps what buildah wrote; ``text`` decodes it leniently (tool output)."""

    def __init__(self) -> None:
        self.data = b""

    def __call__(self, chunk: bytes) -> None:
        self.data += chunk

    @property
    def text(self) -> str:
        return self.data.decode(errors="replace")


def busybox_context(directory: Path, extra: str = "", name: str = "Containerfile") -> Path:
    """A build context: the static busybox binary and a ``FROM scratch`` Containerfile, plus ``extra``."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX_BINARY, directory / "busybox")
    (directory / name).write_text(BUSYBOX_CONTAINERFILE + extra)
    return directory


def registry_digest(address: str, repository: str, tag: str, auth: tuple[str, str] | None = None) -> str:
    """The registry's ``Docker-Content-Digest`` of ``repository:tag`` (a HEAD with OCI + docker Accept)."""
    response = httpx.head(
        f"http://{address}/v2/{repository}/manifests/{tag}",
        headers={"Accept": MANIFEST_ACCEPT},
        auth=auth,
        timeout=10,
    )
    response.raise_for_status()
    return response.headers["Docker-Content-Digest"]


def store_env(data_dir: Path, project: str = "local") -> dict[str, str]:
    """The environment selecting a She-Ra image store (for ``buildah images``/``history`` in assertions)."""
    config = data_dir / "images" / project / "config"
    return {
        **os.environ,
        "CONTAINERS_CONF": str(config / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(config / "storage.conf"),
        "CONTAINERS_REGISTRIES_CONF": str(config / "registries.conf"),
        "REGISTRY_AUTH_FILE": str(config / "auth.json"),
    }


def buildah(data_dir: Path, *args: str, project: str = "local") -> str:
    """Run buildah on a store of ``data_dir``; its stdout (fails the test on an error)."""
    return _tool("buildah", data_dir, args, project)


def podman(data_dir: Path, *args: str, project: str = "local") -> str:
    """Run podman on a store of ``data_dir`` (``podman history``: buildah 1.28 has none); its stdout."""
    return _tool("podman", data_dir, args, project)


def _tool(binary: str, data_dir: Path, args: tuple[str, ...], project: str) -> str:
    done = subprocess.run(
        [binary, *args],
        env=store_env(data_dir, project),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _unmount_under(root: Path) -> None:
    prefix = str(root)
    points = []
    with open("/proc/self/mountinfo") as info:
        for line in info:
            point = line.split()[4]
            if point == prefix or point.startswith(prefix + "/"):
                points.append(point)
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-R", point], capture_output=True, check=False)


@pytest.fixture
def build_data_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh She-Ra data dir for image builds; its stores are removed afterwards."""
    for tool in ("buildah",):
        if shutil.which(tool) is None:
            if os.environ.get("CI"):
                pytest.fail("buildah is missing (apt-get install buildah)")
            pytest.skip("needs buildah (apt-get install buildah)")
    if not BUSYBOX_BINARY.is_file():
        if os.environ.get("CI"):
            pytest.fail("busybox-static is missing")
        pytest.skip("needs busybox-static")
    data = tmp_path / "data"
    data.mkdir()
    try:
        yield data
    finally:
        for store in sorted((data / "images").glob("*")) if (data / "images").is_dir() else []:
            if (store / "config" / "storage.conf").is_file():
                subprocess.run(
                    ["buildah", "rm", "--all"],
                    env=store_env(data, store.name),
                    capture_output=True,
                    timeout=120,
                    check=False,
                )
        _unmount_under(data)
        shutil.rmtree(data, ignore_errors=True)
