"""Template tests: the base-image fixtures (tests/support/baseimages.py) made visible to this folder."""

from tests.support.baseimages import debian_nginx, debian_python

__all__ = ["debian_nginx", "debian_python"]
