"""Test suite root: shared fixtures come from ``tests/support`` plugins."""

pytest_plugins = [
    "tests.support.corpus",
    "tests.support.database",
    "tests.support.podman",
    "tests.support.server",
    "tests.support.registry",
    "tests.support.imagebuild",
    "tests.support.baseimages",
    "tests.support.balancers",
]
