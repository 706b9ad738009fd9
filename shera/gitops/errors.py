"""Adapters layer (gitops): the errors git operations raise, below shera.errors' tree.

::

    PermanentError
    └── GitError            a git operation failed and retrying will not help (bad repository, disk)
        ├── UnsafeURL       a clone URL was refused before git saw it (scheme, option, helper syntax)
        └── BadRef          a sha or ref name is malformed, ambiguous or unknown after a fetch
    TemporaryError
    └── GitUnavailable      the remote did not answer (network, timeout); the same call may succeed later

Messages are for users: git's stderr trimmed, credentials in URLs redacted (``https://user:***@host``).
"""

from __future__ import annotations

from shera.errors import PermanentError, TemporaryError


class GitError(PermanentError):
    """A git operation failed for a reason a retry will not fix."""


class UnsafeURL(GitError):
    """A repository URL was refused: scheme not allowed, option-like, helper syntax, control chars."""


class BadRef(GitError):
    """A sha or ref name is malformed, ambiguous, or names nothing in the repository."""


class GitUnavailable(TemporaryError):
    """The remote repository could not be reached in time; retrying later may succeed."""
