"""Benchmarks: a bare git repository filled fast (``git fast-import``) and signed GitHub push webhooks.

``commits`` writes many commits in one ``fast-import`` call (2,000 in well under a second) and returns their
shas, so every webhook of a benchmark names a real commit the worker can check out. ``push_payload`` is a
GitHub push body of the usual size (~6 KB: repository, pusher, sender, one commit), signed by ``signed``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ZERO = "0" * 40
_ENV = {
    "GIT_AUTHOR_NAME": "Adora",
    "GIT_AUTHOR_EMAIL": "adora@example.test",
    "GIT_COMMITTER_NAME": "Adora",
    "GIT_COMMITTER_EMAIL": "adora@example.test",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(repo), *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, **_ENV},
        check=True,
    )
    return done.stdout.decode().strip()


@dataclass(frozen=True)
class Commit:
    branch: str
    sha: str
    parent: str


@dataclass(frozen=True)
class BareRepo:
    path: Path

    @property
    def url(self) -> str:
        return self.path.as_uri()

    def commits(
        self, branches: Sequence[str], files: dict[str, str], *, parent: str | None = None
    ) -> list[Commit]:
        """One new commit per entry of ``branches`` (a branch may repeat: its commits chain), each with
        ``files`` plus a distinct ``.bench/n`` file; the first commit of a branch starts at ``parent``
        (or at the branch's tip when it exists, else at the root)."""
        tips: dict[str, str] = {}
        stream = bytearray()
        for mark, branch in enumerate(branches, start=1):
            stream += f"commit refs/heads/{branch}\nmark :{mark}\n".encode()
            stream += b"committer Adora <adora@example.test> 1700000000 +0000\n"
            stream += _data(f"bench commit {mark}")
            base = tips.get(branch) or parent or self._tip(branch)
            if base:
                stream += f"from {base}\n".encode()
            for name, text in {**files, ".bench/n": str(mark)}.items():
                stream += f"M 100644 inline {name}\n".encode() + _data(text)
            tips[branch] = f":{mark}"
            stream += b"\n"
        with tempfile.NamedTemporaryFile(suffix=".marks") as marks:
            git(self.path, "fast-import", "--quiet", f"--export-marks={marks.name}", stdin=bytes(stream))
            shas = dict(line.split() for line in Path(marks.name).read_text().splitlines())
        result, previous = [], dict[str, str]()
        for mark, branch in enumerate(branches, start=1):
            sha = shas[f":{mark}"]
            result.append(Commit(branch, sha, previous.get(branch, parent or ZERO)))
            previous[branch] = sha
        return result

    def _tip(self, branch: str) -> str | None:
        try:
            return git(self.path, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}") or None
        except subprocess.CalledProcessError:
            return None


def _data(text: str) -> bytes:
    raw = text.encode()
    return f"data {len(raw)}\n".encode() + raw + b"\n"


def make_bare(path: Path) -> BareRepo:
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    return BareRepo(path)


def push_payload(url: str, commit: Commit) -> dict[str, Any]:
    """A GitHub push payload for ``commit`` of the repository at ``url`` (the fields GitHub sends)."""
    api = "https://api.github.com/repos/adora/app"
    owner = {
        "login": "adora",
        "id": 1,
        "type": "User",
        "site_admin": False,
        "url": "https://api.github.com/users/adora",
    }
    repository: dict[str, Any] = {
        "id": 1,
        "name": "app",
        "full_name": "adora/app",
        "private": False,
        "owner": owner,
        "html_url": "https://github.com/adora/app",
        "description": "She-Ra benchmark repository",
        "fork": False,
        "clone_url": url,
        "git_url": "git://github.com/adora/app.git",
        "ssh_url": "git@github.com:adora/app.git",
        "default_branch": "main",
        "master_branch": "main",
        "pushed_at": 1700000000,
        "created_at": 1600000000,
        "size": 100,
        "stargazers_count": 0,
        "language": "Python",
    }
    for name in ("branches", "commits", "contents", "events", "hooks", "issues", "pulls", "releases", "tags"):
        repository[f"{name}_url"] = f"{api}/{name}{{/id}}"
    commit_data = {
        "id": commit.sha,
        "tree_id": hashlib.sha256(commit.sha.encode()).hexdigest()[:40],
        "distinct": True,
        "message": f"bench commit on {commit.branch}",
        "timestamp": "2024-01-01T00:00:00Z",
        "url": f"https://github.com/adora/app/commit/{commit.sha}",
        "author": {"name": "Adora", "email": "adora@example.test", "username": "adora"},
        "committer": {"name": "Adora", "email": "adora@example.test", "username": "adora"},
        "added": [],
        "removed": [],
        "modified": [".bench/n"],
    }
    return {
        "ref": f"refs/heads/{commit.branch}",
        "before": commit.parent,
        "after": commit.sha,
        "created": commit.parent == ZERO,
        "deleted": False,
        "forced": False,
        "base_ref": None,
        "compare": f"https://github.com/adora/app/compare/{commit.parent[:12]}...{commit.sha[:12]}",
        "commits": [commit_data],
        "head_commit": commit_data,
        "repository": repository,
        "pusher": {"name": "adora", "email": "adora@example.test"},
        "sender": owner,
    }


def signed(payload: dict[str, Any], secret: str, delivery: str) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a GitHub push delivery of ``payload``."""
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/bench",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": signature,
    }
    return body, headers
