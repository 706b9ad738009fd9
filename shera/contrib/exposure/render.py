"""Contrib layer (exposure): nginx and haproxy config text from a ``ZoneConfig`` (pure functions).

Both renderers go through Jinja2 templates (package data ``templates/*.j2``) with autoescape off, because
neither config language is HTML. Safety comes from two independent guards: ``model`` refuses every value
outside its strict grammar, and every value is emitted through a filter (``tok`` for a bare token,
``text`` for a quoted message) that re-checks the character set and raises ``InvalidExposure`` instead of
writing anything that could end a directive or open a block (``;``, ``{``, ``}``, ``#``, quotes, ``$``,
whitespace in tokens).

The version is the first 16 hex digits of the SHA-256 of the rendered text with the version itself left
out (a fixed placeholder), so equal inputs give equal text and an equal version, and any change to the
output changes the version. The output is deterministic: sites, hosts, upstreams and certificates are
sorted before rendering. The version appears in the first line (``# shera-config <version> zone <zone> kind
<kind> listen <address>``, read back by ``parse_header``), in the
``X-Shera-Config`` response header of every answer and at the status endpoint: a request for
``STATUS_PATH`` with ``Host: STATUS_HOST`` (a name no site can have) answers the version as plain text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache

import jinja2

from shera.contrib.exposure.errors import InvalidExposure
from shera.contrib.exposure.model import Site, ZoneConfig

VERSION_HEADER = "X-Shera-Config"
STATUS_HOST = "_shera-status"
STATUS_PATH = "/.shera/version"
HEADER_LINE = re.compile(
    r"^# shera-config (?P<version>[0-9a-f]{16}) "
    r"zone (?P<zone>\S+) kind (?P<kind>\S+) listen (?P<listen>\S+)\n"
)
_PLACEHOLDER = "@SHERA-VERSION@"
_TOKEN = re.compile(r"^[A-Za-z0-9._~/:\[\]-]+$")
_TEXT = re.compile(r"^[A-Za-z0-9 ._/:(),-]*$")


@dataclass(frozen=True)
class Rendered:
    """A complete config file for one balancer of one zone, and its version."""

    text: str
    version: str
    kind: str = ""
    zone: str = ""
    listen: str = ""


def _tok(value: object) -> str:
    """A bare config token: refused (``InvalidExposure``) unless made of plain characters only."""
    text = str(value)
    if not _TOKEN.match(text):
        raise InvalidExposure(f"refusing to write {text!r} into a balancer config: not a plain token")
    return text


def _text(value: object, quote: str = '"') -> str:
    """A message in quotes: letters, digits, spaces and ``._/:(),-`` only (no quote, ``$`` or ``\\``)."""
    text = str(value)
    if not _TEXT.match(text):
        raise InvalidExposure(f"refusing to write {text!r} into a balancer config: not plain text")
    return f"{quote}{text}{quote}"


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("shera.contrib.exposure", "templates"),
        autoescape=False,  # noqa: S701 - config files, not HTML; every value passes the tok/text filters
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["tok"] = _tok
    env.filters["text"] = _text
    return env


def no_instance_message(site: Site) -> str:
    """The body a site without upstreams answers with (status 503)."""
    return f"{site.app} ({site.environment}, tenant {site.tenant}) has no running instance"


def _render(kind: str, zone: ZoneConfig, **extra: object) -> Rendered:
    template = _environment().get_template(f"{kind}.conf.j2" if kind == "nginx" else f"{kind}.cfg.j2")
    draft = template.render(
        zone=zone,
        version=_PLACEHOLDER,
        status_host=STATUS_HOST,
        status_path=STATUS_PATH,
        header=VERSION_HEADER,
        no_instance=no_instance_message,
        **extra,
    )
    version = hashlib.sha256(draft.encode()).hexdigest()[:16]
    return Rendered(
        text=draft.replace(_PLACEHOLDER, version),
        version=version,
        kind=kind,
        zone=zone.zone,
        listen=zone.listen,
    )


def render_nginx(zone: ZoneConfig) -> Rendered:
    """The nginx config for ``zone``: one ``upstream`` per site with instances, one ``server`` per host.

    Paths are relative to the nginx prefix (``-p``): ``nginx.pid``, ``error.log``, ``tmp/*``. Upstreams get
    passive health checks (``max_fails``/``fail_timeout``) and failed attempts move on to the next instance
    (``proxy_next_upstream error timeout http_502 http_503``).
    """
    return _render("nginx", zone)


def render_haproxy(zone: ZoneConfig) -> Rendered:
    """The haproxy config for ``zone``: one frontend (plus a TLS bind), one backend per site.

    Hosts are matched on the ``Host`` header without its port, paths with ``path_beg`` (longest first).
    Servers get active HTTP health checks (``option httpchk`` on the site's path, 2xx-4xx is healthy).
    haproxy reads a site's key from its certificate file or from ``<cert>.key`` beside it, so a ``Tls``
    whose key is elsewhere is refused here (``InvalidExposure``).
    """
    certs: set[str] = set()
    for site in zone.sites:
        if site.tls is not None:
            if site.tls.key not in (site.tls.cert, site.tls.cert + ".key"):
                raise InvalidExposure(
                    f"site {site.label}: haproxy needs the TLS key inside {site.tls.cert} or beside it as "
                    f"{site.tls.cert}.key, not at {site.tls.key}"
                )
            certs.add(site.tls.cert)
    return _render("haproxy", zone, certs=sorted(certs))


def parse_header(text: str) -> Rendered | None:
    """The version, kind, zone and listen address written in a rendered config's first line (``text`` is the
    whole file); ``None`` for text that is not a rendered config."""
    match = HEADER_LINE.match(text)
    if match is None:
        return None
    version, zone, kind, listen = match.group("version", "zone", "kind", "listen")
    return Rendered(text=text, version=version, kind=kind, zone=zone, listen=listen)
