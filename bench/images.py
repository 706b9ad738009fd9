"""Benchmark: cold build+push of the python-web template vs rebuild+push after changing one source file.

Real buildah and a private ``docker-registry`` on a free loopback port, in a private image store (overlay)
under a temporary directory. The base image is Debian bookworm with python3, made by mmdebstrap and cached
under ``.cache/baseimages`` (tests/support/baseimages.py). As in real use (``BASE_IMAGE`` names a registry
mirror), it is pushed to the registry first and removed from the store; that setup is not timed.

- cold: empty store, empty layer cache, nothing of the app in the registry: ``buildah bud --layers`` (which
  pulls the base image) then ``buildah push`` (the base layers are already in the registry, since the mirror
  is in the same one, so only the app's layers are uploaded).
- one-file: ``app/wsgi.py`` changed; the same build and push, now with the store's layer cache; only the
  last layer is new, so the push sends one small blob and the manifest. Median of ``REBUILDS`` rounds.

Target: one-file rebuild+push <= 1/5 of the cold time. The pushed digest (``--digestfile``) is checked
against the registry's ``Docker-Content-Digest``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from shera.executors.podman_config import write_config
from shera.steps.templates import TemplateCatalog
from tests.support.baseimages import DEBIAN_PYTHON, base_image
from tests.support.registry import start_registry

REBUILDS = 3
TARGET_RATIO = 0.2
MANIFEST_TYPES = ", ".join(
    ("application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json")
)


def _run(env: Mapping[str, str], *argv: str) -> None:
    done = subprocess.run(argv, env=dict(env), capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()[-1500:]}")


def _build_push(
    env: Mapping[str, str], app: Path, base: str, ref: str, digestfile: Path
) -> tuple[float, float]:
    """Seconds to build ``app`` as ``ref`` (layer cache on), and to push it."""
    start = time.perf_counter()
    _run(
        env,
        "buildah", "bud", "--isolation", "chroot", "--layers", "--quiet",
        "--build-arg", f"BASE_IMAGE={base}", "-t", ref, str(app),
    )  # fmt: skip
    built = time.perf_counter()
    _run(env, "buildah", "push", "--quiet", "--digestfile", str(digestfile), ref, f"docker://{ref}")
    return built - start, time.perf_counter() - built


def _registry_digest(address: str, repository: str, tag: str) -> str:
    response = httpx.head(
        f"http://{address}/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES}, timeout=10
    )
    response.raise_for_status()
    return response.headers["Docker-Content-Digest"]


def _destroy(env: Mapping[str, str], root: Path) -> None:
    subprocess.run(["podman", "system", "reset", "--force"], env=dict(env), capture_output=True, check=False)
    with open("/proc/self/mountinfo") as info:
        points = [line.split()[4] for line in info if line.split()[4].startswith(str(root) + "/")]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-R", point], capture_output=True, check=False)
    shutil.rmtree(root, ignore_errors=True)


def bench_template_rebuild() -> tuple[float, bool]:
    missing = [tool for tool in ("buildah", "podman", "docker-registry") if shutil.which(tool) is None]
    if missing:
        print(f"image rebuild: {', '.join(missing)} not installed; skipped")
        return 0.0, True
    root = Path(tempfile.mkdtemp(prefix="shera-bench-images-"))
    env = dict(os.environ)
    registry = None
    try:
        registry = start_registry(root / "registry")
        env.update(write_config(root / "podman", insecure=(registry.address,)).env)
        start = time.perf_counter()
        local = base_image(env, DEBIAN_PYTHON)
        base = f"{registry.address}/mirror/debian-python:bookworm"
        _run(env, "buildah", "push", "--quiet", local, f"docker://{base}")
        _run(env, "podman", "rmi", "--all", "--force")
        print(f"image rebuild: base image {base} ready in {time.perf_counter() - start:.1f} s (not timed)")
        app = root / "app"
        TemplateCatalog().scaffold("python-web", app)
        repository = "bench/python-web"
        digestfile = root / "digest"

        target = f"{registry.address}/{repository}"
        cold_build, cold_push = _build_push(env, app, base, f"{target}:cold", digestfile)
        assert digestfile.read_text().strip() == _registry_digest(registry.address, repository, "cold")

        wsgi = app / "app" / "wsgi.py"
        original = wsgi.read_text()
        warm_parts = []
        for round_ in range(1, REBUILDS + 1):
            wsgi.write_text(original.replace("hello from python-web", f"hello, round {round_}"))
            tag = f"change-{round_}"
            warm_parts.append(_build_push(env, app, base, f"{target}:{tag}", digestfile))
            assert digestfile.read_text().strip() == _registry_digest(registry.address, repository, tag)
    finally:
        if registry is not None:
            registry.stop()
        _destroy(env, root)
    cold = cold_build + cold_push
    warm_times = [build + push for build, push in warm_parts]
    warm = statistics.median(warm_times)
    ratio = warm / cold
    ok = ratio <= TARGET_RATIO
    print(
        f"image rebuild: python-web cold build+push {cold:.2f} s (build with base pull {cold_build:.2f} s, "
        f"push {cold_push:.2f} s)"
    )
    print(
        f"  one-file rebuild+push {warm:.2f} s (median of {REBUILDS}: "
        + ", ".join(f"{build:.2f}+{push:.2f}" for build, push in warm_parts)
        + " s build+push)"
    )
    print(f"  ratio {ratio:.3f} (target <= {TARGET_RATIO}) {'OK' if ok else 'MISSED'}")
    return ratio, ok
