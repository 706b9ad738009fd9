"""The template catalog (shera/steps/templates.py): listing, reading and scaffolding, on a fake root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shera.steps.templates import (
    ScaffoldRefused,
    TemplateCatalog,
    UnknownTemplate,
    default_root,
    describe,
)

README = "# web\n\nA small web app\nserved on port 8000.\n\n## Use it\n\nshera init\n"


def make_template(root: Path, name: str, extra: dict[str, str] | None = None) -> Path:
    folder = root / name
    files = {"Containerfile": "FROM x\n", ".shera.yml": "steps: {}\n", "README.md": README, **(extra or {})}
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return folder


@pytest.fixture
def catalog(tmp_path: Path) -> TemplateCatalog:
    root = tmp_path / "templates"
    folder = make_template(root, "web", {"app/main.py": "print('hi')\n", "run.sh": "#!/bin/sh\n"})
    (folder / "run.sh").chmod(0o755)
    (folder / "app" / "__pycache__").mkdir()
    (folder / "app" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (folder / "link").symlink_to("/etc/passwd")
    make_template(root, "other")
    (root / "incomplete").mkdir()
    (root / "incomplete" / "README.md").write_text("# x\n")
    (root / "Bad_Name").mkdir()
    return TemplateCatalog(root)


def test_lists_complete_templates_with_description_and_files(catalog: TemplateCatalog) -> None:
    assert catalog.names() == ["other", "web"]
    web = catalog.get("web")
    assert web.description == "A small web app served on port 8000."
    # No build leftovers, no symlinks: only what an app repository should start with.
    assert web.files == (".shera.yml", "Containerfile", "README.md", "app/main.py", "run.sh")


def test_unknown_names_are_refused_with_the_available_ones(catalog: TemplateCatalog) -> None:
    for name in ("nope", "../web", "incomplete", "Bad_Name", ""):
        with pytest.raises(UnknownTemplate, match=r"available: other, web"):
            catalog.get(name)


def test_read_returns_a_listed_file_only(catalog: TemplateCatalog) -> None:
    assert catalog.read("web", "app/main.py") == b"print('hi')\n"
    for path in ("link", "../other/README.md", "app/__pycache__/main.cpython-311.pyc"):
        with pytest.raises(UnknownTemplate):
            catalog.read("web", path)


def test_scaffold_copies_files_and_modes_into_a_new_directory(
    catalog: TemplateCatalog, tmp_path: Path
) -> None:
    dest = tmp_path / "new" / "app"
    written = catalog.scaffold("web", dest)
    assert written == list(catalog.get("web").files)
    assert (dest / "app" / "main.py").read_text() == "print('hi')\n"
    assert os.access(dest / "run.sh", os.X_OK)
    assert not (dest / "link").exists() and not (dest / "app" / "__pycache__").exists()


def test_scaffold_accepts_a_directory_holding_only_git(catalog: TemplateCatalog, tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    catalog.scaffold("web", tmp_path / "repo")
    assert (tmp_path / "repo" / ".shera.yml").is_file()


def test_scaffold_refuses_a_non_empty_directory_and_writes_nothing(
    catalog: TemplateCatalog, tmp_path: Path
) -> None:
    dest = tmp_path / "repo"
    dest.mkdir()
    (dest / "Containerfile").write_text("mine\n")
    with pytest.raises(ScaffoldRefused, match=r"is not empty \(Containerfile\); use --force"):
        catalog.scaffold("web", dest)
    assert sorted(p.name for p in dest.iterdir()) == ["Containerfile"]
    assert (dest / "Containerfile").read_text() == "mine\n"


def test_force_overwrites_template_files_and_keeps_the_others(
    catalog: TemplateCatalog, tmp_path: Path
) -> None:
    dest = tmp_path / "repo"
    dest.mkdir()
    (dest / "Containerfile").write_text("mine\n")
    (dest / "notes.txt").write_text("keep\n")
    catalog.scaffold("web", dest, force=True)
    assert (dest / "Containerfile").read_text() == "FROM x\n"
    assert (dest / "notes.txt").read_text() == "keep\n"


def test_force_never_writes_through_a_symlink(catalog: TemplateCatalog, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "repo"
    dest.mkdir()
    (dest / "app").symlink_to(outside)
    with pytest.raises(ScaffoldRefused, match=r"app is a symlink"):
        catalog.scaffold("web", dest, force=True)
    assert list(outside.iterdir()) == []
    assert not (dest / "Containerfile").exists()  # checked before anything was written


def test_a_file_or_symlink_destination_is_refused(catalog: TemplateCatalog, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ScaffoldRefused, match="not a directory"):
        catalog.scaffold("web", tmp_path / "file", force=True)
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    with pytest.raises(ScaffoldRefused, match="is a symlink"):
        catalog.scaffold("web", tmp_path / "alias")


def test_describe_takes_the_first_paragraph_after_the_title() -> None:
    assert describe("# t\n\nOne\ntwo.\n\nThree.\n") == "One two."
    assert describe("No title here.\n# Next\n") == "No title here."
    assert describe("# only a title\n") == ""


def test_the_default_root_holds_the_four_shipped_templates() -> None:
    assert TemplateCatalog(default_root()).names() == ["java-war", "node-web", "python-web", "static-site"]
