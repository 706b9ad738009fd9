"""``uses: expose``: every value that reaches a balancer config is held to a strict grammar."""

from __future__ import annotations

import pytest

from shera.steps.expose import ExposeWith, TlsFiles
from tests.steps.support import one_error

HOSTILE = "a;}location/x{return 200 pwned;}#"


def test_defaults() -> None:
    expose = ExposeWith.model_validate({"app": "web"})
    assert (expose.zone, expose.host, expose.path, expose.port, expose.tls) == (
        "public",
        None,
        "/",
        None,
        False,
    )


def test_a_full_exposure() -> None:
    expose = ExposeWith.model_validate(
        {
            "app": "web",
            "environment": "production",
            "zone": "internal",
            "host": "web.team.example.org",
            "path": "/api/v1",
            "port": 8080,
            "tls": {"cert": "/etc/shera/tls/web.crt", "key": "/etc/shera/tls/web.key"},
        }
    )
    assert expose.tls == TlsFiles(cert="/etc/shera/tls/web.crt", key="/etc/shera/tls/web.key")


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({"app": HOSTILE}, ("app",)),
        ({"app": "web", "host": HOSTILE}, ("host",)),
        ({"app": "web", "path": "/x;}location/y{"}, ("path",)),
        ({"app": "web", "path": "api"}, ("path",)),
        ({"app": "web", "path": "/a/../b"}, ("path",)),
        ({"app": "web", "zone": "dmz"}, ("zone",)),
        ({"app": "web", "port": 0}, ("port",)),
        ({"app": "web", "port": 65536}, ("port",)),
        ({"app": "web", "port": "80"}, ("port",)),
    ],
)
def test_hostile_or_malformed_values_are_rejected_at_their_key(
    data: dict[str, object], loc: tuple[str]
) -> None:
    assert one_error(ExposeWith, data)[0] == loc


def test_a_path_without_leading_slash_says_so() -> None:
    assert "must start with '/'" in one_error(ExposeWith, {"app": "web", "path": "api"})[2]


def test_tls_files_must_be_safe_absolute_paths() -> None:
    loc, _, _ = one_error(ExposeWith, {"app": "web", "tls": {"cert": "certs/web.crt", "key": "/k"}})
    assert loc[0] == "tls"
