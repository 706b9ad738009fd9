"""Adapters layer (gitops): clone URL checks and credential redaction, pure functions.

Git accepts much more than URLs: ``ext::<command>`` runs a program, ``fd::`` talks to file
descriptors, an argument starting with ``-`` becomes an option (``--upload-pack=...``), and an ssh
host starting with ``-`` becomes an ssh option (``-oProxyCommand=...``). ``transport_of`` lets
through only plain URLs of the known transports that the operator allowed, so user-supplied clone
URLs never reach git in one of those forms. The hardened git environment (``gitcmd``) restricts
protocols again, for redirects and submodules.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote, urlsplit

from shera.gitops.errors import UnsafeURL

SCHEMES = frozenset({"https", "http", "ssh", "git", "file"})
"""Transports She-Ra knows; an allowed-schemes setting may only name these."""

MAX_URL_LENGTH = 4096

_ALIASES = {"git+ssh": "ssh", "ssh+git": "ssh"}
_HELPER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+.-]*::")
_SCHEME_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/]*)@)?(?P<host>\[[^\]/]*\]|[^:/\[]*):(?P<path>.*)$", re.DOTALL)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/\s@:'\"]*)(?P<pw>:[^/\s@'\"]*)?@")


def _refuse(url: str, why: str) -> UnsafeURL:
    return UnsafeURL(f"refused git URL {redact(url)!r}: {why}")


def _has_control(text: str) -> bool:
    return any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


def transport_of(url: str, allowed: frozenset[str]) -> str:
    """The transport (``https``, ``ssh``, ``git``, ``file``...) of ``url``, or ``UnsafeURL``.

    Refused: empty or over-long URLs, whitespace or control characters (also percent-encoded), a
    leading ``-``, remote-helper syntax (``ext::``, ``fd::``, ``<helper>::``), unknown schemes,
    schemes not in ``allowed``, hosts or users starting with ``-``, and local paths (plain or
    ``file://``) unless ``file`` is allowed; local paths must be absolute. ``user@host:path`` is ssh.
    """
    if not url:
        raise UnsafeURL("refused git URL: it is empty")
    if len(url) > MAX_URL_LENGTH:
        raise _refuse(url[:80] + "...", f"longer than {MAX_URL_LENGTH} characters")
    if url.startswith("-"):
        raise _refuse(url, "it starts with '-' and would be read as an option")
    if _has_control(url) or _has_control(unquote(url)):
        raise _refuse(url, "it contains whitespace or control characters")
    if _HELPER.match(url):
        raise _refuse(url, "remote-helper syntax ('<transport>::<address>') is not allowed")
    scheme_url = _SCHEME_URL.match(url)
    if scheme_url:
        scheme = scheme_url.group(1).lower()
        transport = _ALIASES.get(scheme, scheme)
        if transport not in SCHEMES:
            raise _refuse(url, f"unknown scheme {scheme!r}")
        _check_allowed(url, transport, allowed)
        _check_scheme_url(url, transport)
        return transport
    scp = _SCP_LIKE.match(url)
    if scp and "/" not in url.split(":", 1)[0]:
        _check_allowed(url, "ssh", allowed)
        _check_scp_like(url, scp)
        return "ssh"
    if "file" not in allowed:
        raise _refuse(url, f"local paths need the 'file' scheme allowed (allowed: {_names(allowed)})")
    if not url.startswith("/"):
        raise _refuse(url, "a local path must be absolute")
    return "file"


def _names(allowed: frozenset[str]) -> str:
    return ", ".join(sorted(allowed)) or "none"


def _check_allowed(url: str, transport: str, allowed: frozenset[str]) -> None:
    if transport not in allowed:
        raise _refuse(url, f"scheme {transport!r} is not allowed (allowed: {_names(allowed)})")


def _check_scheme_url(url: str, transport: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise _refuse(url, f"malformed URL ({exc})") from exc
    if transport == "file":
        if parts.netloc not in ("", "localhost"):
            raise _refuse(url, "file URLs must not name a host")
        if not parts.path.startswith("/"):
            raise _refuse(url, "file URLs need an absolute path")
        return
    host = parts.netloc.rpartition("@")[2]
    if not parts.hostname or host.lstrip("[").startswith("-"):
        raise _refuse(url, "the host is empty or starts with '-'")
    if (parts.username or "").startswith("-"):
        raise _refuse(url, "the user name starts with '-'")
    if not parts.path.strip("/"):
        raise _refuse(url, "the repository path is empty")


def _check_scp_like(url: str, scp: re.Match[str]) -> None:
    host = scp.group("host").strip("[]")
    if not host or host.startswith("-"):
        raise _refuse(url, "the host is empty or starts with '-'")
    if (scp.group("user") or "").startswith("-"):
        raise _refuse(url, "the user name starts with '-'")
    path = scp.group("path")
    if not path or path.startswith("-"):
        raise _refuse(url, "the repository path is empty or starts with '-'")


def strip_credentials(url: str) -> str:
    """``url`` without secrets, for places others can read (a workspace's ``origin``).

    http(s) URLs lose their whole user-info (tokens are often passed as the user name); other
    schemes keep the user name (``ssh://git@host``) and lose a password.
    """

    def strip(match: re.Match[str]) -> str:
        scheme = match.group("scheme")
        if scheme.lower() in ("http://", "https://"):
            return scheme
        return f"{scheme}{match.group('user')}@"

    return _USERINFO.sub(strip, url, count=1)


def redact(text: str) -> str:
    """``text`` with URL passwords (and http(s) user names, often tokens) replaced by ``***``."""

    def hide(match: re.Match[str]) -> str:
        scheme, user = match.group("scheme"), match.group("user")
        if match.group("pw") is not None:
            return f"{scheme}{user}:***@"
        if scheme.lower() in ("http://", "https://"):
            return f"{scheme}***@"
        return match.group(0)

    return _USERINFO.sub(hide, text)
