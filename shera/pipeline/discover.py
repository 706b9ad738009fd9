"""Pipeline layer: finds the pipeline files of a repository checkout, in She-Ra's lookup order.

Order: ``.shera.yml``, ``.shera/*.yml``, ``.woodpecker/*.y*ml``, ``.woodpecker.y*ml``, ``.drone.yml``; the
first group that has a file wins, files sorted by name within a folder. A file (or folder) whose real path
lies outside the root, such as a symlink to ``/etc``, is refused with a located problem and not read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shera.model.problems import Problem, Severity

_Group = Callable[[Path], list[Path]]


def _single(*names: str) -> _Group:
    return lambda root: [root / name for name in names if (root / name).is_file()]


def _folder(name: str, suffixes: tuple[str, ...]) -> _Group:
    def find(root: Path) -> list[Path]:
        folder = root / name
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.suffix in suffixes and p.is_file())

    return find


LOOKUP: tuple[tuple[str, _Group], ...] = (
    (".shera.yml", _single(".shera.yml")),
    (".shera/*.yml", _folder(".shera", (".yml",))),
    (".woodpecker/*.y*ml", _folder(".woodpecker", (".yml", ".yaml"))),
    (".woodpecker.y*ml", _single(".woodpecker.yml", ".woodpecker.yaml")),
    (".drone.yml", _single(".drone.yml")),
)


@dataclass
class Discovery:
    """The files to read and the problems met while looking (refused symlinks, nothing found)."""

    paths: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def discover(root: Path) -> Discovery:
    """The pipeline files of ``root`` (a directory) in lookup order, plus located problems."""
    found = Discovery()
    real_root = root.resolve()
    for _pattern, group in LOOKUP:
        candidates = group(root)
        if not candidates:
            continue
        for path in candidates:
            problem = outside_root(path, root, real_root)
            if problem is None:
                found.paths.append(path)
            else:
                found.problems.append(problem)
        break
    if not found.paths and not found.problems:
        looked = ", ".join(pattern for pattern, _ in LOOKUP)
        found.problems.append(
            Problem(
                str(root),
                0,
                0,
                Severity.ERROR,
                "no_pipeline",
                f"no pipeline file found (looked for {looked})",
            )
        )
    return found


def find_pipeline_files(root: Path) -> list[Path]:
    """The readable pipeline files of ``root`` in lookup order (refused files are left out)."""
    return discover(root).paths


def outside_root(path: Path, root: Path, real_root: Path | None = None) -> Problem | None:
    """A ``security`` problem when ``path`` resolves outside ``root`` (symlink escape), else ``None``."""
    real_root = real_root or root.resolve()
    try:
        real = path.resolve()
    except (OSError, RuntimeError) as exc:  # symlink loops
        return Problem(_display(path, root), 0, 0, Severity.ERROR, "io", f"cannot resolve path: {exc}")
    if real == real_root or real_root in real.parents:
        return None
    return Problem(
        _display(path, root),
        0,
        0,
        Severity.ERROR,
        "security",
        "refused: the file resolves outside the repository (symlink escape)",
        f"it points to {real}",
    )


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
