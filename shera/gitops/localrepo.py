"""Adapters layer (gitops): what a checkout reads and writes in repositories without running git.

Only for speed on the checkout path (each git process costs a few ms): an object-presence hint from the
mirror's files, the mirror's heads and tags, and the ``origin`` remote appended to a fresh repository's
config. Every function is conservative: when unsure it answers "unknown" and the caller runs git.
"""

from __future__ import annotations

from pathlib import Path

from shera.gitops.refs import SHA

FULL_SHA_LENGTHS = (40, 64)


def add_origin(config: Path, url: str) -> bool:
    """Append the ``origin`` remote (``url``, quoted and escaped; the usual fetch refspec) to a fresh
    repository's ``config`` (saves two ``git config`` processes). False, nothing written, when ``url``
    has characters this does not escape (control characters; ``urls`` refuses those anyway)."""
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        return False
    quoted = url.replace("\\", "\\\\").replace('"', '\\"')
    with config.open("a", encoding="utf-8", errors="surrogateescape") as out:
        out.write(f'[remote "origin"]\n\turl = "{quoted}"\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n')
    return True


def mirrored_refs(mirror: Path) -> list[tuple[str, str]]:
    """``(name, sha)`` of the mirror's ``refs/heads/*`` and ``refs/tags/*``, loose refs over packed ones,
    sorted by name (read from the files: the caller holds the mirror's lock)."""
    refs: dict[str, str] = {}
    packed = mirror / "packed-refs"
    if packed.is_file():
        for line in packed.read_text("utf-8", "surrogateescape").splitlines():
            sha, _, name = line.partition(" ")
            if is_full_sha(sha) and name.startswith(("refs/heads/", "refs/tags/")):
                refs[name] = sha
    for kind in ("heads", "tags"):
        top = mirror / "refs" / kind
        for path in top.rglob("*") if top.is_dir() else ():
            if path.is_file() and not path.is_symlink() and not path.name.endswith(".lock"):
                sha = path.read_text("ascii", "replace").strip()
                if is_full_sha(sha):
                    refs[f"refs/{kind}/{path.relative_to(top).as_posix()}"] = sha
    return sorted(refs.items())


def stored(mirror: Path, sha: str) -> bool:
    """Whether object ``sha`` (40 hex digits) is in the mirror, as a loose object or in a pack index
    (version 2). A hint only, read without git: False also when unsure (the caller then asks git)."""
    objects = mirror / "objects"
    if (objects / sha[:2] / sha[2:]).is_file():
        return True
    if len(sha) != 40:
        return False
    wanted = bytes.fromhex(sha)
    try:
        for index in (objects / "pack").glob("pack-*.idx"):
            if _in_pack_index(index.read_bytes(), wanted):
                return True
    except OSError:
        return False
    return False


def _in_pack_index(data: bytes, wanted: bytes) -> bool:
    """Binary search of ``wanted`` (20 bytes) in the sorted names of a version-2 pack index."""
    if len(data) < 8 + 1024 or data[:8] != b"\xfftOc\x00\x00\x00\x02":
        return False
    first = wanted[0]
    low = int.from_bytes(data[8 + 4 * (first - 1) : 8 + 4 * first], "big") if first else 0
    high = int.from_bytes(data[8 + 4 * first : 12 + 4 * first], "big")
    names = 8 + 1024
    if names + 20 * high > len(data):
        return False
    while low < high:
        middle = (low + high) // 2
        name = data[names + 20 * middle : names + 20 * middle + 20]
        if name == wanted:
            return True
        if name < wanted:
            low = middle + 1
        else:
            high = middle
    return False


def is_full_sha(text: str) -> bool:
    return len(text) in FULL_SHA_LENGTHS and SHA.match(text) is not None
