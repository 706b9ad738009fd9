"""The base-image test support (tests/support/baseimages.py): mirror discovery and the cache, as data."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.baseimages import (
    DEBIAN_NGINX,
    DEBIAN_PYTHON,
    BaseImageUnavailable,
    apt_mirror,
    mmdebstrap_argv,
    rootfs_tarball,
)

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.test/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://src.test/debian
Suites: bookworm

Types: deb
URIs: http://security.test/debian-security
Suites: bookworm-security
Components: main
"""


def test_mirror_from_deb822_sources(tmp_path: Path) -> None:
    (tmp_path / "debian.sources").write_text(DEB822)
    found = apt_mirror("bookworm", sources_dir=tmp_path, sources_list=tmp_path / "none")
    assert found == "http://mirror.test/debian"


def test_mirror_from_one_line_sources_list(tmp_path: Path) -> None:
    listing = tmp_path / "sources.list"
    listing.write_text(
        "# deb http://commented.test/debian bookworm main\n"
        "deb-src http://src.test/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.test/debian bookworm main contrib\n"
    )
    assert apt_mirror("bookworm", sources_dir=tmp_path / "none", sources_list=listing) == (
        "http://mirror.test/debian"
    )


def test_no_mirror_for_the_suite_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "debian.sources").write_text(DEB822)
    with pytest.raises(BaseImageUnavailable, match="no mirror configured for 'trixie'"):
        apt_mirror("trixie", sources_dir=tmp_path, sources_list=tmp_path / "none")


def test_the_machine_has_a_mirror() -> None:
    assert apt_mirror().startswith(("http://", "https://", "file:"))


def test_mmdebstrap_argv_is_the_recipe() -> None:
    argv = mmdebstrap_argv(DEBIAN_PYTHON, "http://mirror.test/debian", Path("/c/out.tar"))
    assert argv[:4] == ["mmdebstrap", "--quiet", "--format=tar", "--variant=apt"]
    assert "--include=python3,ca-certificates" in argv
    assert argv[-3:] == ["bookworm", "/c/out.tar", "http://mirror.test/debian"]


def test_cache_keys_change_with_the_recipe_and_the_mirror() -> None:
    keys = {
        DEBIAN_PYTHON.key("http://a.test/debian"),
        DEBIAN_PYTHON.key("http://b.test/debian"),
        DEBIAN_NGINX.key("http://a.test/debian"),
    }
    assert len(keys) == 3
    assert DEBIAN_PYTHON.key("http://a.test/debian") == DEBIAN_PYTHON.key("http://a.test/debian")


def test_a_cached_tarball_is_used_without_bootstrapping(tmp_path: Path) -> None:
    mirror = "http://mirror.test/debian"
    cached = tmp_path / f"{DEBIAN_NGINX.name}-{DEBIAN_NGINX.key(mirror)}.tar"
    cached.write_bytes(b"rootfs")
    # mirror.test does not exist: a bootstrap would fail, so a returned path proves the cache was used.
    assert rootfs_tarball(DEBIAN_NGINX, cache_dir=tmp_path, mirror=mirror) == cached
