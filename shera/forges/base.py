"""Forges layer: the protocol every forge adapter implements, the normalized ``Hook`` it returns, its errors.

Call order for one webhook delivery (the API route guarantees it)::

    forge = load_forges()[name]               # cheap objects, safe to share between threads
    forge.verify(headers, raw_body, secret)   # False -> 401, nothing parsed, nothing stored
    hook = forge.parse(headers, raw_body)     # BadPayload -> 400; "ignored" and "ping" -> 2xx, no run
    ...                                       # runs.create.create_from_hook(db, project, name, hook)
    forge.report_status(target, state, description, url)   # later, from the worker, any number of times

Contracts:
- ``verify`` works on the exact bytes received, before anything is parsed, and compares in constant time.
  An empty secret or a missing signature header never verifies. It never raises.
- ``parse`` is pure (no I/O). It returns ``kind="event"`` with a filled ``Event``, ``kind="ping"`` for the
  forge's hook test, or ``kind="ignored"`` with a ``reason`` (branch deletion, unsupported event or action).
  It raises ``BadPayload`` only for a body that is not the JSON object the event header announces.
- ``delivery_id`` is the forge's delivery header, or the SHA-256 of the body when the forge sent none, so a
  retried delivery always has the same id.
- ``report_status`` is idempotent (the forge keeps the latest state per context) and may be retried on
  ``TemporaryError``. It raises ``TemporaryError`` (connection failure, timeout, 5xx, 429) or
  ``PermanentError`` (other 4xx, bad target); no HTTP library exception escapes this package.
- ``sign`` returns the headers the real forge would send with ``body`` (used by ``shera webhook replay``
  and tests); ``guess_event`` names the event header value a recorded payload was sent with.
- Headers are matched case-insensitively whatever mapping the caller passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from shera.errors import PermanentError, TemporaryError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from shera.model.event import Event
    from shera.plugins import Registry

FORGES = "shera.forges"
"""Entry-point group of forge adapters (built-ins are registered there too)."""

HookKind = Literal["event", "ping", "ignored"]


class BadPayload(PermanentError):
    """The body is not the payload the event header announces (not JSON, a required field missing)."""


class ForgeUnavailable(TemporaryError):
    """The forge API did not answer, timed out, or answered 5xx/429; the same call may succeed later."""


class StatusRejected(PermanentError):
    """The forge API refused the commit status (4xx: bad token, unknown repository or sha)."""


@dataclass(frozen=True, slots=True)
class Hook:
    """What a webhook delivery means to She-Ra. ``event`` is set exactly when ``kind == "event"``."""

    kind: HookKind
    delivery_id: str
    event: Event | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class StatusTarget:
    """Where a commit status goes.

    ``api_url`` is the base of the forge's REST API including its version prefix (``https://api.github.com``,
    ``https://gitlab.example/api/v4``, ``https://gitea.example/api/v1``); ``repo`` is ``owner/name`` (GitLab:
    the full project path, nested groups allowed); ``context`` names the check on the forge.
    """

    api_url: str
    token: str
    repo: str
    sha: str
    context: str = "shera"


@runtime_checkable
class Forge(Protocol):
    """One forge's webhook dialect and commit-status API (see the module docstring for the contracts)."""

    name: str

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool: ...

    def parse(self, headers: Mapping[str, str], body: bytes) -> Hook: ...

    def report_status(self, target: StatusTarget, state: str, description: str, url: str) -> None: ...

    def sign(self, body: bytes, secret: str, *, event: str, delivery: str) -> dict[str, str]: ...

    def guess_event(self, body: bytes) -> str: ...


def load_forges(registry: Registry | None = None) -> dict[str, Forge]:
    """Every forge of the ``shera.forges`` group, instantiated, by name.

    Entry points name classes (instantiated with no arguments); objects registered by hand are used as
    they are. A plugin that cannot be loaded raises ``ConfigError`` naming it.
    """
    from shera.plugins import Registry

    registry = registry or Registry.from_entry_points((FORGES,))
    forges: dict[str, Forge] = {}
    for name in registry.names(FORGES):
        obj = registry.get(FORGES, name)
        forges[name] = obj() if isinstance(obj, type) else obj
    return forges
