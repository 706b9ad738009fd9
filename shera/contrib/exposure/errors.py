"""Contrib layer (exposure): the errors of the balancer plugin, placed in She-Ra's one exception tree.

::

    ConfigError (+ ValueError)
    └── InvalidExposure         a site, upstream or zone that may not reach a config (refused on construction)
    BackendUnavailable
    └── BalancerUnavailable     nginx/haproxy is missing, would not start, or did not answer

A refused apply (candidate rejected, reload not verified) is not an exception: ``apply`` reports it as an
``ApplyResult(ok=False)`` and the old config keeps serving.
"""

from __future__ import annotations

from shera.errors import BackendUnavailable, ConfigError


class InvalidExposure(ConfigError, ValueError):
    """A value that may never reach a balancer config; the message names the field and the value."""


class BalancerUnavailable(BackendUnavailable):
    """The balancer process cannot be started, signalled or reached."""
