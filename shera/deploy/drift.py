"""Deploy layer: drift between the recorded manifests (deploy repository) and a target's live objects. Pure.

Live objects carry fields nobody wrote (status, defaults, managed fields), so each live object is compared
only on the fields the recorded one has (recursively for mappings; lists of equal length element-wise).
The result is a list of human-readable lines, empty when in sync.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any


def project(live: Any, recorded: Any) -> Any:
    """``live`` reduced to the shape of ``recorded``."""
    if isinstance(recorded, Mapping) and isinstance(live, Mapping):
        return {key: project(live[key], value) for key, value in recorded.items() if key in live}
    if isinstance(recorded, list) and isinstance(live, list) and len(recorded) == len(live):
        return [project(item, want) for item, want in zip(live, recorded, strict=True)]
    return live


def _lines(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.splitlines()
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def diff_manifests(recorded: Mapping[str, Any], live: Mapping[str, Any] | None) -> list[str]:
    """Lines describing every difference: objects missing live, objects live but not recorded, and a
    unified diff of each object whose recorded fields differ live."""
    live = live or {}
    out: list[str] = []
    for key in sorted(set(recorded) | set(live)):
        if key not in live:
            out.append(f"- {key}: in the deploy repository, not live")
        elif key not in recorded:
            out.append(f"+ {key}: live, not in the deploy repository")
        else:
            seen = project(live[key], recorded[key])
            if seen != recorded[key]:
                out.extend(
                    difflib.unified_diff(
                        _lines(recorded[key]),
                        _lines(seen),
                        fromfile=f"deploy repository: {key}",
                        tofile=f"live: {key}",
                        lineterm="",
                    )
                )
    return out
