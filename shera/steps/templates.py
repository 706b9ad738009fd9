"""Steps layer: the template catalog — app repository templates to list, read and scaffold from.

A template is a folder ``<root>/<name>/`` holding a ``Containerfile``, a ``.shera.yml`` and a ``README.md``
(whose first paragraph after the title is the template's description), plus the app source it builds.
The catalog only reads its root; ``scaffold`` is the one writer, and it writes only inside the destination.

Contracts:

- Names match ``[a-z0-9][a-z0-9-]*``; any other name is unknown (so a name is never a path).
- ``files`` are the template's regular files as sorted POSIX paths relative to its folder; symlinks and
  build leftovers (``__pycache__``, ``node_modules``, ``target``, ``*.pyc``) are never listed or copied.
- ``scaffold`` refuses a destination that is not empty (a lone ``.git`` counts as empty, so ``git init``
  first is fine) unless ``force``; with ``force`` it overwrites the template's files and leaves every other
  file alone, but still refuses to write through a symlink or over a directory. It checks everything before
  writing anything.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from shera.errors import PermanentError

REQUIRED_FILES = ("Containerfile", ".shera.yml", "README.md")
NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "target", ".git"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo")
_IGNORED_IN_DEST = frozenset({".git"})


class UnknownTemplate(PermanentError):
    """No template has this name; the message lists the available ones."""


class ScaffoldRefused(PermanentError):
    """The destination cannot receive the template (not empty without force, a symlink, a file)."""


@dataclass(frozen=True, slots=True)
class Template:
    """One template: its ``name``, a one-line ``description``, its folder and its ``files``."""

    name: str
    description: str
    path: Path
    files: tuple[str, ...]


def default_root() -> Path:
    """``pipelines/templates`` of the source tree She-Ra runs from (a checkout or an editable install)."""
    return Path(__file__).resolve().parents[2] / "pipelines" / "templates"


def describe(readme: str) -> str:
    """The first paragraph after the ``# title`` of a README, as one line ("" when there is none)."""
    lines: list[str] = []
    for raw in readme.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            if lines:
                break
            continue
        if not line:
            if lines:
                break
            continue
        lines.append(line)
    return " ".join(lines)


def template_files(folder: Path) -> tuple[str, ...]:
    """The regular files under ``folder`` (see the module contract), sorted."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        dirnames[:] = [d for d in dirnames if d not in _SKIPPED_DIRS and not (base / d).is_symlink()]
        for filename in filenames:
            path = base / filename
            if path.is_symlink() or not path.is_file() or filename.endswith(_SKIPPED_SUFFIXES):
                continue
            found.append(path.relative_to(folder).as_posix())
    return tuple(sorted(found))


class TemplateCatalog:
    """The templates under ``root`` (``default_root()`` unless given); read on each call, never cached."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_root()

    def names(self) -> list[str]:
        """Names of the folders under the root that hold every required file, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.root.iterdir()
            if NAME.match(entry.name)
            and entry.is_dir()
            and not entry.is_symlink()
            and all((entry / required).is_file() for required in REQUIRED_FILES)
        )

    def templates(self) -> list[Template]:
        """Every template, sorted by name."""
        return [self.get(name) for name in self.names()]

    def get(self, name: str) -> Template:
        """The template called ``name``; ``UnknownTemplate`` otherwise."""
        if name not in self.names():
            available = ", ".join(self.names()) or "none"
            raise UnknownTemplate(f"unknown template {name!r} (available: {available})")
        folder = self.root / name
        return Template(
            name=name,
            description=describe((folder / "README.md").read_text(encoding="utf-8")),
            path=folder,
            files=template_files(folder),
        )

    def read(self, name: str, file: str) -> bytes:
        """The content of one of the template's ``files``; ``UnknownTemplate`` for any other path."""
        template = self.get(name)
        if file not in template.files:
            raise UnknownTemplate(f"template {name!r} has no file {file!r}")
        return (template.path / file).read_bytes()

    def scaffold(self, name: str, dest: Path, *, force: bool = False) -> list[str]:
        """Copy template ``name`` into ``dest`` (created when missing); returns the files written.

        Raises ``UnknownTemplate`` or ``ScaffoldRefused`` (see the module contract) before writing.
        """
        template = self.get(name)
        _check_destination(dest, template.files, force=force)
        for file in template.files:
            target = dest.joinpath(*PurePosixPath(file).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                target.unlink()
            shutil.copyfile(template.path / file, target)
            shutil.copymode(template.path / file, target)
        return list(template.files)


def _check_destination(dest: Path, files: tuple[str, ...], *, force: bool) -> None:
    if dest.is_symlink():
        raise ScaffoldRefused(f"{dest} is a symlink; give the real directory")
    if dest.exists() and not dest.is_dir():
        raise ScaffoldRefused(f"{dest} exists and is not a directory")
    if not dest.exists():
        return
    present = sorted(entry.name for entry in dest.iterdir() if entry.name not in _IGNORED_IN_DEST)
    if present and not force:
        shown = ", ".join(present[:5]) + (", ..." if len(present) > 5 else "")
        raise ScaffoldRefused(
            f"{dest} is not empty ({shown}); use --force to write the template's files into it "
            "(files with the same names are overwritten, others are kept)"
        )
    for file in files:
        parts = PurePosixPath(file).parts
        for depth in range(1, len(parts) + 1):
            path = dest.joinpath(*parts[:depth])
            last = depth == len(parts)
            if path.is_symlink():
                raise ScaffoldRefused(f"{path} is a symlink; not writing through it")
            if path.exists() and (path.is_dir() if last else not path.is_dir()):
                kind = "a directory" if last else "not a directory"
                raise ScaffoldRefused(f"{path} is {kind}; the template needs it to be a file there")
