"""Benchmarks: small helpers shared by the server benchmarks — percentiles, timestamps, verdict lines."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from datetime import datetime

MB = 1024 * 1024


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def epoch(stamp: str | None) -> float:
    """An API timestamp (ISO 8601, ``Z``) as seconds since the epoch; NaN when absent."""
    if not stamp:
        return math.nan
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def show(label: str, figure: str, target: str, ok: bool, floor: str = "") -> bool:
    """Print one figure beside its target (and the floor's figure, when there is one); returns ``ok``."""
    beside = f"; floor {floor}" if floor else ""
    print(f"  {label}: {figure} (target {target}{beside}) {verdict(ok)}")
    return ok


def quiet_disk() -> None:
    """Write back every dirty page now (``sync``), so the writeback of what an earlier phase wrote (images,
    thousands of workspaces) does not stall the file operations of the phase about to be measured."""
    os.sync()
