"""``shera migrate``: the schema brought up to date (what ``serve`` and ``up`` run in a child at start)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def migrate(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHERA_")}
    return subprocess.run(
        [sys.executable, "-m", "shera", "migrate", *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        check=False,
        timeout=120,
    )


def test_migrate_creates_the_schema_and_is_idempotent(tmp_path: Path) -> None:
    first = migrate("--data-dir", str(tmp_path))
    again = migrate("--data-dir", str(tmp_path))
    assert (first.returncode, again.returncode) == (0, 0), first.stderr + again.stderr
    assert "database schema up to date" in again.stdout
    [database] = tmp_path.glob("*.db")
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        [(version,)] = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    assert {"projects", "runs", "deliveries", "outbox"} <= tables
    assert version


def test_a_database_that_cannot_be_reached_is_a_one_line_error(tmp_path: Path) -> None:
    done = migrate("--data-dir", str(tmp_path), SHERA_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    assert done.returncode == 1
    assert done.stderr.startswith("shera: ") and "Traceback" not in done.stderr
    assert "127.0.0.1:1" in done.stderr
