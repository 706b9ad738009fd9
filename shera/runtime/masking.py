"""Runtime layer: hides secret values in step output and messages, also when encoded or split across chunks.

Each secret is masked in the forms a step is likely to print it: the exact value; its base64 (standard and
URL-safe alphabet) at any alignment inside a longer base64 text (the characters that depend only on the
secret, for the secret starting at byte offset 0, 1 and 2 of a 3-byte group); and URL-encoded (``quote``
with and without ``/`` kept, ``quote_plus``, upper- and lower-case hex escapes).

Secrets shorter than ``MIN_SECRET_LENGTH`` (4) characters are not masked: replacing every ``a`` or ``no`` in
a log destroys the log while protecting nothing (such values are guessable). The CLI warns about them.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = b"********"
MIN_SECRET_LENGTH = 4


def _base64_fragments(secret: bytes) -> set[bytes]:
    """The base64 characters fully determined by ``secret`` when it starts at offset 0, 1 or 2."""
    fragments: set[bytes] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret).rstrip(b"=")
        first = -(-8 * offset // 6)  # ceil: characters that still hold bits of the prefix
        last = 8 * (offset + len(secret)) // 6  # floor: characters that do not hold bits of what follows
        fragment = encoded[first:last]
        if len(fragment) >= MIN_SECRET_LENGTH:
            fragments.add(fragment)
            fragments.add(fragment.translate(bytes.maketrans(b"+/", b"-_")))
    return fragments


def _url_forms(secret: str) -> set[bytes]:
    forms = {quote(secret, safe=""), quote(secret), quote_plus(secret)}
    lowered = {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), form) for form in forms}
    return {form.encode() for form in forms | lowered}


def patterns_for(secret: str) -> set[bytes]:
    """Every byte string that reveals ``secret``; empty for secrets too short to mask."""
    if len(secret) < MIN_SECRET_LENGTH:
        return set()
    raw = secret.encode()
    return {raw} | _base64_fragments(raw) | _url_forms(secret)


class SecretMasker:
    """The set of secrets of one run. Immutable and thread-safe; make one ``stream()`` per output source."""

    def __init__(self, secrets: Iterable[str]) -> None:
        patterns: set[bytes] = set()
        for secret in secrets:
            patterns |= patterns_for(secret)
        # Longest first, so that at one position the longest pattern wins.
        ordered = sorted(patterns, key=lambda p: (-len(p), p))
        self._regex = re.compile(b"|".join(re.escape(p) for p in ordered)) if ordered else None
        self.longest = len(ordered[0]) if ordered else 0

    def mask(self, data: bytes) -> bytes:
        """``data`` with every secret form replaced by ``MASK``."""
        return self._regex.sub(MASK, data) if self._regex else data

    def mask_text(self, text: str) -> str:
        return self.mask(text.encode()).decode(errors="replace")

    def stream(self) -> MaskingStream:
        return MaskingStream(self)


class MaskingStream:
    """Masks one output stream chunk by chunk.

    ``feed`` returns what can be released now: it holds back at most ``longest - 1`` bytes, which might be
    the start of a secret continued by the next chunk. ``flush`` (at the end of the stream) returns the rest.
    Not thread-safe: one stream per producer.
    """

    def __init__(self, masker: SecretMasker) -> None:
        self._masker = masker
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        regex = self._masker._regex
        if regex is None:
            return chunk
        data = self._pending + chunk
        # Any match starting before `cut` had all its bytes available, so it is final.
        cut = max(0, len(data) - (self._masker.longest - 1))
        out: list[bytes] = []
        pos = 0
        for match in regex.finditer(data):
            if match.start() >= cut:
                break
            out.append(data[pos : match.start()])
            out.append(MASK)
            pos = match.end()
        if pos < cut:
            out.append(data[pos:cut])
            pos = cut
        self._pending = data[pos:]
        return b"".join(out)

    def flush(self) -> bytes:
        rest, self._pending = self._pending, b""
        return self._masker.mask(rest)
