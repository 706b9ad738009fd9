"""``uses: debug``: the with: model."""

from __future__ import annotations

from shera.steps.debug import DebugWith
from tests.steps.support import one_error


def test_defaults_and_durations() -> None:
    debug = DebugWith.model_validate({"app": "web"})
    assert (debug.shell, debug.ttl, debug.save_as, debug.web_terminal) == ("/bin/sh", 3600.0, None, True)
    assert DebugWith.model_validate({"app": "web", "ttl": "30m"}).ttl == 1800.0


def test_save_as_is_an_image_reference() -> None:
    debug = DebugWith.model_validate(
        {"app": "web", "save_as": "registry:5000/team/web:debug-${CI_PIPELINE_NUMBER}"}
    )
    assert debug.save_as == "registry:5000/team/web:debug-${CI_PIPELINE_NUMBER}"
    loc, _, message = one_error(DebugWith, {"app": "web", "save_as": "Web:-bad"})
    assert loc == ("save_as",) and "'Web:-bad'" in message


def test_shell_must_be_absolute() -> None:
    assert one_error(DebugWith, {"app": "web", "shell": "bash"})[0] == ("shell",)
