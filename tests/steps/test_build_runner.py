"""``uses: build`` for real: buildah builds, a private registry receives, the digests are reported."""

from __future__ import annotations

import json
import os
import textwrap
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from shera.cli import exec_cmd
from shera.cli.main import app
from shera.model.event import Event, EventKind
from shera.model.plan import StepKind, StepPlan, WorkflowPlan
from shera.model.status import Status
from shera.plugins import Registry
from shera.steps.build_runner import BuildRunner, oci_labels
from shera.steps.runner import RUNNERS, KindContext, KindResult, StepRunner
from tests.support.imagebuild import Log, buildah, busybox_context, registry_digest
from tests.support.registry import HtpasswdRegistry, free_port

# Fixtures imported by name (tests/conftest.py does not list these support plugins yet).

pytestmark = pytest.mark.podman

SHA = "5eb1d7c0a9b8e7f6d5c4b3a29180f7e6d5c4b3a2"


def context_for(
    source: Path,
    data_dir: Path,
    with_: dict[str, Any],
    *,
    secrets: dict[str, str] | None = None,
    event: Event | None = None,
    project: str = "local",
) -> tuple[KindContext, Log]:
    log = Log()
    step = StepPlan(name="image", kind=StepKind.USES, uses="build", with_=with_, file=".shera.yml", line=3)
    ctx = KindContext(
        step=step,
        workflow=WorkflowPlan(name="ci"),
        event=event
        or Event(commit=SHA, branch="main", repo="adora/app", repo_url="https://forge.test/adora/app"),
        source_dir=source,
        env={},
        secrets=secrets or {},
        out=log,
        cancel=threading.Event(),
        data_dir=data_dir,
        project=project,
    )
    return ctx, log


def test_build_pushes_default_tags_to_the_default_repository(
    build_data_dir: Path, registry: str, tmp_path: Path
) -> None:
    source = busybox_context(tmp_path / "repo")
    runner = BuildRunner(registry=registry, insecure=[registry])
    ctx, log = context_for(source, build_data_dir, {})

    done = runner.run(ctx)

    assert done.result.status is Status.SUCCESS, log.text
    images = done.artifacts["images"]
    assert [image["ref"] for image in images] == [
        f"{registry}/local/app:5eb1d7c0",
        f"{registry}/local/app:main",
        f"{registry}/local/app:latest",
    ]
    for image in images:
        tag = image["ref"].rsplit(":", 1)[1]
        assert image["digest"] == registry_digest(registry, "local/app", tag)
    assert "STEP 1/" in log.text and f"pushed {images[0]['ref']}@" in log.text
    labels = json.loads(buildah(build_data_dir, "inspect", "--type", "image", images[0]["ref"]))["OCIv1"][
        "config"
    ]["Labels"]
    assert labels["org.opencontainers.image.revision"] == SHA
    assert labels["org.opencontainers.image.source"] == "https://forge.test/adora/app"
    assert labels["org.opencontainers.image.version"] == "5eb1d7c0"
    assert labels["org.opencontainers.image.created"].endswith("Z")
    assert not list((build_data_dir / "images" / "local" / "tmp").iterdir())  # private files removed


def test_push_to_htpasswd_registry_with_credentials_from_secrets(
    build_data_dir: Path, registry_htpasswd: HtpasswdRegistry, tmp_path: Path
) -> None:
    reg = registry_htpasswd
    source = busybox_context(tmp_path / "repo")
    runner = BuildRunner(insecure=[reg.address])
    with_ = {"repository": f"{reg.address}/team/app", "tags": ["v1"]}
    secrets = {"REGISTRY_USERNAME": reg.username, "REGISTRY_PASSWORD": reg.password}
    ctx, log = context_for(source, build_data_dir, with_, secrets=secrets)

    done = runner.run(ctx)

    assert done.result.status is Status.SUCCESS, log.text
    [image] = done.artifacts["images"]
    assert image["digest"] == registry_digest(
        reg.address, "team/app", "v1", auth=(reg.username, reg.password)
    )

    refused, refused_log = context_for(source, build_data_dir, with_)  # no credentials
    failed = runner.run(refused)
    assert failed.result.status is Status.FAILURE
    assert "was refused" in (failed.result.error or "")
    assert "push attempt" not in refused_log.text  # not retried


def test_build_secret_from_project_secret_and_missing_one(build_data_dir: Path, tmp_path: Path) -> None:
    source = busybox_context(
        tmp_path / "repo", "RUN --mount=type=secret,id=npm wc -c < /run/secrets/npm > /npm-size\n"
    )
    with_: dict[str, Any] = {"push": False, "secrets": [{"id": "npm", "from_secret": "NPM_TOKEN"}]}
    ctx, log = context_for(source, build_data_dir, with_, secrets={"NPM_TOKEN": "npm-secret-value-123"})
    done = BuildRunner().run(ctx)
    assert done.result.status is Status.SUCCESS, log.text
    image = done.artifacts["images"][0]
    assert image["digest"] is None and image["ref"] == "localhost/local/app:5eb1d7c0"
    assert "npm-secret-value-123" not in buildah(
        build_data_dir, "inspect", "--type", "image", image["image_id"]
    )

    ctx, _ = context_for(source, build_data_dir, with_)
    failed = BuildRunner().run(ctx)
    assert failed.result.status is Status.FAILURE
    assert "build secret 'npm' needs the secret 'NPM_TOKEN', which is not set" in (failed.result.error or "")


def _outside(tmp_path: Path) -> Path:
    outside = busybox_context(tmp_path / "outside")
    return outside


@pytest.mark.parametrize(
    ("with_", "field"),
    [
        ({"containerfile": "../outside/Containerfile"}, "containerfile"),
        ({"containerfile": "/etc/passwd"}, "containerfile"),
        ({"context": "../outside"}, "context"),
        ({"containerfile": "linked/Containerfile"}, "containerfile"),
        ({"containerfile": "Evil"}, "containerfile"),
        ({"context": "linked"}, "context"),
    ],
)
def test_paths_escaping_the_workspace_fail_naming_the_field_and_build_nothing(
    build_data_dir: Path, tmp_path: Path, with_: dict[str, Any], field: str
) -> None:
    outside = _outside(tmp_path)
    source = busybox_context(tmp_path / "repo")
    (source / "linked").symlink_to(outside)  # a directory symlink leading out
    (source / "Evil").symlink_to(outside / "Containerfile")  # a file symlink leading out
    ctx, log = context_for(source, build_data_dir, {"push": False, **with_})

    done = BuildRunner().run(ctx)

    assert done.result.status is Status.FAILURE
    error = done.result.error or ""
    assert error.startswith(".shera.yml:3: step 'image': ")
    assert f"with.{field}" in error
    assert "error: .shera.yml:3" in log.text
    assert not (build_data_dir / "images").exists()  # nothing built, not even a store


def test_default_containerfile_symlinked_out_is_refused(build_data_dir: Path, tmp_path: Path) -> None:
    outside = _outside(tmp_path)
    source = tmp_path / "repo"
    source.mkdir()
    (source / "Containerfile").symlink_to(outside / "Containerfile")
    ctx, _ = context_for(source, build_data_dir, {"push": False})
    done = BuildRunner().run(ctx)
    assert done.result.status is Status.FAILURE
    assert "with.containerfile 'Containerfile' resolves outside the workspace" in (done.result.error or "")


def test_dockerfile_is_the_fallback(build_data_dir: Path, tmp_path: Path) -> None:
    source = busybox_context(tmp_path / "repo" / "app", name="Dockerfile")
    ctx, log = context_for(source.parent, build_data_dir, {"push": False, "context": "app", "tags": ["t"]})
    done = BuildRunner().run(ctx)
    assert done.result.status is Status.SUCCESS, log.text
    assert "building Dockerfile in 'app'" in log.text


def test_push_without_any_registry_is_a_clear_failure(build_data_dir: Path, tmp_path: Path) -> None:
    source = busybox_context(tmp_path / "repo")
    ctx, _ = context_for(source, build_data_dir, {})
    done = BuildRunner().run(ctx)
    assert done.result.status is Status.FAILURE
    assert "no default registry (set SHERA_REGISTRY)" in (done.result.error or "")


def test_registry_down_fails_the_step_after_retries(build_data_dir: Path, tmp_path: Path) -> None:
    down = f"127.0.0.1:{free_port()}"
    source = busybox_context(tmp_path / "repo")
    runner = BuildRunner(registry=down, insecure=[down], push_retries=1, backoff=0.1)
    ctx, log = context_for(source, build_data_dir, {"tags": ["x"]})
    done = runner.run(ctx)
    assert done.result.status is Status.FAILURE
    assert done.artifacts["images"] == []
    error = done.result.error or ""
    assert f"push to {down}/local/app:x failed after 2 attempt(s): registry {down} unavailable" in error
    assert "connection refused" in error
    assert log.text.rstrip().splitlines()[-1].startswith("error: ")


def test_tag_event_gets_semver_tags_and_version_label(
    build_data_dir: Path, registry: str, tmp_path: Path
) -> None:
    source = busybox_context(tmp_path / "repo")
    event = Event(kind=EventKind.TAG, tag="v2.3.4", commit=SHA, branch="main", repo="adora/app")
    ctx, log = context_for(source, build_data_dir, {}, event=event)
    done = BuildRunner(registry=registry, insecure=[registry], repository_path="blue/shop").run(ctx)
    assert done.result.status is Status.SUCCESS, log.text
    refs = [image["ref"] for image in done.artifacts["images"]]
    assert refs == [f"{registry}/blue/shop:{t}" for t in ("5eb1d7c0", "2.3.4", "2.3", "2")]
    assert (
        oci_labels(ctx, __import__("datetime").datetime.now())["org.opencontainers.image.version"] == "v2.3.4"
    )


def test_registry_cache_pushes_cache_layers(build_data_dir: Path, registry: str, tmp_path: Path) -> None:
    source = busybox_context(tmp_path / "repo", "RUN echo cached > /c\n")
    with_ = {"tags": ["c"], "cache": {"registry": f"{registry}/cache/app"}}
    ctx, log = context_for(source, build_data_dir, with_)
    done = BuildRunner(registry=registry, insecure=[registry]).run(ctx)
    assert done.result.status is Status.SUCCESS, log.text
    catalog = httpx.get(f"http://{registry}/v2/_catalog", timeout=10).json()["repositories"]
    assert "cache/app" in catalog and "local/app" in catalog


def test_concurrent_builds_of_one_project_take_turns(
    build_data_dir: Path, registry: str, tmp_path: Path
) -> None:
    results: list[KindResult] = []
    runner = BuildRunner(registry=registry, insecure=[registry])

    def build(n: int) -> None:
        source = busybox_context(tmp_path / f"repo{n}", f"RUN echo {n} > /n\n")
        ctx, _ = context_for(source, build_data_dir, {"tags": [f"n{n}"]}, project="shared")
        results.append(runner.run(ctx))

    threads = [threading.Thread(target=build, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(r.result.status for r in results) == [Status.SUCCESS] * 3
    for n in range(3):
        assert registry_digest(registry, "local/app", f"n{n}").startswith("sha256:")


def test_shera_exec_local_reports_the_pushed_image(
    build_data_dir: Path, registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = busybox_context(tmp_path / "app")
    (repo / ".shera.yml").write_text(
        textwrap.dedent(
            """\
            steps:
              - name: image
                uses: build
                with:
                  repository: team/app
                  tags: ["${CI_COMMIT_SHA:0:8}", "exec"]
            """
        )
    )
    registry_by_hand = Registry()
    registry_by_hand.register(RUNNERS, "build", BuildRunner)  # until the entry point is installed
    monkeypatch.setattr(exec_cmd, "runner_registry", lambda: registry_by_hand)
    monkeypatch.setenv("SHERA_REGISTRY", registry)
    monkeypatch.setenv("SHERA_INSECURE_REGISTRIES", registry)
    monkeypatch.setenv("SHERA_DATA_DIR", str(build_data_dir))
    summary = tmp_path / "summary.json"
    sha = "c0ffee00" + "1" * 32

    result = CliRunner().invoke(
        app,
        ["exec", str(repo), "--executor", "local", "--commit", sha, "--summary-json", str(summary)],
        env={**os.environ},
    )

    assert result.exit_code == 0, result.output
    steps = [step for wf in json.loads(summary.read_text())["workflows"] for step in wf["steps"]]
    [image_step] = [step for step in steps if step["name"] == "image"]
    assert [i["ref"] for i in image_step["images"]] == [
        f"{registry}/team/app:c0ffee00",
        f"{registry}/team/app:exec",
    ]
    for image in image_step["images"]:
        assert image["digest"] == registry_digest(registry, "team/app", image["ref"].rsplit(":", 1)[1])


def test_runner_satisfies_the_protocol() -> None:
    assert isinstance(BuildRunner(), StepRunner)
    assert BuildRunner.kind == "build"
