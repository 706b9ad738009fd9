"""Test support: an isolated podman environment with locally built images (a pytest plugin).

Nothing can be pulled from a public registry here, so the images tests need are built once per session
from ``busybox-static`` into a private store (``podman_config.write_config`` under a session temp dir,
overlay driver), and the ``localhost/shera-test`` prefix is blocked in its ``registries.conf`` so a
missing test image fails at once instead of retrying a pull.

Images and the upstream names they stand in for (``PodmanTestEnv.stand_ins``):

- ``localhost/shera-test/busybox:latest``: ``FROM scratch`` + ``/bin/busybox`` + ``busybox --install -s``
  (``sh``, ``httpd``, ``nc``, ``wget``, ``base64``...). Stands in for ``busybox`` and ``alpine``.
- ``localhost/shera-test/dummy:latest``: stands in for Woodpecker's ``dummy`` image (the e2e scenarios'
  "backend"). On top of the busybox image, ``/bin/sh`` is a wrapper, also the entrypoint, that
  1. sleeps ``$SLEEP`` first when set (a Go duration: ``100ms``, ``1s``, ``1m30s``),
  2. runs busybox ``sh`` with its arguments (so ``commands`` run as scripts; without arguments and with
     no input, as for a service or a plugin step, it does nothing),
  3. exits with ``$STEP_EXIT_CODE`` when set, else with the script's status.
  It unsets both variables before running the script, so nested shells are not affected.
  ``STEP_OOM_KILLED``, ``STEP_START_FAIL``, ``STEP_TAIL_FAIL`` and ``EXPECT_TYPE`` of the dummy backend
  are not emulated (the OOM scenario also sets ``STEP_EXIT_CODE: 137``, which gives its expected result).

``podman_env`` skips when podman, runc, buildah or busybox-static is missing, failing instead when the
``CI`` variable is set. Its teardown runs ``podman system reset --force`` in the private store, unmounts
what is left and deletes the directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from shera.executors.podman import PodmanExecutor
from shera.executors.podman_config import ConfigPaths, write_config

BUSYBOX_IMAGE = "localhost/shera-test/busybox:latest"
DUMMY_IMAGE = "localhost/shera-test/dummy:latest"
BLOCKED_PREFIX = "localhost/shera-test"
BUSYBOX_BINARY = Path("/bin/busybox")

DUMMY_WRAPPER = r"""#!/bin/busybox sh
# Test stand-in for Woodpecker's "dummy" image: SLEEP first, then the script, then STEP_EXIT_CODE.
sleep_for="${SLEEP:-}"
exit_with="${STEP_EXIT_CODE:-}"
unset SLEEP STEP_EXIT_CODE
case "$sleep_for" in
  "") ;;
  *ms) /bin/busybox sleep "$(echo "${sleep_for%ms}" | /bin/busybox awk '{ print $1 / 1000 }')" ;;
  *) /bin/busybox sleep $(echo "$sleep_for" | /bin/busybox sed 's/\([hms]\)\([0-9]\)/\1 \2/g') ;;
esac
/bin/busybox sh "$@"
status=$?
if [ -n "$exit_with" ]; then exit "$exit_with"; fi
exit "$status"
"""


@dataclass(frozen=True)
class PodmanTestEnv:
    """A private podman store with the test images built; ``env`` is the environment for podman/buildah."""

    root: Path
    env: Mapping[str, str]
    busybox: str = BUSYBOX_IMAGE
    dummy: str = DUMMY_IMAGE
    stand_ins: Mapping[str, str] = field(
        default_factory=lambda: {"dummy": DUMMY_IMAGE, "busybox": BUSYBOX_IMAGE, "alpine": BUSYBOX_IMAGE}
    )

    def podman(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run podman in this environment (for assertions: ``podman ps -a`` and the like)."""
        return subprocess.run(
            ["podman", *args], env=dict(self.env), capture_output=True, text=True, check=check, timeout=120
        )


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"podman tests cannot run: {reason}")
    pytest.skip(f"podman tests need {reason}")


def _build(env: Mapping[str, str], context: Path, tag: str) -> None:
    done = subprocess.run(
        ["buildah", "bud", "--isolation", "chroot", "--quiet", "-t", tag, str(context)],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"building {tag} failed:\n{done.stderr}")


def _build_images(env: Mapping[str, str], root: Path) -> None:
    busybox = root / "build" / "busybox"
    busybox.mkdir(parents=True)
    shutil.copy2(BUSYBOX_BINARY, busybox / "busybox")
    (busybox / "Containerfile").write_text(
        'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
    )
    _build(env, busybox, BUSYBOX_IMAGE)

    dummy = root / "build" / "dummy"
    dummy.mkdir()
    (dummy / "dummy").write_text(DUMMY_WRAPPER)
    (dummy / "dummy").chmod(0o755)
    (dummy / "Containerfile").write_text(
        f"FROM {BUSYBOX_IMAGE}\n"
        "COPY dummy /bin/dummy\n"
        'RUN ["/bin/busybox", "ln", "-sf", "/bin/dummy", "/bin/sh"]\n'
        'ENTRYPOINT ["/bin/dummy"]\n'
    )
    _build(env, dummy, DUMMY_IMAGE)


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root)
    mounts = []
    with open("/proc/self/mountinfo") as info:
        for line in info:
            point = line.split()[4]
            if point == prefix or point.startswith(prefix + "/"):
                mounts.append(point)
    return mounts


def _destroy(env: Mapping[str, str], root: Path) -> None:
    subprocess.run(
        ["podman", "system", "reset", "--force"], env=dict(env), capture_output=True, timeout=120, check=False
    )
    runroot = ConfigPaths(root / "config").runroot
    for point in sorted([*_mounts_under(root), *_mounts_under(runroot)], key=len, reverse=True):
        subprocess.run(["umount", "-R", point], capture_output=True, check=False)
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(runroot, ignore_errors=True)


@pytest.fixture(scope="session")
def podman_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodmanTestEnv]:
    """A private podman store with the busybox and dummy images (see the module docstring)."""
    for tool in ("podman", "runc", "buildah"):
        if shutil.which(tool) is None:
            _unavailable(f"{tool} (apt-get install podman runc buildah)")
    if not BUSYBOX_BINARY.is_file():
        _unavailable("busybox-static (apt-get install busybox-static)")
    root = tmp_path_factory.mktemp("podman")
    paths = write_config(root / "config", blocked=(BLOCKED_PREFIX,))
    env = {**os.environ, **paths.env}
    try:
        info = subprocess.run(
            ["podman", "info"], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        if info.returncode != 0:
            _unavailable(f"a working podman: {info.stderr.strip()[-500:]}")
        _build_images(env, root)
        yield PodmanTestEnv(root=root, env=env)
    finally:
        _destroy(env, root)


@pytest.fixture
def podman_executor_factory(podman_env: PodmanTestEnv) -> Iterator[Callable[..., PodmanExecutor]]:
    """Makes ``PodmanExecutor``s bound to the test store; any still prepared are torn down afterwards."""
    made: list[PodmanExecutor] = []

    def make(**kwargs: Any) -> PodmanExecutor:
        kwargs.setdefault("stop_grace", 1.0)
        executor = PodmanExecutor(env=podman_env.env, **kwargs)
        made.append(executor)
        return executor

    yield make
    for executor in made:
        executor.teardown()
