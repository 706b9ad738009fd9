"""Adapters layer: building, tagging and pushing container images with buildah (``uses: build``)."""
