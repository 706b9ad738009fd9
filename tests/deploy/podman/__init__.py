"""Tests of the podman deploy target."""
