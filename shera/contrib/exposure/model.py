"""Contrib layer (exposure): the pure, validated data a balancer config is rendered from.

Every value that reaches an nginx or haproxy config passes through these classes, and each class checks its
fields when it is constructed, so an unvalidated site cannot exist: names are strict slugs, hosts are
RFC 1123 names, paths use plain URL characters, ports are 1..65535, upstream hosts are IP addresses or host
names, TLS files are absolute paths of plain characters. A refusal is an ``InvalidExposure`` (a
``ValueError``) naming the field and the value. All classes are frozen and hashable.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass

from shera.contrib.exposure.errors import InvalidExposure

ZONES = ("public", "internal")
SLUG = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
PATH = re.compile(r"^/[A-Za-z0-9._~/-]*$")
FILE = re.compile(r"^/[A-Za-z0-9._/-]+$")
_LISTEN = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[0-9.]+):(?P<port>[0-9]{1,5})$")


def check_slug(field: str, value: object) -> str:
    """``value`` if it is a strict slug (1-63 of ``[a-z0-9-]``, alphanumeric at both ends)."""
    if not isinstance(value, str) or not SLUG.match(value):
        raise InvalidExposure(
            f"{field}: {value!r} is not a valid name: use 1-63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def check_hostname(field: str, value: object) -> str:
    """``value`` if it is an RFC 1123 host name in lower case (dot-separated slugs, <= 253 characters)."""
    if not isinstance(value, str) or len(value) > 253 or not all(SLUG.match(p) for p in value.split(".")):
        raise InvalidExposure(
            f"{field}: {value!r} is not a valid host name: dot-separated labels of lowercase letters, "
            "digits and '-' (each 1-63 characters, not starting or ending with '-')"
        )
    return value


def check_port(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise InvalidExposure(f"{field}: {value!r} is not a port number (1-65535)")
    return value


def check_address_host(field: str, value: object) -> str:
    """An IPv4/IPv6 address (canonical form) or an RFC 1123 host name."""
    if isinstance(value, str) and (":" in value or value.replace(".", "").isdigit()):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            pass
        raise InvalidExposure(f"{field}: {value!r} is not an IP address")
    return check_hostname(field, value)


def check_listen(field: str, value: object) -> str:
    """``"IP:PORT"`` (IPv6 in brackets): where a balancer listens."""
    match = _LISTEN.match(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidExposure(f"{field}: {value!r} is not an address to listen on: write IP:PORT")
    host = match.group("host").strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise InvalidExposure(f"{field}: {value!r} does not start with an IP address") from None
    check_port(field, int(match.group("port")))
    return str(value)


@dataclass(frozen=True, order=True)
class Upstream:
    """One instance serving a site: ``host`` (IP address or host name) and ``port``."""

    host: str
    port: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "host", check_address_host("upstream host", self.host))
        check_port("upstream port", self.port)

    @property
    def address(self) -> str:
        """``host:port``, with an IPv6 host in brackets (the form both balancers read)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, order=True)
class Tls:
    """Certificate (chain) and private key files, as absolute paths on the balancer's machine."""

    cert: str
    key: str

    def __post_init__(self) -> None:
        for name in ("cert", "key"):
            value = getattr(self, name)
            if not isinstance(value, str) or not FILE.match(value) or "/../" in value + "/":
                raise InvalidExposure(
                    f"tls {name}: {value!r} is not a plain absolute path "
                    "(letters, digits, '.', '_', '-' and '/', no '..')"
                )


@dataclass(frozen=True)
class Site:
    """An exposed app: requests for ``host`` under ``path`` in ``zone`` go to ``upstreams``.

    ``upstreams`` may be empty: the site then answers 503 with a message naming the app (not a config error).
    Path matching is by prefix, as nginx ``location /p`` and haproxy ``path_beg /p`` do.
    """

    tenant: str
    app: str
    environment: str
    host: str
    path: str = "/"
    upstreams: tuple[Upstream, ...] = ()
    tls: Tls | None = None
    zone: str = "public"

    def __post_init__(self) -> None:
        check_slug("tenant", self.tenant)
        check_slug("app", self.app)
        check_slug("environment", self.environment)
        check_hostname("host", self.host)
        if not isinstance(self.path, str) or not PATH.match(self.path) or len(self.path) > 255:
            raise InvalidExposure(
                f"path: {self.path!r} is not a URL path prefix: start with '/' and use only letters, "
                "digits and '.', '_', '~', '-', '/' (at most 255 characters)"
            )
        if not isinstance(self.upstreams, tuple) or not all(isinstance(u, Upstream) for u in self.upstreams):
            raise InvalidExposure(f"upstreams of {self.label}: expected a tuple of Upstream")
        if self.tls is not None and not isinstance(self.tls, Tls):
            raise InvalidExposure(f"tls of {self.label}: expected Tls or None")
        if self.zone not in ZONES:
            raise InvalidExposure(f"zone: {self.zone!r} is not one of {', '.join(ZONES)}")
        object.__setattr__(self, "upstreams", tuple(sorted(set(self.upstreams))))

    @property
    def label(self) -> str:
        """``tenant/app/environment`` (for messages)."""
        return f"{self.tenant}/{self.app}/{self.environment}"

    @property
    def key(self) -> tuple[str, str]:
        """``(host, path)``: unique within a zone."""
        return (self.host, self.path)

    @property
    def backend(self) -> str:
        """The upstream/backend name: ``tenant.app.environment-<hash of host and path>`` (unique per zone)."""
        digest = hashlib.sha256(f"{self.host}{self.path}".encode()).hexdigest()[:8]
        return f"{self.tenant}.{self.app}.{self.environment}-{digest}"


@dataclass(frozen=True)
class ZoneConfig:
    """Everything one balancer serves: its ``zone``, where it listens, and its sites.

    ``tls_listen`` is required as soon as a site has TLS. Sites are unique by (host, path); all sites of one
    host share the same TLS files (one virtual host, one certificate). Sites are kept sorted by host, then
    path, so the rendered output does not depend on the order they were collected in.
    """

    zone: str
    listen: str
    sites: tuple[Site, ...] = ()
    tls_listen: str | None = None

    def __post_init__(self) -> None:
        if self.zone not in ZONES:
            raise InvalidExposure(f"zone: {self.zone!r} is not one of {', '.join(ZONES)}")
        check_listen("listen", self.listen)
        if self.tls_listen is not None:
            check_listen("tls_listen", self.tls_listen)
            if self.tls_listen == self.listen:
                raise InvalidExposure(f"tls_listen: {self.tls_listen!r} is also the plain listen address")
        if not isinstance(self.sites, tuple) or not all(isinstance(s, Site) for s in self.sites):
            raise InvalidExposure("sites: expected a tuple of Site")
        seen: dict[tuple[str, str], Site] = {}
        tls_of: dict[str, Tls | None] = {}
        for site in self.sites:
            if site.zone != self.zone:
                raise InvalidExposure(f"site {site.label}: zone {site.zone!r} in the {self.zone!r} config")
            if site.key in seen:
                other = seen[site.key]
                raise InvalidExposure(
                    f"site {site.label}: {site.host}{site.path} is already exposed by {other.label}"
                )
            seen[site.key] = site
            if site.host in tls_of and tls_of[site.host] != site.tls:
                raise InvalidExposure(f"site {site.label}: host {site.host} has different TLS files per path")
            tls_of[site.host] = site.tls
            if site.tls is not None and self.tls_listen is None:
                raise InvalidExposure(f"site {site.label}: TLS needs the zone's tls_listen address")
        object.__setattr__(self, "sites", tuple(sorted(self.sites, key=lambda s: s.key)))

    def hosts(self) -> list[tuple[str, Tls | None, list[Site]]]:
        """``(host, tls, sites)`` per host, sorted by host; sites longest path first (the matching order)."""
        grouped: dict[str, list[Site]] = {}
        for site in self.sites:
            grouped.setdefault(site.host, []).append(site)
        return [
            (host, sites[0].tls, sorted(sites, key=lambda s: (-len(s.path), s.path)))
            for host, sites in sorted(grouped.items())
        ]
