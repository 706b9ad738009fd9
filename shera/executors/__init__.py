"""Adapters that run steps: ``local`` processes, ``podman`` containers, and a ``stub`` for tests."""
