"""Adapters layer (gitops): the deploy repository — the git record of what should run where.

Layout: ``apps/<app>/<environment>/`` holds one release's files (rendered manifests, one file per object,
and ``release.json``). Each ``commit`` replaces that directory with the given files in one new commit on
``main``; other apps' files are untouched. The embedded default is a bare repository (``data_dir/deploy.git``,
created on first use). With a ``remote`` (an operator's URL, optionally with a username and a password or
token sent as an HTTP basic-auth header, never in the URL or on disk), the remote's ``main`` is fetched and
fast-forwarded onto before each commit and the new commit is pushed; a failed push does not undo the local
commit (it is reported as ``push_error`` and the next push carries it); neither does an unreachable or
diverged remote (reported the same way; a diverged one is never pushed to).

Thread and process safety: every write holds an exclusive ``flock`` on ``deploy.git.lock`` beside the
repository; reads take it shared. Git runs through ``gitcmd.GitRunner`` (hardened environment, GitPython).
"""

from __future__ import annotations

import base64
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shera.gitops.errors import GitError, GitUnavailable
from shera.gitops.gitcmd import GitRunner
from shera.gitops.locks import MirrorLocks
from shera.gitops.urls import SCHEMES, redact, transport_of

BRANCH = "main"
_REF = f"refs/heads/{BRANCH}"
_REMOTE_REF = "refs/remotes/origin/main"
_FETCH_SPEC = "+refs/heads/*:refs/remotes/origin/*"  # a glob: an empty remote is no error
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_FILE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,200}$")
IDENTITY = (("user.name", "She-Ra"), ("user.email", "shera@localhost"))


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    subject: str


@dataclass(frozen=True, slots=True)
class Committed:
    """A new commit; ``push_error`` says why it did not reach the remote (``None``: pushed or no remote)."""

    sha: str
    push_error: str | None = None


def app_dir(app: str, environment: str) -> str:
    """``apps/<app>/<environment>``; both must be slugs (nothing else may reach a path)."""
    for what, value in (("app", app), ("environment", environment)):
        if not _NAME.match(value):
            raise GitError(f"{what} {value!r} is not a valid name for the deploy repository")
    return f"apps/{app}/{environment}"


class DeployRepo:
    """The deploy repository at ``path`` (bare); see the module docstring for layout and guarantees."""

    def __init__(
        self,
        path: Path,
        *,
        remote: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 60.0,
        lock_timeout: float = 120.0,
    ) -> None:
        self.path = path
        self.remote = remote
        if remote is not None:
            transport_of(remote, SCHEMES)
        self._auth: tuple[tuple[str, str], ...] = ()
        if password:
            token = base64.b64encode(f"{username or 'shera'}:{password}".encode()).decode()
            self._auth = (("http.extraHeader", f"Authorization: Basic {token}"),)
        home = path.parent / ".deploy-home"
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._git = GitRunner(home, SCHEMES, timeout=timeout)
        self._locks = MirrorLocks(lock_timeout)
        self._lockfile = path.parent / f"{path.name}.lock"

    # -- writes -------------------------------------------------------------------------------------

    def commit(self, app: str, environment: str, files: Mapping[str, bytes], message: str) -> Committed:
        """Make ``apps/<app>/<environment>/`` hold exactly ``files`` (name → content) in one new commit."""
        folder = app_dir(app, environment)
        for name in files:
            if not _FILE.match(name):
                raise GitError(f"file name {name!r} cannot go into the deploy repository")
        with self._locks.exclusive(self._lockfile):
            self._ensure()
            problem = self._pull()
            with self._worktree() as tree:
                target = tree / folder
                target.mkdir(parents=True)
                for name, content in sorted(files.items()):
                    (target / name).write_bytes(content)
                sha = self._commit(tree, folder, message)
            return Committed(sha, problem or self._push())

    def remove(self, app: str, environment: str, message: str) -> Committed:
        """Delete ``apps/<app>/<environment>/`` in one new commit."""
        folder = app_dir(app, environment)
        with self._locks.exclusive(self._lockfile):
            self._ensure()
            problem = self._pull()
            with self._worktree() as tree:
                sha = self._commit(tree, folder, message)
            return Committed(sha, problem or self._push())

    # -- reads --------------------------------------------------------------------------------------

    def head(self) -> str | None:
        """The newest commit of ``main``, or ``None`` before the first commit."""
        if not self._exists():
            return None
        with self._locks.shared(self._lockfile):
            return self._resolve(_REF)

    def files(self, app: str, environment: str, rev: str | None = None) -> dict[str, bytes]:
        """The files of ``apps/<app>/<environment>/`` at ``rev`` (default: ``main``); empty when none."""
        folder = app_dir(app, environment)
        if not self._exists():
            return {}
        with self._locks.shared(self._lockfile):
            commit = self._resolve(rev or _REF)
            if commit is None:
                return {}
            listing = self._run("ls-tree", "-r", "-z", "--name-only", commit, "--", f"{folder}/", what="list")
            out: dict[str, bytes] = {}
            for raw in listing.split(b"\0"):
                if raw:
                    path = raw.decode()
                    out[path.rsplit("/", 1)[-1]] = self._run(
                        "cat-file", "blob", f"{commit}:{path}", what="read"
                    )
            return out

    def log(self, app: str | None = None, environment: str | None = None) -> list[Commit]:
        """Commits of ``main`` (touching the app's directory when given), newest first."""
        if not self._exists():
            return []
        with self._locks.shared(self._lockfile):
            if self._resolve(_REF) is None:
                return []
            args = ["log", "--format=%H%x00%s", _REF]
            if app is not None and environment is not None:
                args += ["--", f"{app_dir(app, environment)}/"]
            text = self._run(*args, what="log").decode()
            return [Commit(*line.split("\0", 1)) for line in text.splitlines() if line]

    def message(self, rev: str) -> str:
        """The full commit message of ``rev``."""
        with self._locks.shared(self._lockfile):
            return self._run("log", "-1", "--format=%B", rev, "--", what="message").decode().strip()

    # -- internals ----------------------------------------------------------------------------------

    def _run(self, *args: str, what: str, network: bool = False, auth: bool = False) -> bytes:
        extra = [*IDENTITY, *(self._auth if auth else ())]
        done = self._git.run(
            ["--git-dir", str(self.path), *args],
            what=f"deploy repository: {what}",
            network=network,
            extra_config=extra,
        )
        return done.stdout

    def _exists(self) -> bool:
        return (self.path / "HEAD").is_file()

    def _ensure(self) -> None:
        if self._exists():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._git.run(["init", "--bare", "--quiet", str(self.path)], what="deploy repository: create")
        self._run("symbolic-ref", "HEAD", _REF, what="create")

    def _resolve(self, rev: str) -> str | None:
        done = self._git.run(
            ["--git-dir", str(self.path), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
            what="deploy repository: resolve",
            allow_failure=True,
        )
        if done.status != 0:
            return None
        return done.stdout.decode().strip() or None

    @contextmanager
    def _worktree(self) -> Iterator[Path]:
        tree = Path(tempfile.mkdtemp(prefix="worktree-", dir=self.path.parent))
        try:
            yield tree
        finally:
            shutil.rmtree(tree, ignore_errors=True)

    def _commit(self, tree: Path, folder: str, message: str) -> str:
        base = ["--work-tree", str(tree)]
        parent = self._resolve(_REF)
        if parent is not None:
            self._run("read-tree", parent, what="prepare")
        else:
            self._run("read-tree", "--empty", what="prepare")
        self._run(*base, "add", "--all", "--", folder, what="stage")
        new_tree = self._run("write-tree", what="write").decode().strip()
        args = ["commit-tree", new_tree, "-m", message]
        if parent is not None:
            args += ["-p", parent]
        sha = self._run(*args, what="commit").decode().strip()
        self._run("update-ref", _REF, sha, *([parent] if parent else []), what="update main")
        return sha

    def _pull(self) -> str | None:
        """Fast-forward ``main`` to the remote's when the remote is ahead. Returns why the remote could not
        be used (unreachable, or diverged: then nothing is pushed until an operator reconciles it)."""
        if self.remote is None:
            return None
        try:
            self._run("fetch", "--quiet", self.remote, _FETCH_SPEC, what="fetch", network=True, auth=True)
        except (GitError, GitUnavailable) as exc:
            return str(exc)
        theirs, ours = self._resolve(_REMOTE_REF), self._resolve(_REF)
        if theirs is None or theirs == ours:
            return None
        if ours is None or self._is_ancestor(ours, theirs):
            self._run("update-ref", _REF, theirs, what="fast-forward")
        elif not self._is_ancestor(theirs, ours):
            return f"deploy repository: main has diverged from {redact(self.remote)}; reconcile it by hand"
        return None

    def _is_ancestor(self, older: str, newer: str) -> bool:
        done = self._git.run(
            ["--git-dir", str(self.path), "merge-base", "--is-ancestor", older, newer],
            what="deploy repository: ancestry",
            allow_failure=True,
        )
        return done.status == 0

    def _push(self) -> str | None:
        if self.remote is None:
            return None
        try:
            self._run("push", "--quiet", self.remote, f"{_REF}:{_REF}", what="push", network=True, auth=True)
        except (GitError, GitUnavailable) as exc:  # the commit stays local; the next push carries it
            return str(exc)
        return None
