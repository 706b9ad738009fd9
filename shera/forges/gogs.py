"""Forges layer: Gogs webhooks (``X-Gogs-Signature``); Gitea's payloads with Gogs's differences.

Differences from Gitea (same push and create payloads otherwise):
- a tag run starts from the tag's ``push`` (Gogs's ``create`` payload carries no sha);
- ``pull_request`` payloads carry no head commit sha (only branch names), so they start no run and are
  ignored with that reason; pushes to the branch still run;
- Gogs has no commit status API, so ``report_status`` validates its input and sends nothing.
"""

from __future__ import annotations

from shera.forges.base import Hook, StatusTarget
from shera.forges.gitea import STATES, GiteaFamily
from shera.forges.payload import Json
from shera.forges.status import api_base, checked_sha, forge_state


class Gogs(GiteaFamily):
    """Gogs (0.11 and later: HMAC-SHA256 signatures)."""

    name = "gogs"
    signature_headers = ("X-Gogs-Signature",)
    event_headers = ("X-Gogs-Event",)
    delivery_headers = ("X-Gogs-Delivery",)
    tags_from_create = False

    def report_status(self, target: StatusTarget, state: str, description: str, url: str) -> None:
        """Nothing to send: Gogs has no commit status API. Bad input is still reported."""
        checked_sha(target)
        api_base(target)
        forge_state(STATES, state, "Gogs")

    def _pull_request(self, data: Json, delivery: str) -> Hook:
        action = data.get("action")
        reason = f"Gogs pull request payloads carry no head commit sha (action {action!r}); pushes start runs"
        return Hook("ignored", delivery, reason=reason)
