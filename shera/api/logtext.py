"""API layer: log chunks of a run turned into readable text, each line prefixed with its step (pure).

Chunks are cut by size, not by line, and steps interleave: a ``LogText`` remembers per step whether the last
chunk ended mid-line (so the next one gets no second prefix) and decodes UTF-8 incrementally (a character
split between chunks stays whole). Switching to another step while one is mid-line ends that line first.
"""

from __future__ import annotations

import codecs

SSE_RETRY_MS = 2000


class LogText:
    """Feed it chunks in order; it returns the text to show for each. Not thread-safe (one per response)."""

    def __init__(self) -> None:
        self._decoders: dict[str, codecs.IncrementalDecoder] = {}
        self._midline: dict[str, bool] = {}
        self._last: str | None = None

    def feed(self, step_id: str, step: str, data: bytes) -> str:
        decoder = self._decoders.get(step_id)
        if decoder is None:
            decoder = self._decoders[step_id] = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text = decoder.decode(data)
        out: list[str] = []
        if self._last is not None and self._last != step_id and self._midline.get(self._last):
            out.append("\n")
            self._midline[self._last] = False
        self._last = step_id
        if not text:
            return "".join(out)
        midline = self._midline.get(step_id, False)
        parts = text.split("\n")
        lines = [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
        for line in lines:
            if not midline:
                out.append(f"[{step}] ")
            out.append(line)
            midline = not line.endswith("\n")
        self._midline[step_id] = midline
        return "".join(out)

    def finish(self) -> str:
        """A final newline when the last line is unterminated."""
        if self._last is not None and self._midline.get(self._last):
            self._midline[self._last] = False
            return "\n"
        return ""


def sse_event(data: str, *, event: str | None = None, event_id: str | None = None) -> str:
    """One Server-Sent Event; every line of ``data`` becomes a ``data:`` field (CR and CRLF become LF)."""
    lines: list[str] = []
    if event is not None:
        lines.append(f"event: {event}")
    if event_id is not None:
        lines.append(f"id: {event_id}")
    normalized = data.replace("\r\n", "\n").replace("\r", "\n")
    lines.extend(f"data: {line}" for line in normalized.split("\n"))
    return "\n".join(lines) + "\n\n"


def parse_cursor(value: str | None) -> tuple[str, int] | None:
    """A ``Last-Event-ID`` (``<step id>:<seq>``) as a log cursor; ``None`` when absent or malformed."""
    if not value or ":" not in value:
        return None
    step_id, _, seq = value.rpartition(":")
    return (step_id, int(seq)) if seq.isdigit() and step_id else None
