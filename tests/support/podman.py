"""Test support: an isolated podman environment (being written)."""
