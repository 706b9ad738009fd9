"""``uses: approve``: the with: model."""

from __future__ import annotations

from shera.steps.approve import ApproveWith
from tests.steps.support import errors_of


def test_an_empty_with_is_a_valid_approval_gate() -> None:
    approve = ApproveWith.model_validate({})
    assert approve.timeout == 86400.0 and approve.on_timeout == "decline" and approve.approvers == []


def test_approvers_roles_and_timeout() -> None:
    approve = ApproveWith.model_validate(
        {"message": "Deploy to production?", "approvers": ["alice"], "roles": ["maintainer"], "timeout": "2h"}
    )
    assert approve.timeout == 7200.0 and approve.roles == ["maintainer"]


def test_unknown_role_and_blank_approver_are_located() -> None:
    errors = errors_of(ApproveWith, {"approvers": ["alice", " "], "roles": ["owner"], "timeout": 0})
    assert {loc for loc, _, _ in errors} == {("approvers", 1), ("roles", 0), ("timeout",)}
