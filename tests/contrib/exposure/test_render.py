"""The exposure model refuses what may not reach a config; the renderers are pure, deterministic and safe."""

from __future__ import annotations

import dataclasses
import random
import re
from typing import Any

import pytest

from shera.contrib.exposure.errors import InvalidExposure
from shera.contrib.exposure.model import Site, Tls, Upstream, ZoneConfig
from shera.contrib.exposure.render import (
    STATUS_HOST,
    parse_header,
    render_haproxy,
    render_nginx,
)

HOSTILE = "a;}location/x{return 200 pwned;}#"
RENDERERS = [render_nginx, render_haproxy]


def _site(
    app: str = "web", host: str = "web.acme.test", path: str = "/", ports: tuple[int, ...] = (9001,)
) -> Site:
    return Site("acme", app, "prod", host, path, tuple(Upstream("127.0.0.1", p) for p in ports))


def _zone(*sites: Site, listen: str = "127.0.0.1:8080", zone: str = "public") -> ZoneConfig:
    return ZoneConfig(zone, listen, sites)


def _hostile(field: str) -> dict[str, Any]:
    return {field: HOSTILE}


@pytest.mark.parametrize("field", ["tenant", "app", "environment", "host", "path"])
def test_a_hostile_name_is_refused_in_every_field(field: str) -> None:
    with pytest.raises(InvalidExposure, match=rf"^{field}: .*pwned"):
        dataclasses.replace(_site(), **_hostile(field))


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Upstream(HOSTILE, 80), "upstream host"),
        (lambda: Upstream("10.0.0.1;", 80), "upstream host"),
        (lambda: Upstream("127.0.0.1", 0), "upstream port"),
        (lambda: Upstream("127.0.0.1", 70000), "upstream port"),
        (lambda: Tls(f"/etc/{HOSTILE}", "/etc/k.pem"), "tls cert"),
        (lambda: Tls("/etc/c.pem", "/etc/../shadow"), "tls key"),
        (lambda: Tls("relative.pem", "/etc/k.pem"), "tls cert"),
        (lambda: Site("acme", "Web", "prod", "web.acme.test"), "app"),
        (lambda: Site("acme", "web", "prod", "Web.acme.test"), "host"),
        (lambda: Site("acme", "web", "prod", "web.acme.test", "api"), "path"),
        (lambda: Site("acme", "web", "prod", "web.acme.test", zone="dmz"), "zone"),
        (lambda: ZoneConfig("public", "localhost:80"), "listen"),
        (lambda: ZoneConfig("public", f"127.0.0.1:80;{HOSTILE}"), "listen"),
    ],
)
def test_invalid_values_are_refused_with_the_field_named(make: object, field: str) -> None:
    with pytest.raises(InvalidExposure, match=f"^{field}: "):
        make()  # type: ignore[operator]


def test_an_invalid_exposure_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a valid name"):
        Site("acme", HOSTILE, "prod", "web.acme.test")


def test_upstream_addresses_are_canonical_and_ipv6_is_bracketed() -> None:
    assert Upstream("::0:1", 8080).address == "[::1]:8080"
    assert Upstream("node-1.cluster.local", 30080).address == "node-1.cluster.local:30080"


def test_a_zone_refuses_duplicates_foreign_sites_and_tls_without_a_tls_listener() -> None:
    with pytest.raises(InvalidExposure, match="already exposed by acme/web/prod"):
        _zone(_site(), _site(app="other"))
    with pytest.raises(InvalidExposure, match="zone 'internal' in the 'public' config"):
        _zone(dataclasses.replace(_site(), zone="internal"))
    with pytest.raises(InvalidExposure, match="needs the zone's tls_listen"):
        _zone(dataclasses.replace(_site(), tls=Tls("/c.pem", "/c.pem")))
    with pytest.raises(InvalidExposure, match="different TLS files per path"):
        ZoneConfig(
            "public",
            "127.0.0.1:80",
            (dataclasses.replace(_site(), tls=Tls("/c.pem", "/c.pem")), _site(app="api", path="/api")),
            tls_listen="127.0.0.1:443",
        )


@pytest.mark.parametrize("render", RENDERERS)
def test_output_is_deterministic_and_the_version_follows_the_content(render: object) -> None:
    sites = [
        _site(ports=(9002, 9001)),
        _site(app="api", path="/api", ports=(9003,)),
        _site(host="b.acme.test"),
    ]
    shuffled = sites[::-1]
    random.Random(4).shuffle(shuffled)
    first = render(_zone(*sites))  # type: ignore[operator]
    second = render(_zone(*shuffled))  # type: ignore[operator]
    assert first.text == second.text and first.version == second.version
    changed = render(_zone(*sites[:2], _site(host="b.acme.test", ports=(9004,))))  # type: ignore[operator]
    assert changed.version != first.version
    assert re.fullmatch(r"[0-9a-f]{16}", first.version)
    header = parse_header(first.text)
    assert header is not None and (header.version, header.listen) == (first.version, "127.0.0.1:8080")


def test_nginx_has_one_upstream_per_site_virtual_hosts_paths_health_and_the_version_header() -> None:
    rendered = render_nginx(
        _zone(_site(ports=(9002, 9001)), _site(app="api", path="/api", ports=()), _site(host="b.acme.test"))
    )
    text = rendered.text
    assert len(re.findall(r"^    upstream ", text, re.M)) == 2  # the site without instances needs none
    assert "server_name web.acme.test;" in text and "server_name b.acme.test;" in text
    assert "location /api {" in text
    assert text.index("server 127.0.0.1:9001 max_fails=2 fail_timeout=5s;") < text.index("127.0.0.1:9002")
    assert "proxy_next_upstream error timeout http_502 http_503;" in text
    assert text.count(f"add_header X-Shera-Config {rendered.version} always;") == 3  # status + 2 hosts
    assert 'return 503 "api (prod, tenant acme) has no running instance";' in text
    assert f"server_name {STATUS_HOST};" in text


def test_haproxy_has_one_backend_per_site_host_and_path_acls_and_active_checks() -> None:
    rendered = render_haproxy(_zone(_site(ports=(9002, 9001)), _site(app="api", path="/api", ports=())))
    text = rendered.text
    assert len(re.findall(r"^backend acme\.", text, re.M)) == 2
    api = text.index("use_backend acme.api.prod-")
    root = text.index("use_backend acme.web.prod-")
    assert api < root  # the longer path is matched first
    assert "-m str web.acme.test } { path_beg /api }" in text
    assert "option httpchk" in text and "server u1 127.0.0.1:9001 check" in text
    assert f"http-after-response set-header X-Shera-Config {rendered.version}" in text
    assert "string 'api (prod, tenant acme) has no running instance'" in text


def test_tls_sites_get_the_tls_listener_and_haproxy_needs_the_key_beside_the_cert() -> None:
    tls_site = dataclasses.replace(_site(), tls=Tls("/certs/web.pem", "/certs/web.pem.key"))
    zone = ZoneConfig("public", "127.0.0.1:80", (tls_site,), tls_listen="127.0.0.1:443")
    nginx = render_nginx(zone).text
    assert "listen 127.0.0.1:443 ssl;" in nginx and "ssl_certificate_key /certs/web.pem.key;" in nginx
    assert "bind 127.0.0.1:443 ssl crt /certs/web.pem" in render_haproxy(zone).text
    elsewhere = dataclasses.replace(tls_site, tls=Tls("/certs/web.pem", "/keys/web.key"))
    with pytest.raises(InvalidExposure, match=r"haproxy needs the TLS key inside /certs/web\.pem"):
        render_haproxy(ZoneConfig("public", "127.0.0.1:80", (elsewhere,), tls_listen="127.0.0.1:443"))


@pytest.mark.parametrize("render", RENDERERS)
def test_zones_render_separate_configs_on_their_own_listeners(render: object) -> None:
    public = render(_zone(_site(), listen="127.0.0.1:8080"))  # type: ignore[operator]
    internal_site = dataclasses.replace(_site(), zone="internal")
    internal = render(_zone(internal_site, listen="127.0.0.1:8081", zone="internal"))  # type: ignore[operator]
    assert "127.0.0.1:8081" not in public.text and "127.0.0.1:8080" not in internal.text
    assert (public.zone, internal.zone) == ("public", "internal")
    assert public.version != internal.version


@pytest.mark.parametrize("render", RENDERERS)
def test_a_value_that_bypasses_the_model_is_refused_by_the_template_filter(render: object) -> None:
    site = _site()
    object.__setattr__(site, "path", "/x;}location /y{return 200 pwned;}#")  # only possible by force
    with pytest.raises(InvalidExposure, match="refusing to write"):
        render(_zone(site))  # type: ignore[operator]
