"""Tests for shera.pipeline.planner_settings: plugin settings to PLUGIN_* variables (Woodpecker's rule)."""

from __future__ import annotations

import json

import pytest

from shera.pipeline.planner_settings import go_float, setting_text, settings_env


def test_keys_values_and_secret_references() -> None:
    env, secrets = settings_env(
        {
            "repo": "org/app",
            "dry-run": False,
            "build.args": {"B": "2", "A": "1"},
            "tags": ["latest", 1, True],
            "empty": [],
            "skipped": None,
            "token": {"from_secret": "registry_token"},
        }
    )
    assert env == {
        "PLUGIN_REPO": "org/app",
        "PLUGIN_DRY_RUN": "false",
        "PLUGIN_BUILD_ARGS": '{"A":"1","B":"2"}',
        "PLUGIN_TAGS": "latest,1,true",
        "PLUGIN_EMPTY": "",
    }
    assert secrets == {"PLUGIN_TOKEN": "registry_token"}


def test_lists_holding_maps_become_json() -> None:
    value = [{"name": "a", "port": 80}, {"name": "b"}]
    assert json.loads(setting_text(value)) == value


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1.1, "1.1"),
        (3.0, "3"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (0.00001, "1e-05"),
        (-2.5, "-2.5"),
    ],
)
def test_floats_print_as_go_does(number: float, text: str) -> None:
    assert go_float(number) == text
