"""CLI: ``shera exec --data-dir D`` deploys, then ``apps``, ``history``, ``rollback``, ``scale``, ``diff`` and
``app delete`` work on D without a server. The target is the in-memory test double (tests/deploy/fake.py)
registered as ``podman``; releases, database and deploy repository are real, under D."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from shera.cli import apps_cmd, exec_cmd
from shera.deploy.base import DEPLOY_TARGETS
from shera.deploy.service import DeployService
from shera.deploy.targets import Targets
from shera.gitops.deployrepo import DeployRepo
from shera.plugins import Registry
from shera.steps.deploy_runner import DeployRunner
from shera.steps.deploy_wiring import LOCAL_TENANT, open_local
from shera.steps.rollback_runner import RollbackRunner
from shera.steps.runner import RUNNERS, KindContext
from tests.deploy.fake import FakeTarget

PIPELINE = """\
steps:
  - name: ship
    uses: deploy
    with:
      app: web
      image: registry.test/web:${VERSION}
      ports: [8000]
"""


class Cli:
    def __init__(self, app: typer.Typer, data: Path, repo: Path) -> None:
        self.app, self.data, self.repo = app, data, repo
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0) -> str:
        result = self.runner.invoke(self.app, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    def exec(self, version: str, sha: str, code: int = 0) -> str:
        return self(
            "exec", str(self.repo), "--executor", "local", "--data-dir", str(self.data),
            "--env", f"VERSION={version}", "--commit", sha, code=code,
        )  # fmt: skip

    def local(self, *args: str, code: int = 0) -> str:
        return self(*args, "--data-dir", str(self.data), code=code)


@pytest.fixture
def target() -> FakeTarget:
    return FakeTarget()


@pytest.fixture
def cli(tmp_path: Path, target: FakeTarget, monkeypatch: pytest.MonkeyPatch) -> Cli:
    registry = Registry()
    registry.register(DEPLOY_TARGETS, "podman", target)
    targets = Targets(registry)
    services: dict[Path, DeployService] = {}

    def opener(data_dir: Path) -> DeployService:
        if data_dir.resolve() not in services:
            services[data_dir.resolve()] = open_local(data_dir, targets=targets)
        return services[data_dir.resolve()]

    def runner_opener(ctx: KindContext) -> tuple[DeployService, str]:
        assert ctx.data_dir is not None
        return opener(ctx.data_dir), LOCAL_TENANT

    runners = Registry()
    runners.register(RUNNERS, "deploy", lambda: DeployRunner(runner_opener))
    runners.register(RUNNERS, "rollback", lambda: RollbackRunner(runner_opener))
    monkeypatch.setattr(exec_cmd, "runner_registry", lambda: runners)
    app = typer.Typer()
    exec_cmd.register(app)
    apps_cmd.register(app, opener=opener)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".shera.yml").write_text(PIPELINE)
    return Cli(app, tmp_path / "data", repo)


def history(cli: Cli) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(
        cli.local("history", "web", "-e", "production", "--format", "json")
    )
    return rows


def test_exec_deploys_and_the_cli_reads_it_back(cli: Cli, target: FakeTarget) -> None:
    cli.exec("1", "1" * 40)
    cli.exec("2", "2" * 40)

    apps = json.loads(cli.local("apps", "--format", "json"))
    assert [(a["app"], a["environment"], a["revision"], a["status"]) for a in apps] == [
        ("web", "production", 2, "live")
    ]
    assert apps[0]["endpoints"][0]["url"] == "http://127.0.0.1:40020"
    text = cli.local("apps")
    assert "web" in text and "http://127.0.0.1:40020" in text
    rows = history(cli)
    assert [(r["revision"], r["status"], r["image"], r["sha"]) for r in rows] == [
        (2, "live", "registry.test/web:2", "2" * 40),
        (1, "superseded", "registry.test/web:1", "1" * 40),
    ]
    commits = [c.sha for c in DeployRepo(cli.data / "deploy.git").log("web", "production")]
    assert [r["commit"] for r in rows] == commits
    assert (cli.data / "shera.db").is_file()


def test_failed_release_rolls_back_and_is_quarantined(cli: Cli, target: FakeTarget) -> None:
    cli.exec("1", "1" * 40)
    target.failing.add("registry.test/web:3")

    output = cli.exec("3", "3" * 40, code=1)

    assert "release 2 failed" in output and "release 1 restored as release 3" in output
    assert [(r["revision"], r["status"]) for r in history(cli)] == [
        (3, "live"),
        (2, "rolled_back"),
        (1, "superseded"),
    ]
    target.failing.clear()
    again = cli.exec("3", "3" * 40)
    assert "quarantined" in again
    assert len(history(cli)) == 3


def test_rollback_scale_diff_delete_without_a_server(cli: Cli, target: FakeTarget) -> None:
    cli.exec("1", "1" * 40)
    cli.exec("2", "2" * 40)

    assert "release 1 restored as release 3" in cli.local("rollback", "web", "-e", "production", "--to", "1")
    assert target.serving[(LOCAL_TENANT, "web", "production")] == 1
    assert "scaled to 3" in cli.local("scale", "web", "-e", "production", "3")
    assert "in sync" in cli.local("diff", "web", "-e", "production")
    target.objects[(LOCAL_TENANT, "web", "production")]["Deployment/web"]["spec"]["replicas"] = 1
    drift = cli.local("diff", "web", "-e", "production", code=1)
    assert '"replicas": 1' in drift
    assert "deleted" in cli.local("app", "delete", "web", "-e", "production")
    assert json.loads(cli.local("apps", "--format", "json")) == []


def test_errors_are_clear(cli: Cli) -> None:
    assert "no app 'web'" in cli.local("history", "web", "-e", "production", code=2)
    cli.exec("1", "1" * 40)
    assert "already live" in cli.local("rollback", "web", "-e", "production", "--to", "1", code=1)
    assert "no earlier release" in cli.local("rollback", "web", "-e", "production", code=1)


def test_a_missing_image_is_a_located_error(cli: Cli) -> None:
    (cli.repo / ".shera.yml").write_text(PIPELINE.replace("      image: registry.test/web:${VERSION}\n", ""))

    output = cli.exec("1", "1" * 40, code=1)

    assert "step 'ship'" in output and "with.image is not set" in output
