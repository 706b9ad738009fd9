"""Test support: Debian base images made locally with mmdebstrap, cached between runs (a pytest plugin).

Nothing can be pulled from a public registry here, so the template tests (and ``make bench``) build their
base images from Debian packages: ``mmdebstrap --variant=apt --include=PKGS bookworm`` writes a rootfs
tarball, and ``podman import`` turns it into a local image in the test's private store (``podman_env``).

The tarballs are cached under the repository's ``.cache/baseimages/`` (gitignored), one file per recipe,
named by a hash of the recipe and the mirror, so a changed recipe builds a new tarball and ``make test``
stays fast after the first run (mmdebstrap takes about a minute; the import a few seconds). A file lock
serializes builds of one tarball between concurrent sessions; a tarball is written under a temporary name
and renamed, so an interrupted build never leaves a broken cache entry.

The Debian mirror is the one apt uses (``/etc/apt/sources.list.d/*.sources``, else
``/etc/apt/sources.list``); no host is hard-coded.

Fixtures (session scope): ``debian_python`` (``python3``, ``ca-certificates``) and ``debian_nginx``
(``nginx-light``) yield the local image reference. They skip when mmdebstrap is missing or the mirror
cannot be reached and no tarball is cached, failing instead when ``CI`` is set.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from tests.support.podman import PodmanTestEnv

CACHE_DIR = Path(__file__).resolve().parents[2] / ".cache" / "baseimages"
APT_SOURCES_DIR = Path("/etc/apt/sources.list.d")
APT_SOURCES_LIST = Path("/etc/apt/sources.list")
# Documentation, manuals and translations are dead weight in a base image (about a third of its size).
DPKG_EXCLUDES = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/info/*",
)


class BaseImageUnavailable(Exception):
    """A base image cannot be made here (no mmdebstrap, no mirror, a failed bootstrap)."""


@dataclass(frozen=True)
class Recipe:
    """One base image: a Debian ``suite`` bootstrapped with ``variant`` plus the ``include`` packages."""

    name: str
    include: tuple[str, ...]
    suite: str = "bookworm"
    variant: str = "apt"
    image: str = ""

    @property
    def ref(self) -> str:
        """The local image reference it is imported as."""
        return self.image or f"localhost/shera-test/{self.name}:{self.suite}"

    def key(self, mirror: str) -> str:
        """A short hash of everything that changes the tarball's contents."""
        data = {**asdict(self), "mirror": mirror, "dpkg": DPKG_EXCLUDES}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


DEBIAN_PYTHON = Recipe(name="debian-python", include=("python3", "ca-certificates"))
DEBIAN_NGINX = Recipe(name="debian-nginx", include=("nginx-light",))


def _deb822_mirrors(text: str, suite: str) -> list[str]:
    """URIs of the deb822 stanzas (``Types: deb``) that carry ``suite``."""
    found: list[str] = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and suite in fields.get("suites", "").split():
            found.extend(fields.get("uris", "").split())
    return found


def _one_line_mirrors(text: str, suite: str) -> list[str]:
    """URIs of the ``deb [options] URI SUITE COMPONENTS...`` lines for ``suite``."""
    found: list[str] = []
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2 and words[1] == suite:
            found.append(words[0])
    return found


def apt_mirror(
    suite: str = "bookworm",
    *,
    sources_dir: Path = APT_SOURCES_DIR,
    sources_list: Path = APT_SOURCES_LIST,
) -> str:
    """The first mirror apt is configured with for ``suite``; raises ``BaseImageUnavailable`` if none."""
    candidates: list[str] = []
    if sources_dir.is_dir():
        for path in sorted(sources_dir.glob("*.sources")):
            candidates += _deb822_mirrors(path.read_text(), suite)
        for path in sorted(sources_dir.glob("*.list")):
            candidates += _one_line_mirrors(path.read_text(), suite)
    if sources_list.is_file():
        candidates += _one_line_mirrors(sources_list.read_text(), suite)
    if not candidates:
        raise BaseImageUnavailable(f"apt has no mirror configured for {suite!r} (in {sources_dir})")
    return candidates[0]


def mmdebstrap_argv(recipe: Recipe, mirror: str, output: Path) -> list[str]:
    """The mmdebstrap command that writes ``recipe``'s rootfs tarball to ``output``."""
    argv = ["mmdebstrap", "--quiet", "--format=tar", f"--variant={recipe.variant}"]
    if recipe.include:
        argv.append("--include=" + ",".join(recipe.include))
    argv += [f"--dpkgopt={option}" for option in DPKG_EXCLUDES]
    return [*argv, recipe.suite, str(output), mirror]


def rootfs_tarball(recipe: Recipe, *, cache_dir: Path = CACHE_DIR, mirror: str | None = None) -> Path:
    """The cached rootfs tarball of ``recipe``, bootstrapped first when missing."""
    mirror = mirror or apt_mirror(recipe.suite)
    tarball = cache_dir / f"{recipe.name}-{recipe.key(mirror)}.tar"
    if tarball.is_file():
        return tarball
    if shutil.which("mmdebstrap") is None:
        raise BaseImageUnavailable("mmdebstrap (apt-get install mmdebstrap)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / f"{tarball.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tarball.is_file():  # another session built it while we waited
            return tarball
        partial = tarball.with_name(f"{tarball.stem}.{os.getpid()}.partial.tar")
        try:
            done = subprocess.run(
                mmdebstrap_argv(recipe, mirror, partial),
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            if done.returncode != 0:
                raise BaseImageUnavailable(
                    f"mmdebstrap of {recipe.name} from {mirror} failed: {done.stderr.strip()[-1500:]}"
                )
            partial.rename(tarball)
        finally:
            partial.unlink(missing_ok=True)
    return tarball


def import_image(env: Mapping[str, str], tarball: Path, ref: str) -> str:
    """``podman import`` ``tarball`` as ``ref`` into the store ``env`` selects; returns ``ref``."""
    done = subprocess.run(
        ["podman", "import", "--quiet", str(tarball), ref],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise BaseImageUnavailable(f"podman import of {tarball.name} failed: {done.stderr.strip()[-1500:]}")
    return ref


def base_image(env: Mapping[str, str], recipe: Recipe, *, cache_dir: Path = CACHE_DIR) -> str:
    """``recipe``'s image imported into the store ``env`` selects (from the cached tarball)."""
    return import_image(env, rootfs_tarball(recipe, cache_dir=cache_dir), recipe.ref)


def _fixture_image(env: PodmanTestEnv, recipe: Recipe) -> str:
    try:
        return base_image(env.env, recipe)
    except BaseImageUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"base image {recipe.name} cannot be made: {exc}")
        pytest.skip(f"base image {recipe.name} needs {exc}")
        raise AssertionError from exc  # unreachable: pytest.skip raises


@pytest.fixture(scope="session")
def debian_python(podman_env: PodmanTestEnv) -> Iterator[str]:
    """Debian bookworm with python3 and ca-certificates, as a local image in ``podman_env``'s store."""
    yield _fixture_image(podman_env, DEBIAN_PYTHON)


@pytest.fixture(scope="session")
def debian_nginx(podman_env: PodmanTestEnv) -> Iterator[str]:
    """Debian bookworm with nginx-light, as a local image in ``podman_env``'s store."""
    yield _fixture_image(podman_env, DEBIAN_NGINX)
