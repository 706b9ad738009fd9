"""Adapters layer (gitops): bare mirrors of remote repositories, and checkouts of exact commits from them.

One mirror per clone URL under ``root`` (``<sha256(url)[:40]>.git``; the URL with its credentials
is hashed, so two URLs with different tokens never share objects). A mirror holds exactly the
remote's ``refs/heads/*`` and ``refs/tags/*`` (``fetch --prune``), plus commits fetched by sha (a pull
request's head that no branch contains). Nothing of the URL is stored in it (no remote, no
``FETCH_HEAD``), so tokens never land on disk.

Every git command runs hardened (``gitcmd``): URLs are checked (``urls``), shas and ref names too
(``refs``), before git sees them; no hook runs; no submodule is fetched unless a checkout asks.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
import uuid
from pathlib import Path

from shera.errors import ConfigError
from shera.gitops.errors import BadRef, GitError
from shera.gitops.gitcmd import DEFAULT_SSH_COMMAND, GitRunner
from shera.gitops.localrepo import add_origin, is_full_sha, mirrored_refs, stored
from shera.gitops.locks import MirrorLocks
from shera.gitops.refs import SHA, check_ref_name, check_sha, is_zero_sha
from shera.gitops.urls import SCHEMES, redact, strip_credentials, transport_of

_MIRRORED = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
_FETCH = ("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules")
_CLONE = ("clone", "--no-checkout", "--no-hardlinks", "--quiet", "--template=")
_DIFF = ("diff-tree", "-r", "--name-only", "-z", "--no-renames")
_VERIFY = ("rev-parse", "--verify", "--quiet")
_FULL_SHA_LENGTHS = (40, 64)


class Mirrors:
    """Bare mirrors under ``root`` for URLs of the ``allowed_schemes`` (a subset of ``urls.SCHEMES``).

    Thread- and process-safe: fetches of one mirror are serialised by a per-mirror file lock (and a
    thread lock), and a fetch that began after a caller asked is reused instead of repeated, so a
    burst of callers costs one or two fetches. Readers take the file lock shared. Each git command
    is killed after ``timeout`` seconds (``GitUnavailable``); waiting for a lock longer than
    ``lock_timeout`` (default ``timeout`` + 60 s) is ``GitUnavailable`` too.

    Errors: ``UnsafeURL`` (URL refused, nothing run), ``BadRef`` (malformed or unknown sha/ref),
    ``GitUnavailable`` (remote unreachable, timeouts; retry later), ``GitError`` (anything else).
    """

    def __init__(
        self,
        root: Path,
        allowed_schemes: frozenset[str],
        *,
        timeout: float = 600.0,
        lock_timeout: float | None = None,
        ssh_command: str = DEFAULT_SSH_COMMAND,
    ) -> None:
        unknown = sorted(allowed_schemes - SCHEMES)
        if unknown:
            raise ConfigError(f"unknown git schemes {unknown}; known: {', '.join(sorted(SCHEMES))}")
        self._root = Path(os.path.abspath(root))
        home = self._root / ".home"
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._allowed = frozenset(allowed_schemes)
        self._git = GitRunner(home, self._allowed, timeout=timeout, ssh_command=ssh_command)
        self._locks = MirrorLocks(timeout + 60.0 if lock_timeout is None else lock_timeout)
        self._guard = threading.Lock()
        self._fetched: dict[Path, float] = {}
        self._skeleton: Path | None = None

    def path_of(self, url: str) -> Path:
        """Where the mirror of ``url`` lives (it may not exist yet); ``UnsafeURL`` for a refused URL."""
        transport_of(url, self._allowed)
        name = hashlib.sha256(url.encode("utf-8", "surrogateescape")).hexdigest()[:40]
        return self._root / f"{name}.git"

    def fetch(self, url: str) -> Path:
        """Create or update the mirror of ``url`` (heads and tags, pruned) and return its path."""
        return self._fetch(url, asked=time.monotonic())

    def checkout(self, url: str, sha: str, dest: Path, *, submodules: bool = False) -> None:
        """Make ``dest`` a work tree of exactly commit ``sha`` (detached HEAD, ``.git`` included).

        ``dest`` must be absent or an empty directory; on failure it is left empty (or absent).
        The mirror is fetched first when it lacks ``sha``. The objects are copied, never
        hard-linked, so nothing a step does in ``dest`` reaches the mirror; ``origin`` is ``url``
        without credentials. Submodules are checked out only when ``submodules`` is true, fetched
        straight from their URLs with the same allowed schemes.
        """
        transport_of(url, self._allowed)
        sha = check_sha(sha)
        dest = Path(os.path.abspath(dest))
        created = self._prepare(dest)
        try:
            # A full sha the mirror already stores (loose or in a pack index) is checked out straight
            # away, without a look-up process first; should the checkout fail (not a commit), the usual
            # path below looks it up, fetches, or refuses it.
            if is_full_sha(sha.lower()) and stored(self.path_of(url), sha.lower()):
                try:
                    self._copy(url, sha.lower(), dest)
                except GitError:
                    _clear(dest, remove=False)
                else:
                    self._submodules(url, sha, dest, submodules)
                    return
            full = self._commit(url, sha, fetched=False)
            self._copy(url, full, dest)
            self._submodules(url, full, dest, submodules)
        except BaseException:
            _clear(dest, remove=created)
            raise

    def resolve(self, url: str, ref_or_branch: str) -> str:
        """The full commit sha of a branch, a tag (peeled) or a sha prefix, after a fetch.

        Names are looked up as ``refs/heads/<name>``, then ``refs/tags/<name>``, then (hex only)
        as a commit prefix; ``refs/heads/...`` and ``refs/tags/...`` are taken as they are. A hex
        value already in the mirror resolves without fetching. Unknown or ambiguous → ``BadRef``.
        """
        transport_of(url, self._allowed)
        ref = check_ref_name(ref_or_branch)
        mirror = self.path_of(url)
        if SHA.match(ref) and _exists(mirror):
            found = self._by_name(mirror, ref) or self._lookup(mirror, ref)
            if found:
                return found
        self._fetch(url, asked=time.monotonic())
        found = self._by_name(mirror, ref)
        if found:
            return found
        if SHA.match(ref):
            return self._commit(url, ref, fetched=True)
        raise BadRef(f"no branch or tag {ref!r} in {redact(url)}")

    def changed_files(self, url: str, before: str, after: str) -> list[str] | None:
        """Paths that differ between commits ``before`` and ``after`` (added, changed, deleted; a
        rename lists both names), or ``None`` when ``before`` is empty, all zeros, or not in the
        repository even after a fetch (a new branch, a force push). ``after`` must exist (``BadRef``).
        """
        transport_of(url, self._allowed)
        if not before or is_zero_sha(before):
            return None
        check_sha(before)
        newer = self._commit(url, check_sha(after), fetched=False)
        mirror = self.path_of(url)
        older = self._lookup(mirror, before)
        if older is None:
            self._fetch(url, asked=time.monotonic())
            older = self._lookup(mirror, before)
            if older is None:
                return None
        if older == newer:
            return []
        with self._locks.shared(_lockfile(mirror)):
            done = self._git.run(
                ["--git-dir", str(mirror), *_DIFF, "--end-of-options", older, newer, "--"],
                what=f"changed files {older[:12]}..{newer[:12]}",
            )
        names = done.stdout.decode("utf-8", "surrogateescape").split("\0")
        return [name for name in names if name]

    # -- internals -------------------------------------------------------------------------------

    def _copy(self, url: str, full: str, dest: Path) -> None:
        """Make the empty ``dest`` a clone of the mirror checked out at ``full`` (detached).

        What ``git clone --no-checkout`` of the mirror would give, in one git process instead of five
        (clone runs ``sh`` and ``upload-pack`` for a local path): the files of the empty repository
        ``git init`` made once (``_empty_repository``: ``HEAD``, ``config``) are copied into ``.git``
        beside an empty ``refs``; git creates the other empty directories itself when it needs them
        (on ext4 a new directory costs ten times a small file). Then the mirror's objects are copied
        (never linked) and its heads and tags written as ``refs/remotes/origin/*`` and ``refs/tags/*``
        under the mirror's shared lock, ``origin`` set to ``url`` without credentials, then
        ``git checkout``.
        ``GitError`` when ``full`` is not a commit of the mirror.
        """
        mirror = self.path_of(url)
        git_dir = dest / ".git"
        try:
            empty = self._empty_repository()
            (git_dir / "refs").mkdir(parents=True)
            for name in ("HEAD", "config"):
                shutil.copyfile(empty / name, git_dir / name)
        except OSError as exc:
            raise GitError(f"creating a work tree in {dest}: {exc}") from exc
        with self._locks.shared(_lockfile(mirror)):
            try:
                refs = mirrored_refs(mirror)
                shutil.copytree(mirror / "objects", git_dir / "objects", symlinks=True, dirs_exist_ok=True)
            except (OSError, ValueError) as exc:
                raise GitError(f"copying the mirror of {redact(url)}: {exc}") from exc
        lines = [
            f"{sha} refs/remotes/origin/{name[len('refs/heads/') :]}\n"
            for name, sha in refs
            if name.startswith("refs/heads/")
        ]
        lines += [f"{sha} {name}\n" for name, sha in refs if name.startswith("refs/tags/")]
        (git_dir / "packed-refs").write_text("".join(lines), "utf-8", "surrogateescape")
        origin = strip_credentials(url)
        work = ["--git-dir", str(git_dir), "--work-tree", str(dest)]
        if not add_origin(git_dir / "config", origin):
            self._git.run([*work, "config", "remote.origin.url", origin], what="setting origin")
            self._git.run(
                [*work, "config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*"],
                what="setting origin",
            )
        self._git.run(
            [*work, "checkout", "--detach", "--force", "--quiet", full, "--"], what=f"checkout {full}"
        )

    def _empty_repository(self) -> Path:
        """The ``.git`` of an empty work tree as ``git init --template=`` makes it, made once per process
        (it holds no path, so copying it is the same as running ``git init`` in the destination)."""
        with self._guard:
            if self._skeleton is not None and (self._skeleton / "HEAD").is_file():
                return self._skeleton
            scratch = self._root / f".empty.{os.getpid()}.{uuid.uuid4().hex[:8]}"
            for stale in self._root.glob(".empty.*"):
                if not _process_alive(stale.name.split(".")[2]):
                    shutil.rmtree(stale, ignore_errors=True)
            self._git.run(
                ["init", "--quiet", "--template=", "--end-of-options", str(scratch)],
                what="creating an empty repository",
            )
            self._skeleton = scratch / ".git"
            return self._skeleton

    def _submodules(self, url: str, full: str, dest: Path, wanted: bool) -> None:
        if wanted:
            self._git.run(
                ["-C", str(dest), "submodule", "update", "--init", "--recursive", "--quiet"],
                what=f"submodules of {redact(url)} at {full}",
                network=True,
            )

    def _fetch(self, url: str, *, asked: float) -> Path:
        mirror = self.path_of(url)
        with self._locks.exclusive(_lockfile(mirror)):
            with self._guard:
                last = self._fetched.get(mirror)
            if last is not None and last >= asked and _exists(mirror):
                return mirror
            started = time.monotonic()
            if not _exists(mirror):
                self._create(mirror)
            self._git.run(
                ["--git-dir", str(mirror), *_FETCH, "--prune", "--end-of-options", url, *_MIRRORED],
                what=f"fetching {redact(url)}",
                network=True,
            )
            with self._guard:
                self._fetched[mirror] = started
        return mirror

    def _create(self, mirror: Path) -> None:
        """A new empty bare repository at ``mirror``, appearing atomically (caller holds the lock)."""
        for stale in self._root.glob(f".{mirror.name}.*"):
            shutil.rmtree(stale, ignore_errors=True)
        if mirror.exists():
            shutil.rmtree(mirror)
        scratch = self._root / f".{mirror.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        try:
            self._git.run(
                ["init", "--bare", "--quiet", "--template=", "--end-of-options", str(scratch)],
                what="creating a mirror",
            )
            scratch.rename(mirror)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _lookup(self, mirror: Path, sha_or_ref: str) -> str | None:
        """The commit ``sha_or_ref`` names in ``mirror`` (full sha), ``None`` if none; ambiguous → BadRef."""
        if not _exists(mirror):
            return None
        done = self._git.run(
            ["--git-dir", str(mirror), *_VERIFY, "--end-of-options", f"{sha_or_ref}^{{commit}}"],
            what=f"looking up {sha_or_ref}",
            allow_failure=True,
        )
        if done.status == 0:
            return done.stdout.decode("ascii").strip()
        if "ambiguous" in done.stderr:
            raise BadRef(f"sha prefix {sha_or_ref!r} is ambiguous: give more digits")
        return None

    def _by_name(self, mirror: Path, ref: str) -> str | None:
        if ref.startswith("refs/"):
            mirrored = ref.startswith(("refs/heads/", "refs/tags/"))
            return self._lookup(mirror, ref) if mirrored else None
        return self._lookup(mirror, f"refs/heads/{ref}") or self._lookup(mirror, f"refs/tags/{ref}")

    def _commit(self, url: str, sha: str, *, fetched: bool) -> str:
        """The full sha of commit ``sha``, fetching heads/tags, then the sha itself, when it is unknown."""
        mirror = self.path_of(url)
        found = self._lookup(mirror, sha)
        if found is None and not fetched:
            self._fetch(url, asked=time.monotonic())
            found = self._lookup(mirror, sha)
        if found is None and len(sha) in _FULL_SHA_LENGTHS:
            with self._locks.exclusive(_lockfile(mirror)):
                self._git.run(
                    ["--git-dir", str(mirror), *_FETCH, "--end-of-options", url, sha],
                    what=f"fetching {sha} from {redact(url)}",
                    network=True,
                    allow_failure=True,
                )
            found = self._lookup(mirror, sha)
        if found is None:
            raise BadRef(f"commit {sha} not found in {redact(url)}")
        return found

    def _prepare(self, dest: Path) -> bool:
        """Check ``dest`` is absent or an empty directory; True when it had to be created."""
        if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
            raise GitError(f"checkout destination {dest} exists and is not a directory")
        if dest.exists():
            if any(dest.iterdir()):
                raise GitError(f"checkout destination {dest} is not empty")
            return False
        dest.mkdir(parents=True)
        return True


def _process_alive(pid: str) -> bool:
    """Whether process ``pid`` (a decimal string) exists; a malformed one counts as alive (kept)."""
    if not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _lockfile(mirror: Path) -> Path:
    return mirror.with_suffix(".lock")


def _exists(mirror: Path) -> bool:
    return (mirror / "HEAD").is_file()


def _clear(dest: Path, *, remove: bool) -> None:
    """Empty ``dest`` (or remove it when ``remove``) after a failed checkout."""
    if remove:
        shutil.rmtree(dest, ignore_errors=True)
        return
    for child in dest.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
