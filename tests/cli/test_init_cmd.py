"""``shera init``: scaffolds a template into a directory, refuses to overwrite, lists the templates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from shera.cli import init_cmd
from shera.steps.templates import TemplateCatalog


def cli() -> typer.Typer:
    """A command group holding ``init`` alone (as ``shera.cli.main`` registers it)."""
    app = typer.Typer(add_completion=False)

    @app.callback()
    def _group() -> None:
        """Test group."""

    init_cmd.register(app)
    return app


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli(), ["init", *args])
    return result.exit_code, result.stdout, result.stderr


def test_scaffolds_a_template_and_prints_the_files_and_next_steps(tmp_path: Path) -> None:
    dest = tmp_path / "my-app"
    code, out, _err = invoke("--template", "python-web", str(dest))
    assert code == 0
    files = TemplateCatalog().get("python-web").files
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == list(files)
    assert f"Created python-web app in {dest} ({len(files)} files)." in out
    assert f"  {dest / 'Containerfile'}" in out
    assert "Next steps:" in out and f"cd {dest}" in out and "shera lint ." in out


def test_the_scaffolded_repository_lints_clean(tmp_path: Path) -> None:
    dest = tmp_path / "site"
    assert invoke("-t", "static-site", str(dest))[0] == 0
    lint = subprocess.run(
        [sys.executable, "-m", "shera", "lint", str(dest)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "0 error(s), 0 warning(s)" in lint.stderr


def test_refuses_a_non_empty_directory_and_changes_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "existing"
    dest.mkdir()
    (dest / "README.md").write_text("my own readme\n")
    code, out, err = invoke("--template", "node-web", str(dest))
    assert code == 1
    assert out == ""
    assert f"shera init: {dest} is not empty (README.md); use --force" in err
    assert [p.name for p in dest.iterdir()] == ["README.md"]
    assert (dest / "README.md").read_text() == "my own readme\n"


def test_force_writes_into_a_non_empty_directory(tmp_path: Path) -> None:
    dest = tmp_path / "existing"
    dest.mkdir()
    (dest / "notes.txt").write_text("keep me\n")
    code, _out, _err = invoke("--template", "java-war", "--force", str(dest))
    assert code == 0
    assert (dest / "pom.xml").is_file() and (dest / "notes.txt").read_text() == "keep me\n"


def test_unknown_template_is_a_usage_error_naming_the_available_ones(tmp_path: Path) -> None:
    code, _out, err = invoke("--template", "cobol-web", str(tmp_path / "x"))
    assert code == 2
    assert "unknown template 'cobol-web' (available: java-war, node-web, python-web, static-site)" in err
    assert not (tmp_path / "x").exists()


def test_missing_template_or_directory_is_a_usage_error(tmp_path: Path) -> None:
    assert invoke(str(tmp_path / "x"))[0] == 2
    code, _out, err = invoke("--template", "python-web")
    assert code == 2 and "DIR is required" in err


def test_list_shows_every_template_with_its_description() -> None:
    code, out, _err = invoke("--list")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["java-war", "node-web", "python-web", "static-site"]
    assert any("nginx" in line for line in lines if line.startswith("static-site"))


def test_shera_init_is_a_command_of_the_shera_program(tmp_path: Path) -> None:
    # The real entry point (shera.cli.main registers the command).
    done = subprocess.run(
        [sys.executable, "-m", "shera", "init", "--list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "python-web" in done.stdout
