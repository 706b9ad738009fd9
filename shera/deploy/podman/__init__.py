"""Deploy layer: the ``podman`` target — each instance a container on this machine (the embedded default)."""

from shera.deploy.podman.target import PodmanTarget

__all__ = ["PodmanTarget"]
