"""Forges layer: header lookup and HMAC helpers shared by the forge adapters (constant-time, raw bytes)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping


def header(headers: Mapping[str, str], *names: str) -> str | None:
    """The value of the first of ``names`` present in ``headers``, matched case-insensitively."""
    wanted = [name.lower() for name in names]
    found: dict[str, str] = {}
    for key, value in headers.items():
        lowered = key.lower()
        if lowered in wanted and lowered not in found:
            found[lowered] = value
    for name in wanted:
        if name in found:
            return found[name]
    return None


def hmac_sha256_hex(secret: str | bytes, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``body`` keyed with ``secret`` (UTF-8 when text)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def same(expected: str, received: str | None) -> bool:
    """Constant-time equality of two header values; a missing or empty value never matches."""
    if not received or not expected:
        return False
    return hmac.compare_digest(expected.encode(), received.strip().encode())


def delivery_id(value: str | None, body: bytes) -> str:
    """The forge's delivery id, or ``sha256:<hex of body>`` when the forge sent none (stable on retries)."""
    if value and value.strip():
        return value.strip()
    return "sha256:" + hashlib.sha256(body).hexdigest()
