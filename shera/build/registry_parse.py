"""Build adapters: the pure parts of the registry client — media types, the reference grammar, auth
challenges, config timestamps and registry URLs (no I/O)."""

from __future__ import annotations

import re
from datetime import datetime

from shera.errors import PermanentError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})

# The distribution reference grammar (path components, tag, digest), checked before a name goes into a URL.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[A-Za-z0-9=_-]{32,}$")
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def check_repository(name: str) -> str:
    if len(name) > 255 or not REPOSITORY_RE.match(name):
        raise PermanentError(f"invalid repository name {name!r} (lowercase path components, e.g. team/app)")
    return name


def check_reference(reference: str) -> str:
    """A tag or a digest, valid for a manifest URL."""
    if not (TAG_RE.match(reference) or DIGEST_RE.match(reference)):
        raise PermanentError(f"invalid tag or digest {reference!r}")
    return reference


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``WWW-Authenticate`` → (scheme lower-cased, params); ``("", {})`` when absent or unparsable."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), {k.lower(): v for k, v in _CHALLENGE_PARAM.findall(rest)}


def parse_created(value: object) -> datetime | None:
    """An RFC 3339 ``created`` of an image config (nanoseconds allowed) → aware datetime, else ``None``."""
    if not isinstance(value, str):
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip())
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def base_url_for(host: str, insecure: frozenset[str]) -> str:
    """``http://host`` for hosts named in ``SHERA_INSECURE_REGISTRIES``, else ``https://host``."""
    return f"{'http' if host in insecure else 'https'}://{host}"
