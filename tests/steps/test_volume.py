"""``uses: volume``: the with: model."""

from __future__ import annotations

from shera.steps.volume import VolumeWith
from tests.steps.support import errors_of


def test_a_volume_is_shared_by_default() -> None:
    volume = VolumeWith.model_validate({"name": "uploads"})
    assert (volume.size, volume.shared, volume.storage_class) == ("1Gi", True, None)


def test_a_full_volume() -> None:
    volume = VolumeWith.model_validate(
        {
            "name": "uploads",
            "size": "10Gi",
            "shared": False,
            "storage_class": "rook-cephfs",
            "app": "web",
            "environment": "production",
        }
    )
    assert volume.storage_class == "rook-cephfs" and not volume.shared


def test_bad_values_are_located() -> None:
    errors = errors_of(
        VolumeWith, {"name": "Uploads", "size": "ten gigs", "storage_class": "Bad Class", "app": "-x"}
    )
    assert {loc for loc, _, _ in errors} == {("name",), ("size",), ("storage_class",), ("app",)}
    assert any("'ten gigs'" in message for _, _, message in errors)
