"""Tests of shera/deploy/podman/ports.py: free loopback ports, distinct, honouring exclusions."""

from __future__ import annotations

import socket

from shera.deploy.podman.ports import allocate, free_port, port_in_use


def test_free_port_can_be_bound_on_loopback() -> None:
    port = free_port()

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_allocate_gives_distinct_ports_outside_the_taken_ones() -> None:
    taken = {free_port() for _ in range(5)}

    mapping = allocate([8080, 9090, 7000], taken)

    assert set(mapping) == {8080, 9090, 7000}
    assert len(set(mapping.values())) == 3
    assert not set(mapping.values()) & taken


def test_port_in_use_recognises_podmans_message() -> None:
    assert port_in_use("Error: rootlessport listen tcp 127.0.0.1:4000: bind: address already in use")
    assert not port_in_use("Error: short-name resolution enforced")
