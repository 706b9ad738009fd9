"""Test support: where the third-party corpus and the repository root are."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"


def need_corpus() -> Path:
    """The corpus folder; fails under CI and skips elsewhere when it is absent."""
    import os

    if not CORPUS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"the shared corpus is missing at {CORPUS}")
        pytest.skip("the shared corpus is not beside this checkout")
    return CORPUS


@pytest.fixture
def corpus() -> Path:
    return need_corpus()
