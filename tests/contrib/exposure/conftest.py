"""Fixtures of the exposure tests: private nginx/haproxy and named upstreams (tests/support/balancers)."""

from tests.support.balancers import haproxy_balancer, nginx_balancer, upstream_servers

__all__ = ["haproxy_balancer", "nginx_balancer", "upstream_servers"]
