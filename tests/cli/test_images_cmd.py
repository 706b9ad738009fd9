"""``shera images`` against a real ``shera up`` — which starts its own private registry when
``SHERA_REGISTRY`` is unset — and the registry child of ``shera up`` on its own."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from shera.build.registry import RegistryClient
from shera.cli import images_cmd
from shera.cli.children import port_answers, registry_child
from shera.store import images
from shera.store.db import Database
from shera.store.projects import get_project
from tests.support.oci import push_image
from tests.support.server import start_shera_up


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("version")(lambda: None)  # a second command, so "images" stays a sub-command
    images_cmd.register(app)
    return app


def test_registry_child_serves_on_loopback_with_deletes_enabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_HTTP_ADDR", "0.0.0.0:5000")  # would override the config: must be ignored
    child, address = registry_child(tmp_path / "data")
    child.start()
    try:
        with httpx.Client(base_url=f"http://{address}") as http:
            pushed = push_image(http, "team/app", ["v1"])
        with RegistryClient(f"http://{address}") as client:
            assert client.tags("team/app") == ["v1"]
            assert client.delete("team/app", pushed.digest) is True
    finally:
        child.stop()
    assert address.startswith("127.0.0.1:")
    assert (tmp_path / "data" / "registry" / "data" / "docker" / "registry").is_dir()
    assert not port_answers("127.0.0.1", int(address.rsplit(":", 1)[1]))


def test_images_commands_against_shera_up_and_its_private_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("SHERA_REGISTRY", raising=False)
    server = start_shera_up(tmp_path)
    try:
        found = [re.match(r"Private registry at (\S+)", line) for line in server.lines]
        address = next(m.group(1) for m in found if m)
        token = server.tenant_token("acme")
        project = server.create_project(token, "file:///nowhere/app.git")
        # Two builds pushed to the private registry and recorded, as the worker does after a build step.
        db = Database(f"sqlite:///{server.data_dir / 'shera.db'}")
        tenant_id = _tenant(db, project["id"])
        with httpx.Client(base_url=f"http://{address}") as http:
            for n, names in ((1, ["sha1"]), (2, ["sha2", "main"])):
                pushed = push_image(http, "acme/app", names, payload=f"build {n}".encode())
                for tag in names:
                    images.record_image(
                        db, tenant_id=tenant_id,
                        project_id=project["id"], registry_host=address, repository="acme/app", tag=tag,
                        digest=pushed.digest, size=pushed.size, run_id=None, step="image", sha=f"{n:040x}",
                        branch="main",
                    )  # fmt: skip
        db.dispose()
        runner = CliRunner()
        connect = ["--url", server.url, "--token", token]

        listed = runner.invoke(_app(), ["images", "ls", "--format", "json", *connect])
        tags = runner.invoke(_app(), ["images", "tags", "acme/app", "--format", "json", *connect])
        table = runner.invoke(_app(), ["images", "tags", "acme/app", *connect])
        kept = runner.invoke(_app(), ["images", "retention", "app", "--keep", "1", *connect])
        preview = runner.invoke(_app(), ["images", "prune", "--project", "app", "--dry-run", *connect])
        tags_after_preview = httpx.get(f"http://{address}/v2/acme/app/tags/list").json()["tags"]
        pruned = runner.invoke(_app(), ["images", "prune", "--format", "json", *connect])
        unknown = runner.invoke(_app(), ["images", "tags", "globex/app", *connect])
        tags_after_prune = httpx.get(f"http://{address}/v2/acme/app/tags/list").json()["tags"]
    finally:
        assert server.stop() == 0

    assert listed.exit_code == 0, listed.output
    assert [r["repository"] for r in json.loads(listed.output)] == ["acme/app"]
    assert [(t["tag"], t["sha"]) for t in json.loads(tags.output)][-1] == ("sha1", f"{1:040x}")
    assert table.exit_code == 0 and "sha2" in table.output and "main" in table.output
    assert kept.output.strip() == "app: keeps the newest 1 images per branch"
    assert preview.output.strip() == "app: would prune acme/app:sha1"
    assert sorted(tags_after_preview) == ["main", "sha1", "sha2"]
    assert pruned.exit_code == 0, pruned.output
    assert [t["tag"] for t in json.loads(pruned.output)[0]["removed"]] == ["sha1"]
    assert sorted(tags_after_prune) == ["main", "sha2"]
    assert unknown.exit_code == 1 and "404: repository not found" in unknown.output
    assert not port_answers("127.0.0.1", int(address.rsplit(":", 1)[1]))  # the registry child stopped too


def _tenant(db: Database, project_id: str) -> str:
    record = get_project(db, project_id, None)
    assert record is not None
    return record.tenant_id
